//! `multiflexi-api`: the HTTP API and the web dashboard over the shared database. See
//! `multiflexi-api --help`.

fn main() -> std::process::ExitCode {
    multiflexi_bin::multicall::api(std::env::args_os().collect())
}
