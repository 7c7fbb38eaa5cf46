//! `multiflexi-executor`: the executor daemon. See `multiflexi-executor --help`.

use clap::Parser;
use multiflexi_bin::daemon::{self, executor::ExecutorArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ExecutorArgs::parse();
    daemon::init_logging("info");
    daemon::main_with("multiflexi-executor", daemon::executor::run(args))
}
