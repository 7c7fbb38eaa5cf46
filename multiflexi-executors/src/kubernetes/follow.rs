//! Following one Job's pod from Pending to its end: pod events (list + watch by the Job's
//! controller uid), the log stream, the timeout, cancellation and the failure modes.

use super::cleanup::{self, Propagation};
use super::config::KubernetesConfig;
use super::error::{KubeError, status_code};
use super::logs::LogStream;
use super::names;
use super::pod::{self, Ended, PodView};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, WatchEvent, WatchParams};
use multiflexi_core::executor::{ExitReport, JobIo, LaunchSpec, RunHandle};
use multiflexi_core::{Error, Result};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Server-side timeout of one watch request (below kube's and proxies' idle limits).
const WATCH_SECONDS: u32 = 280;
/// How often the Job is polled after a timeout or cancel deleted it.
const GONE_POLL: Duration = Duration::from_millis(250);
/// How long the log may run on after the container ended.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Cancel,
}

/// What is followed, and where to report.
pub struct Follow<'a> {
    pub pods: Api<Pod>,
    pub jobs: Api<Job>,
    pub job_name: String,
    pub job_uid: String,
    pub image: String,
    pub spec: &'a LaunchSpec,
    pub io: &'a dyn JobIo,
    pub config: &'a KubernetesConfig,
    /// When the launch began (the timeout counts from here, as the Job's
    /// `activeDeadlineSeconds` counts from the Job's creation).
    pub began: Instant,
}

/// How the container ended, as far as the job is concerned.
enum End {
    Exited(Ended),
    CannotExecute(i32),
}

