//! `multiflexi-scheduler`: the scheduler daemon. See `multiflexi-scheduler --help`.

use clap::Parser;
use multiflexi_bin::daemon::{self, scheduler::SchedulerArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = SchedulerArgs::parse();
    daemon::init_logging("info");
    daemon::main_with("multiflexi-scheduler", daemon::scheduler::run(args))
}
