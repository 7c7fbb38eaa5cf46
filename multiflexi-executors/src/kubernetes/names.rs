//! Object names, labels and label selectors of the executor's Jobs and Secrets.
//!
//! The label keys are the Docker executor's ([`crate::labels`], `io.multiflexi.*`: valid
//! Kubernetes label keys without a prefix), so operators filter containers and Jobs alike
//! (`kubectl get jobs -l io.multiflexi.executor_id=…`).

use crate::labels;
use multiflexi_core::executor::LaunchSpec;
use std::collections::BTreeMap;

/// `app.kubernetes.io/managed-by` on every object the executor creates.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Annotation holding the executor id verbatim (its label value may be a hashed form).
pub const EXECUTOR_ID_ANNOTATION: &str = "io.multiflexi.executor_id";
/// The container's name inside the job pod.
pub const CONTAINER: &str = "job";
/// The name of the work-directory volume.
pub const WORK_VOLUME: &str = "work";
/// The name of the `/tmp` volume of a job whose root file system is read-only.
pub const TMP_VOLUME: &str = "tmp";

/// The Job's name: `multiflexi-job-<job id>-<lease token>` (unique per claim, at most 63
/// characters, a DNS-1123 label).
pub fn job_name(spec: &LaunchSpec) -> String {
    format!(
        "multiflexi-job-{}-{}",
        spec.job_id.0.unsigned_abs(),
        spec.lease_token.unsigned_abs()
    )
}

/// The Secret's name: the Job's plus `-env`.
pub fn secret_name(spec: &LaunchSpec) -> String {
    format!("{}-env", job_name(spec))
}

/// Whether `v` is a valid label value (at most 63 characters: alphanumerics, `-`, `_`, `.`,
/// beginning and ending with an alphanumeric; or empty).
pub fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() {
        return true;
    }
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The label value for an executor id: the id itself when it is a valid label value, else a
/// stable form of it (invalid characters replaced, cut to 46 characters, plus `-` and a 16-digit
/// FNV-1a hash of the whole id), so that `reap` finds the same value after a restart.
pub fn executor_label(executor_id: &str) -> String {
    if is_label_value(executor_id) {
        return executor_id.to_owned();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in executor_id.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let cleaned: String = executor_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(46)
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if cleaned.is_empty() {
        format!("x{hash:016x}")
    } else {
        format!("{cleaned}-{hash:016x}")
    }
}

/// The labels of a job's Job, pod template and Secret.
pub fn job_labels(spec: &LaunchSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), "multiflexi".to_owned()),
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::JOB_ID.to_owned(), spec.job_id.to_string()),
        (labels::LEASE_TOKEN.to_owned(), spec.lease_token.to_string()),
        (
            labels::RUNTEMPLATE_ID.to_owned(),
            spec.runtemplate_id.to_string(),
        ),
        (labels::COMPANY_ID.to_owned(), spec.company_id.to_string()),
        (labels::APP_ID.to_owned(), spec.app_id.to_string()),
        (
            labels::EXECUTOR_ID.to_owned(),
            executor_label(&spec.executor_id),
        ),
    ])
}

/// The annotations of a job's objects.
pub fn job_annotations(spec: &LaunchSpec) -> BTreeMap<String, String> {
    BTreeMap::from([(EXECUTOR_ID_ANNOTATION.to_owned(), spec.executor_id.clone())])
}

/// The selector of everything launched by executor `executor_id`.
pub fn executor_selector(executor_id: &str) -> String {
    format!(
        "{}=true,{}={}",
        labels::MANAGED,
        labels::EXECUTOR_ID,
        executor_label(executor_id)
    )
}

/// The selector of a Job's pods (the label the Job controller puts on them).
pub fn pods_of_job_selector(job_uid: &str) -> String {
    format!("batch.kubernetes.io/controller-uid={job_uid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::JobId;

    #[test]
    fn names_are_dns_labels() {
        let mut spec = LaunchSpec::new("/bin/true", vec![], "/tmp/x");
        spec.job_id = JobId(i64::MAX);
        spec.lease_token = i64::MAX;
        let name = secret_name(&spec);
        assert!(name.len() <= 63, "{name}");
        assert!(
            name.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        );
        assert_eq!(
            job_name(&LaunchSpec::new("x", vec![], "/")),
            "multiflexi-job-0-0"
        );
    }

    #[test]
    fn executor_labels_are_valid_and_stable() {
        assert_eq!(
            executor_label("worker-1.example.org"),
            "worker-1.example.org"
        );
        assert_eq!(executor_label(""), "");
        for id in [
            "host name with spaces",
            "-leading-dash",
            "ěščř",
            &"x".repeat(100),
            "a/b:c",
        ] {
            let v = executor_label(id);
            assert!(is_label_value(&v) && !v.is_empty(), "{id:?} -> {v:?}");
            assert_eq!(v, executor_label(id), "stable");
        }
        assert_ne!(
            executor_label(&"x".repeat(100)),
            executor_label(&"x".repeat(101))
        );
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(!is_label_value("a-"));
    }

    #[test]
    fn labels_carry_ids() {
        let mut spec = LaunchSpec::new("/bin/true", vec![], "/tmp/x");
        spec.job_id = JobId(42);
        spec.lease_token = 3;
        spec.executor_id = "exec one".into();
        let l = job_labels(&spec);
        assert_eq!(l[labels::JOB_ID], "42");
        assert_eq!(l[labels::LEASE_TOKEN], "3");
        assert!(l.values().all(|v| is_label_value(v)), "{l:?}");
        assert_eq!(job_annotations(&spec)[EXECUTOR_ID_ANNOTATION], "exec one");
        assert!(executor_selector("exec one").ends_with(&l[labels::EXECUTOR_ID]));
    }
}
