//! Following one container group from creation to its end by polling: the creation's
//! long-running operation, the group's `instanceView` and the container's log, the timeout
//! and cancellation.

use super::arm::{ArmClient, Operation};
use super::container_group::ContainerGroup;
use super::error::AzureError;
use super::log_window::LogCursor;
use super::names::CONTAINER;
use multiflexi_core::Result;
use multiflexi_core::executor::{ExitReport, JobIo, LaunchSpec, RunHandle};
use reqwest::Method;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes handed to `JobIo::stdout` at most per call.
pub const CHUNK: usize = 64 * 1024;

/// Said on stderr where the log window moved past output that was never read.
pub const LOST_OUTPUT_NOTE: &[u8] = b"[multiflexi: Azure's log API returns at most the last 4 MB \
of a container's output; output before this point was lost]\n";

/// Why the executor ends a job that still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Timeout,
    Cancel,
}

/// How following ended.
#[derive(Debug)]
pub enum Followed {
    /// The container terminated with this report.
    Ended(ExitReport),
    /// The executor must stop the job (it deletes the group, then reports).
    Stop(Stop),
}

/// One job's container group, followed.
pub struct Follow<'a> {
    pub arm: &'a ArmClient,
    pub group: String,
    pub spec: &'a LaunchSpec,
    pub io: &'a dyn JobIo,
    pub poll_interval: Duration,
    pub start_limit: Duration,
    /// The creation's operation URL (and whether it is a `Location`), until it completes.
    pub operation: Option<(String, bool)>,
    /// When the launch began (the timeout counts from here).
    pub began: Instant,
}

impl Follow<'_> {
    /// Polls until the container terminates, the timeout passes or `cancel` fires. `Err` is a
    /// platform failure (the caller deletes the group on every path).
    pub async fn run(&mut self, cancel: &CancellationToken) -> Result<Followed> {
        let deadline = self.spec.timeout.map(|t| self.began + t);
        let start_until = self.began + self.start_limit;
        let mut started = false;
        let mut cursor = LogCursor::default();
        loop {
            if cancel.is_cancelled() {
                return Ok(Followed::Stop(Stop::Cancel));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Followed::Stop(Stop::Timeout));
            }
            self.poll_operation().await?;
            let group = self.get().await?;
            if group.provisioning == "Failed" && !group.container.started() {
                return Err(AzureError::OperationFailed {
                    what: format!("creating container group {}", self.group),
                    status: "Failed".into(),
                    message: group.waiting_detail(),
                }
                .into_error());
            }
            if group.container.started() {
                if !started {
                    started = true;
                    self.io
                        .started(RunHandle {
                            pid: None,
                            external_id: Some(self.group.clone()),
                        })
                        .await?;
                }
                self.read_log(&mut cursor).await?;
                if group.container.terminated() {
                    return Ok(Followed::Ended(self.report(&group).await?));
                }
            } else if Instant::now() >= start_until {
                return Err(AzureError::NotStarted {
                    group: self.group.clone(),
                    limit: self.start_limit,
                    detail: group.waiting_detail(),
                }
                .into_error());
            }
            let mut wake = Instant::now() + self.poll_interval;
            if let Some(d) = deadline {
                wake = wake.min(d);
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    async fn poll_operation(&mut self) -> Result<()> {
        let Some((url, location)) = self.operation.clone() else {
            return Ok(());
        };
        let what = format!("creating container group {}", self.group);
        match self
            .arm
            .operation(&what, &url, location)
            .await
            .map_err(AzureError::into_error)?
        {
            Operation::InProgress(_) => Ok(()),
            Operation::Succeeded => {
                self.operation = None;
                Ok(())
            }
            Operation::Failed { status, message } => Err(AzureError::OperationFailed {
                what,
                status,
                message,
            }
            .into_error()),
        }
    }

    async fn get(&self) -> Result<ContainerGroup> {
        let what = format!("reading container group {}", self.group);
        let reply = self
            .arm
            .send(&what, Method::GET, &self.arm.group_url(&self.group), None)
            .await
            .map_err(AzureError::into_error)?;
        match reply.status {
            200 => Ok(ContainerGroup::from_json(&reply.json())),
            404 => Err(AzureError::DeletedFromOutside {
                group: self.group.clone(),
            }
            .into_error()),
            _ => Err(reply.error(what).into_error()),
        }
    }

    /// Reads the container's log and hands on what is new (all of it to stdout: ACI does not
    /// separate the streams).
    async fn read_log(&self, cursor: &mut LogCursor) -> Result<()> {
        let what = format!("reading the log of container group {}", self.group);
        let reply = self
            .arm
            .send(
                &what,
                Method::GET,
                &self.arm.logs_url(&self.group, CONTAINER),
                None,
            )
            .await
            .map_err(AzureError::into_error)?;
        if reply.status != 200 {
            return Err(reply.error(what).into_error());
        }
        let v = reply.json();
        let content = v["content"].as_str().unwrap_or_default();
        let inc = cursor.advance(content);
        if inc.gap {
            self.io.stderr(LOST_OUTPUT_NOTE).await?;
        }
        for chunk in inc.bytes.chunks(CHUNK) {
            self.io.stdout(chunk).await?;
        }
        Ok(())
    }

    /// The report of a terminated container. A program that could not be started (126/127)
    /// has no output of its own: ACI's `detailStatus` goes to stderr as the reason.
    async fn report(&self, group: &ContainerGroup) -> Result<ExitReport> {
        let Some(code) = group.container.exit_code else {
            return Err(AzureError::BadReply {
                what: format!("reading container group {}", self.group),
                message: "the container terminated without an exit code".into(),
            }
            .into_error());
        };
        if matches!(code, 126 | 127) && !group.container.detail.is_empty() {
            let line = format!("{}\n", group.container.detail);
            self.io.stderr(line.as_bytes()).await?;
        }
        Ok(ExitReport::exited(code))
    }
}
