//! `multiflexi`: the all-in-one process (`multiflexi serve`): scheduler and executor together on
//! the embedded SQLite default. See `multiflexi serve --help`.

use clap::{Parser, Subcommand};
use multiflexi_bin::daemon::{self, serve::ServeArgs};
use std::process::ExitCode;

/// MultiFlexi job scheduler: run templates become jobs, jobs run and their output is preserved.
#[derive(Debug, Parser)]
#[command(name = "multiflexi", version, arg_required_else_help = true)]
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
    let cli = Cli::parse();
    daemon::init_logging("warn");
    match cli.command {
        Command::Serve(args) => daemon::main_with("multiflexi", daemon::serve::run(*args)),
    }
}
