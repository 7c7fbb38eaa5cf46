//! `multiflexi`: the all-in-one process (`multiflexi serve`): scheduler and executor together on
//! the embedded SQLite default. See `multiflexi serve --help`. Also every other program: started
//! through a link named `multiflexi-cli` (…) or as `multiflexi cli ARGS` (`multiflexi_bin::multicall`).

use clap::{Parser, Subcommand};
use multiflexi_bin::daemon::{self, serve::ServeArgs};
use multiflexi_bin::multicall;
use std::process::ExitCode;

/// MultiFlexi job scheduler: run templates become jobs, jobs run and their output is preserved.
#[derive(Debug, Parser)]
#[command(
    name = "multiflexi",
    version,
    arg_required_else_help = true,
    after_help = "Also `multiflexi cli|scheduler|executor|api ARGS...`, or this binary started through \
a link named multiflexi-cli, multiflexi-scheduler, multiflexi-executor or multiflexi-api: that program."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scheduler and an executor in one process (./multiflexi.sqlite by default, created
    /// on first start); `--demo` sets up example jobs.
    #[command(after_help = daemon::AFTER_HELP)]
    Serve(Box<ServeArgs>),
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some((program, own)) = multicall::resolve(&argv) {
        return program.run(own);
    }
    let cli = Cli::parse_from(argv);
    daemon::init_logging("warn");
    match cli.command {
        Command::Serve(args) => daemon::main_with("multiflexi", daemon::serve::run(*args)),
    }
}
