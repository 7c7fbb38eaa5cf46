//! `multiflexi-scheduler`: the scheduler daemon. See `multiflexi-scheduler --help`.

fn main() -> std::process::ExitCode {
    multiflexi_bin::multicall::scheduler(std::env::args_os().collect())
}
