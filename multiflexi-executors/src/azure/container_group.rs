//! The container group a job runs as (the body of `PUT …/containerGroups/{name}`), and what
//! `GET` tells of it (its container's `instanceView`).

use super::config::AzureConfig;
use super::names::{self, CONTAINER};
use multiflexi_core::Result;
use multiflexi_core::executor::LaunchSpec;
use serde_json::{Value, json};

/// HOME of every job: ACI has no working-directory field, so the job starts in its image's
/// `WORKDIR`, and `/tmp` exists and is writable in every Linux image.
pub const HOME: &str = "/tmp";

/// Variables the executor itself sets, sent as plain `value`s; the job's own environment (its
/// secrets among it) goes as `secureValue`s, which ARM never returns.
const BASE_VARS: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// Memory in GB as ACI takes it: the job's limit (MiB) rounded up to a tenth of a GB, at least
/// 0.1; the configured default without a limit.
pub fn memory_gb(spec: &LaunchSpec, config: &AzureConfig) -> f64 {
    match spec.memory_limit_mb {
        Some(mb) => {
            let tenths = (f64::from(mb) * 10.0 / 1024.0).ceil().max(1.0);
            tenths / 10.0
        }
        None => config.default_memory_gb,
    }
}

/// The `PUT` body: one Linux container running the app's image with the job's argv as its
/// `command`, restart policy `Never`, CPU and memory requested and limited, tags for reaping.
pub fn body(spec: &LaunchSpec, image: &str, config: &AzureConfig) -> Result<Value> {
    let mut command = vec![spec.program.clone()];
    command.extend(spec.args.iter().cloned());
    let env: Vec<Value> = spec
        .process_env(HOME)
        .into_iter()
        .map(|(name, value)| {
            let own = spec.env.iter().any(|(n, _)| *n == name);
            if BASE_VARS.contains(&name.as_str()) && !own {
                json!({ "name": name, "value": value })
            } else {
                json!({ "name": name, "secureValue": value })
            }
        })
        .collect();
    let resources = json!({ "cpu": config.cpu, "memoryInGB": memory_gb(spec, config) });
    Ok(json!({
        "location": config.location,
        "tags": names::tags(spec)?,
        "properties": {
            "osType": "Linux",
            "restartPolicy": "Never",
            "containers": [{
                "name": CONTAINER,
                "properties": {
                    "image": image,
                    "command": command,
                    "environmentVariables": env,
                    "resources": { "requests": resources, "limits": resources },
                }
            }]
        }
    }))
}

/// The job container's `currentState`, as far as the executor cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// `Waiting`, `Running`, `Terminated` (absent before the container exists).
    pub state: Option<String>,
    /// The exit code once terminated.
    pub exit_code: Option<i32>,
    /// `detailStatus` (why it waits, or how it ended).
    pub detail: String,
}

impl ContainerState {
    /// Whether the container ended.
    pub fn terminated(&self) -> bool {
        self.state.as_deref() == Some("Terminated")
    }

    /// Whether the container runs or ran (its process exists or existed).
    pub fn started(&self) -> bool {
        matches!(self.state.as_deref(), Some("Running" | "Terminated"))
    }
}

/// What `GET` on a container group tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerGroup {
    /// `properties.provisioningState`.
    pub provisioning: String,
    /// `properties.instanceView.state` of the group.
    pub group_state: String,
    /// The job container's state.
    pub container: ContainerState,
    /// The newest event message of the job container, if any (pull errors and the like).
    pub last_event: Option<String>,
}

