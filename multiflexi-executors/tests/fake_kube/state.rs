//! The fake API server's storage: Jobs, Secrets and Pods with resource versions, and the Pod
//! event history that watches are served from.

use super::kubelet::Runtime;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `namespace/name`.
pub type Key = (String, String);

/// A pod and, once the kubelet started its container, its process.
#[derive(Debug)]
pub struct PodRecord {
    pub pod: Pod,
    pub runtime: Option<Arc<Runtime>>,
}

/// One pod watch event.
#[derive(Debug, Clone)]
pub struct PodEvent {
    pub rv: u64,
    pub kind: &'static str,
    pub namespace: String,
    pub pod: Pod,
}

/// Everything the fake API server stores.
#[derive(Debug, Default)]
pub struct State {
    rv: u64,
    uid: u64,
    pub jobs: BTreeMap<Key, Job>,
    pub secrets: BTreeMap<Key, Secret>,
    pub pods: BTreeMap<Key, PodRecord>,
    pub pod_events: Vec<PodEvent>,
    /// Every Job and Secret as the client sent it (request bodies), for assertions.
    pub created_jobs: Vec<Job>,
    pub created_secrets: Vec<Secret>,
    /// Requests the fake does not implement (method and path).
    pub unimplemented: Vec<String>,
    /// Every container process ever started.
    pub runtimes: Vec<Arc<Runtime>>,
}

pub fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl State {
    /// The next resource version.
    pub fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// The current resource version.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// A fresh uid.
    pub fn uid(&mut self) -> String {
        self.uid += 1;
        format!(
            "{:08x}-fa6e-4b0e-8000-{:012x}",
            std::process::id(),
            self.uid
        )
    }

    /// Sets what the server sets on creation.
    pub fn stamp_new(&mut self, meta: &mut ObjectMeta) {
        meta.uid = Some(self.uid());
        meta.creation_timestamp = Some(now());
        meta.resource_version = Some(self.bump().to_string());
        meta.generation = Some(1);
    }

    /// Records a pod event (and gives the pod a new resource version).
    pub fn pod_event(&mut self, kind: &'static str, key: &Key) {
        let rv = self.bump();
        let Some(rec) = self.pods.get_mut(key) else {
            return;
        };
        rec.pod.metadata.resource_version = Some(rv.to_string());
        let pod = rec.pod.clone();
        self.pod_events.push(PodEvent {
            rv,
            kind,
            namespace: key.0.clone(),
            pod,
        });
    }

    /// Removes a pod, recording its DELETED event.
    pub fn remove_pod(&mut self, key: &Key) -> Option<PodRecord> {
        let rv = self.bump();
        let mut rec = self.pods.remove(key)?;
        rec.pod.metadata.resource_version = Some(rv.to_string());
        self.pod_events.push(PodEvent {
            rv,
            kind: "DELETED",
            namespace: key.0.clone(),
            pod: rec.pod.clone(),
        });
        Some(rec)
    }

    /// Keys of the pods a Job owns.
    pub fn pods_of(&self, job_uid: &str) -> Vec<Key> {
        self.pods
            .iter()
            .filter(|(_, r)| {
                r.pod
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == job_uid)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Updates a Job's status (and resource version).
    pub fn update_job(&mut self, key: &Key, f: impl FnOnce(&mut Job)) {
        let rv = self.bump();
        if let Some(job) = self.jobs.get_mut(key) {
            f(job);
            job.metadata.resource_version = Some(rv.to_string());
        }
    }
}
