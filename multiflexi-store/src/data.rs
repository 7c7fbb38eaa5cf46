//! [`OutputLog`], [`AuditLog`] and [`ArtifactSink`] for [`SqlStore`].

use crate::entity::{Ts, ts, utc};
use crate::entity::{artifacts, audit_log, job, job_output};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multiflexi_core::artifact::{
    ArtifactLimit, ArtifactSink, CappedContent, read_limited, sanitize_name,
};
use multiflexi_core::model::{Artifact, ArtifactMeta};
use multiflexi_core::store::backend::check_chunks_of;
use multiflexi_core::store::{
    AuditEntry, AuditFilter, AuditLog, LeaseRef, LeaseWrite, OutputChunk, OutputLog, Stream,
};
use multiflexi_core::{ArtifactId, Error, JobId, Outcome, Phase, Result, to_micros};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashSet;
use tokio::io::AsyncRead;

/// Rows per multi-row INSERT (well under every backend's bind-parameter limit).
const BATCH: usize = 500;
/// Bytes of output per multi-row INSERT, about.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

impl SqlStore {
    /// The fence of an output or artifact write, on the job row (locked for the rest of the
    /// transaction on PostgreSQL and MySQL; SQLite's write transaction holds the file's lock).
    async fn lease_write<C: ConnectionTrait>(
        &self,
        c: &C,
        lease: LeaseRef,
        write: LeaseWrite,
    ) -> Result<()> {
        let row = self.job_row(c, lease.job_id).await?;
        let phase = row
            .phase
            .parse::<Phase>()
            .map_err(|e| Error::backend("sql", false, format!("job {}: {e}", row.id)))?;
        let outcome = row
            .outcome
            .as_deref()
            .and_then(|o| o.parse::<Outcome>().ok());
        let exitcode = row.exitcode.and_then(|c| i32::try_from(c).ok());
        write.check(lease, row.lease_token, phase, outcome, exitcode)
    }

    async fn require_job<C: ConnectionTrait>(&self, c: &C, id: JobId) -> Result<()> {
        if job::Entity::find_by_id(id.0)
            .count(c)
            .await
            .map_err(|e| self.dberr(e))?
            == 0
        {
            return Err(Error::not_found(JobId::ENTITY, id));
        }
        Ok(())
    }

    /// Stores one artifact inside a transaction (replacing a same-named one of the job).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        job_id: JobId,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<ArtifactId> {
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let content_type = content_type.to_string();
        let existing = artifacts::Entity::find()
            .filter(artifacts::Column::JobId.eq(job_id.0))
            .filter(artifacts::Column::Filename.eq(name))
            .select_only()
            .column(artifacts::Column::Id)
            .column(artifacts::Column::Filename)
            .into_tuple::<(i64, String)>()
            .all(txn)
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .find(|(_, f)| f == name);
        match existing {
            Some((id, _)) => {
                artifacts::Entity::update_many()
                    .col_expr(
                        artifacts::Column::ContentType,
                        Expr::value(content_type.clone()),
                    )
                    .col_expr(artifacts::Column::Content, Expr::value(bytes))
                    .col_expr(artifacts::Column::Size, Expr::value(size))
                    .col_expr(artifacts::Column::Note, Expr::value(note))
                    .filter(artifacts::Column::Id.eq(id))
                    .exec(txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
                Ok(ArtifactId(id))
            }
            None => {
                let id = artifacts::Entity::insert(artifacts::ActiveModel {
                    id: NotSet,
                    job_id: Set(job_id.0),
                    filename: Set(name.to_string()),
                    content_type: Set(content_type.clone()),
                    content: Set(bytes),
                    size: Set(size),
                    note: Set(note),
                    created: Set(ts(now)),
                })
                .exec(txn)
                .await
                .map_err(|e| match crate::error::classify(&e) {
                    // a concurrent put of the same name won: retry as an update
                    crate::error::Kind::Unique => Error::conflict(format!(
                        "{}artifact {name:?} of job {job_id} was stored concurrently",
                        crate::error::TRANSIENT
                    )),
                    _ => self.dberr(e),
                })?
                .last_insert_id;
                Ok(ArtifactId(id))
            }
        }
    }
}

