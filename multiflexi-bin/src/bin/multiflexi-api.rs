//! `multiflexi-api`: the HTTP API and the web dashboard over the shared database. See
//! `multiflexi-api --help`.

use clap::Parser;
use multiflexi_bin::daemon::{self, api::ApiArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ApiArgs::parse();
    daemon::init_logging("info");
    daemon::main_with("multiflexi-api", daemon::api::run(args))
}
