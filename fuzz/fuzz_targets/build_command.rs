//! Command building: `environment::build_command` splits an app's `cmdparams` with shell quoting
//! rules, then substitutes `{VAR}`, `{{ VAR }}` and `${VAR}` macros from the job's environment.
//!
//! Input: first line the executable, then one `NAME=value` per line (`!NAME=value` for a
//! secret), then a line `--`; everything after it, newlines included, is `cmdparams`.
//!
//! A command it builds runs the app's executable unchanged, and no argument holds a NUL byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::environment::build_command;
use multiflexi_core::model::{App, Environment};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, cmdparams) = text.split_once("\n--\n").unwrap_or((text, ""));
    let mut lines = head.split('\n');
    let executable = lines.next().unwrap_or_default();
    let mut env = Environment::new();
    for line in lines {
        let (secret, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        if secret {
            env.set_secret(name, value);
        } else {
            env.set(name, value);
        }
    }
    let app = App::new("fuzz", executable).with_cmdparams(cmdparams);
    match build_command(&app, &env) {
        Ok(command) => {
            assert_eq!(command.program, executable);
            assert!(command.args.iter().all(|a| !a.contains('\0')));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
