//! `multiflexi`: the all-in-one daemon (scheduler + dispatcher on SQLite). Filled by the binaries issue.
fn main() {
    eprintln!("multiflexi: not built yet; see the README's status section");
    std::process::exit(2);
}
