//! The five-layer environment assembly.

use super::EnvSources;
use crate::model::{EnvFieldDef, EnvFieldType, EnvValue, Environment};
use crate::{Error, Result};

/// The variable the engine adds at launch (the job id is not known when the environment is assembled).
pub const JOB_ID_VARIABLE: &str = "MULTIFLEXI_JOB_ID";

/// The `MULTIFLEXI_*` variables [`assemble`] injects (layer 4).
///
/// | variable | value |
/// |---|---|
/// | `MULTIFLEXI_RUNTEMPLATE_ID` | the run template's id |
/// | `MULTIFLEXI_RUNTEMPLATE`, `MULTIFLEXI_RUNTEMPLATE_NAME` | the run template's name |
/// | `MULTIFLEXI_COMPANY_ID` | the company's id |
/// | `MULTIFLEXI_COMPANY`, `MULTIFLEXI_COMPANY_NAME` | the company's name |
/// | `MULTIFLEXI_COMPANY_CODE` | the company's slug |
/// | `MULTIFLEXI_APPLICATION_ID` | the app's id |
/// | `MULTIFLEXI_APPLICATION`, `MULTIFLEXI_APPLICATION_NAME` | the app's display name |
/// | `MULTIFLEXI_APPLICATION_UUID` | the app's uuid (only when it has one) |
/// | `MULTIFLEXI_EXECUTOR` | the executor kind (`Native`, `Docker`, …) |
///
/// The `_NAME`, `_CODE` and `_UUID` spellings are the ones upstream MultiFlexi gives its apps.
pub const INJECTED_VARIABLES: [&str; 11] = [
    "MULTIFLEXI_RUNTEMPLATE_ID",
    "MULTIFLEXI_RUNTEMPLATE",
    "MULTIFLEXI_RUNTEMPLATE_NAME",
    "MULTIFLEXI_COMPANY_ID",
    "MULTIFLEXI_COMPANY",
    "MULTIFLEXI_COMPANY_NAME",
    "MULTIFLEXI_COMPANY_CODE",
    "MULTIFLEXI_APPLICATION_ID",
    "MULTIFLEXI_APPLICATION",
    "MULTIFLEXI_APPLICATION_NAME",
    "MULTIFLEXI_EXECUTOR",
];

