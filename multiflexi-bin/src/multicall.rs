//! One binary for every program (issue 23): `multiflexi` started through a link named
//! `multiflexi-cli`, `multiflexi-scheduler`, `multiflexi-executor` or `multiflexi-api` (the Debian
//! package and the container image install those links), or as
//! `multiflexi cli|scheduler|executor|api ARGS...`, is that program. Each of the five `[[bin]]`s
//! starts its program here too, so a program starts the same way whichever binary runs it.

use crate::daemon::{self, api::ApiArgs, executor::ExecutorArgs, scheduler::SchedulerArgs};
use clap::Parser;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// A program the multi-call binary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `multiflexi-cli`.
    Cli,
    /// `multiflexi-scheduler`.
    Scheduler,
    /// `multiflexi-executor`.
    Executor,
    /// `multiflexi-api`.
    Api,
}

impl Program {
    const ALL: [Program; 4] = [
        Program::Cli,
        Program::Scheduler,
        Program::Executor,
        Program::Api,
    ];

    /// Its installed name (the link's name).
    pub fn name(self) -> &'static str {
        match self {
            Program::Cli => "multiflexi-cli",
            Program::Scheduler => "multiflexi-scheduler",
            Program::Executor => "multiflexi-executor",
            Program::Api => "multiflexi-api",
        }
    }

    /// Its subcommand of `multiflexi`.
    fn subcommand(self) -> &'static str {
        self.name().trim_start_matches("multiflexi-")
    }

    /// Runs it with `argv` (`argv[0]` is its name).
    pub fn run(self, argv: Vec<OsString>) -> ExitCode {
        match self {
            Program::Cli => crate::cli::main_from(argv),
            Program::Scheduler => scheduler(argv),
            Program::Executor => executor(argv),
            Program::Api => api(argv),
        }
    }
}

// One function per program, so that a single-program binary links only its own.

/// The `multiflexi-scheduler` program.
pub fn scheduler(argv: Vec<OsString>) -> ExitCode {
    let args = SchedulerArgs::parse_from(argv);
    daemon::init_logging("info");
    daemon::main_with(Program::Scheduler.name(), daemon::scheduler::run(args))
}

/// The `multiflexi-executor` program.
pub fn executor(argv: Vec<OsString>) -> ExitCode {
    let args = ExecutorArgs::parse_from(argv);
    daemon::init_logging("info");
    daemon::main_with(Program::Executor.name(), daemon::executor::run(args))
}

/// The `multiflexi-api` program.
pub fn api(argv: Vec<OsString>) -> ExitCode {
    let args = ApiArgs::parse_from(argv);
    daemon::init_logging("info");
    daemon::main_with(Program::Api.name(), daemon::api::run(args))
}

/// The program a `multiflexi` command line names, with its own command line: by the name it
/// was started as (a link), else by its first argument (`multiflexi cli job:list`). `None`:
/// `multiflexi` itself (`serve`, `--help`).
pub fn resolve(argv: &[OsString]) -> Option<(Program, Vec<OsString>)> {
    let started_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if let Some(program) = Program::ALL
        .into_iter()
        .find(|p| Some(p.name()) == started_as)
    {
        return Some((program, argv.to_vec()));
    }
    let first = argv.get(1)?.to_str()?;
    let program = Program::ALL.into_iter().find(|p| p.subcommand() == first)?;
    let mut own = vec![OsString::from(program.name())];
    own.extend(argv[2..].iter().cloned());
    Some((program, own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_link_name_is_the_program_with_the_whole_command_line() {
        let (p, own) = resolve(&argv(&["/usr/bin/multiflexi-cli", "job:list"])).unwrap();
        assert_eq!(p, Program::Cli);
        assert_eq!(own, argv(&["/usr/bin/multiflexi-cli", "job:list"]));
        let (p, _) = resolve(&argv(&["multiflexi-executor"])).unwrap();
        assert_eq!(p, Program::Executor);
    }

    #[test]
    fn a_subcommand_is_the_program_with_the_rest() {
        let (p, own) = resolve(&argv(&["multiflexi", "scheduler", "--cycle-pause", "5"])).unwrap();
        assert_eq!(p, Program::Scheduler);
        assert_eq!(own, argv(&["multiflexi-scheduler", "--cycle-pause", "5"]));
        let (p, own) = resolve(&argv(&["/usr/bin/multiflexi", "api"])).unwrap();
        assert_eq!(p, Program::Api);
        assert_eq!(own, argv(&["multiflexi-api"]));
    }

    #[test]
    fn multiflexi_itself_is_not_resolved() {
        assert_eq!(resolve(&argv(&["multiflexi", "serve", "--demo"])), None);
        assert_eq!(resolve(&argv(&["multiflexi"])), None);
        assert_eq!(resolve(&argv(&["multiflexi", "--help"])), None);
        assert_eq!(
            resolve(&argv(&["multiflexi-clix", "cli"])).map(|r| r.0),
            Some(Program::Cli)
        );
        assert_eq!(resolve(&argv(&["multiflexi", "client"])), None);
    }
}
