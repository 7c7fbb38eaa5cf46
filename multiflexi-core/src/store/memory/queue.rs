//! [`JobQueue`] for [`InMemoryStore`].

use super::InMemoryStore;
use crate::clock::to_micros;
use crate::ids::JobId;
use crate::lifecycle::{Event, Outcome, Phase, PhaseAudit};
use crate::model::{ExecutorKind, Job, NewJob};
use crate::store::backend::release_audit_detail;
use crate::store::{
    Begin, CancelResult, ClaimOptions, CleanupOptions, CleanupReport, Completed, Completion,
    HeartbeatStatus, JobFilter, JobQueue, LeaseRef, QueueOverview, Recovered, Release, ReleasePlan,
    Released,
};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A lease's time to live as a chrono duration (saturating).
fn ttl(ttl: Duration) -> chrono::Duration {
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

/// `now + ttl`, saturating, in microseconds.
fn expiry(now: DateTime<Utc>, lease_ttl: Duration) -> DateTime<Utc> {
    to_micros(
        now.checked_add_signed(ttl(lease_ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

#[async_trait]
impl JobQueue for InMemoryStore {
    async fn create_many(&self, jobs: &[NewJob]) -> Result<Vec<Result<Job>>> {
        let mut st = self.lock();
        let now = self.now();
        Ok(jobs.iter().map(|job| st.create(job, now)).collect())
    }

    async fn claim(&self, options: &ClaimOptions) -> Result<Vec<Job>> {
        let mut st = self.lock();
        let now = self.now();
        let expires = expiry(now, options.lease_ttl);
        let mut picked = Vec::new();
        for &(after, id) in &st.due {
            if after > now || picked.len() >= options.limit {
                break;
            }
            if options.executors.contains(&st.jobs[&id].executor) {
                picked.push((after, id));
            }
        }
        let mut out = Vec::with_capacity(picked.len());
        for (after, id) in picked {
            st.due.remove(&(after, id));
            let job = st.jobs.get_mut(&id).expect("indexed jobs exist");
            job.phase = job.phase.apply(Event::Claim)?.to;
            job.lease_token += 1;
            job.lease_owner = Some(options.owner.clone());
            job.lease_expires = Some(expires);
            job.queued = Some(now);
            let detail = PhaseAudit::Queued {
                lease_token: job.lease_token,
                expires,
            }
            .detail();
            out.push(job.clone());
            st.audit_phase(now, id, &options.owner, detail);
        }
        Ok(out)
    }

    async fn next_due(&self, executors: &[ExecutorKind]) -> Result<Option<Duration>> {
        let st = self.lock();
        let now = self.now();
        Ok(st
            .due
            .iter()
            .find(|(_, id)| executors.contains(&st.jobs[id].executor))
            .map(|&(after, _)| (after - now).to_std().unwrap_or_default()))
    }

    async fn begin_many(&self, starts: &[Begin]) -> Result<Vec<Result<Job>>> {
        let mut st = self.lock();
        let now = self.now();
        let mut out = Vec::with_capacity(starts.len());
        for b in starts {
            let r = st.fence(b.lease, &[Phase::Queued], Event::Start).map(|()| {
                let job = st.jobs.get_mut(&b.lease.job_id).expect("fenced");
                job.phase = Phase::Running;
                job.begin = Some(now);
                job.pid = b.pid;
                job.external_id = b.external_id.clone();
                let job = job.clone();
                let actor = job.lease_owner.clone().unwrap_or_default();
                let detail = PhaseAudit::Running {
                    pid: job.pid,
                    external_id: job.external_id.clone(),
                }
                .detail();
                st.audit_phase(now, job.id, &actor, detail);
                job
            });
            out.push(r);
        }
        Ok(out)
    }

    async fn heartbeat(
        &self,
        leases: &[LeaseRef],
        lease_ttl: Duration,
    ) -> Result<Vec<HeartbeatStatus>> {
        let mut st = self.lock();
        let now = self.now();
        let expires = expiry(now, lease_ttl);
        Ok(leases
            .iter()
            .map(|l| match st.jobs.get_mut(&l.job_id) {
                Some(job)
                    if job.lease_token == l.lease_token
                        && matches!(job.phase, Phase::Queued | Phase::Running) =>
                {
                    job.lease_expires = Some(expires);
                    if job.cancel_requested {
                        HeartbeatStatus::CancelRequested
                    } else {
                        HeartbeatStatus::Ok
                    }
                }
                _ => HeartbeatStatus::Lost,
            })
            .collect())
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<Vec<Result<Completed>>> {
        let mut st = self.lock();
        let now = self.now();
        let mut out = Vec::with_capacity(completions.len());
        for c in completions {
            let event = Event::Complete(c.outcome);
            let r = st
                .fence(c.lease, &[Phase::Queued, Phase::Running], event)
                .and_then(|()| {
                    let actor = st.jobs[&c.lease.job_id]
                        .lease_owner
                        .clone()
                        .unwrap_or_default();
                    let mut done = st.complete_job(
                        c.lease.job_id,
                        event,
                        Some(c.exitcode),
                        Some(&c.stdout),
                        Some(&c.stderr),
                        now,
                        &actor,
                    )?;
                    st.jobs.get_mut(&c.lease.job_id).expect("fenced").usage = c.usage.clone();
                    done.job.usage = c.usage.clone();
                    Ok(done)
                });
            out.push(r);
        }
        Ok(out)
    }

    async fn mark_preserved(&self, lease: LeaseRef) -> Result<Job> {
        let mut st = self.lock();
        let now = self.now();
        st.fence(lease, &[Phase::Completed], Event::Preserve)?;
        let job = st.jobs.get_mut(&lease.job_id).expect("fenced");
        job.phase = Phase::Preserved;
        job.preserved = Some(now);
        let job = job.clone();
        let actor = job
            .lease_owner
            .clone()
            .unwrap_or_else(|| "scheduler".into());
        st.audit_phase(now, job.id, &actor, String::new());
        Ok(job)
    }

    async fn release_many(&self, releases: &[Release]) -> Result<Vec<Result<Released>>> {
        let mut st = self.lock();
        let now = self.now();
        let mut out = Vec::with_capacity(releases.len());
        for r in releases {
            let id = r.lease.job_id;
            let done = st
                .fence(r.lease, &[Phase::Queued], Event::Release)
                .and_then(|()| {
                    let job = &st.jobs[&id];
                    let owner = job.lease_owner.clone().unwrap_or_default();
                    if job.cancel_requested {
                        // An operator asked to cancel it: never put back to run.
                        let event = Event::Complete(Outcome::Cancelled);
                        let done = st.complete_job(id, event, None, None, None, now, &owner)?;
                        return Ok(Released::Failed(done));
                    }
                    match r.plan(job.launch_failures) {
                        ReleasePlan::Requeue {
                            launch_failures,
                            detail,
                        } => {
                            let after = expiry(now, r.retry_after);
                            let detail = release_audit_detail(&owner, &detail);
                            st.release(id, after, launch_failures, &owner, detail, now)
                                .map(Released::Requeued)
                        }
                        ReleasePlan::Fail {
                            launch_failures,
                            stderr,
                        } => {
                            st.jobs.get_mut(&id).expect("fenced").launch_failures = launch_failures;
                            let event = Event::Complete(Outcome::PlatformError);
                            st.complete_job(id, event, Some(-1), None, Some(&stderr), now, &owner)
                                .map(Released::Failed)
                        }
                    }
                });
            out.push(done);
        }
        Ok(out)
    }

    async fn recover_expired(&self) -> Result<Recovered> {
        let mut st = self.lock();
        let now = self.now();
        let expired: Vec<(JobId, Phase, bool)> = st
            .jobs
            .values()
            .filter(|j| matches!(j.phase, Phase::Queued | Phase::Running))
            .filter(|j| j.lease_expires.is_some_and(|e| e <= now))
            .map(|j| (j.id, j.phase, j.cancel_requested))
            .collect();
        let mut rec = Recovered::default();
        for (id, phase, cancel_requested) in expired {
            match phase {
                _ if cancel_requested => {
                    // An operator asked to cancel it: it never runs (again), and a Running one
                    // is not `lost` (nor retried) but cancelled.
                    let done = st.complete_job(
                        id,
                        Event::Complete(Outcome::Cancelled),
                        None,
                        None,
                        None,
                        now,
                        "scheduler",
                    )?;
                    rec.cancelled.push(done.job);
                }
                Phase::Queued => {
                    st.requeue(id, now)?;
                    rec.requeued.push(id);
                }
                _ => {
                    let done = st.complete_job(
                        id,
                        Event::LeaseExpired,
                        Some(-1),
                        None,
                        None,
                        now,
                        "scheduler",
                    )?;
                    rec.lost.push(done.job);
                    rec.retries.extend(done.retry);
                }
            }
        }
        Ok(rec)
    }

    async fn reschedule(&self, id: JobId, after: DateTime<Utc>) -> Result<Job> {
        let after = to_micros(after);
        let mut st = self.lock();
        let job = st.job(id)?;
        if !matches!(job.phase, Phase::Created | Phase::Scheduled) {
            return Err(Error::conflict(format!(
                "job {id} is {}: only a job still waiting in the queue (scheduled, not yet \
                 claimed by an executor) can be moved",
                job.phase
            )));
        }
        let before = job.after;
        st.due.remove(&(before, id));
        st.due.insert((after, id));
        let job = st.jobs.get_mut(&id).expect("exists");
        job.after = after;
        let job = job.clone();
        st.wake();
        Ok(job)
    }

    async fn request_cancel(&self, id: JobId, actor: &str) -> Result<CancelResult> {
        let mut st = self.lock();
        let now = self.now();
        let phase = st.job(id)?.phase;
        match phase {
            Phase::Created | Phase::Scheduled => {
                st.jobs.get_mut(&id).expect("exists").cancel_requested = true;
                let done = st.complete_job(
                    id,
                    Event::Complete(Outcome::Cancelled),
                    None,
                    None,
                    None,
                    now,
                    actor,
                )?;
                Ok(CancelResult::Cancelled(done.job))
            }
            Phase::Queued | Phase::Running => {
                let job = st.jobs.get_mut(&id).expect("exists");
                job.cancel_requested = true;
                let job = job.clone();
                st.audit(
                    now,
                    Some(id),
                    actor,
                    "job:cancel",
                    format!("requested while {}", job.phase),
                );
                Ok(CancelResult::Requested(job))
            }
            Phase::Completed | Phase::Preserved => {
                Ok(CancelResult::AlreadyFinished(st.job(id)?.clone()))
            }
        }
    }

    async fn cleanup(&self, options: &CleanupOptions) -> Result<CleanupReport> {
        let mut st = self.lock();
        let cutoff = to_micros(options.ended_before);
        let limit = options
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let doomed: Vec<JobId> = st
            .jobs
            .values()
            .filter(|j| j.phase.is_finished() && j.end.is_some_and(|e| e < cutoff))
            .filter(|j| options.covers(j.company_id, j.app_id))
            .filter(|j| options.job_id.is_none_or(|id| id == j.id))
            .filter(|j| {
                !options.artifacts_only
                    || st.output.get(&j.id).is_some_and(|m| !m.is_empty())
                    || st.artifacts.values().any(|a| a.meta.job_id == j.id)
            })
            .map(|j| j.id)
            .take(limit)
            .collect();
        let mut report = CleanupReport {
            jobs: doomed.len() as u64,
            ..CleanupReport::default()
        };
        for id in doomed {
            if options.dry_run {
                report.artifacts += st
                    .artifacts
                    .values()
                    .filter(|a| a.meta.job_id == id)
                    .count() as u64;
                report.output_chunks += st.output.get(&id).map_or(0, |m| m.len() as u64);
            } else if options.artifacts_only {
                let (artifacts, chunks) = st.delete_job_data(id);
                report.artifacts += artifacts;
                report.output_chunks += chunks;
            } else {
                let (artifacts, chunks) = st.delete_job(id);
                report.artifacts += artifacts;
                report.output_chunks += chunks;
            }
        }
        Ok(report)
    }

    async fn get_job(&self, id: JobId) -> Result<Job> {
        self.lock().job(id).cloned()
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let st = self.lock();
        let limit = usize::try_from(filter.limit.unwrap_or(100)).unwrap_or(usize::MAX);
        let since = filter.since.map(to_micros);
        Ok(st
            .jobs
            .values()
            .rev()
            .filter(|j| filter.before_id.is_none_or(|b| j.id < b))
            .filter(|j| filter.status.as_deref().is_none_or(|s| j.status() == s))
            .filter(|j| filter.runtemplate_id.is_none_or(|t| j.runtemplate_id == t))
            .filter(|j| filter.company_id.is_none_or(|c| j.company_id == c))
            .filter(|j| since.is_none_or(|s| j.created >= s))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn queue_overview(&self) -> Result<QueueOverview> {
        let st = self.lock();
        let now = self.now();
        let mut o = QueueOverview::default();
        for j in st.jobs.values() {
            match j.phase {
                Phase::Created | Phase::Scheduled if j.after <= now => o.due += 1,
                Phase::Created | Phase::Scheduled => o.waiting += 1,
                Phase::Queued => o.queued += 1,
                Phase::Running => o.running += 1,
                Phase::Completed => o.completed += 1,
                Phase::Preserved => o.preserved += 1,
            }
        }
        Ok(o)
    }

    fn work_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.lock().signal.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_saturates() {
        let now = DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1);
        assert_eq!(
            expiry(now, Duration::from_secs(u64::MAX)),
            to_micros(DateTime::<Utc>::MAX_UTC)
        );
    }
}
