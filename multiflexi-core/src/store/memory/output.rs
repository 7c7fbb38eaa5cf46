//! [`OutputLog`] and [`AuditLog`] for [`InMemoryStore`].

use super::InMemoryStore;
use super::state::next_id;
use crate::clock::to_micros;
use crate::ids::JobId;
use crate::store::backend::check_chunks_of;
use crate::store::{
    AuditEntry, AuditFilter, AuditLog, LeaseRef, LeaseWrite, OutputChunk, OutputLog,
};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::ops::Bound;

#[async_trait]
impl OutputLog for InMemoryStore {
    async fn append_output(&self, lease: LeaseRef, chunks: &[OutputChunk]) -> Result<()> {
        check_chunks_of(lease, chunks)?;
        if chunks.is_empty() {
            return Ok(());
        }
        let mut st = self.lock();
        st.lease_write(lease, LeaseWrite::Output)?;
        // Check the whole batch first: it is stored entirely or not at all.
        let mut seen = HashSet::with_capacity(chunks.len());
        for c in chunks {
            let taken = st
                .output
                .get(&c.job_id)
                .is_some_and(|m| m.contains_key(&c.seq));
            if taken || !seen.insert((c.job_id, c.seq)) {
                return Err(Error::AlreadyExists {
                    entity: "job_output",
                    key: format!("job {} seq {}", c.job_id, c.seq),
                });
            }
        }
        for c in chunks {
            st.output
                .entry(c.job_id)
                .or_default()
                .insert(c.seq, c.clone());
        }
        Ok(())
    }

    async fn read_output(
        &self,
        job_id: JobId,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<OutputChunk>> {
        let st = self.lock();
        st.job(job_id)?;
        let lower = after_seq.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(st
            .output
            .get(&job_id)
            .map(|m| {
                m.range((lower, Bound::Unbounded))
                    .take(limit)
                    .map(|(_, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut st = self.lock();
        let now = self.now();
        let mut e = entry.clone();
        e.id = next_id(&mut st.last_id.audit);
        e.at = if e.at == DateTime::<Utc>::UNIX_EPOCH {
            now
        } else {
            to_micros(e.at)
        };
        st.audit.push(e);
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let st = self.lock();
        let since = filter.since.map(to_micros);
        let mut rows: Vec<AuditEntry> = st
            .audit
            .iter()
            .filter(|e| filter.job_id.is_none_or(|j| e.job_id == Some(j)))
            .filter(|e| since.is_none_or(|s| e.at >= s))
            .cloned()
            .collect();
        rows.sort_by_key(|e| (e.at, e.id));
        if let Some(limit) = filter.limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(rows)
    }
}