impl ContainerGroup {
    /// Reads the documented fields of a `GET` answer; absent fields stay empty.
    pub fn from_json(v: &Value) -> Self {
        let props = &v["properties"];
        let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let job = props["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == CONTAINER))
            .map(|c| &c["properties"]["instanceView"]);
        let (container, last_event) = match job {
            Some(view) => {
                let cur = &view["currentState"];
                let state = ContainerState {
                    state: cur["state"].as_str().map(str::to_owned),
                    exit_code: cur["exitCode"].as_i64().and_then(|c| i32::try_from(c).ok()),
                    detail: str_of(&cur["detailStatus"]),
                };
                let event = view["events"]
                    .as_array()
                    .and_then(|es| es.last())
                    .map(|e| format!("{}: {}", str_of(&e["name"]), str_of(&e["message"])));
                (state, event)
            }
            None => (ContainerState::default(), None),
        };
        Self {
            provisioning: str_of(&props["provisioningState"]),
            group_state: str_of(&props["instanceView"]["state"]),
            container,
            last_event,
        }
    }

    /// What to say of a group that has not started its container.
    pub fn waiting_detail(&self) -> String {
        let mut d = format!(
            "provisioning {:?}, group {:?}, container {:?} {:?}",
            self.provisioning,
            self.group_state,
            self.container.state.as_deref().unwrap_or("absent"),
            self.container.detail
        );
        if let Some(e) = &self.last_event {
            d.push_str(", last event ");
            d.push_str(e);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::AzureCredential;
    use super::*;

    fn config() -> AzureConfig {
        AzureConfig::new(
            "sub",
            "rg",
            "westeurope",
            AzureCredential::ManagedIdentity {
                endpoint: "http://127.0.0.1:1/token".into(),
                client_id: None,
            },
        )
    }

    #[test]
    fn body_has_secure_env_argv_resources_and_tags() {
        let mut spec = LaunchSpec::new("/bin/app", vec!["a b".into(), ";x".into()], "/w");
        spec.env = vec![
            ("API_KEY".into(), "s3cret".into()),
            ("PATH".into(), "/opt".into()),
        ];
        spec.memory_limit_mb = Some(300);
        spec.executor_id = "exec-1".into();
        let b = body(&spec, "repo/app:1", &config()).unwrap();
        let c = &b["properties"]["containers"][0]["properties"];
        assert_eq!(b["properties"]["restartPolicy"], "Never");
        assert_eq!(b["properties"]["osType"], "Linux");
        assert_eq!(b["location"], "westeurope");
        assert_eq!(c["image"], "repo/app:1");
        assert_eq!(c["command"], json!(["/bin/app", "a b", ";x"]));
        let env = c["environmentVariables"].as_array().unwrap();
        let find = |n: &str| env.iter().find(|e| e["name"] == n).unwrap().clone();
        assert_eq!(
            find("API_KEY"),
            json!({"name": "API_KEY", "secureValue": "s3cret"})
        );
        assert_eq!(find("PATH"), json!({"name": "PATH", "secureValue": "/opt"}));
        assert_eq!(find("HOME"), json!({"name": "HOME", "value": HOME}));
        assert_eq!(c["resources"]["requests"]["memoryInGB"], 0.3);
        assert_eq!(c["resources"]["limits"]["cpu"], 1.0);
        assert_eq!(b["tags"]["io.multiflexi.executor_id"], "exec-1");
    }

    #[test]
    fn memory_rounds_up_to_a_tenth() {
        let mut spec = LaunchSpec::new("/bin/app", vec![], "/w");
        spec.memory_limit_mb = Some(32);
        assert_eq!(memory_gb(&spec, &config()), 0.1);
        spec.memory_limit_mb = Some(1024);
        assert_eq!(memory_gb(&spec, &config()), 1.0);
        spec.memory_limit_mb = None;
        assert_eq!(memory_gb(&spec, &config()), 1.5);
    }

    #[test]
    fn reads_the_instance_view() {
        let v = json!({"properties": {
            "provisioningState": "Succeeded",
            "instanceView": {"state": "Succeeded"},
            "containers": [{"name": "job", "properties": {"instanceView": {
                "restartCount": 0,
                "currentState": {"state": "Terminated", "exitCode": 3, "detailStatus": "Completed"},
                "events": [{"name": "Pulled", "message": "ok"}]
            }}}]
        }});
        let g = ContainerGroup::from_json(&v);
        assert!(g.container.terminated());
        assert_eq!(g.container.exit_code, Some(3));
        assert_eq!(g.last_event.as_deref(), Some("Pulled: ok"));
        assert_eq!(
            ContainerGroup::from_json(&json!({})),
            ContainerGroup::default()
        );
    }
}
