//! Migration 12: a template's jobs by id on SQLite and MySQL/MariaDB. The dashboard's "Recent
//! jobs" of a template (`list_jobs` by template, newest first, `LIMIT 10`) went through
//! `ix_job_runtemplate (runtemplate_id, phase)` and sorted every job of the template: 2.5 s for
//! a template with a million jobs on SQLite. `(runtemplate_id, id)` reads the ten newest
//! entries and stops. It replaces `(runtemplate_id, phase)` rather than joining it: a phase
//! change then touches one index fewer on SQLite and MySQL/MariaDB (three per job), and the
//! queries that asked for a template's unfinished jobs by phase also say `"end" IS NULL`
//! (every completion sets `end`), which `ix_job_template_end (runtemplate_id, "end", id)` serves.
//!
//! PostgreSQL keeps its indexes: its planner reads the newest rows of a template that holds
//! most jobs backwards along the primary key, and a template with few through
//! `ix_job_runtemplate`; and a non-HOT update there inserts into every index anyway.

use super::{columns, index};
use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_template_jobs_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        let (_, ex) = columns(manager).await?;
        index(
            manager,
            &ex,
            "job",
            "ix_job_template_id",
            &["runtemplate_id", "id"],
            false,
        )
        .await?;
        if ex.iter().any(|e| e == "ix_job_runtemplate") {
            manager
                .drop_index(
                    Index::drop()
                        .name("ix_job_runtemplate")
                        .table(Alias::new("job"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
