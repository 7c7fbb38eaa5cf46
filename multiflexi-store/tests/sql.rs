//! Integration tests of `SqlStore` on every backend: SQLite in memory, SQLite file,
//! PostgreSQL and MariaDB (the servers from `scripts/services/databases.sh`).
//!
//! One test binary (linking the stack once); each backend is a module, so test names read
//! `postgres::cross_process_race`, `mariadb::artifacts_and_output_byte_exact`, ….

mod cases;
mod support;

use support::Backend;

macro_rules! backend_tests {
    ($module:ident, $backend:expr, [$($case:ident => $path:path),* $(,)?]) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    support::run($backend, |ctx| $path(ctx)).await;
                }
            )*
        }
    };
}

macro_rules! common_cases {
    ($module:ident, $backend:expr $(, $extra:ident => $path:path)*) => {
        backend_tests!($module, $backend, [
            migrations_twice_and_newer_schema_refused => cases::migrations_twice_and_newer_schema_refused,
            lifecycle_fenced_and_audited => cases::lifecycle_fenced_and_audited,
            scheduler_cas_and_unique_slot => cases::scheduler_cas_and_unique_slot,
            recovery_retry_and_cancel => cases::recovery_retry_and_cancel,
            artifacts_and_output_byte_exact => cases::artifacts_and_output_byte_exact,
            names_are_case_sensitive => cases::names_are_case_sensitive,
            secrets_sealed_and_wrong_key_is_clear => cases::secrets_sealed_and_wrong_key_is_clear,
            round_trip_property => cases::property::round_trip_property,
            $($extra => $path,)*
        ]);
    };
}

common_cases!(sqlite_memory, Backend::SqliteMemory);
common_cases!(
    sqlite_file,
    Backend::SqliteFile,
    cross_process_race => cases::race::cross_process_race,
    secret_not_in_sqlite_file => cases::secret_not_in_sqlite_file
);
common_cases!(
    postgres,
    Backend::Postgres,
    cross_process_race => cases::race::cross_process_race,
    no_lost_wakeups => cases::race::no_lost_wakeups
);
common_cases!(
    mariadb,
    Backend::Mariadb,
    cross_process_race => cases::race::cross_process_race
);

#[tokio::test]
async fn down_database_is_retryable() {
    cases::down_database_is_retryable().await;
}
