//! A completion's resource usage in the job row's four usage columns (migration 8), for the
//! SeaORM writes; the SQLite writer binds the same columns in `sqlite_writes`.

use crate::convert::i64_of;
use crate::entity::job;
use multiflexi_core::model::ResourceUsage;
use sea_orm::UpdateMany;
use sea_orm::sea_query::Expr;

/// Sets the usage columns in a job UPDATE.
pub(super) fn set_usage(
    q: UpdateMany<job::Entity>,
    usage: &ResourceUsage,
) -> UpdateMany<job::Entity> {
    q.col_expr(
        job::Column::PeakMemoryBytes,
        Expr::value(usage.peak_memory_bytes.map(i64_of)),
    )
    .col_expr(
        job::Column::CpuTimeMs,
        Expr::value(usage.cpu_time_ms.map(i64_of)),
    )
    .col_expr(
        job::Column::MemoryLimitHit,
        Expr::value(usage.memory_limit_hit),
    )
    .col_expr(
        job::Column::UsageNote,
        Expr::value(usage.unknown_reason.clone()),
    )
}

/// The same on a row read for update (what the batch returns as the job).
pub(super) fn usage_into_row(row: &mut job::Model, usage: &ResourceUsage) {
    row.peak_memory_bytes = usage.peak_memory_bytes.map(i64_of);
    row.cpu_time_ms = usage.cpu_time_ms.map(i64_of);
    row.memory_limit_hit = usage.memory_limit_hit;
    row.usage_note = usage.unknown_reason.clone();
}
