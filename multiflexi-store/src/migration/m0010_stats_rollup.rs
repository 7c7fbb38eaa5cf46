//! Migration 10: the statistics rollup (issue 25).
//!
//! - `job_stats_rollup`: finished jobs folded per (run template, app, company, UTC hour,
//!   outcome, exit code): how many, and log-bucket histograms of their run time, queue wait
//!   (µs) and peak memory (bytes) as text (`LogHistogram::encode`). `hour` is whole hours since
//!   the Unix epoch. Rows of one key and hour are merged when a fold reaches that hour again.
//! - `job_stats_fold`: one row (`id` 1), `watermark_us`: the jobs that ended before it (µs
//!   since the epoch) are in the rollup, the later ones are not; NULL before the first fold.
//!   A fold locks this row, so two folds never count a job twice.

use super::{a, index};
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_stats_rollup"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, ex) = super::columns(manager).await?;
        manager
            .create_table(
                c.table("job_stats_rollup")
                    .col(c.id())
                    .col(c.big("runtemplate_id"))
                    .col(c.big("app_id"))
                    .col(c.big("company_id"))
                    .col(c.big("hour"))
                    .col(c.name("outcome"))
                    .col(c.big_null("exitcode"))
                    .col(c.big("jobs"))
                    .col(c.text("duration"))
                    .col(c.text("queue_wait"))
                    .col(c.text("peak_memory"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_job_stats_rollup_template", ["runtemplate_id", "hour"]),
            ("ix_job_stats_rollup_app", ["app_id", "hour"]),
        ] {
            index(manager, &ex, "job_stats_rollup", name, &cols, false).await?;
        }
        index(
            manager,
            &ex,
            "job_stats_rollup",
            "ix_job_stats_rollup_hour",
            &["hour"],
            false,
        )
        .await?;
        manager
            .create_table(
                c.table("job_stats_fold")
                    .col(ColumnDef::new(a("id")).integer().not_null().primary_key())
                    .col(c.big_null("watermark_us"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let present = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT id FROM job_stats_fold WHERE id = 1",
            ))
            .await?
            .is_some();
        if !present {
            db.execute_raw(Statement::from_string(
                backend,
                "INSERT INTO job_stats_fold (id, watermark_us) VALUES (1, NULL)",
            ))
            .await?;
        }
        Ok(())
    }
}
