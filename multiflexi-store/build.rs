//! Tells the integration tests which database servers are configured, so the shared
//! conformance suites (whose macros cannot skip at run time) are compiled only for servers that
//! exist; `tests/sql.rs` turns a missing server into a skip message, or a failure under
//! `MULTIFLEXI_REQUIRE_INTEGRATION=1`.

fn main() {
    for (var, cfg) in [
        ("MULTIFLEXI_TEST_POSTGRES_URL", "mf_test_postgres"),
        ("MULTIFLEXI_TEST_MYSQL_URL", "mf_test_mysql"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
}
