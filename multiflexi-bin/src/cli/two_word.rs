//! The command lines of upstream's older CLI, as the Ansible collection's modules still build
//! them: `job get --id 7` for `job:get --id 7`, `--output json` for `--format json`, and the
//! families this project does not have, refused with one line that says so.
//!
//! Applied to the raw argument list before it is parsed, so every alias and option spelling of
//! the `group:action` commands applies to the two-word form too.

use std::ffi::OsString;

/// Upstream's group words and the command group each stands for here.
const GROUPS: &[(&str, &str)] = &[
    ("application", "application"),
    ("app", "application"),
    ("artifact", "artifact"),
    ("company", "company"),
    ("credential", "credential"),
    ("encryption", "encryption"),
    ("job", "job"),
    ("queue", "queue"),
    ("runtemplate", "run-template"),
    ("run-template", "run-template"),
    ("token", "token"),
];

/// Upstream's command families this project does not have, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "user",
        "users: access is by API tokens (token:create --admin or --company)",
    ),
    (
        "user-company",
        "users: access is by API tokens, a company token sees only its company",
    ),
    (
        "userrole",
        "user roles: a token is admin or scoped to one company",
    ),
    (
        "user-role",
        "user roles: a token is admin or scoped to one company",
    ),
    (
        "eventsource",
        "event sources: jobs start by schedule, by hand or through the API",
    ),
    (
        "eventrule",
        "event rules: jobs start by schedule, by hand or through the API",
    ),
    (
        "credtype",
        "credential types: a credential is a named set of variables of one company",
    ),
    (
        "credential-type",
        "credential types: a credential is a named set of variables of one company",
    ),
    (
        "crprototype",
        "credential prototypes: a credential is a named set of variables of one company",
    ),
    (
        "topic",
        "topics: an app's tags come from its definition file",
    ),
    (
        "companyapp",
        "company-app assignments: any app can run for any company through a run template",
    ),
];

/// Why a command line names a family this project does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Rewrites upstream's two-word form and `--output json|text` into this CLI's spelling; a
/// family this project does not have (users, event sources, credential types, …) is an
/// [`Unsupported`] error naming it. Anything else is returned unchanged.
pub fn normalize(argv: Vec<OsString>) -> Result<Vec<OsString>, Unsupported> {
    let Some(first) = argv.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        return Ok(argv);
    };
    let family = first.split(':').next().unwrap_or_default();
    if let Some((_, why)) = UNSUPPORTED
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(family))
    {
        return Err(Unsupported(format!(
            "`{first}` is not supported by multiflexi-rs: it has no {why}; see the README's CLI \
             compatibility table"
        )));
    }
    let mut out = argv;
    if let Some((_, group)) = GROUPS.iter().find(|(word, _)| *word == first) {
        let action = out.get(2).and_then(|a| a.to_str()).map(str::to_owned);
        match action {
            Some(action) if !action.starts_with('-') && !action.contains(':') => {
                out.splice(1..3, [OsString::from(format!("{group}:{action}"))]);
            }
            // `queue --format json` is upstream's queue overview.
            _ if *group == "queue" => out[1] = OsString::from("queue:overview"),
            _ => {}
        }
    }
    let command = out
        .get(1)
        .and_then(|a| a.to_str())
        .unwrap_or_default()
        .to_owned();
    if !matches!(command.as_str(), "artifact:get" | "artifact:save") {
        output_as_format(&mut out);
    }
    Ok(out)
}

/// `--output json` / `--output=json` (and `text`) → `--format …`.
fn output_as_format(args: &mut [OsString]) {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_str().unwrap_or_default().to_owned();
        if arg == "--output"
            && let Some(value) = args.get(i + 1).and_then(|v| v.to_str())
            && matches!(value, "json" | "text")
        {
            args[i] = OsString::from("--format");
            i += 2;
            continue;
        }
        if let Some(value) = arg.strip_prefix("--output=")
            && matches!(value, "json" | "text")
        {
            args[i] = OsString::from(format!("--format={value}"));
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Result<Vec<String>, Unsupported> {
        let argv = std::iter::once("multiflexi-cli")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        normalize(argv).map(|v| {
            v.into_iter()
                .skip(1)
                .map(|a| a.into_string().unwrap())
                .collect()
        })
    }

    #[test]
    fn two_words_become_one_command() {
        assert_eq!(
            n(&["job", "get", "--id", "7", "--verbose", "--output", "json"]).unwrap(),
            ["job:get", "--id", "7", "--verbose", "--format", "json"]
        );
        assert_eq!(n(&["runtemplate", "list"]).unwrap(), ["run-template:list"]);
        assert_eq!(
            n(&["queue", "--format", "json"]).unwrap(),
            ["queue:overview", "--format", "json"]
        );
        assert_eq!(
            n(&["job:get", "--id", "1"]).unwrap(),
            ["job:get", "--id", "1"]
        );
    }

    #[test]
    fn artifact_output_stays_a_file() {
        assert_eq!(
            n(&["artifact", "get", "--id", "3", "--output", "json"]).unwrap(),
            ["artifact:get", "--id", "3", "--output", "json"]
        );
    }

    #[test]
    fn families_not_here_are_named() {
        for args in [
            &["user", "list"][..],
            &["user:data-erasure", "--user", "1"],
            &["eventsource", "list"],
            &["crprototype", "get", "--id", "1"],
        ] {
            let Unsupported(why) = n(args).unwrap_err();
            assert!(why.contains("is not supported by multiflexi-rs"), "{why}");
        }
    }
}
