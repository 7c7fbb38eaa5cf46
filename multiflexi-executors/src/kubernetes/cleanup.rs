//! Deleting a job's Job and Secret: always, on every path, and by executor id for `reap`.

use super::error::{self, status_code};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use multiflexi_core::Result;
use std::time::Duration;

/// How a Job's pods go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The Job stays (with a deletion timestamp) until its pods are gone: waiting for the Job
    /// to disappear waits for the pod's process to end.
    Foreground,
    /// As `Foreground`, with a zero grace period: the pod is killed at once (its lease is
    /// about to run out, or it is a predecessor a retry replaces).
    ForegroundNow,
    /// The Job goes at once; the garbage collector deletes its pods.
    Background,
}

/// Deletes Job `name`; `Ok(false)` when it was already gone.
pub async fn delete_job(jobs: &Api<Job>, name: &str, how: Propagation) -> Result<bool> {
    let dp = match how {
        Propagation::Foreground => DeleteParams::foreground(),
        Propagation::ForegroundNow => DeleteParams::foreground().grace_period(0),
        Propagation::Background => DeleteParams::background(),
    };
    match jobs.delete(name, &dp).await {
        Ok(_) => Ok(true),
        Err(e) if status_code(&e) == Some(404) => Ok(false),
        Err(e) => Err(error::api(format!("deleting Job {name}"), e)),
    }
}

/// Deletes Secret `name`; `Ok(false)` when it was already gone.
pub async fn delete_secret(secrets: &Api<Secret>, name: &str) -> Result<bool> {
    match secrets.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(e) if status_code(&e) == Some(404) => Ok(false),
        Err(e) => Err(error::api(format!("deleting Secret {name}"), e)),
    }
}

/// Whether Job `name` still exists.
pub async fn job_exists(jobs: &Api<Job>, name: &str) -> Result<bool> {
    match jobs.get_opt(name).await {
        Ok(j) => Ok(j.is_some()),
        Err(e) => Err(error::api(format!("reading Job {name}"), e)),
    }
}

/// Keeps deleting a job's Job (background) and Secret until both are gone, for up to an hour
/// (backing off to a minute between tries): for when the API server could not be reached at the
/// end of a launch.
pub fn retry_in_background(jobs: Api<Job>, secrets: Api<Secret>, job: String, secret: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        let mut delay = Duration::from_secs(1);
        let until = tokio::time::Instant::now() + Duration::from_secs(3600);
        let (mut job_done, mut secret_done) = (false, false);
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(delay).await;
            job_done = job_done || delete_job(&jobs, &job, Propagation::Background).await.is_ok();
            secret_done = secret_done || delete_secret(&secrets, &secret).await.is_ok();
            if job_done && secret_done {
                tracing::info!(job = %job, "deleted a job's Job and Secret after all");
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
        tracing::warn!(job = %job, secret = %secret, "gave up deleting a job's Job or Secret; reap will");
    });
}

/// Deletes the job's Job (background) and Secret when the launch future is dropped before its
/// own cleanup ran (a dropped future runs no more code; a leaked one runs nothing at all, and
/// `reap` is for that).
#[derive(Debug)]
pub struct Guard {
    jobs: Api<Job>,
    secrets: Api<Secret>,
    job: String,
    secret: String,
    armed: bool,
}

impl Guard {
    /// Armed: dropping it deletes both.
    pub fn new(jobs: &Api<Job>, secrets: &Api<Secret>, job: String, secret: String) -> Self {
        Self {
            jobs: jobs.clone(),
            secrets: secrets.clone(),
            job,
            secret,
            armed: true,
        }
    }

    /// The launch cleaned up itself.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let jobs = self.jobs.clone();
        let secrets = self.secrets.clone();
        let job = std::mem::take(&mut self.job);
        let secret = std::mem::take(&mut self.secret);
        handle.spawn(async move {
            let _ = delete_job(&jobs, &job, Propagation::Background).await;
            let _ = delete_secret(&secrets, &secret).await;
        });
    }
}