/// Assembles a job's environment from its five layers (see the [module docs](super)).
///
/// Errors ([`Error::InvalidInput`]):
/// - `runtemplate`: the template belongs to another app or company than the ones given;
/// - `credentials`: the template lists a credential that is not in `sources.credentials`, or one
///   that belongs to another company;
/// - `environment`: a variable name that no process environment can hold (empty, containing `=`
///   or NUL) or a value containing NUL — the message names the layer and the variable, never the value;
/// - `environment`: required fields ([`EnvFieldDef::required`]) without a non-blank value after
///   all layers — ONE error listing every missing name and where values can come from.
pub fn assemble(sources: &EnvSources<'_>) -> Result<Environment> {
    let EnvSources {
        app,
        company,
        credentials,
        template,
        one_off,
    } = *sources;

    if template.app_id != app.id || template.company_id != company.id {
        return Err(Error::invalid(
            "runtemplate",
            format!(
                "run template '{}' runs app {} for company {}, but app {} ('{}') and company {} ('{}') were given",
                template.name,
                template.app_id,
                template.company_id,
                app.id,
                app.display_name(),
                company.id,
                company.name
            ),
        ));
    }

    let mut env = Environment::new();

    // 1. App field defaults.
    for field in &app.environment {
        if let Some(default) = &field.default {
            put(
                &mut env,
                "app default",
                &field.name,
                default,
                field_is_secret(field),
            )?;
        }
    }

    // 2. Company environment, then the template's credentials in the template's order.
    overlay(&mut env, "company environment", &company.environment)?;
    for id in &template.credentials {
        let credential = credentials.iter().find(|c| c.id == *id).ok_or_else(|| {
            Error::invalid(
                "credentials",
                format!(
                    "run template '{}' uses credential {id}, which does not exist (was it deleted?)",
                    template.name
                ),
            )
        })?;
        if credential.company_id != company.id {
            return Err(Error::invalid(
                "credentials",
                format!(
                    "credential '{}' ({id}) belongs to company {}, not to company '{}' ({}) of run template '{}'",
                    credential.name, credential.company_id, company.name, company.id, template.name
                ),
            ));
        }
        let layer = format!("credential '{}'", credential.name);
        for field in &credential.fields {
            put(&mut env, &layer, &field.name, &field.value, field.secret)?;
        }
    }

    // 3. Run-template overrides.
    overlay(&mut env, "run template configuration", &template.config)?;

    // 4. Injected MULTIFLEXI_* variables.
    let app_name = app.display_name();
    let injected = [
        ("MULTIFLEXI_RUNTEMPLATE_ID", template.id.to_string()),
        ("MULTIFLEXI_RUNTEMPLATE", template.name.clone()),
        ("MULTIFLEXI_RUNTEMPLATE_NAME", template.name.clone()),
        ("MULTIFLEXI_COMPANY_ID", company.id.to_string()),
        ("MULTIFLEXI_COMPANY", company.name.clone()),
        ("MULTIFLEXI_COMPANY_NAME", company.name.clone()),
        ("MULTIFLEXI_COMPANY_CODE", company.slug.clone()),
        ("MULTIFLEXI_APPLICATION_ID", app.id.to_string()),
        ("MULTIFLEXI_APPLICATION", app_name.to_string()),
        ("MULTIFLEXI_APPLICATION_NAME", app_name.to_string()),
        (
            "MULTIFLEXI_EXECUTOR",
            template.executor.as_str().to_string(),
        ),
    ];
    for (name, value) in &injected {
        put(&mut env, "MultiFlexi", name, value, false)?;
    }
    if let Some(uuid) = app.uuid.as_deref().filter(|u| !u.is_empty()) {
        put(
            &mut env,
            "MultiFlexi",
            "MULTIFLEXI_APPLICATION_UUID",
            uuid,
            false,
        )?;
    }

    // 5. One-off overrides.
    overlay(&mut env, "one-off override", one_off)?;

    // The app's field definitions decide secrecy whatever layer set the value.
    for field in app.environment.iter().filter(|f| field_is_secret(f)) {
        if let Some(v) = env.0.get_mut(&field.name) {
            v.secret = true;
        }
    }

    check_required(sources, &env)?;
    Ok(env)
}

/// Whether values of `field` are secret.
fn field_is_secret(field: &EnvFieldDef) -> bool {
    field.secret || field.kind == EnvFieldType::Password
}

/// Applies every variable of `layer` over `env`.
fn overlay(env: &mut Environment, label: &str, layer: &Environment) -> Result<()> {
    for (name, v) in &layer.0 {
        put(env, label, name, &v.value, v.secret)?;
    }
    Ok(())
}

/// Sets one variable; secrecy is sticky (a plain value never un-secrets an earlier secret one).
fn put(env: &mut Environment, label: &str, name: &str, value: &str, secret: bool) -> Result<()> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(Error::invalid(
            "environment",
            format!(
                "{label}: variable name {name:?} is not allowed (names must be non-empty and contain no '=' or NUL)"
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid(
            "environment",
            format!(
                "{label}: the value of {name} contains a NUL byte, which no process environment can hold"
            ),
        ));
    }
    let was_secret = env.0.get(name).is_some_and(|v| v.secret);
    env.0.insert(
        name.to_string(),
        EnvValue {
            value: value.to_string(),
            secret: secret || was_secret,
        },
    );
    Ok(())
}

