//! Migration 6: retention policies (`retention_policy`, one row per scope: `default`, `audit`,
//! `company:ID`, `app:ID`, `company:ID/app:ID`).

use super::{columns, index};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (c, ex) = columns(manager).await?;
        if !manager.has_table("retention_policy").await? {
            manager
                .create_table(
                    c.table("retention_policy")
                        .col(c.id())
                        .col(c.name("scope"))
                        .col(c.big_null("company_id"))
                        .col(c.big_null("app_id"))
                        .col(c.int("days"))
                        .col(c.boolean("artifacts_only"))
                        .col(c.int("grace_days"))
                        .col(c.ts("updated"))
                        .to_owned(),
                )
                .await?;
        }
        index(
            manager,
            &ex,
            "retention_policy",
            "ux_retention_policy_scope",
            &["scope"],
            true,
        )
        .await
    }
}
