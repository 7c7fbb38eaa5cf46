//! # multiflexi-store
//!
//! The SeaORM-backed [`SqlStore`]: one code path for the embedded SQLite default and the
//! PostgreSQL / MySQL / MariaDB servers of multi-host installs. It implements the core's
//! [`Store`](multiflexi_core::Store) (catalog, job lifecycle, output log, audit log) and the
//! database [`ArtifactSink`](multiflexi_core::ArtifactSink).
//!
//! ```no_run
//! # async fn demo() -> multiflexi_core::Result<()> {
//! use multiflexi_store::{SqlStore, SqlStoreOptions};
//! let store = SqlStore::connect("sqlite://multiflexi.sqlite?mode=rwc", SqlStoreOptions::from_env()?).await?;
//! # Ok(()) }
//! ```
//!
//! - **URLs**: `sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://…`, `mysql://…` or
//!   `mariadb://…` (cargo features `sqlite`, `postgres`, `mysql`, all on by default).
//! - **Schema**: [`migration::Migrator`] creates every table on connect; a database whose
//!   `schema_version` is newer than [`SCHEMA_VERSION`] is refused.
//! - **Transactions**: each lifecycle step is one transaction. Claims take a batch in one round
//!   trip: `SELECT … FOR UPDATE SKIP LOCKED` then `UPDATE` on PostgreSQL and MySQL 8 / MariaDB ≥
//!   10.6 (one statement with data-modifying CTEs on PostgreSQL); on SQLite `UPDATE … RETURNING`
//!   under `BEGIN IMMEDIATE` (the single writer) with WAL and a 60 s busy timeout, so
//!   processes sharing one file wait for each other instead of failing with "database is locked".
//!   On a SQLite file, claim, begin and finish batches run on a dedicated rusqlite connection
//!   and thread, one hand-off per transaction (sqlx makes one per statement); a second
//!   connection checkpoints the WAL beside it. A [`SqlStoreOptions::one_shot`] store (a CLI
//!   command) starts neither thread and writes through its small pool instead.
//!   Transient conflicts (deadlocks, serialization failures) are retried inside the store.
//! - **Creating jobs**: one path for every caller — the scheduler's pass, the API and CLI, the
//!   retries a completion makes, the load benchmark. [`JobQueue::create_many`](multiflexi_core::store::JobQueue::create_many)
//!   executes core's `plan_creation` set-wise in one transaction: one lookup of idempotency
//!   keys, one existence check of the templates, companies and apps, one lookup of taken slots,
//!   then multi-row INSERTs of the job, schedule and audit rows — a fixed handful of statements
//!   for 1 or 500 jobs (`queue/create.rs`).
//! - **Fencing**: every write after a claim is `… WHERE id = ? AND lease_token = ? AND phase = ?`.
//! - **Time**: an injected [`Clock`](multiflexi_core::Clock), else the database's clock
//!   decides lease expiry (recovery compares with it as an offset, re-measured every minute).
//! - **Fenced writes**: output chunks and artifacts carry the writer's lease
//!   ([`LeaseRef`](multiflexi_core::store::LeaseRef)); the job row is read (locked on PostgreSQL
//!   and MySQL, under the write lock on SQLite) and checked in the same transaction as the insert.
//! - **Lease expiry**: a claim's and a heartbeat's expiry (and a released job's due time) come
//!   from the database's clock inside the statement on PostgreSQL (`clock_timestamp()`) and
//!   MySQL/MariaDB (`NOW(6)`), or from the injected clock / this host's clock read inside the
//!   transaction on SQLite — never from an instant taken before waiting for a connection.
//! - **Artifact size**: on MySQL/MariaDB the artifact cap is lowered at connect to fit under the
//!   server's `max_allowed_packet` ([`SqlStore::artifact_cap`]).
//! - **Secrets**: see [`crypto`] for `MULTIFLEXI_MASTER_KEY` and the sealed format. A job whose
//!   environment cannot be opened (another key) is listed with `unreadable` set and never run.
//! - **Feature `bench`** (off by default): `SqlStore::clone_finished_job`, the load benchmark's
//!   bulk history pre-fill, which bypasses the lifecycle and is compiled only for the benchmarks.
//! - **Statistics**: [`JobStatistics`](multiflexi_core::store::JobStatistics) (`job:stats`, the
//!   dashboard's charts) is a handful of aggregate queries per call over the indexes of migration
//!   9 (`stats.rs`): GROUP BY for counts, `percentile_cont` on PostgreSQL, window ranks on SQLite
//!   and MySQL/MariaDB that return only the rows next to each percentile's rank.
//! - **Template counters**: a finish (or a completion) never updates the template's row; it
//!   inserts one `runtemplate_count` delta per template of its batch (migration 11), so
//!   finishing transactions share no row lock and a dispatcher can keep several in flight
//!   ([`JobQueue::parallel_writes`](multiflexi_core::store::JobQueue::parallel_writes): 4 on
//!   PostgreSQL and MySQL/MariaDB, 1 on SQLite). A template is read with its row's counters
//!   plus its deltas in one statement; every retention run folds the deltas into the row
//!   (`template_counts.rs`). Only a scheduled job's finish still writes the template row
//!   (`next_schedule`).
//! - **Wake-ups**: [`JobQueue::work_signal`](multiflexi_core::store::JobQueue::work_signal) is fed
//!   in-process on every create and re-queue, and on PostgreSQL also by `LISTEN`/`NOTIFY`, so a
//!   dispatcher in another process wakes at once.
//!
//! ## Which code writes each lifecycle step
//!
//! Core decides (`Phase::apply`, `plan_creation`, `plan_completion`, `Release::plan`, one
//! audit text per phase in `PhaseAudit`); this crate executes. Where each step is written, per
//! database (issue 17 tracks bringing every step to one implementation per database):
//!
//! | step | PostgreSQL | SQLite file (daemons) | SQLite in memory / one-shot (CLI) | MySQL / MariaDB |
//! |---|---|---|---|---|
//! | create | `queue/create.rs` | same | same | same (one INSERT per row without `RETURNING`) |
//! | claim | `claim_pg`: one statement (CTEs) | `claim_on_writer` (rusqlite) | `claim_sqlite`: `UPDATE … RETURNING` | `claim_mysql` |
//! | begin | `begin_many_pg`: one statement | `begin_on_writer` (rusqlite) | `begin_batch_in` | `begin_batch_in` |
//! | heartbeat | `heartbeat_pg`: one statement | generic | generic | generic |
//! | end (complete: job rows, schedule rows, audit, the templates' plans) | `end_jobs_in` (`queue/complete.rs`; the job rows in one `UPDATE … FROM (VALUES …)`, `queue/ended_rows.rs`) | same | same | same (grouped UPDATEs) |
//! | finish (end + output + preserve) | `finish_batch_in`: `end_jobs_in` straight to Preserved, then the output | `finish_on_writer` for ad-hoc successes and cancels without actions, else `finish_batch_in` | `finish_batch_in` | `finish_batch_in` |
//! | complete alone (`complete_many`, cancel, lease recovery, a release that gives up, an unreadable job) | `end_jobs_in` of the batch (`complete_in`: of one job) | same | same | same |
//! | release | `queue/release.rs` | same | same | same |
//! | reschedule (a waiting job due at another time: `job:update`) | `queue/reschedule.rs` | same | same | same |
//!
//! ## What one job costs
//!
//! An ad-hoc job that succeeds (no idempotency key, no slot, no actions; the load benchmark's),
//! in rows and index entries per step. PostgreSQL writes a new row version on every UPDATE here
//! (phase, status and lease columns are indexed, so none is HOT) and an entry into each index
//! whose predicate the new version meets (five job indexes are partial: non-NULL values only);
//! SQLite and MySQL/MariaDB update the row in place and move only the entries of indexes whose
//! columns changed (SQLite also indexes NULLs). Indexes: `job` 9 besides its key (PostgreSQL
//! has `ix_job_runtemplate (runtemplate_id, phase)` where the others have `ix_job_template_id
//! (runtemplate_id, id)`), `schedule` 2, `audit_log` 2, `artifacts` 1, `runtemplate_count` 1.
//!
//! | step | rows | PostgreSQL index entries | SQLite, MySQL/MariaDB index entries |
//! |---|---|---|---|
//! | create | job, schedule, audit (Scheduled): 3 inserted | 4 + 3 + 3 = 10 | 9 + 2 + 2 = 13 |
//! | claim | schedule, job: 2 updated; audit (Queued): 1 inserted | 3 + 5 + 3 = 11 | 1 + 2 + 2 = 5 moved or added |
//! | begin | job: 1 updated; audit (Running): 1 inserted | 5 + 3 = 8 | 2 + 2 = 4 |
//! | finish | job: 1 updated; schedule: 1 deleted; audit (Completed, Preserved), stdout.txt, stderr.txt: 4 inserted; a template-count delta per template of the batch (0.78 per job measured) | 7 + 6 + 4 + 1.6 = 18.6 | 5 + 4 + 2 + 0.8 = 11.8 (and the schedule row's 2 removed) |
//! | **per job** | **9.8 inserted, 4 updated, 1 deleted** | **≈ 48** | **≈ 34** |
//!
//! PostgreSQL's row counts are measured (`pg_stat_user_tables` around a 20,000-job run,
//! docs/benchmarks.md, session 11); the index entries follow from the indexes above. The
//! schedule table (an insert, an update and a delete per job; 6 of PostgreSQL's index entries)
//! and the job row's three non-HOT updates (17) are what a claim queue without its own table
//! and a narrow phase/lease row would save; see issue 17.
//!
//! **The SQLite writer stays**, measured (docs/benchmarks/2026-12-07-sqlite-noop.txt): the
//! load benchmark's no-op run worked 5,165 and 5,496 jobs/s with it and 2,737 and 2,670 with
//! every write on the pool's generic path (`multiflexi-loadbench --sqlite-without-writer`),
//! pickup p99 5.1–5.4 against 8.5–8.9 ms — sqlx hands each statement to its connection's
//! thread, the writer one transaction. So the writer is to carry every lifecycle write of a
//! SQLite file; today it does not yet carry the finish of scheduled or failed jobs.
//!
//! Left to do: on a SQLite file, finish has two implementations (`finish_batch_in` and the
//! writer's, which hands a batch needing a template's plan — a retry, the next slot, actions —
//! to the former). The PostgreSQL claim and begin write their audit rows in the same statement
//! as the jobs, so the database formats the detail: the text is `PhaseAudit::write_queued` /
//! `write_running` rendered as SQL (`queue/detail_sql.rs`), the same pieces `PhaseAudit::detail`
//! renders from values, and the conformance case `audit_one_row_per_transition_in_order`
//! compares the two on every backend. A finish writes the output in the job's transaction only when the artifact
//! sink declares this store's [`WriteDomain`](multiflexi_core::store::WriteDomain) — the
//! store itself, a clone of it, or a wrapper that forwards it.
//!
//! ## Testing
//!
//! ```text
//! eval "$(scripts/services/databases.sh)"      # PostgreSQL 15 + MariaDB, exports the two URLs
//! MULTIFLEXI_REQUIRE_INTEGRATION=1 cargo test -p multiflexi-store
//! ```
//!
//! `tests/sql.rs` runs the shared store conformance suite, this crate's own cases (cross-process
//! claim race, lost wake-ups, secrets at rest, byte-exact artifacts, round-trip property) and, on
//! SQLite file and PostgreSQL, the engine scenarios, under per-backend module names
//! (`sqlite_memory::`, `sqlite_file::`, `sqlite_file_one_shot::`, `postgres::`, `mariadb::`). Every test gets a fresh
//! database (`mf_test_<pid>_…`) that is dropped when it ends. Without the URLs the server tests
//! are skipped with a message, or fail under `MULTIFLEXI_REQUIRE_INTEGRATION=1`.

mod actions;
mod catalog;
mod convert;
pub mod crypto;
mod data;
mod deadline;
pub mod entity;
mod error;
#[cfg(feature = "bench")]
mod history;
pub mod migration;
mod notify;
mod packet;
mod queue;
mod retention;
#[cfg(feature = "sqlite")]
mod sqlite_writer;
mod stats;
mod store;
mod template_counts;
mod tokens;
mod url;

pub use crypto::MasterKey;
pub use migration::SCHEMA_VERSION;
pub use store::{NOTIFY_CHANNEL, ONE_SHOT_CONNECTIONS, SqlStore, SqlStoreOptions};
pub use url::{ALLOWED_URLS, is_database_url, redact_url, server_address, sqlite_path};
