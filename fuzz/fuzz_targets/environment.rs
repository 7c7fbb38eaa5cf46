//! Environment assembly and command building for one job: `environment::prepare_spec` merges
//! app field defaults, the company environment, a credential, the template's configuration,
//! the injected `MULTIFLEXI_*` variables and one-off overrides, checks the variable names and
//! required fields, and builds the command.
//!
//! Input, one directive per line (`NAME=value` splits at the last `=`; `!` after the letter
//! marks a secret):
//!
//! | line | meaning |
//! |---|---|
//! | `F:<flags>:<type>:NAME=default` | app field (`r` required, `s` secret; no `=`: no default) |
//! | `C:NAME=value` / `C!:…` | company environment |
//! | `K:NAME=value` / `K!:…` | a field of the template's credential |
//! | `T:NAME=value` / `T!:…` | run template configuration |
//! | `O:NAME=value` / `O!:…` | one-off override |
//! | `P:cmdparams` `E:executable` `I:image` `X:executor` | the app's command, image, executor |
//! | `A:` `N:` `R:` `U:` | app, company and template name, app uuid |
//!
//! A spec it prepares has only names a process environment can hold, no NUL in a value, and a
//! non-blank value for every required field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::environment::{EnvSources, prepare_spec};
use multiflexi_core::model::{EnvFieldDef, EnvFieldType, Environment};
use multiflexi_core::{
    App, AppId, Company, CompanyId, Credential, CredentialId, ExecutorKind, RunTemplate,
    RunTemplateId,
};

fn name_value(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (s, None),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut app = App::new("fuzz app", "/usr/bin/true");
    app.id = AppId(7);
    let mut company = Company::new("Acme");
    company.id = CompanyId(3);
    let mut credential = Credential::new(company.id, "login", "Fuzz");
    credential.id = CredentialId(5);
    let mut template = RunTemplate::new(app.id, company.id, "nightly");
    template.id = RunTemplateId(11);
    template.credentials.push(credential.id);
    let mut one_off = Environment::new();

    for line in text.split('\n') {
        let Some((tag, rest)) = line.split_once(':') else {
            continue;
        };
        let (tag, secret) = match tag.strip_suffix('!') {
            Some(tag) => (tag, true),
            None => (tag, false),
        };
        let (name, value) = name_value(rest);
        let value = value.unwrap_or_default();
        let target = match tag {
            "C" => Some(&mut company.environment),
            "T" => Some(&mut template.config),
            "O" => Some(&mut one_off),
            _ => None,
        };
        if let Some(env) = target {
            if secret {
                env.set_secret(name, value);
            } else {
                env.set(name, value);
            }
            continue;
        }
        match tag {
            "F" => {
                let mut parts = rest.splitn(3, ':');
                let (flags, kind, def) = (
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                );
                let (name, default) = name_value(def);
                let mut field =
                    EnvFieldDef::new(name, kind.parse().unwrap_or(EnvFieldType::String));
                field.default = default.map(str::to_string);
                field.required = flags.contains('r');
                field.secret |= flags.contains('s');
                app.environment.push(field);
            }
            "K" => credential = credential.with_field(name, value, secret),
            "P" => app.cmdparams = rest.to_string(),
            "E" => app.executable = rest.to_string(),
            "I" => app.ociimage = Some(rest.to_string()),
            "X" => template.executor = rest.parse().unwrap_or(ExecutorKind::Native),
            "A" => app.name = multiflexi_core::model::LocalizedText::plain(rest),
            "N" => company.name = rest.to_string(),
            "R" => template.name = rest.to_string(),
            "U" => app.uuid = Some(rest.to_string()),
            _ => {}
        }
    }

    let credentials = [credential];
    let sources = EnvSources::new(&app, &company, &credentials, &template, &one_off);
    let prepared = match prepare_spec(&sources) {
        Ok(prepared) => prepared,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let env = &prepared.spec.env;
    for (name, value) in env.iter() {
        assert!(
            !name.is_empty() && !name.contains(['=', '\0']),
            "variable name {name:?} passed"
        );
        assert!(!value.contains('\0'), "NUL in the value of {name:?} passed");
    }
    for field in app.environment.iter().filter(|f| f.required) {
        assert!(
            env.get(&field.name).is_some_and(|v| !v.trim().is_empty()),
            "required field {:?} has no value",
            field.name
        );
    }
    assert!(prepared.spec.args.iter().all(|a| !a.contains('\0')));
});
