//! `multiflexi-executor`: the executor daemon. See `multiflexi-executor --help`.

fn main() -> std::process::ExitCode {
    multiflexi_bin::multicall::executor(std::env::args_os().collect())
}
