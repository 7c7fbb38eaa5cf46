//! Store conformance cases: every [`Store`] backend (InMemoryStore, SQLite, PostgreSQL,
//! MariaDB) runs the same cases under its own test names.
//!
//! Each case is a `pub async fn case(h: &StoreHarness)` taking a **fresh, empty** store whose
//! clock is the harness's [`ManualClock`]: cases move time by hand (lease expiry, retry delays,
//! microsecond ordering) and never sleep. A case panics on the first broken contract.
//!
//! A backend's test file is a few lines:
//!
//! ```ignore
//! use multiflexi_core::conformance::store::{StoreHarness, manual_clock};
//! use multiflexi_core::InMemoryStore;
//! use std::sync::Arc;
//!
//! multiflexi_core::store_conformance_tests!(async {
//!     let clock = manual_clock();
//!     let store = Arc::new(InMemoryStore::with_clock(clock.clone()));
//!     StoreHarness::new(store.clone(), store, clock)
//! });
//! ```
//!
//! The macro expands into one `#[test]` per case (named after the case) in the calling module;
//! each test evaluates the constructor expression anew, so every case gets its own store. The
//! expression may also produce the tuple `(Arc<dyn Store>, Arc<dyn ArtifactSink>,
//! Arc<ManualClock>)`. Tests run on a multi-threaded Tokio runtime so that the concurrency
//! cases really race; the caller needs no Tokio dependency of its own.
//!
//! What the cases pin down beyond the trait docs (the reference is [`InMemoryStore`]):
//! - fenced writes: a stale token is Conflict; a matching token with an event the phase does not
//!   allow is InvalidTransition; a legal event in a phase the write does not expect (an
//!   executor completing a Scheduled job) is Conflict;
//! - a lease is expired when `lease_expires <= now`; a job is due when `after <= now`;
//! - a Completed job keeps `lease_owner` and `lease_token` and has `lease_expires = NULL`; a
//!   re-queued job has no owner, expiry or `queued` time and keeps its token;
//! - a Scheduled job cancelled by an operator ends Completed(cancelled) with no exit code and
//!   `cancel_requested = true`; an expired Queued job whose cancel was requested ends
//!   Completed(cancelled) instead of going back to Scheduled, and an expired Running one
//!   Completed(cancelled) instead of `lost`;
//! - output and artifacts are fenced by the writer's lease like phase changes (a stale token,
//!   or a phase that takes no such write, is Conflict);
//! - a released job is Scheduled again with no owner, expiry or `queued` time, its token kept,
//!   due at now + `retry_after`; the launch failure that reaches the bound completes it as
//!   `platform_error` (-1);
//! - `create_and_schedule` rejects (InvalidInput) a `schedule` job without a slot, an ad-hoc
//!   (`manual`/`api`/`cli`) job with a slot and a compare-and-swap on a non-`schedule` job;
//! - audit rows `phase:<phase>` with actor `launched_by` (else `scheduler`) for creation, the
//!   lease owner for claim/begin/complete/preserve, `scheduler` for recovery, the operator
//!   for a cancel; `at` is the store's clock.
//!
//! [`InMemoryStore`]: crate::InMemoryStore

mod actions;
mod catalog;
mod claims;
mod creation;
mod data;
mod fixtures;
mod leases;
mod lifecycle;
mod releases;
mod retention;
mod scheduling;
mod stats;
mod tokens;
mod writes;

pub use actions::*;
pub use catalog::*;
pub use claims::*;
pub use creation::*;
pub use data::*;
pub use leases::*;
pub use lifecycle::*;
pub use releases::*;
pub use retention::*;
pub use scheduling::*;
pub use stats::*;
pub use tokens::*;
pub use writes::*;

use crate::{ArtifactSink, ManualClock, Store};
use chrono::{DateTime, TimeZone, Utc};
use std::future::Future;
use std::sync::Arc;

/// A fresh store under test, the artifact sink that goes with it, and the manual clock both use.
#[derive(Debug, Clone)]
pub struct StoreHarness {
    /// The store (empty).
    pub store: Arc<dyn Store>,
    /// The backend's artifact sink (for InMemoryStore: the store itself).
    pub artifacts: Arc<dyn ArtifactSink>,
    /// The clock the store and the sink read; cases move it by hand.
    pub clock: Arc<ManualClock>,
}

impl StoreHarness {
    /// A harness over `store`, `artifacts` and the `clock` they were built with.
    pub fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactSink>,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self {
            store,
            artifacts,
            clock,
        }
    }
}

impl From<(Arc<dyn Store>, Arc<dyn ArtifactSink>, Arc<ManualClock>)> for StoreHarness {
    fn from(
        (store, artifacts, clock): (Arc<dyn Store>, Arc<dyn ArtifactSink>, Arc<ManualClock>),
    ) -> Self {
        Self::new(store, artifacts, clock)
    }
}

/// The instant every case starts from: Monday 2026-01-05 10:00:00 UTC.
pub fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0)
        .single()
        .expect("a valid UTC instant")
}

/// A manual clock standing at [`start_instant`], to build the store under test with.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start_instant()))
}

/// Runs one case on a fresh multi-threaded Tokio runtime (used by
/// [`store_conformance_tests!`](crate::store_conformance_tests)).
pub fn run<F: Future<Output = ()>>(case: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
        .block_on(case);
}