/// Consecutive runs of chunks for one multi-row INSERT each: at most [`BATCH`] rows and about
/// [`BATCH_BYTES`] of content (one chunk may be larger alone), so that a statement stays far
/// below MySQL's `max_allowed_packet`.
fn output_batches(chunks: &[OutputChunk]) -> Vec<&[OutputChunk]> {
    let mut out = Vec::new();
    let (mut from, mut bytes) = (0, 0usize);
    for (i, c) in chunks.iter().enumerate() {
        if i > from && (i - from >= BATCH || bytes + c.bytes.len() > BATCH_BYTES) {
            out.push(&chunks[from..i]);
            (from, bytes) = (i, 0);
        }
        bytes += c.bytes.len();
    }
    if from < chunks.len() {
        out.push(&chunks[from..]);
    }
    out
}

fn seq_i64(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::invalid("seq", format!("{seq} is too large")))
}

#[async_trait]
impl OutputLog for SqlStore {
    async fn append_output(&self, lease: LeaseRef, chunks: &[OutputChunk]) -> Result<()> {
        check_chunks_of(lease, chunks)?;
        if chunks.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(chunks.len());
        for c in chunks {
            if !seen.insert((c.job_id, c.seq)) {
                return Err(Error::AlreadyExists {
                    entity: "job_output",
                    key: format!("job {} seq {}", c.job_id, c.seq),
                });
            }
        }
        in_tx!(self, |txn| async {
            self.lease_write(&txn, lease, LeaseWrite::Output).await?;
            for batch in output_batches(chunks) {
                let rows = batch
                    .iter()
                    .map(|c| {
                        Ok(job_output::ActiveModel {
                            id: NotSet,
                            job_id: Set(c.job_id.0),
                            seq: Set(seq_i64(c.seq)?),
                            stream: Set(c.stream.as_str().to_string()),
                            bytes: Set(c.bytes.clone()),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let first = &batch[0];
                job_output::Entity::insert_many(rows)
                    .exec(&txn)
                    .await
                    .map_err(|e| {
                        self.err(
                            "job_output",
                            &format!(
                                "job {} seq {} (or a later one of the batch)",
                                first.job_id, first.seq
                            ),
                            e,
                        )
                    })?;
            }
            Ok(())
        }
        .await)
    }

    async fn read_output(
        &self,
        job_id: JobId,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<OutputChunk>> {
        self.require_job(self.db(), job_id).await?;
        let mut q = job_output::Entity::find()
            .filter(job_output::Column::JobId.eq(job_id.0))
            .order_by_asc(job_output::Column::Seq)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX));
        if let Some(after) = after_seq {
            q = q.filter(job_output::Column::Seq.gt(seq_i64(after)?));
        }
        q.all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(|r| {
                Ok(OutputChunk {
                    job_id,
                    seq: u64::try_from(r.seq).unwrap_or(0),
                    stream: match r.stream.as_str() {
                        "stderr" => Stream::Stderr,
                        _ => Stream::Stdout,
                    },
                    bytes: r.bytes,
                })
            })
            .collect()
    }
}

fn audit_from(r: audit_log::Model) -> AuditEntry {
    let mut e = AuditEntry::new(r.job_id.map(JobId), r.actor, r.action, r.detail);
    e.id = r.id;
    e.at = utc(r.at);
    e
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let at = if entry.at == DateTime::<Utc>::UNIX_EPOCH {
            self.now().await?
        } else {
            to_micros(entry.at)
        };
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: NotSet,
            at: Set(ts(at)),
            job_id: Set(entry.job_id.map(|j| j.0)),
            actor: Set(entry.actor.clone()),
            action: Set(entry.action.clone()),
            detail: Set(entry.detail.clone()),
        })
        .exec(self.db())
        .await
        .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut q = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::At)
            .order_by_asc(audit_log::Column::Id);
        if let Some(j) = filter.job_id {
            q = q.filter(audit_log::Column::JobId.eq(j.0));
        }
        if let Some(s) = filter.since {
            q = q.filter(audit_log::Column::At.gte(ts(to_micros(s))));
        }
        if let Some(l) = filter.limit {
            q = q.limit(l);
        }
        Ok(q.all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(audit_from)
            .collect())
    }
}

