//! Migration 5: per-job process and CPU-time limits (`runtemplate` and `job`: `pids_max`,
//! `cpu_seconds`, nullable) and what a container app needs from its sandbox (`apps.container`,
//! `job.container`: `ContainerSecurity` as JSON, `'{}'` for existing rows: no capabilities,
//! writable root file system).

use super::a;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_limits"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["runtemplate", "job"] {
            for column in ["pids_max", "cpu_seconds"] {
                if !manager.has_column(table, column).await? {
                    add(
                        manager,
                        table,
                        ColumnDef::new(a(column)).big_integer().null().to_owned(),
                    )
                    .await?;
                }
            }
        }
        for table in ["apps", "job"] {
            if !manager.has_column(table, "container").await? {
                // A string default: TEXT columns take no default on MySQL, so the column is added
                // as a short VARCHAR there (the JSON is a few dozen bytes).
                let mut col = ColumnDef::new(a("container"));
                col.string_len(1024).not_null().default("{}");
                add(manager, table, col).await?;
            }
        }
        Ok(())
    }
}

async fn add(manager: &SchemaManager<'_>, table: &str, mut col: ColumnDef) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(a(table))
                .add_column(&mut col)
                .to_owned(),
        )
        .await
}
