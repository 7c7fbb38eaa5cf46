use super::{Outcome, Trigger, retry_at};
use crate::model::{Action, ExitCodeInfo, Job, JobAction, NewJob, RunTemplate};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a store must change besides the job row when a job completes — the same rule for every
/// backend, so InMemoryStore and the SQL stores cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionPlan {
    /// Add 1 to `successfull_jobs_count` (true) or `failed_jobs_count` (false).
    pub success: bool,
    /// The retry job to create in the same transaction.
    pub retry: Option<NewJob>,
    /// The template's new `next_schedule`, when it changes.
    pub next_schedule: Option<DateTime<Utc>>,
    /// The `job_action` rows to write in the same transaction (see [`planned_actions`]).
    pub actions: Vec<JobAction>,
}

/// The actions a job's completion with `outcome` asks for: the template's `on_success` when the
/// outcome is `success`, else its `on_failure` — each a pending `job_action` row due at `end`.
pub fn planned_actions(
    job: &Job,
    template: &RunTemplate,
    outcome: Outcome,
    end: DateTime<Utc>,
) -> Vec<JobAction> {
    let list: &[Action] = if outcome.counts_as_success() {
        &template.on_success
    } else {
        &template.on_failure
    };
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            JobAction::planned(job.id, u32::try_from(i).unwrap_or(u32::MAX), a.clone(), end)
        })
        .collect()
}

/// Plans the side effects of `job` completing with `outcome` / `exitcode` at `end`.
///
/// - counters: success iff the outcome is `success`;
/// - retry per [`retry_at`], keeping the slot, `attempt + 1`, `retry_of = job` — never for a
///   job whose stored spec could not be read ([`Job::unreadable`]): its copy would run without
///   its environment;
/// - the template's actions for this outcome ([`planned_actions`]);
/// - for a job with a slot whose chain ends here (no retry) and whose template has no
///   `next_schedule` yet: the next slot after this job's slot.
pub fn plan_completion(
    job: &Job,
    template: &RunTemplate,
    app_exit_codes: &BTreeMap<i32, ExitCodeInfo>,
    outcome: Outcome,
    exitcode: i32,
    end: DateTime<Utc>,
) -> CompletionPlan {
    let retry = retry_at(
        &template.retry,
        job.attempt,
        outcome,
        Some(exitcode),
        app_exit_codes,
        end,
    )
    .filter(|_| job.unreadable.is_none())
    .map(|after| NewJob {
        runtemplate_id: job.runtemplate_id,
        company_id: job.company_id,
        app_id: job.app_id,
        executor: job.executor,
        spec: job.spec.clone(),
        launched_by: job.launched_by.clone(),
        trigger: Trigger::Retry,
        slot: job.slot,
        attempt: job.attempt + 1,
        retry_of: Some(job.id),
        after,
        idempotency_key: None,
        trace_context: job.trace_context.clone(),
        cas: None,
    });
    let next_schedule = match (job.slot, &retry) {
        (Some(slot), None) if template.next_schedule.is_none() && template.active => {
            template.schedule().ok().and_then(|s| s.next_after(slot))
        }
        _ => None,
    };
    CompletionPlan {
        success: outcome.counts_as_success(),
        retry,
        next_schedule,
        actions: planned_actions(job, template, outcome, end),
    }
}
