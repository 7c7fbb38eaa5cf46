//! Migration 11: `runtemplate_count`, the insert-only deltas of a template's success and
//! failure counters. A finish inserts one row per template of its batch instead of updating
//! the template's row, so finishes of different batches never wait on each other's row lock
//! (two transactions updating the same template row serialise, and in opposite orders
//! deadlock). A template's counters are its row's plus the sum of its deltas; the retention
//! run folds the deltas into the row (`crate::template_counts`).
//!
//! No foreign key: PostgreSQL checks one by locking the referenced template row `FOR KEY
//! SHARE`, a write to that row at every insert (measured: the finish path ~15 % slower with
//! it). `delete_runtemplate` deletes a template's deltas with it; a template with unfinished
//! jobs cannot be deleted, so no finish can add a delta for a deleted template.
//!
//! (Migration 10 is the statistics rollup.)

use super::{columns, index};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_template_counts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, ex) = columns(manager).await?;
        if !manager.has_table("runtemplate_count").await? {
            manager
                .create_table(
                    c.table("runtemplate_count")
                        .col(c.id())
                        .col(c.big("runtemplate_id"))
                        .col(c.big("succeeded"))
                        .col(c.big("failed"))
                        .to_owned(),
                )
                .await?;
        }
        index(
            manager,
            &ex,
            "runtemplate_count",
            "ix_runtemplate_count_template",
            &["runtemplate_id", "id"],
            false,
        )
        .await
    }
}