/// The names of every case, in the order the macro expands them.
pub const CASES: &[&str] = &crate::__store_conformance_case_list!(store_conformance_tests!(@names));

/// Calls `$callback!(<args> <every case name>,)`: the one list of cases.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_case_list {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback! { $($args)*
            lifecycle_every_field,
            illegal_transitions_rejected,
            stale_fencing_token_rejected,
            fencing_conflict_in_batch_fails_only_that_job,
            finish_many_completes_stores_output_and_preserves,
            begin_and_finish_many_together,
            concurrent_claimers_claim_each_job_once,
            reschedule_moves_only_waiting_jobs,
            claim_only_requested_executor_kinds_up_to_limit,
            claim_oldest_after_first,
            not_yet_due_jobs_not_claimed,
            next_due_counts_down_to_the_earliest_waiting_job,
            one_job_per_slot_under_concurrent_schedulers,
            schedule_cas_mismatch_creates_nothing,
            create_validates_trigger_slot_and_cas,
            adhoc_jobs_leave_schedule_alone,
            completion_updates_counters_and_next_schedule,
            counters_hold_through_concurrent_finishes_and_folds,
            retry_chain_follows_policy,
            retry_uses_app_exit_code_flags,
            schedulable_runtemplates_with_outstanding_jobs,
            set_next_schedule_compare_and_swap,
            expired_queued_lease_goes_back_to_scheduled,
            expired_running_lease_is_lost_and_retried,
            heartbeat_extends_lease_and_reports_status,
            cancel_scheduled_job_completes_it,
            cancel_queued_or_running_job_sets_flag,
            expired_queued_job_with_cancel_request_is_cancelled,
            expired_running_job_with_cancel_request_is_cancelled,
            lease_expiry_counts_from_the_write,
            release_after_failed_launch_requeues_up_to_the_bound,
            release_batch_fences_each_job_and_draining_never_counts,
            work_signal_changes_on_create_and_requeue,
            idempotency_key_returns_first_job,
            create_many_judges_each_job_on_its_own,
            cleanup_by_age_and_dry_run,
            output_chunks_in_seq_order_with_paging,
            binary_output_and_artifacts_byte_exact,
            artifact_put_idempotent_per_job_and_name,
            output_is_fenced_by_the_lease,
            limited_put_cuts_with_a_note,
            artifacts_are_fenced_by_the_lease,
            names_differing_only_in_case_are_distinct,
            timestamps_keep_microseconds,
            audit_one_row_per_transition_in_order,
            audit_append_and_filter,
            list_jobs_filters_and_pages,
            queue_overview_counts_phases,
            app_round_trip_every_field,
            company_and_credential_round_trip,
            runtemplate_round_trip_every_field,
            update_runtemplate_keeps_counters_and_resets_next,
            delete_conflicts_while_in_use,
            tokens_issue_authenticate_revoke,
            tokens_reissue_and_rename,
            cleanup_by_scope_exceptions_artifacts_only_and_batches,
            retention_policies_one_per_scope_and_audit_pruning,
            completion_writes_actions_for_its_outcome,
            actions_are_claimed_once_and_fenced,
            failed_actions_back_off_then_fail,
            stats_equal_the_jobs_own_records,
            stats_fold_keeps_counts_exact,
        }
    };
}

/// Expands every store conformance case into a named `#[test]` in the calling module.
///
/// The argument is an expression evaluating to a future (an `async` block) that builds a
/// fresh store: its output is a [`StoreHarness`](crate::conformance::store::StoreHarness) or
/// the tuple `(Arc<dyn Store>, Arc<dyn ArtifactSink>, Arc<ManualClock>)`. It is evaluated once
/// per test. The store must read the harness's clock.
///
/// ```ignore
/// multiflexi_core::store_conformance_tests!(async {
///     let clock = multiflexi_core::conformance::store::manual_clock();
///     let store = std::sync::Arc::new(multiflexi_core::InMemoryStore::with_clock(clock.clone()));
///     multiflexi_core::conformance::store::StoreHarness::new(store.clone(), store, clock)
/// });
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (@names $($case:ident),+ $(,)?) => {
        [$(::core::stringify!($case)),+]
    };
    (@cases ($make:expr) $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::store::run(async {
                    let harness: $crate::conformance::store::StoreHarness =
                        ::core::convert::Into::into($make.await);
                    $crate::conformance::store::$case(&harness).await;
                });
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::__store_conformance_case_list!(store_conformance_tests!(@cases ($make)));
    };
}

#[cfg(test)]
mod tests {
    /// Every `pub async fn` in the case files is in the one list the macro expands.
    #[test]
    fn every_case_is_listed() {
        let sources = [
            include_str!("store/actions.rs"),
            include_str!("store/catalog.rs"),
            include_str!("store/claims.rs"),
            include_str!("store/creation.rs"),
            include_str!("store/data.rs"),
            include_str!("store/leases.rs"),
            include_str!("store/lifecycle.rs"),
            include_str!("store/releases.rs"),
            include_str!("store/retention.rs"),
            include_str!("store/scheduling.rs"),
            include_str!("store/stats.rs"),
            include_str!("store/tokens.rs"),
            include_str!("store/writes.rs"),
        ];
        let mut found: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.lines())
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .map(|l| l.split('(').next().unwrap_or_default())
            .collect();
        let mut listed = super::CASES.to_vec();
        found.sort_unstable();
        listed.sort_unstable();
        assert_eq!(found, listed);
    }
}
