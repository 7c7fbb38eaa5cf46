//! Names and tags of the executor's container groups.
//!
//! The tag keys are the Docker executor's labels ([`crate::labels`], `io.multiflexi.*`), so
//! operators filter containers, Kubernetes Jobs and container groups alike
//! (`az container list --query "[?tags.\"io.multiflexi.executor_id\"=='…']"`). Tag values hold
//! up to 256 characters, so the executor id is stored verbatim.

use crate::labels;
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::{Error, Result};
use serde_json::{Map, Value};

/// The container's name inside the group.
pub const CONTAINER: &str = "job";
/// The longest tag value ARM accepts.
pub const TAG_VALUE_MAX: usize = 256;

/// The container group's name: `multiflexi-job-<job id>-<lease token>` (unique per claim, at
/// most 63 characters: lowercase letters, digits and dashes, as ACI requires).
pub fn group_name(spec: &LaunchSpec) -> String {
    format!(
        "multiflexi-job-{}-{}",
        spec.job_id.0.unsigned_abs(),
        spec.lease_token.unsigned_abs()
    )
}

/// The group's tags: managed, job id, lease token, run template, company, app, executor id.
pub fn tags(spec: &LaunchSpec) -> Result<Map<String, Value>> {
    if spec.executor_id.chars().count() > TAG_VALUE_MAX {
        return Err(Error::invalid(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("an Azure tag value holds at most {TAG_VALUE_MAX} characters"),
        ));
    }
    let mut t = Map::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), Value::String(v));
    };
    put(labels::MANAGED, "true".into());
    put(labels::JOB_ID, spec.job_id.0.to_string());
    put(labels::LEASE_TOKEN, spec.lease_token.to_string());
    put(labels::RUNTEMPLATE_ID, spec.runtemplate_id.0.to_string());
    put(labels::COMPANY_ID, spec.company_id.0.to_string());
    put(labels::APP_ID, spec.app_id.0.to_string());
    put(labels::EXECUTOR_ID, spec.executor_id.clone());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::JobId;

    #[test]
    fn name_and_tags() {
        let mut spec = LaunchSpec::new("/bin/true", vec![], "/tmp/x");
        spec.job_id = JobId(42);
        spec.lease_token = 3;
        spec.executor_id = "host a/b".into();
        assert_eq!(group_name(&spec), "multiflexi-job-42-3");
        let t = tags(&spec).unwrap();
        assert_eq!(t[labels::JOB_ID], "42");
        assert_eq!(t[labels::LEASE_TOKEN], "3");
        assert_eq!(t[labels::EXECUTOR_ID], "host a/b");
        spec.executor_id = "x".repeat(257);
        assert!(tags(&spec).is_err());
    }
}
