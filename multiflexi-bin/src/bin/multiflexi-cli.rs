//! `multiflexi-cli`: MultiFlexi's commands over the store. See `multiflexi-cli --help`.

fn main() -> std::process::ExitCode {
    multiflexi_bin::cli::main_from(std::env::args_os().collect())
}