struct State {
    pod: Option<String>,
    started: bool,
    logs: Option<LogStream>,
    logs_done: bool,
    end: Option<End>,
    ended_at: Option<Instant>,
    stop: Option<Stop>,
    stop_until: Option<Instant>,
    next_gone_check: Instant,
    unschedulable: Option<(Instant, String)>,
    io_error: Option<Error>,
    api_down_since: Option<Instant>,
    /// When the log stream ended (normally with the container; if the container runs on, the
    /// API server cut it and later output is lost: said on stderr).
    logs_ended_at: Option<Instant>,
    logs_cut_noted: bool,
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Follow<'_> {
    /// Follows the pod to its end. `Ok` is the job's exit report (also after a timeout or cancel,
    /// once the Job and its pod are gone); `Err` a platform failure.
    pub async fn run(&self, cancel: CancellationToken) -> Result<ExitReport> {
        let mut s = State {
            pod: None,
            started: false,
            logs: None,
            logs_done: false,
            end: None,
            ended_at: None,
            stop: None,
            stop_until: None,
            next_gone_check: Instant::now(),
            unschedulable: None,
            io_error: None,
            api_down_since: None,
            logs_ended_at: None,
            logs_cut_noted: false,
        };
        let selector = names::pods_of_job_selector(&self.job_uid);
        let deadline = self.spec.timeout.map(|t| self.began + t);
        let no_pod_until = self.began + self.config.unschedulable_limit;
        let mut watch: Option<BoxStream<'static, kube::Result<WatchEvent<Pod>>>> = None;
        let mut next_check = Instant::now() + self.config.check_interval;
        let mut watch_opened: Option<Instant> = None;

        loop {
            if s.stop.is_none() && s.end.is_some() && (s.logs_done || s.logs.is_none()) {
                let report = self.ended(&mut s).await?;
                return self.finish(&mut s, report);
            }
            if watch.is_none() && s.stop.is_none() {
                if watch_opened.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                    // A watch that ends at once must not turn into a busy loop of requests.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                watch_opened = Some(Instant::now());
                match self.list_and_watch(&selector, &mut s, &cancel).await {
                    Ok(Some(w)) => watch = Some(w),
                    Ok(None) => continue,
                    Err(e) => return Err(e),
                }
                continue;
            }
            let unschedulable_at = match (&s.unschedulable, &s.pod) {
                (Some((since, _)), _) => Some(*since + self.config.unschedulable_limit),
                (None, None) => Some(no_pod_until),
                _ => None,
            };
            let drain_until = s.ended_at.map(|t| t + DRAIN_LIMIT);
            // After a stop: poll until the Job is gone; before: check it now and then.
            let check_at = match s.stop {
                Some(_) => s.next_gone_check,
                None => next_check,
            };
            tokio::select! {
                ev = async { watch.as_mut().expect("watch").next().await }, if watch.is_some() => {
                    match ev {
                        Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                            s.api_down_since = None;
                            self.on_pod(&p, false, &mut s).await?;
                        }
                        Some(Ok(WatchEvent::Deleted(p))) => self.on_pod(&p, true, &mut s).await?,
                        Some(Ok(WatchEvent::Bookmark(_))) => {}
                        Some(Ok(WatchEvent::Error(status))) => {
                            tracing::debug!(job = %self.job_name, %status, "watch error; watching again");
                            watch = None;
                        }
                        Some(Err(e)) => {
                            tracing::debug!(job = %self.job_name, error = %e, "watch broke; watching again");
                            watch = None;
                        }
                        None => watch = None,
                    }
                }
                chunk = async { s.logs.as_mut().expect("logs").next().await }, if s.logs.is_some() && !s.logs_done => {
                    match chunk {
                        Ok(Some(bytes)) => {
                            if s.io_error.is_none() && let Err(e) = self.io.stdout(bytes).await {
                                s.io_error = Some(e);
                            }
                        }
                        Ok(None) => {
                            s.logs_done = true;
                            s.logs_ended_at = Some(Instant::now());
                        }
                        Err(e) => {
                            tracing::warn!(job = %self.job_name, error = %e, "the pod's log stream broke");
                            self.note(&mut s, &format!("the pod's log stream broke ({e}); output may be incomplete")).await;
                            s.logs_done = true;
                        }
                    }
                }
                // Once the container ended, only its log is read (bounded): a cancel then changes nothing.
                _ = cancel.cancelled(), if s.stop.is_none() && s.end.is_none() => {
                    self.stop(Stop::Cancel, &mut s).await;
                }
                _ = sleep_opt(deadline), if s.stop.is_none() && s.end.is_none() => {
                    self.stop(Stop::Timeout, &mut s).await;
                }
                _ = sleep_opt(unschedulable_at), if s.stop.is_none() && !s.started => {
                    return Err(self.unschedulable(&s));
                }
                _ = sleep_opt(drain_until), if s.stop.is_none() && !s.logs_done => {
                    tracing::warn!(job = %self.job_name, "the log did not end after the container ended");
                    s.logs_done = true;
                }
                _ = tokio::time::sleep_until(check_at) => {
                    if s.stop.is_some() {
                        s.next_gone_check = Instant::now() + GONE_POLL;
                        if let Some(report) = self.stopped(&mut s).await {
                            return self.finish(&mut s, report);
                        }
                    } else {
                        next_check = Instant::now() + self.config.check_interval;
                        if s.end.is_none() {
                            self.check_job(&mut s).await?;
                            self.note_cut_log(&mut s).await;
                        }
                    }
                }
            }
        }
    }

    /// Lists the Job's pods (handling each) and opens a watch from the list's version.
    /// `Ok(None)`: the API server did not answer; try again (until the outage limit).
    async fn list_and_watch(
        &self,
        selector: &str,
        s: &mut State,
        cancel: &CancellationToken,
    ) -> Result<Option<BoxStream<'static, kube::Result<WatchEvent<Pod>>>>> {
        let listed = tokio::time::timeout(
            self.config.request_timeout,
            self.pods.list(&ListParams::default().labels(selector)),
        )
        .await;
        let err = match listed {
            Ok(Ok(list)) => {
                s.api_down_since = None;
                let rv = list.metadata.resource_version.clone().unwrap_or_default();
                if list.items.is_empty() && s.pod.is_some() && s.end.is_none() {
                    // The pod we saw is gone and no watch told us.
                    self.on_vanished(s).await?;
                }
                for p in &list.items {
                    self.on_pod(p, false, s).await?;
                }
                let wp = WatchParams::default()
                    .labels(selector)
                    .timeout(WATCH_SECONDS);
                match self.pods.watch(&wp, &rv).await {
                    Ok(w) => return Ok(Some(w.boxed())),
                    Err(e) => format!("watching the Job's pods: {e}"),
                }
            }
            Ok(Err(e)) if status_code(&e).is_some_and(|c| c < 500 && c != 429) => {
                return Err(super::error::api(
                    format!("listing the pods of Job {}", self.job_name),
                    e,
                ));
            }
            Ok(Err(e)) => format!("listing the Job's pods: {e}"),
            Err(_) => format!(
                "listing the Job's pods: no answer within {:?}",
                self.config.request_timeout
            ),
        };
        let since = *s.api_down_since.get_or_insert_with(Instant::now);
        if since.elapsed() > self.config.request_timeout {
            return Err(KubeError::Api {
                what: format!(
                    "the API server is unreachable while following Job {} (for {:?})",
                    self.job_name,
                    since.elapsed()
                ),
                source: kube::Error::Service(err.into()),
            }
            .into_error());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = cancel.cancelled(), if s.stop.is_none() && s.end.is_none() => {
                self.stop(Stop::Cancel, s).await;
            }
        }
        Ok(None)
    }

    async fn report_started(&self, s: &mut State) -> Result<()> {
        if !s.started {
            s.started = true;
            self.io
                .started(RunHandle {
                    pid: None,
                    external_id: s.pod.clone(),
                })
                .await?;
        }
        Ok(())
    }

    async fn open_logs(&self, s: &mut State) {
        if s.logs.is_some() || s.logs_done {
            return;
        }
        let Some(pod) = s.pod.clone() else { return };
        match LogStream::open(&self.pods, &pod).await {
            Ok(l) => s.logs = Some(l),
            Err(e) => {
                tracing::warn!(job = %self.job_name, error = %e, "cannot read the pod's log");
                self.note(s, &format!("cannot read the log of pod {pod}: {e}"))
                    .await;
                s.logs_done = true;
            }
        }
    }

    /// The log stream ended a while ago but the container still runs: say that later output is
    /// not captured (once).
    async fn note_cut_log(&self, s: &mut State) {
        let cut = s
            .logs_ended_at
            .is_some_and(|t| t.elapsed() > Duration::from_secs(5));
        if cut && !s.logs_cut_noted {
            s.logs_cut_noted = true;
            self.note(
                s,
                "the API server ended the pod's log stream while the container still ran;                  later output is not captured",
            )
            .await;
        }
    }

    /// A diagnostic line of the executor's own, on stderr.
    async fn note(&self, s: &mut State, text: &str) {
        if s.io_error.is_none()
            && let Err(e) = self
                .io
                .stderr(format!("multiflexi: {text}\n").as_bytes())
                .await
        {
            s.io_error = Some(e);
        }
    }

    async fn on_pod(&self, p: &Pod, deleted: bool, s: &mut State) -> Result<()> {
        let name = p.metadata.name.clone().unwrap_or_default();
        if s.pod.as_deref().is_some_and(|seen| seen != name) {
            // backoffLimit 0: a second pod is the controller replacing one we saw deleted.
            tracing::debug!(job = %self.job_name, pod = %name, "another pod of the Job");
        }
        s.pod = Some(name.clone());
        if s.stop.is_some() {
            // Keep how the container ended (the signal the deletion sent), nothing more.
            if let PodView::Terminated(e) = pod::view(p, &self.image) {
                s.end = Some(End::Exited(e));
            }
            return Ok(());
        }
        if s.end.is_some() {
            return Ok(());
        }
        let view = pod::view(p, &self.image);
        let being_deleted = deleted || p.metadata.deletion_timestamp.is_some();
        // Deleted before its container ended, or killed by the deletion's signal.
        let cut_short = match &view {
            PodView::Terminated(e) => e.exit_code > 128,
            PodView::CannotExecute { .. } => false,
            _ => true,
        };
        if being_deleted && cut_short {
            return self.on_vanished(s).await;
        }
        match view {
            PodView::Pending { unschedulable } => {
                s.unschedulable = match (unschedulable, s.unschedulable.take()) {
                    (Some(m), Some((since, _))) => Some((since, m)),
                    (Some(m), None) => Some((Instant::now(), m)),
                    (None, _) => None,
                };
            }
            PodView::Running => {
                s.unschedulable = None;
                self.report_started(s).await?;
                self.open_logs(s).await;
            }
            PodView::Terminated(e) => {
                self.report_started(s).await?;
                self.open_logs(s).await;
                s.end = Some(End::Exited(e));
                s.ended_at = Some(Instant::now());
            }
            PodView::CannotExecute { code, message } => {
                self.report_started(s).await?;
                self.note(
                    s,
                    &format!("cannot execute {:?}: {message}", self.spec.program),
                )
                .await;
                s.logs_done = true;
                s.end = Some(End::CannotExecute(code));
                s.ended_at = Some(Instant::now());
            }
            PodView::Broken(e) => return Err(e.into_error()),
        }
        Ok(())
    }

    fn timeout_passed(&self) -> bool {
        self.spec
            .timeout
            .is_some_and(|t| self.began.elapsed() + Duration::from_millis(500) >= t)
    }

    /// The pod went away before its container ended: the Job was deleted from outside, or the
    /// pod was (evicted, preempted, deleted by hand).
    /// Unless the Job controller deleted it for the Job's `activeDeadlineSeconds`: then it is
    /// the job's timeout.
    async fn on_vanished(&self, s: &mut State) -> Result<()> {
        let pod = s.pod.clone().unwrap_or_default();
        let job = self
            .jobs
            .get_opt(&self.job_name)
            .await
            .map_err(|e| super::error::api(format!("reading Job {}", self.job_name), e))?;
        let deadline_exceeded = job
            .as_ref()
            .and_then(|j| j.status.as_ref())
            .and_then(|st| st.conditions.as_ref())
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.type_ == "Failed"
                        && c.status == "True"
                        && c.reason.as_deref() == Some("DeadlineExceeded")
                })
            });
        if deadline_exceeded || job.is_some() && self.timeout_passed() {
            // The Job controller's activeDeadlineSeconds came first.
            self.stop(Stop::Timeout, s).await;
            return Ok(());
        }
        let job_there = job.is_some();
        Err(KubeError::DeletedFromOutside {
            what: if job_there {
                format!("pod {pod} of Job {}", self.job_name)
            } else {
                format!("Job {}", self.job_name)
            },
            detail: format!(" (namespace {})", self.pods.namespace().unwrap_or("?")),
        }
        .into_error())
    }

    /// Periodic check that the Job still exists.
    async fn check_job(&self, s: &mut State) -> Result<()> {
        match cleanup::job_exists(&self.jobs, &self.job_name).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                let pod = s.pod.clone();
                Err(KubeError::DeletedFromOutside {
                    what: format!("Job {}", self.job_name),
                    detail: pod
                        .map(|p| format!(" (its pod was {p})"))
                        .unwrap_or_default(),
                }
                .into_error())
            }
            // A failed check is not yet an outage: the watch decides that.
            Err(e) => {
                tracing::debug!(job = %self.job_name, error = %e, "checking the Job failed");
                Ok(())
            }
        }
    }

    fn unschedulable(&self, s: &State) -> Error {
        let pod = s.pod.clone().unwrap_or_else(|| "(none)".into());
        let message = match &s.unschedulable {
            Some((_, m)) => m.clone(),
            None => format!(
                "the Job controller created no pod for Job {} (check the namespace's quota and \
                 events: kubectl describe job {})",
                self.job_name, self.job_name
            ),
        };
        KubeError::Unschedulable {
            pod,
            limit: self.config.unschedulable_limit,
            message,
        }
        .into_error()
    }

    /// Timeout or cancel: delete the Job with foreground propagation (its pod goes first: the
    /// container gets SIGTERM, then SIGKILL after the pod's grace).
    async fn stop(&self, why: Stop, s: &mut State) {
        s.stop = Some(why);
        s.end = None;
        s.next_gone_check = Instant::now() + GONE_POLL;
        s.stop_until =
            Some(Instant::now() + self.config.termination_grace + self.config.request_timeout);
        let how = if self.io.stop_now() {
            Propagation::ForegroundNow
        } else {
            Propagation::Foreground
        };
        if let Err(e) = cleanup::delete_job(&self.jobs, &self.job_name, how).await {
            tracing::warn!(job = %self.job_name, error = %e, "deleting the Job failed; waiting for it anyway");
        }
    }

    /// After a stop: the report once the Job (and so its pod) is gone, or the wait ran out.
    async fn stopped(&self, s: &mut State) -> Option<ExitReport> {
        let gone = matches!(
            cleanup::job_exists(&self.jobs, &self.job_name).await,
            Ok(false)
        );
        let out_of_time = s.stop_until.is_some_and(|t| Instant::now() >= t);
        if !gone && !out_of_time {
            return None;
        }
        if !gone {
            tracing::warn!(job = %self.job_name, "the Job was not gone after its deletion; reap will remove it");
        }
        // Read what the log still holds (bounded), then report.
        if let Some(logs) = s.logs.as_mut().filter(|_| !s.logs_done) {
            let drain = async {
                while let Ok(Some(bytes)) = logs.next().await {
                    if self.io.stdout(bytes).await.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
        let signal = match &s.end {
            Some(End::Exited(e)) if e.exit_code > 128 && e.exit_code < 128 + 65 => {
                e.signal.unwrap_or(e.exit_code - 128)
            }
            _ => 9,
        };
        let mut report = ExitReport::signaled(signal);
        report.timed_out = s.stop == Some(Stop::Timeout);
        report.cancelled = s.stop == Some(Stop::Cancel);
        Some(report)
    }

    /// The container ended by itself.
    async fn ended(&self, s: &mut State) -> Result<ExitReport> {
        let report = match s.end.take() {
            Some(End::CannotExecute(code)) => ExitReport::exited(code),
            Some(End::Exited(e)) => {
                if let Some(why) = &e.start_error {
                    self.note(s, &format!("the container could not start: {why}"))
                        .await;
                }
                let mut report = match e.signal {
                    Some(sig) if sig > 0 => ExitReport::signaled(sig),
                    _ if e.oom && e.exit_code == 137 => ExitReport::signaled(9),
                    _ => ExitReport::exited(e.exit_code),
                };
                report.oom = e.oom;
                report.timed_out = !e.oom && e.exit_code > 128 && self.timeout_passed();
                report
            }
            None => unreachable!("ended() without an end"),
        };
        Ok(report)
    }

    fn finish(&self, s: &mut State, report: ExitReport) -> Result<ExitReport> {
        match s.io_error.take() {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}
