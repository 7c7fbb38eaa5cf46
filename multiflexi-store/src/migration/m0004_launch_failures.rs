//! Migration 4: `job.launch_failures`, how often a claimed job's launch failed before the
//! application started (the job went back to the queue each time; at the bound it completes as
//! `platform_error`).

use super::a;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_launch_failures"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("job", "launch_failures").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(a("job"))
                    .add_column(
                        ColumnDef::new(a("launch_failures"))
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }
}
