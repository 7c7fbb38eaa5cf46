//! From `cmdparams` to argv.

use super::macros::{substitute, tighten_double_braces};
use crate::model::{App, Environment};
use crate::{Error, Result};

/// A program and its argv, ready for an executor (never a shell string).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Command {
    /// The program (the app's `executable`, unchanged).
    pub program: String,
    /// Its arguments, macros substituted.
    pub args: Vec<String>,
    /// Things an operator should know: unknown macros left as they were, secrets on the
    /// command line. They name variables, never values.
    pub warnings: Vec<String>,
}

/// Builds the command line of `app` from the assembled environment `env`.
///
/// 1. `app.cmdparams` is split into argv with POSIX shell quoting rules (`shell-words`):
///    blanks separate words, `'…'`, `"…"` and `\` quote, and a word starting with `#` begins a
///    comment. Nothing is expanded and no shell ever runs. A missing closing quote is an
///    [`Error::InvalidInput`] on `cmdparams`.
/// 2. Macros are substituted inside each word, so a value containing blanks, quotes or
///    `; rm -rf /` stays one literal argument. Spellings: `{VAR}`, `{{VAR}}`, `{{ VAR }}` and
///    `${VAR}` (adjacent macros such as `{NUMBER}{UNIT}` work). A name starts with an ASCII
///    letter or `_` and continues with letters, digits or `_`. Substituted values are not
///    scanned again. `$VAR` without braces is left alone.
///
/// Decisions, as upstream MultiFlexi does with `str_replace`:
/// - an unknown macro (no such variable in `env`) is left exactly as written and a warning names
///   it (a spaced `{{ X }}` is kept as the single word `{{X}}`);
/// - arguments are never dropped: a macro whose variable is set to the empty string yields an
///   empty argument, so positional arguments keep their positions.
///
/// A secret variable used in an argument is allowed but warned about, once per variable: argv is
/// visible to other users through `ps` and `docker inspect`. The warning names the variable, never
/// the value.
///
/// ```
/// use multiflexi_core::environment::build_command;
/// use multiflexi_core::model::{App, Environment};
///
/// let app = App::new("t", "/bin/echo").with_cmdparams("--name {NAME} --size {NUMBER}{UNIT}");
/// let env = Environment::new().with("NAME", "a; rm -rf /").with("NUMBER", "5").with("UNIT", "MB");
/// let cmd = build_command(&app, &env).unwrap();
/// assert_eq!(cmd.args, ["--name", "a; rm -rf /", "--size", "5MB"]);
/// assert!(cmd.warnings.is_empty());
/// ```
pub fn build_command(app: &App, env: &Environment) -> Result<Command> {
    let cmdparams = tighten_double_braces(&app.cmdparams);
    let words = shell_words::split(&cmdparams).map_err(|e| {
        Error::invalid(
            "cmdparams",
            format!(
                "app '{}': cannot split {:?} into arguments: {e}",
                app.display_name(),
                app.cmdparams
            ),
        )
    })?;

    let mut args = Vec::with_capacity(words.len());
    let mut unknown: Vec<String> = Vec::new();
    let mut secrets: Vec<(String, usize)> = Vec::new();
    for (index, word) in words.iter().enumerate() {
        let position = index + 1;
        let s = substitute(word, |name| env.get(name));
        for name in s.used {
            if env.0.get(name).is_some_and(|v| v.secret) && !secrets.iter().any(|(n, _)| n == name)
            {
                secrets.push((name.to_string(), position));
            }
        }
        for m in s.unknown {
            if !unknown.iter().any(|u| u == m) {
                unknown.push(m.to_string());
            }
        }
        if s.text.contains('\0') {
            return Err(Error::invalid(
                "cmdparams",
                format!(
                    "app '{}': argument {position} contains a NUL byte, which no command line can hold",
                    app.display_name()
                ),
            ));
        }
        args.push(s.text);
    }

    let mut warnings = Vec::with_capacity(unknown.len() + secrets.len());
    for m in unknown {
        warnings.push(format!(
            "cmdparams macro {m} names no variable of the job's environment; it is passed on as written"
        ));
    }
    for (name, position) in secrets {
        warnings.push(format!(
            "secret variable {name} is used on the command line (argument {position}); argv is \
             visible to other users through ps and docker inspect, so prefer having the app read \
             it from its environment"
        ));
    }

    Ok(Command {
        program: app.executable.clone(),
        args,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(cmdparams: &str, env: &Environment) -> Command {
        build_command(
            &App::new("Tool", "/usr/bin/tool").with_cmdparams(cmdparams),
            env,
        )
        .unwrap()
    }

    #[test]
    fn empty_cmdparams() {
        let c = cmd("", &Environment::new());
        assert_eq!(c.program, "/usr/bin/tool");
        assert!(c.args.is_empty() && c.warnings.is_empty());
        assert!(cmd("   \t\n", &Environment::new()).args.is_empty());
    }

    #[test]
    fn shell_metacharacters_in_values_stay_literal() {
        let env = Environment::new()
            .with("EVIL", "; rm -rf /")
            .with("SUB", "$(reboot) `id` && x | y > z")
            .with("SPACES", "  two  words  ");
        let c = cmd("-e {EVIL} --sub=${SUB} {{ SPACES }}", &env);
        assert_eq!(
            c.args,
            [
                "-e",
                "; rm -rf /",
                "--sub=$(reboot) `id` && x | y > z",
                "  two  words  "
            ]
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn rm_rf_literal_in_cmdparams_is_just_words() {
        // Splitting never interprets `;`: it becomes a plain argument of the program.
        let c = cmd("run; rm -rf /", &Environment::new());
        assert_eq!(c.args, ["run;", "rm", "-rf", "/"]);
    }

    #[test]
    fn quotes_and_spaces_in_values() {
        let env = Environment::new()
            .with("Q", r#"it's "quoted" \ back"#)
            .with("NAME", "Acme s.r.o.");
        let c = cmd(r#"--q {Q} "--company={NAME}" '{Q}' --x="${NAME}""#, &env);
        assert_eq!(
            c.args,
            [
                "--q",
                r#"it's "quoted" \ back"#,
                "--company=Acme s.r.o.",
                r#"it's "quoted" \ back"#,
                "--x=Acme s.r.o.",
            ]
        );
    }

    #[test]
    fn double_brace_with_spaces_is_one_argument() {
        let env = Environment::new().with("ISDOC_FILE", "/tmp/out dir/faktura.isdoc");
        let c = cmd("--output {{ ISDOC_FILE }} --format=isdoc", &env);
        assert_eq!(
            c.args,
            ["--output", "/tmp/out dir/faktura.isdoc", "--format=isdoc"]
        );
        let c = cmd("-o{{ISDOC_FILE}}", &env);
        assert_eq!(c.args, ["-o/tmp/out dir/faktura.isdoc"]);
    }

    #[test]
    fn adjacent_macros() {
        let env = Environment::new().with("NUMBER", "10").with("UNIT", "d");
        assert_eq!(cmd("--age {NUMBER}{UNIT}", &env).args, ["--age", "10d"]);
    }

    #[test]
    fn unknown_macros_are_kept_and_warned_once() {
        let env = Environment::new().with("KNOWN", "k");
        let c = cmd("{KNOWN} {MISSING} x{MISSING}y {{ OTHER }} ${THIRD}", &env);
        assert_eq!(
            c.args,
            ["k", "{MISSING}", "x{MISSING}y", "{{OTHER}}", "${THIRD}"]
        );
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("{MISSING}"));
        assert!(c.warnings[1].contains("{{OTHER}}"));
        assert!(c.warnings[2].contains("${THIRD}"));
    }

    #[test]
    fn empty_values_keep_their_argument() {
        let env = Environment::new().with("EMPTY", "");
        assert_eq!(cmd("a {EMPTY} b", &env).args, ["a", "", "b"]);
    }

    #[test]
    fn secrets_warn_by_name_only() {
        let env = Environment::new()
            .with_secret("API_TOKEN", "s3cr3t-value")
            .with("USER", "bob");
        let c = cmd(
            "--user {USER} --token={API_TOKEN} --again {{API_TOKEN}}",
            &env,
        );
        assert_eq!(
            c.args,
            [
                "--user",
                "bob",
                "--token=s3cr3t-value",
                "--again",
                "s3cr3t-value"
            ]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("API_TOKEN"));
        assert!(c.warnings[0].contains("argument 3"));
        assert!(c.warnings[0].contains("ps"));
        assert!(!c.warnings[0].contains("s3cr3t"));
    }

    #[test]
    fn bad_quoting_is_invalid_input() {
        let app = App::new("Tool", "/usr/bin/tool").with_cmdparams("--name 'unterminated");
        let err = build_command(&app, &Environment::new()).unwrap_err();
        let Error::InvalidInput { field, message } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(field, "cmdparams");
        assert!(message.contains("missing closing quote"), "{message}");
        assert!(message.contains("unterminated"), "{message}");
    }

    #[test]
    fn nul_in_an_argument_is_rejected_without_the_value() {
        let env = Environment::new().with_secret("PW", "pass\0word");
        let app = App::new("Tool", "/usr/bin/tool").with_cmdparams("-p {PW}");
        let err = build_command(&app, &env).unwrap_err().to_string();
        assert!(err.contains("argument 2") && !err.contains("pass"), "{err}");
    }

    #[test]
    fn comments_end_the_command_line() {
        let c = cmd("--a # the rest is a comment {X}", &Environment::new());
        assert_eq!(c.args, ["--a"]);
        assert!(c.warnings.is_empty());
    }
}
