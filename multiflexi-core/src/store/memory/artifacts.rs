//! [`ArtifactSink`] for [`InMemoryStore`].

use super::InMemoryStore;
use super::state::next_id;
use crate::artifact::{ArtifactLimit, ArtifactSink, CappedContent, read_limited, sanitize_name};
use crate::ids::{ArtifactId, JobId};
use crate::model::{Artifact, ArtifactMeta};
use crate::store::{LeaseRef, LeaseWrite};
use crate::{Error, Result};
use async_trait::async_trait;
use tokio::io::AsyncRead;

#[async_trait]
impl ArtifactSink for InMemoryStore {
    async fn put_limited(
        &self,
        lease: LeaseRef,
        name: &str,
        content_type: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<&ArtifactLimit>,
    ) -> Result<ArtifactId> {
        let job_id = lease.job_id;
        if sanitize_name(name)? != name {
            return Err(Error::invalid(
                "artifact name",
                format!("{name:?} is not sanitised; pass it through artifact::sanitize_name first"),
            ));
        }
        // Fail early for an unknown job or a stale lease, before reading the content.
        self.lock().lease_write(lease, LeaseWrite::Artifact)?;

        // Read outside the lock: at most `cap` bytes are kept, the rest is only counted.
        let CappedContent {
            bytes,
            note,
            content_type,
        } = read_limited(name, content_type, content, self.artifact_cap, limit).await?;

        let mut st = self.lock();
        let now = self.now();
        st.lease_write(lease, LeaseWrite::Artifact)?;
        let key = (job_id, name.to_string());
        let meta = match st.artifact_names.get(&key).copied() {
            Some(id) => {
                let old = &st.artifacts[&id].meta;
                ArtifactMeta {
                    id,
                    job_id,
                    filename: name.to_string(),
                    content_type,
                    size: bytes.len() as u64,
                    note,
                    created: old.created,
                }
            }
            None => {
                let id = ArtifactId(next_id(&mut st.last_id.artifact));
                st.artifact_names.insert(key, id);
                ArtifactMeta {
                    id,
                    job_id,
                    filename: name.to_string(),
                    content_type,
                    size: bytes.len() as u64,
                    note,
                    created: now,
                }
            }
        };
        let id = meta.id;
        st.artifacts.insert(
            id,
            Artifact {
                meta,
                content: bytes,
            },
        );
        Ok(id)
    }

    async fn list(&self, job_id: JobId) -> Result<Vec<ArtifactMeta>> {
        let st = self.lock();
        st.job(job_id)?;
        Ok(st
            .artifacts
            .values()
            .filter(|a| a.meta.job_id == job_id)
            .map(|a| a.meta.clone())
            .collect())
    }

    async fn get(&self, id: ArtifactId) -> Result<Artifact> {
        self.lock()
            .artifacts
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(ArtifactId::ENTITY, id))
    }
}
