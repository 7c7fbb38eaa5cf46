//! Integration tests of `SqlStore` on every backend: SQLite in memory, SQLite file,
//! PostgreSQL and MariaDB (the servers from `scripts/services/databases.sh`).
//!
//! One test binary (linking the stack once); each backend is a module holding the shared store
//! conformance suite under its own names (`postgres::lifecycle_every_field`, …), this crate's
//! own cases (`postgres::cross_process_race`, …) and, on SQLite file and PostgreSQL, the engine
//! scenarios (`postgres::engine::thousand_jobs_parallel_16`, …).
//!
//! PostgreSQL and MariaDB tests are compiled when `MULTIFLEXI_TEST_POSTGRES_URL` /
//! `MULTIFLEXI_TEST_MYSQL_URL` are set at build time (see `build.rs`); otherwise one test per
//! backend prints that it was skipped, or fails under `MULTIFLEXI_REQUIRE_INTEGRATION=1`.

mod cases;
mod support;

use support::Backend;

macro_rules! backend_tests {
    ($backend:expr, [$($case:ident => $path:path),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                support::run($backend, |ctx| $path(ctx)).await;
            }
        )*
    };
}

macro_rules! common_cases {
    ($backend:expr $(, $extra:ident => $path:path)*) => {
        backend_tests!($backend, [
            migrations_twice_and_newer_schema_refused => cases::migrations_twice_and_newer_schema_refused,
            lifecycle_fenced_and_audited => cases::lifecycle_fenced_and_audited,
            scheduler_cas_and_unique_slot => cases::scheduler_cas_and_unique_slot,
            recovery_retry_and_cancel => cases::recovery_retry_and_cancel,
            artifacts_and_output_byte_exact => cases::artifacts_and_output_byte_exact,
            names_are_case_sensitive => cases::names_are_case_sensitive,
            secrets_sealed_and_wrong_key_is_clear => cases::secrets_sealed_and_wrong_key_is_clear,
            round_trip_property => cases::property::round_trip_property,
            unreadable_job_is_listed_and_never_run => cases::unreadable::unreadable_job_is_listed_and_never_run,
            lease_expiry_from_the_database_clock => cases::db_clock::lease_expiry_from_the_database_clock,
            $($extra => $path,)*
        ]);
    };
}

mod sqlite_memory {
    use super::*;
    multiflexi_core::store_conformance_tests!(support::harness(Backend::SqliteMemory));
    common_cases!(Backend::SqliteMemory);
}

mod sqlite_file {
    use super::*;
    multiflexi_core::store_conformance_tests!(support::harness(Backend::SqliteFile));
    common_cases!(
        Backend::SqliteFile,
        cross_process_race => cases::race::cross_process_race,
        secret_not_in_sqlite_file => cases::secret_not_in_sqlite_file
    );
    mod engine {
        use super::*;
        multiflexi_core::engine_conformance_tests!(support::harness(Backend::SqliteFile));
    }
}

/// The store a one-shot command (`multiflexi-cli`) opens on a SQLite file: no writer thread,
/// no checkpointer, every write on the generic SeaORM path through a pool of two.
mod sqlite_file_one_shot {
    use super::*;
    multiflexi_core::store_conformance_tests!(support::harness(Backend::SqliteFileOneShot));
    common_cases!(
        Backend::SqliteFileOneShot,
        runs_no_writer_thread => cases::one_shot::runs_no_writer_thread
    );
}

#[cfg(mf_test_postgres)]
mod postgres {
    use super::*;
    multiflexi_core::store_conformance_tests!(support::harness(Backend::Postgres));
    common_cases!(
        Backend::Postgres,
        cross_process_race => cases::race::cross_process_race,
        no_lost_wakeups => cases::race::no_lost_wakeups,
        listen_reconnects => cases::race::listen_reconnects
    );
    mod engine {
        use super::*;
        multiflexi_core::engine_conformance_tests!(support::harness(Backend::Postgres));
    }
}

#[cfg(not(mf_test_postgres))]
#[test]
fn postgres() {
    support::missing("MULTIFLEXI_TEST_POSTGRES_URL");
}

#[cfg(mf_test_mysql)]
mod mariadb {
    use super::*;
    multiflexi_core::store_conformance_tests!(support::harness(Backend::Mariadb));
    common_cases!(
        Backend::Mariadb,
        cross_process_race => cases::race::cross_process_race,
        artifact_cap_fits_max_allowed_packet => cases::packet::artifact_cap_fits_max_allowed_packet
    );
}

#[cfg(not(mf_test_mysql))]
#[test]
fn mariadb() {
    support::missing("MULTIFLEXI_TEST_MYSQL_URL");
}

#[tokio::test]
async fn down_database_is_retryable() {
    cases::down_database_is_retryable().await;
}
