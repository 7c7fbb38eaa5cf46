//! Everything a new job row freezes: environment, command, image and limits.

use super::{EnvSources, assemble, build_command};
use crate::model::JobSpec;
use crate::{Error, Result};

/// A job's frozen [`JobSpec`] plus the warnings found while building it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedSpec {
    /// What the job will run.
    pub spec: JobSpec,
    /// Warnings from [`build_command`] (unknown macros, secrets on the command line); they name
    /// variables, never values.
    pub warnings: Vec<String>,
}

/// Assembles the environment ([`assemble`]), builds the command ([`build_command`]) and fills in
/// a [`JobSpec`]:
///
/// | field | from |
/// |---|---|
/// | `program` | the app's `executable` |
/// | `args` | `cmdparams`, split, macros substituted |
/// | `env` | the five layers (without `MULTIFLEXI_JOB_ID`, which the engine adds at launch) |
/// | `image` | the app's `ociimage` (blank → `None`) |
/// | `timeout`, `memory_limit_mb`, `pids_max`, `cpu_seconds`, `timezone` | the run template |
/// | `container` (capabilities, read-only root) | the app |
/// | `artifacts` | the `path` of each of the app's artifact patterns |
///
/// Errors ([`Error::InvalidInput`]) besides those of [`assemble`] and [`build_command`]:
/// - `ociimage`: the template's executor runs containers
///   ([`ExecutorKind::needs_image`](crate::ExecutorKind::needs_image)) but the app has no image;
/// - `executable`: a Native template whose app has no executable (for container executors an
///   empty `program` is passed on; what it means is up to the executor).
pub fn prepare_spec(sources: &EnvSources<'_>) -> Result<PreparedSpec> {
    let app = sources.app;
    let template = sources.template;
    let image = app
        .ociimage
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string);
    if template.executor.needs_image() && image.is_none() {
        return Err(Error::invalid(
            "ociimage",
            format!(
                "app '{}' has no container image (ociimage), which run template '{}' needs for the \
                 {} executor; give the app an ociimage or run the template on the Native executor",
                app.display_name(),
                template.name,
                template.executor
            ),
        ));
    }
    if !template.executor.needs_image() && app.executable.trim().is_empty() {
        return Err(Error::invalid(
            "executable",
            format!(
                "app '{}' has no executable, which run template '{}' needs for the {} executor",
                app.display_name(),
                template.name,
                template.executor
            ),
        ));
    }

    let env = assemble(sources)?;
    let command = build_command(app, &env)?;
    let spec = JobSpec {
        program: command.program,
        args: command.args,
        env,
        image,
        timeout: template.timeout,
        memory_limit_mb: template.memory_limit_mb,
        pids_max: template.pids_max,
        cpu_seconds: template.cpu_seconds,
        container: app.container.clone(),
        artifacts: app.artifacts.iter().map(|a| a.path.clone()).collect(),
        timezone: template.timezone.clone(),
    };
    Ok(PreparedSpec {
        spec,
        warnings: command.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::test_support::fixture;
    use crate::model::{ArtifactPattern, EnvFieldDef, EnvFieldType, Environment, ExecutorKind};

    #[test]
    fn fills_every_field() {
        let (app, mut company, mut template) = fixture("--to {EMAIL} --amount {NUMBER}{UNIT}");
        let app = app
            .with_field(EnvFieldDef::new("UNIT", EnvFieldType::String).with_default("CZK"))
            .with_field(EnvFieldDef::new("SMTP_PASSWORD", EnvFieldType::Password).required())
            .with_image("  ghcr.io/vitexsoftware/sender:1.2 ")
            .with_artifact(ArtifactPattern::new("reports/*.pdf", "application/pdf"))
            .with_artifact(ArtifactPattern::new("summary.json", "json"));
        company.environment.set("EMAIL", "billing@acme.example");
        company.environment.set_secret("SMTP_PASSWORD", "pw");
        template.config.set("NUMBER", "100");
        template.timeout = Some(600);
        template.memory_limit_mb = Some(256);
        template.pids_max = Some(64);
        template.cpu_seconds = Some(30);
        template.timezone = "Europe/Prague".into();
        template.executor = ExecutorKind::Podman;
        let one_off = Environment::new().with("UNIT", "EUR");

        let p = prepare_spec(&EnvSources::new(&app, &company, &[], &template, &one_off)).unwrap();
        let spec = &p.spec;
        assert_eq!(spec.program, "/usr/bin/send-invoices");
        assert_eq!(
            spec.args,
            ["--to", "billing@acme.example", "--amount", "100EUR"]
        );
        assert_eq!(
            spec.image.as_deref(),
            Some("ghcr.io/vitexsoftware/sender:1.2")
        );
        assert_eq!(spec.timeout, Some(600));
        assert_eq!(spec.memory_limit_mb, Some(256));
        assert_eq!((spec.pids_max, spec.cpu_seconds), (Some(64), Some(30)));
        assert_eq!(spec.timezone, "Europe/Prague");
        assert_eq!(spec.artifacts, ["reports/*.pdf", "summary.json"]);
        assert_eq!(spec.env.get("SMTP_PASSWORD"), Some("pw"));
        assert_eq!(spec.env.get("MULTIFLEXI_EXECUTOR"), Some("Podman"));
        assert_eq!(spec.env.get("UNIT"), Some("EUR"));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn warnings_are_passed_on() {
        let (app, company, mut template) = fixture("--pw {PW} {NOPE}");
        template.config.set_secret("PW", "hunter2");
        let p = prepare_spec(&EnvSources::new(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap();
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings.iter().all(|w| !w.contains("hunter2")));
        assert_eq!(
            p.spec.redacted_command(),
            "/usr/bin/send-invoices --pw '***' {NOPE}"
        );
    }

    #[test]
    fn container_executors_need_an_image() {
        let (app, company, mut template) = fixture("");
        let one_off = Environment::new();
        for kind in ExecutorKind::ALL {
            template.executor = kind;
            for image in [None, Some(""), Some("   ")] {
                let mut app = app.clone();
                app.ociimage = image.map(str::to_string);
                let r = prepare_spec(&EnvSources::new(&app, &company, &[], &template, &one_off));
                if kind.needs_image() {
                    let err = r.unwrap_err();
                    let Error::InvalidInput { field, message } = &err else {
                        panic!("{err:?}");
                    };
                    assert_eq!(field, "ociimage");
                    assert!(message.contains("Invoice Sender"), "{message}");
                    assert!(message.contains(kind.as_str()), "{message}");
                } else {
                    assert_eq!(r.unwrap().spec.image, None);
                }
            }
        }
    }

    #[test]
    fn native_needs_an_executable() {
        let (mut app, company, template) = fixture("");
        app.executable = " ".into();
        let err = prepare_spec(&EnvSources::new(
            &app,
            &company,
            &[],
            &template,
            &Environment::new(),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "executable"),
            "{err}"
        );
    }

    #[test]
    fn errors_from_assembly_and_command_surface() {
        let (app, company, template) = fixture("'");
        let one_off = Environment::new();
        let err =
            prepare_spec(&EnvSources::new(&app, &company, &[], &template, &one_off)).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "cmdparams"));
        let app = app
            .with_cmdparams("")
            .with_field(EnvFieldDef::new("NEEDED", EnvFieldType::String).required());
        let err =
            prepare_spec(&EnvSources::new(&app, &company, &[], &template, &one_off)).unwrap_err();
        assert!(err.to_string().contains("NEEDED"), "{err}");
    }
}
