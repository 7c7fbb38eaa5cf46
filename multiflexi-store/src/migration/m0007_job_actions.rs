//! Migration 7: actions after completion — `runtemplate.on_success` / `on_failure` (JSON arrays,
//! NULL when empty) and `job_action`, one row per action of a completed job, leased and fenced
//! like a job.

use super::{a, columns, fk, index};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_job_actions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, ex) = columns(manager).await?;
        for column in ["on_success", "on_failure"] {
            if !manager.has_column("runtemplate", column).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(a("runtemplate"))
                            .add_column(c.text_null(column))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        if !manager.has_table("job_action").await? {
            manager
                .create_table(
                    c.table("job_action")
                        .col(c.id())
                        .col(c.big("job_id"))
                        .col(c.int("idx"))
                        .col(c.name("kind"))
                        .col(c.text("settings"))
                        .col(c.name("state"))
                        .col(c.int("attempts"))
                        .col(c.text_null("last_error"))
                        .col(c.ts("next_attempt_at"))
                        .col(c.name_null("lease_owner"))
                        .col(c.big("lease_token"))
                        .col(c.ts_null("lease_expires"))
                        .col(c.ts("created"))
                        .col(c.ts_null("finished"))
                        .foreign_key(&mut fk(
                            "job_action",
                            "job_id",
                            "job",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
        }
        index(
            manager,
            &ex,
            "job_action",
            "ux_job_action_job_idx",
            &["job_id", "idx"],
            true,
        )
        .await?;
        index(
            manager,
            &ex,
            "job_action",
            "ix_job_action_due",
            &["state", "next_attempt_at"],
            false,
        )
        .await
    }
}
