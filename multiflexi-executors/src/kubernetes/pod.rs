//! What a job pod's status means for the job.

use super::error::KubeError;
use super::names::CONTAINER;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};

/// The job's view of its pod.
#[derive(Debug)]
pub enum PodView {
    /// Not running yet: scheduling, pulling, creating. `unschedulable` carries the scheduler's
    /// message while no node can take the pod.
    Pending { unschedulable: Option<String> },
    /// The container runs.
    Running,
    /// The container ended.
    Terminated(Ended),
    /// The program cannot be executed (the runtime's message; 127 not found, 126 not
    /// executable): the job's failure, not the platform's.
    CannotExecute { code: i32, message: String },
    /// The pod cannot run: a platform error.
    Broken(KubeError),
}

/// How the container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// `exitCode`.
    pub exit_code: i32,
    /// `signal`, where the runtime reports it.
    pub signal: Option<i32>,
    /// Killed by the kernel's OOM killer (`reason: OOMKilled`).
    pub oom: bool,
    /// The runtime's reason and message when the container never ran (`StartError`).
    pub start_error: Option<String>,
}

const PULL_ERRORS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
];

const CREATE_ERRORS: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreCreateHookError",
    "PreStartHookError",
    "PostStartHookError",
];

/// 127 / 126 when the runtime's message says the program was not found or cannot be executed
/// (`exec: "x": executable file not found in $PATH`, `stat /x: no such file or directory`,
/// `permission denied`), as `docker run` and a shell report them.
pub fn exec_failure_code(message: &str) -> Option<i32> {
    let m = message.to_ascii_lowercase();
    if !m.contains("exec") && !m.contains("stat ") {
        return None;
    }
    if m.contains("permission denied") || m.contains("is a directory") {
        Some(126)
    } else if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("not found")
    {
        Some(127)
    } else {
        None
    }
}

fn terminated(t: &ContainerStateTerminated) -> PodView {
    let reason = t.reason.clone().unwrap_or_default();
    let message = t.message.clone().unwrap_or_default();
    let start_error = matches!(reason.as_str(), "StartError" | "ContainerCannotRun");
    if let Some(code) = exec_failure_code(&message).filter(|_| start_error) {
        return PodView::CannotExecute { code, message };
    }
    PodView::Terminated(Ended {
        exit_code: t.exit_code,
        signal: t.signal,
        oom: reason == "OOMKilled",
        start_error: start_error.then(|| format!("{reason}: {message}")),
    })
}

/// Reads the pod's status. `image` is the job's image (for messages).
pub fn view(pod: &Pod, image: &str) -> PodView {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(status) = &pod.status else {
        return PodView::Pending {
            unschedulable: None,
        };
    };
    let container = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == CONTAINER);
    if let Some(state) = container.and_then(|c| c.state.as_ref()) {
        if let Some(t) = &state.terminated {
            return terminated(t);
        }
        if state.running.is_some() {
            return PodView::Running;
        }
        if let Some(w) = &state.waiting {
            let reason = w.reason.clone().unwrap_or_default();
            let message = w.message.clone().unwrap_or_default();
            if PULL_ERRORS.contains(&reason.as_str()) {
                return PodView::Broken(KubeError::ImagePull {
                    pod: name,
                    image: image.to_owned(),
                    reason,
                    message,
                });
            }
            if CREATE_ERRORS.contains(&reason.as_str()) {
                if let Some(code) = exec_failure_code(&message) {
                    return PodView::CannotExecute { code, message };
                }
                return PodView::Broken(KubeError::CreateContainer {
                    pod: name,
                    reason,
                    message,
                });
            }
        }
    }
    match status.phase.as_deref() {
        Some("Failed") | Some("Succeeded") => {
            return PodView::Broken(KubeError::PodFailed {
                pod: name,
                reason: status.reason.clone().unwrap_or_else(|| "Failed".into()),
                message: status.message.clone().unwrap_or_default(),
            });
        }
        Some("Running") => return PodView::Running,
        _ => {}
    }
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_else(|| "Unschedulable".into()));
    PodView::Pending { unschedulable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus,
        PodCondition, PodStatus,
    };

    fn pod(state: Option<ContainerState>, phase: &str) -> Pod {
        Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("p-1".into()),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                container_statuses: state.map(|s| {
                    vec![ContainerStatus {
                        name: CONTAINER.into(),
                        state: Some(s),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    fn waiting(reason: &str, message: &str) -> ContainerState {
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: Some(message.into()),
            }),
            ..Default::default()
        }
    }

    fn ended(code: i32, reason: &str, message: &str) -> ContainerState {
        ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                message: Some(message.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn states() {
        assert!(matches!(
            view(&pod(None, "Pending"), "img"),
            PodView::Pending {
                unschedulable: None
            }
        ));
        let running = ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..Default::default()
        };
        assert!(matches!(
            view(&pod(Some(running), "Running"), "img"),
            PodView::Running
        ));
        match view(&pod(Some(ended(3, "Error", "")), "Failed"), "img") {
            PodView::Terminated(e) => assert_eq!((e.exit_code, e.oom), (3, false)),
            v => panic!("{v:?}"),
        }
        match view(&pod(Some(ended(137, "OOMKilled", "")), "Failed"), "img") {
            PodView::Terminated(e) => assert!(e.oom),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn failures() {
        match view(
            &pod(
                Some(waiting("ImagePullBackOff", "Back-off pulling")),
                "Pending",
            ),
            "reg/app:1",
        ) {
            PodView::Broken(e) => {
                let s = e.to_string();
                assert!(
                    s.contains("reg/app:1") && s.contains("ImagePullBackOff"),
                    "{s}"
                );
            }
            v => panic!("{v:?}"),
        }
        match view(
            &pod(
                Some(waiting("CreateContainerError", "no space left")),
                "Pending",
            ),
            "img",
        ) {
            PodView::Broken(e) => assert!(e.to_string().contains("CreateContainerError")),
            v => panic!("{v:?}"),
        }
        let msg = "failed to create containerd task: OCI runtime create failed: runc create \
                   failed: unable to start container process: exec: \"nope\": executable file \
                   not found in $PATH: unknown";
        match view(&pod(Some(ended(128, "StartError", msg)), "Failed"), "img") {
            PodView::CannotExecute { code, message } => assert_eq!((code, &*message), (127, msg)),
            v => panic!("{v:?}"),
        }
        let msg = "exec: \"/bin\": permission denied";
        assert!(matches!(
            view(
                &pod(Some(waiting("CreateContainerError", msg)), "Pending"),
                "img"
            ),
            PodView::CannotExecute { code: 126, .. }
        ));
        let mut evicted = pod(None, "Failed");
        evicted.status.as_mut().unwrap().reason = Some("Evicted".into());
        assert!(matches!(
            view(&evicted, "img"),
            PodView::Broken(KubeError::PodFailed { .. })
        ));
        let mut unsched = pod(None, "Pending");
        unsched.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some("0/3 nodes are available: 3 Insufficient memory.".into()),
            ..Default::default()
        }]);
        match view(&unsched, "img") {
            PodView::Pending {
                unschedulable: Some(m),
            } => assert_eq!(m, "0/3 nodes are available: 3 Insufficient memory."),
            v => panic!("{v:?}"),
        }
    }
}
