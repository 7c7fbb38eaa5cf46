//! The two rules: who may choose the executor, and which environment names a caller may set.

use super::loader_variables::loader_family;
use crate::model::{App, Credential, ExecutorKind, RunTemplate};
use crate::store::TokenScope;
use crate::{Error, Result};

/// Which environment layer a write sets (ARCHITECTURE §7's layers as users write them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvLayer {
    /// A company's environment.
    Company,
    /// A credential's fields.
    Credential,
    /// A run template's configuration.
    TemplateConfig,
    /// One job's overrides ("Execute now", `POST /job/`, `job:create --env`).
    OneOff,
}

impl EnvLayer {
    fn what(self) -> &'static str {
        match self {
            EnvLayer::Company => "a company's environment",
            EnvLayer::Credential => "a credential",
            EnvLayer::TemplateConfig => "a run template's configuration",
            EnvLayer::OneOff => "a job's one-off environment",
        }
    }
}

/// Checks who chose `requested` as the executor where `current` is the template's (for a new
/// template: the default). `None` and `Some(current)` are no choice; anything else is the
/// operator's call, Forbidden for a company token. `field` names the request's field.
pub fn check_executor_choice(
    scope: TokenScope,
    field: &str,
    current: ExecutorKind,
    requested: Option<ExecutorKind>,
) -> Result<()> {
    match (scope, requested) {
        (TokenScope::Company(_), Some(k)) if k != current => Err(Error::forbidden(
            field,
            format!(
                "a company token cannot choose the executor (the template runs on {current}, \
                 {k} was asked for); only the operator (an admin token or the CLI) may"
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks the names an environment write sets in `layer` of a job of `app`:
/// - a loader variable ([`loader_family`]) is refused for everyone unless `app` declares a
///   field of that name;
/// - a company token's one-off environment may set only `app`'s fields and
///   `credential_fields` (the fields of the template's credentials).
///
/// The refusal (Forbidden) names the variable as `field.NAME`. Apps are unknown for company
/// environments and credentials: pass `None`, and only the loader rule applies.
pub fn check_env_names<'a>(
    scope: TokenScope,
    app: impl Into<Option<&'a App>>,
    credential_fields: &[String],
    layer: EnvLayer,
    field: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let app = app.into();
    for name in names {
        let declared = app.is_some_and(|a| a.field(name).is_some());
        if declared {
            continue;
        }
        if let Some(family) = loader_family(name) {
            return Err(Error::forbidden(
                format!("{field}.{name}"),
                format!(
                    "{name} changes {}, so it would run the setter's code inside the app; it \
                     cannot be set in {} unless the app declares a field named {name}",
                    family.what,
                    layer.what()
                ),
            ));
        }
        if layer == EnvLayer::OneOff
            && matches!(scope, TokenScope::Company(_))
            && !credential_fields.iter().any(|c| c == name)
        {
            let mut allowed: Vec<&str> = app
                .map(|a| a.environment.iter().map(|f| f.name.as_str()).collect())
                .unwrap_or_default();
            allowed.extend(credential_fields.iter().map(String::as_str));
            allowed.sort_unstable();
            allowed.dedup();
            return Err(Error::forbidden(
                format!("{field}.{name}"),
                format!(
                    "a company token may set only the app's fields and its credentials' fields \
                     in a job's one-off environment; {name} is neither (allowed: {})",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a run template write by `scope`: `before` is the stored template (`None` for a new
/// one, whose executor's default is [`RunTemplate::new`]'s), `after` what would be stored.
/// A company token may not change the executor; a configuration name that is new or changed
/// must pass [`check_env_names`] (names stored before and left alone keep working: the
/// operator's `doctor` reports them).
pub fn check_template_write(
    scope: TokenScope,
    before: Option<&RunTemplate>,
    after: &RunTemplate,
    app: &App,
) -> Result<()> {
    let current = before.map_or_else(
        || RunTemplate::new(after.app_id, after.company_id, "").executor,
        |b| b.executor,
    );
    check_executor_choice(scope, "executor", current, Some(after.executor))?;
    let written = after
        .config
        .0
        .iter()
        .filter(|(k, v)| before.is_none_or(|b| b.config.0.get(k.as_str()) != Some(v)));
    check_env_names(
        scope,
        app,
        &[],
        EnvLayer::TemplateConfig,
        "config",
        written.map(|(k, _)| k.as_str()),
    )
}

/// [`check_env_names`] for a credential's fields (a credential serves any app: only the
/// loader rule applies).
pub fn check_credential(scope: TokenScope, credential: &Credential) -> Result<()> {
    check_env_names(
        scope,
        None,
        &[],
        EnvLayer::Credential,
        "fields",
        credential.fields.iter().map(|f| f.name.as_str()),
    )
}

/// [`check_env_names`] for names written into a company's environment.
pub fn check_company_env<'a>(
    scope: TokenScope,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    check_env_names(scope, None, &[], EnvLayer::Company, "environment", names)
}

/// The names of a stored environment that [`check_env_names`] would refuse today (for the
/// operator's `doctor`): each with why. Stored values keep working; this only reports them.
pub fn stored_env_findings<'a>(
    app: Option<&App>,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, &'static str)> {
    names
        .into_iter()
        .filter(|n| app.is_none_or(|a| a.field(n).is_none()))
        .filter_map(|n| loader_family(n).map(|f| (n.to_string(), f.what)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompanyId;
    use crate::model::{EnvFieldDef, EnvFieldType};

    fn app() -> App {
        App::new("a", "/bin/a")
            .with_field(EnvFieldDef::new("FORMAT", EnvFieldType::String))
            .with_field(EnvFieldDef::new("PYTHONPATH", EnvFieldType::String))
    }

    const TENANT: TokenScope = TokenScope::Company(CompanyId(3));

    #[test]
    fn executor_choice_is_the_operators() {
        use ExecutorKind::*;
        assert!(check_executor_choice(TENANT, "executor", Docker, None).is_ok());
        assert!(check_executor_choice(TENANT, "executor", Docker, Some(Docker)).is_ok());
        let e = check_executor_choice(TENANT, "executor", Docker, Some(Native)).unwrap_err();
        match e {
            Error::Forbidden { field, message } => {
                assert_eq!(field, "executor");
                assert!(
                    message.contains("Docker") && message.contains("Native"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(check_executor_choice(TokenScope::Admin, "executor", Docker, Some(Native)).is_ok());
    }

    #[test]
    fn loader_names_refused_for_everyone_unless_declared() {
        let a = app();
        for scope in [TokenScope::Admin, TENANT] {
            for layer in [EnvLayer::OneOff, EnvLayer::TemplateConfig] {
                let e = check_env_names(scope, &a, &[], layer, "env", ["FORMAT", "LD_PRELOAD"])
                    .unwrap_err();
                assert!(
                    matches!(&e, Error::Forbidden { field, .. } if field == "env.LD_PRELOAD"),
                    "{e:?}"
                );
                // Declared by the app: its author asked for it.
                assert!(check_env_names(scope, &a, &[], layer, "env", ["PYTHONPATH"]).is_ok());
            }
        }
        assert!(
            check_env_names(
                TokenScope::Admin,
                None,
                &[],
                EnvLayer::Company,
                "env",
                ["PATH"]
            )
            .is_err()
        );
    }

    #[test]
    fn tenant_one_off_env_only_declared_or_credential_fields() {
        let a = app();
        let creds = vec!["ABRAFLEXI_URL".to_string()];
        let ok = ["FORMAT", "ABRAFLEXI_URL"];
        assert!(check_env_names(TENANT, &a, &creds, EnvLayer::OneOff, "env", ok).is_ok());
        let e =
            check_env_names(TENANT, &a, &creds, EnvLayer::OneOff, "env", ["EXTRA"]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("env.EXTRA"), "{msg}");
        assert!(msg.contains("ABRAFLEXI_URL, FORMAT, PYTHONPATH"), "{msg}");
        // The operator and other layers may add names of their own.
        assert!(
            check_env_names(
                TokenScope::Admin,
                &a,
                &creds,
                EnvLayer::OneOff,
                "env",
                ["EXTRA"]
            )
            .is_ok()
        );
        assert!(
            check_env_names(
                TENANT,
                &a,
                &creds,
                EnvLayer::TemplateConfig,
                "config",
                ["EXTRA"]
            )
            .is_ok()
        );
    }

    #[test]
    fn template_writes() {
        let a = app();
        let mut t = RunTemplate::new(a.id, CompanyId(3), "t");
        // A new template on the default executor, or the operator's choice.
        assert!(check_template_write(TENANT, None, &t, &a).is_ok());
        let mut docker = t.clone();
        docker.executor = ExecutorKind::Docker;
        assert!(check_template_write(TENANT, None, &docker, &a).is_err());
        assert!(check_template_write(TokenScope::Admin, None, &docker, &a).is_ok());
        // Moving a Docker template to Native is the operator's call; keeping it is not a move.
        let mut native = docker.clone();
        native.executor = ExecutorKind::Native;
        assert!(check_template_write(TENANT, Some(&docker), &native, &a).is_err());
        assert!(check_template_write(TENANT, Some(&docker), &docker, &a).is_ok());
        // A stored loader variable keeps working; a new one is refused, for everyone.
        t.config.set("LD_PRELOAD", "/x.so");
        let mut later = t.clone();
        later.name = "renamed".into();
        assert!(check_template_write(TokenScope::Admin, Some(&t), &later, &a).is_ok());
        later.config.set("LD_PRELOAD", "/y.so");
        assert!(check_template_write(TokenScope::Admin, Some(&t), &later, &a).is_err());
        let fresh = RunTemplate::new(a.id, CompanyId(3), "t");
        assert!(check_template_write(TokenScope::Admin, Some(&fresh), &t, &a).is_err());
    }

    #[test]
    fn findings_list_stored_loader_names() {
        let a = app();
        let f = stored_env_findings(Some(&a), ["PYTHONPATH", "LD_PRELOAD", "X"]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "LD_PRELOAD");
    }
}
