//! A completion's resource usage in the job row's four usage columns (migration 8), for the
//! SeaORM writes; the SQLite writer binds the same columns in `sqlite_writes`.

use crate::convert::i64_of;
use crate::entity::job;
use multiflexi_core::model::ResourceUsage;

/// Sets the usage columns on a row read for update (written by `ended_rows`, returned as the job).
pub(super) fn usage_into_row(row: &mut job::Model, usage: &ResourceUsage) {
    row.peak_memory_bytes = usage.peak_memory_bytes.map(i64_of);
    row.cpu_time_ms = usage.cpu_time_ms.map(i64_of);
    row.memory_limit_hit = usage.memory_limit_hit;
    row.usage_note = usage.unknown_reason.clone();
}