/// One error listing every required field without a non-blank value.
fn check_required(sources: &EnvSources<'_>, env: &Environment) -> Result<()> {
    let missing: Vec<&str> = sources
        .app
        .environment
        .iter()
        .filter(|f| f.required)
        .filter(|f| env.get(&f.name).is_none_or(|v| v.trim().is_empty()))
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "environment",
        format!(
            "run template '{}' of app '{}' is missing required value{} for {}; set {} in the company \
             environment, a credential assigned to the run template, the run template's \
             configuration, or as a one-off override (or give the app field a default)",
            sources.template.name,
            sources.app.display_name(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::test_support::fixture;
    use crate::ids::{CompanyId, CredentialId};
    use crate::model::{App, Company, Credential, ExecutorKind, RunTemplate};

    fn sources<'a>(
        app: &'a App,
        company: &'a Company,
        credentials: &'a [Credential],
        template: &'a RunTemplate,
        one_off: &'a Environment,
    ) -> EnvSources<'a> {
        EnvSources::new(app, company, credentials, template, one_off)
    }

    fn secret(env: &Environment, name: &str) -> bool {
        env.0[name].secret
    }

    /// Builds the six layers so that variable `Ln` is set by layers 1..=n with the value `ln-value`.
    fn layered() -> (App, Company, Vec<Credential>, RunTemplate, Environment) {
        let (mut app, mut company, mut template) = fixture("");
        // Variables L1..L6: each set by every layer up to its number (6 = one-off).
        for n in 1..=6 {
            app = app.with_field(
                EnvFieldDef::new(format!("L{n}"), EnvFieldType::String).with_default("app"),
            );
        }
        for n in 2..=6 {
            company.environment.set(format!("L{n}"), "company");
        }
        let mut cred = Credential::new(company.id, "api", "AbraFlexi");
        cred.id = CredentialId(5);
        for n in 3..=6 {
            cred = cred.with_field(format!("L{n}"), "credential", false);
        }
        template.credentials = vec![cred.id];
        for n in 4..=6 {
            template.config.set(format!("L{n}"), "template");
        }
        let mut one_off = Environment::new();
        one_off.set("L6", "one-off");
        // Layer 4 (injected) is probed through MULTIFLEXI_* below.
        company.environment.set("MULTIFLEXI_COMPANY_ID", "forged");
        template.config.set("MULTIFLEXI_EXECUTOR", "forged");
        (app, company, vec![cred], template, one_off)
    }

    #[test]
    fn layers_apply_low_to_high() {
        let (app, company, creds, template, one_off) = layered();
        let env = assemble(&sources(&app, &company, &creds, &template, &one_off)).unwrap();
        assert_eq!(env.get("L1"), Some("app"));
        assert_eq!(env.get("L2"), Some("company"));
        assert_eq!(env.get("L3"), Some("credential"));
        assert_eq!(env.get("L4"), Some("template"));
        assert_eq!(env.get("L5"), Some("template"));
        assert_eq!(env.get("L6"), Some("one-off"));
        // Injected variables win over company and template, lose to one-off.
        assert_eq!(env.get("MULTIFLEXI_COMPANY_ID"), Some("3"));
        assert_eq!(env.get("MULTIFLEXI_EXECUTOR"), Some("Native"));
        let mut one_off = one_off;
        one_off.set("MULTIFLEXI_EXECUTOR", "one-off");
        let env = assemble(&sources(&app, &company, &creds, &template, &one_off)).unwrap();
        assert_eq!(env.get("MULTIFLEXI_EXECUTOR"), Some("one-off"));
    }

    #[test]
    fn injected_variables() {
        let (mut app, company, mut template) = fixture("");
        template.executor = ExecutorKind::Docker;
        let one_off = Environment::new();
        let env = assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap();
        for name in INJECTED_VARIABLES {
            assert!(env.get(name).is_some(), "{name} missing");
            assert!(!secret(&env, name));
        }
        assert_eq!(env.get("MULTIFLEXI_RUNTEMPLATE_ID"), Some("11"));
        assert_eq!(env.get("MULTIFLEXI_RUNTEMPLATE"), Some("nightly send"));
        assert_eq!(env.get("MULTIFLEXI_COMPANY_ID"), Some("3"));
        assert_eq!(env.get("MULTIFLEXI_COMPANY"), Some("Acme s.r.o."));
        assert_eq!(env.get("MULTIFLEXI_COMPANY_CODE"), Some("acme-s-r-o"));
        assert_eq!(env.get("MULTIFLEXI_APPLICATION_ID"), Some("7"));
        assert_eq!(env.get("MULTIFLEXI_APPLICATION"), Some("Invoice Sender"));
        assert_eq!(env.get("MULTIFLEXI_EXECUTOR"), Some("Docker"));
        assert_eq!(env.get(JOB_ID_VARIABLE), None);
        assert_eq!(env.get("MULTIFLEXI_APPLICATION_UUID"), None);
        app.uuid = Some("d4b3fdf8-98ce-442c-bb25-e5f91965a08b".into());
        let env = assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap();
        assert_eq!(
            env.get("MULTIFLEXI_APPLICATION_UUID"),
            Some("d4b3fdf8-98ce-442c-bb25-e5f91965a08b")
        );
        assert_eq!(env.len(), INJECTED_VARIABLES.len() + 1);
    }

    #[test]
    fn credentials_only_listed_ones_in_template_order() {
        let (app, company, mut template) = fixture("");
        let mut a = Credential::new(company.id, "a", "X").with_field("TOKEN", "from-a", true);
        a.id = CredentialId(1);
        let mut b = Credential::new(company.id, "b", "X")
            .with_field("TOKEN", "from-b", false)
            .with_field("ONLY_B", "b", false);
        b.id = CredentialId(2);
        let mut unused =
            Credential::new(company.id, "unused", "X").with_field("UNUSED", "x", false);
        unused.id = CredentialId(3);
        let creds = [a, b, unused];
        let one_off = Environment::new();

        template.credentials = vec![CredentialId(1), CredentialId(2)];
        let env = assemble(&sources(&app, &company, &creds, &template, &one_off)).unwrap();
        assert_eq!(env.get("TOKEN"), Some("from-b"));
        assert!(
            secret(&env, "TOKEN"),
            "a later plain credential un-secreted TOKEN"
        );
        assert_eq!(env.get("ONLY_B"), Some("b"));
        assert_eq!(env.get("UNUSED"), None);

        template.credentials = vec![CredentialId(2), CredentialId(1)];
        let env = assemble(&sources(&app, &company, &creds, &template, &one_off)).unwrap();
        assert_eq!(env.get("TOKEN"), Some("from-a"));
        assert!(secret(&env, "TOKEN"));
    }

    #[test]
    fn credentials_come_after_company_environment() {
        let (app, mut company, mut template) = fixture("");
        company.environment.set("URL", "company");
        let mut c = Credential::new(company.id, "c", "X").with_field("URL", "credential", false);
        c.id = CredentialId(9);
        template.credentials = vec![c.id];
        let creds = [c];
        let env = assemble(&sources(
            &app,
            &company,
            &creds,
            &template,
            &Environment::new(),
        ))
        .unwrap();
        assert_eq!(env.get("URL"), Some("credential"));
    }

    #[test]
    fn missing_or_foreign_credential_is_rejected() {
        let (app, company, mut template) = fixture("");
        template.credentials = vec![CredentialId(42)];
        let one_off = Environment::new();
        let err = assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, message } if field == "credentials" && message.contains("42")),
            "{err}"
        );

        let mut foreign = Credential::new(CompanyId(99), "theirs", "X").with_field("K", "v", true);
        foreign.id = CredentialId(42);
        let creds = [foreign];
        let err = assemble(&sources(&app, &company, &creds, &template, &one_off)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, message } if field == "credentials" && message.contains("company 99")),
            "{err}"
        );
    }

    #[test]
    fn template_of_another_app_is_rejected() {
        let (app, company, mut template) = fixture("");
        template.app_id = crate::AppId(8);
        let err = assemble(&sources(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "runtemplate"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_sticky_across_layers() {
        let (mut app, mut company, mut template) = fixture("");
        app = app
            .with_field(EnvFieldDef::new("PASSWORD", EnvFieldType::Password).with_default("dflt"))
            .with_field(EnvFieldDef::new("API_KEY", EnvFieldType::String).secret())
            .with_field(EnvFieldDef::new("PLAIN", EnvFieldType::String).with_default("p"));
        // Company sets PASSWORD plain, a template secret is overridden by a plain one-off.
        company.environment.set("PASSWORD", "company");
        company.environment.set("API_KEY", "company-key");
        template.config.set_secret("TOKEN", "t");
        template.config.set("PLAIN", "template");
        let mut one_off = Environment::new();
        one_off.set("TOKEN", "one-off").set("API_KEY", "k2");
        let env = assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap();

        assert_eq!(env.get("PASSWORD"), Some("company"));
        assert!(
            secret(&env, "PASSWORD"),
            "password field un-secreted by a plain layer"
        );
        assert_eq!(env.get("API_KEY"), Some("k2"));
        assert!(secret(&env, "API_KEY"), "secret field");
        assert_eq!(env.get("TOKEN"), Some("one-off"));
        assert!(secret(&env, "TOKEN"), "secret template value un-secreted");
        assert!(!secret(&env, "PLAIN"));
        let mut secrets = env.secret_values();
        secrets.sort_unstable();
        assert_eq!(secrets, ["company", "k2", "one-off"]);
    }

    #[test]
    fn password_default_is_secret() {
        let (app, company, template) = fixture("");
        let app = app.with_field(EnvFieldDef::new("PW", EnvFieldType::Password).with_default("x"));
        let env = assemble(&sources(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap();
        assert!(secret(&env, "PW"));
    }

    #[test]
    fn required_missing_lists_every_name_once() {
        let (app, mut company, template) = fixture("");
        let app = app
            .with_field(EnvFieldDef::new("ABRAFLEXI_URL", EnvFieldType::Url).required())
            .with_field(EnvFieldDef::new("ABRAFLEXI_LOGIN", EnvFieldType::String).required())
            .with_field(
                EnvFieldDef::new("ABRAFLEXI_PASSWORD", EnvFieldType::Password)
                    .required()
                    .with_default(""),
            )
            .with_field(
                EnvFieldDef::new("HAS_DEFAULT", EnvFieldType::String)
                    .required()
                    .with_default("d"),
            )
            .with_field(EnvFieldDef::new("OPTIONAL", EnvFieldType::String));
        company.environment.set("ABRAFLEXI_LOGIN", "   ");
        let err = assemble(&sources(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap_err();
        let Error::InvalidInput { field, message } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(field, "environment");
        assert!(
            message.contains("ABRAFLEXI_URL, ABRAFLEXI_LOGIN, ABRAFLEXI_PASSWORD"),
            "{message}"
        );
        assert!(!message.contains("HAS_DEFAULT"), "{message}");
        assert!(!message.contains("OPTIONAL"), "{message}");
        for source in [
            "company environment",
            "credential",
            "run template's configuration",
            "one-off",
        ] {
            assert!(message.contains(source), "{message} lacks {source}");
        }
        assert!(message.contains("nightly send") && message.contains("Invoice Sender"));

        // Any layer may fill them.
        let mut one_off = Environment::new();
        one_off
            .set("ABRAFLEXI_URL", "https://x")
            .set("ABRAFLEXI_LOGIN", "u")
            .set_secret("ABRAFLEXI_PASSWORD", "p");
        assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap();
    }

    #[test]
    fn unusable_names_and_values_are_rejected_without_the_value() {
        let (app, mut company, template) = fixture("");
        company.environment.set("A=B", "x");
        let err = assemble(&sources(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("company environment"), "{err}");

        let (app, company, template) = fixture("");
        let mut one_off = Environment::new();
        one_off.set_secret("TOKEN", "hunter2\0");
        let err = assemble(&sources(&app, &company, &[], &template, &one_off)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TOKEN") && text.contains("NUL"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
