//! Migration 8: what each job used while it ran (`job.peak_memory_bytes`, `job.cpu_time_ms`,
//! `job.memory_limit_hit`, and `job.usage_note`, the reason when the executor could not tell).
//! Jobs finished before this migration keep `NULL` in all four.

use super::a;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_resource_usage"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(a("peak_memory_bytes"))
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(a("cpu_time_ms"))
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(a("memory_limit_hit"))
                .boolean()
                .null()
                .to_owned(),
            ColumnDef::new(a("usage_note"))
                .string_len(1024)
                .null()
                .to_owned(),
        ];
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for mut col in columns {
            let name = col.get_column_name();
            if manager.has_column("job", &name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(a("job"))
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
