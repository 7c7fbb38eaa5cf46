//! Migration 9: the indexes of the statistics queries — a template's and an app's finished
//! jobs by `("end", id)`, so `job:stats` and the dashboard's charts read one window of one
//! subject (and its last N jobs, newest first, with `LIMIT N`) however long the history is.
//! On PostgreSQL they are partial (finished jobs only), like `ix_job_end`: a job adds its
//! entries when it ends, not at every phase change.

use super::index;
use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_stats_indexes"
    }
}

/// (index, subject column).
const INDEXES: [(&str, &str); 2] = [
    ("ix_job_template_end", "runtemplate_id"),
    ("ix_job_app_end", "app_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, col) in INDEXES {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(
                        r#"CREATE INDEX IF NOT EXISTS {name} ON job ({col}, "end", id) WHERE "end" IS NOT NULL"#
                    ))
                    .await?;
            }
            return Ok(());
        }
        let (_, ex) = super::columns(manager).await?;
        for (name, col) in INDEXES {
            index(manager, &ex, "job", name, &[col, "end", "id"], false).await?;
        }
        Ok(())
    }
}