#[derive(Debug, FromQueryResult)]
struct MetaRow {
    id: i64,
    job_id: i64,
    filename: String,
    content_type: String,
    size: i64,
    note: Option<String>,
    created: Ts,
}

/// `ArtifactMeta` is `#[non_exhaustive]` without a constructor: built through `Deserialize`.
fn meta_from(r: MetaRow) -> Result<ArtifactMeta> {
    let v = serde_json::json!({
        "id": r.id,
        "job_id": r.job_id,
        "filename": r.filename,
        "content_type": r.content_type,
        "size": u64::try_from(r.size).unwrap_or(0),
        "note": r.note,
        "created": utc(r.created),
    });
    serde_json::from_value(v).map_err(|e| {
        Error::backend(
            "sql",
            false,
            format!("artifact {} cannot be read: {e}", r.id),
        )
    })
}

#[async_trait]
impl ArtifactSink for SqlStore {
    fn write_domain(&self) -> Option<multiflexi_core::store::WriteDomain> {
        Some(self.inner.domain)
    }

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
        self.lease_write(self.db(), lease, LeaseWrite::Artifact)
            .await?;
        let CappedContent {
            bytes,
            note,
            content_type,
        } = read_limited(name, content_type, content, self.inner.artifact_cap, limit).await?;
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            self.lease_write(&txn, lease, LeaseWrite::Artifact).await?;
            self.put_in(
                &txn,
                job_id,
                name,
                &content_type,
                bytes.clone(),
                note.clone(),
                now,
            )
            .await
        }
        .await)
    }

    async fn list(&self, job_id: JobId) -> Result<Vec<ArtifactMeta>> {
        self.require_job(self.db(), job_id).await?;
        artifacts::Entity::find()
            .filter(artifacts::Column::JobId.eq(job_id.0))
            .order_by_asc(artifacts::Column::Id)
            .select_only()
            .columns([
                artifacts::Column::Id,
                artifacts::Column::JobId,
                artifacts::Column::Filename,
                artifacts::Column::ContentType,
                artifacts::Column::Size,
                artifacts::Column::Note,
                artifacts::Column::Created,
            ])
            .into_model::<MetaRow>()
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(meta_from)
            .collect()
    }

    async fn get(&self, id: ArtifactId) -> Result<Artifact> {
        let r = artifacts::Entity::find_by_id(id.0)
            .one(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(ArtifactId::ENTITY, id))?;
        let meta = meta_from(MetaRow {
            id: r.id,
            job_id: r.job_id,
            filename: r.filename,
            content_type: r.content_type,
            size: r.size,
            note: r.note,
            created: r.created,
        })?;
        Ok(Artifact {
            meta,
            content: r.content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64, len: usize) -> OutputChunk {
        OutputChunk {
            job_id: JobId(1),
            seq,
            stream: Stream::Stdout,
            bytes: vec![0; len],
        }
    }

    #[test]
    fn output_batches_bound_rows_and_bytes() {
        let many: Vec<OutputChunk> = (0..1200).map(|i| chunk(i, 1)).collect();
        let sizes: Vec<usize> = output_batches(&many).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [500, 500, 200]);
        let mib = 1 << 20;
        let big = [
            chunk(1, mib),
            chunk(2, mib),
            chunk(3, mib),
            chunk(4, 2 * mib),
            chunk(5, 1),
        ];
        let sizes: Vec<usize> = output_batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [3, 2]);
        let huge = [chunk(1, 5 * mib), chunk(2, 5 * mib)];
        assert_eq!(
            output_batches(&huge).len(),
            2,
            "a chunk over the budget goes alone"
        );
        assert!(output_batches(&[]).is_empty());
    }
}
