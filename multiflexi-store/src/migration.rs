//! Schema migrations (sea-orm-migration) and the schema-version guard.
//!
//! The first migration creates every table of ARCHITECTURE §5; the second adds the API's
//! `access_token` table; the third the claim's hot-path indexes; the fourth the job's
//! `launch_failures` counter (`INTEGER NOT NULL DEFAULT 0`); the fifth the per-job `pids_max` and
//! `cpu_seconds` limits and the apps' container needs; the sixth the `retention_policy` table;
//! the seventh actions after completion; the eighth the job's resource usage; the ninth the
//! statistics queries' indexes; the tenth the statistics rollup and its fold watermark. Column
//! types are chosen per backend:
//!
//! | kind        | SQLite  | PostgreSQL    | MySQL / MariaDB                     |
//! |-------------|---------|---------------|-------------------------------------|
//! | timestamp   | TEXT (RFC 3339, µs, order-preserving) | TIMESTAMPTZ (µs) | DATETIME(6) (UTC) |
//! | long text   | TEXT    | TEXT          | LONGTEXT                            |
//! | bytes       | BLOB    | BYTEA         | LONGBLOB                            |
//! | names, keys | TEXT (binary collation) | VARCHAR (deterministic) | VARCHAR, table collation `utf8mb4_nopad_bin` (MariaDB) / `utf8mb4_0900_bin` (MySQL 8): case-sensitive, trailing spaces significant |
//!
//! Migrations are idempotent (applied ones are recorded in `seaql_migrations`), and
//! `schema_version` holds [`SCHEMA_VERSION`]: a database whose version is newer than this code
//! knows is refused before anything is changed.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

mod m0004_launch_failures;
mod m0005_limits;
mod m0006_retention;
mod m0007_job_actions;
mod m0008_resource_usage;
mod m0009_stats_indexes;
mod m0010_stats_rollup;
mod m0011_template_counts;
mod m0012_template_jobs_index;

/// The schema version this code writes and understands: the number of its last migration, so
/// a binary that predates a migration refuses a database migrated past it (before 12 it stayed
/// at 6 while migrations 7–12 were added, and a 6-era binary would have run on a database whose
/// job actions it ignores and whose template counters it reads without their deltas).
pub const SCHEMA_VERSION: i32 = 12;

/// The migrator: every migration of the store, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_access_tokens::Migration),
            Box::new(m0003_hot_path_indexes::Migration),
            Box::new(m0004_launch_failures::Migration),
            Box::new(m0005_limits::Migration),
            Box::new(m0006_retention::Migration),
            Box::new(m0007_job_actions::Migration),
            Box::new(m0008_resource_usage::Migration),
            Box::new(m0009_stats_indexes::Migration),
            Box::new(m0010_stats_rollup::Migration),
            Box::new(m0011_template_counts::Migration),
            Box::new(m0012_template_jobs_index::Migration),
        ]
    }
}

fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// Column constructors for one backend.
struct Cols {
    backend: DbBackend,
    /// MySQL/MariaDB table collation: binary (case-sensitive) and, where the server has one,
    /// NO PAD, so `a` and `a ` stay two different names.
    collation: &'static str,
}

impl Cols {
    fn id(&self) -> ColumnDef {
        ColumnDef::new(a("id"))
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .to_owned()
    }
    fn big(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name)).big_integer().not_null().to_owned()
    }
    fn big_null(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name)).big_integer().null().to_owned()
    }
    fn int(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name)).integer().not_null().to_owned()
    }
    fn boolean(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name)).boolean().not_null().to_owned()
    }
    /// Short names and keys (compared case-sensitively).
    fn name(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name))
            .string_len(255)
            .not_null()
            .to_owned()
    }
    fn name_null(&self, name: &str) -> ColumnDef {
        ColumnDef::new(a(name)).string_len(255).null().to_owned()
    }
    fn text_type(&self) -> ColumnType {
        match self.backend {
            DbBackend::MySql => ColumnType::custom("LONGTEXT"),
            _ => ColumnType::Text,
        }
    }
    fn text(&self, name: &str) -> ColumnDef {
        ColumnDef::new_with_type(a(name), self.text_type())
            .not_null()
            .to_owned()
    }
    fn text_null(&self, name: &str) -> ColumnDef {
        ColumnDef::new_with_type(a(name), self.text_type())
            .null()
            .to_owned()
    }
    fn bytes(&self, name: &str) -> ColumnDef {
        let ty = match self.backend {
            DbBackend::MySql => ColumnType::custom("LONGBLOB"),
            DbBackend::Postgres => ColumnType::custom("BYTEA"),
            _ => ColumnType::custom("BLOB"),
        };
        ColumnDef::new_with_type(a(name), ty).not_null().to_owned()
    }
    fn ts_type(&self) -> ColumnType {
        match self.backend {
            DbBackend::MySql => ColumnType::custom("DATETIME(6)"),
            DbBackend::Postgres => ColumnType::custom("TIMESTAMPTZ(6)"),
            _ => ColumnType::custom("TEXT"),
        }
    }
    fn ts(&self, name: &str) -> ColumnDef {
        ColumnDef::new_with_type(a(name), self.ts_type())
            .not_null()
            .to_owned()
    }
    fn ts_null(&self, name: &str) -> ColumnDef {
        ColumnDef::new_with_type(a(name), self.ts_type())
            .null()
            .to_owned()
    }

    fn table(&self, name: &str) -> TableCreateStatement {
        let mut t = Table::create();
        t.table(a(name)).if_not_exists();
        if self.backend == DbBackend::MySql {
            t.engine("InnoDB")
                .character_set("utf8mb4")
                .collate(self.collation);
        }
        t
    }
}

fn fk(
    from_table: &str,
    from_col: &str,
    to_table: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(a(from_table), a(from_col))
        .to(a(to_table), a("id"))
        .on_delete(on_delete)
        .to_owned()
}

/// The index names that exist already (one query, instead of one per index).
async fn existing_indexes(manager: &SchemaManager<'_>) -> Result<Vec<String>, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = manager.get_database_backend();
    let sql = match backend {
        DbBackend::MySql => {
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
        }
        DbBackend::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'index'",
    };
    let rows = manager
        .get_connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect())
}

/// Creates an index unless it exists (MySQL has no CREATE INDEX IF NOT EXISTS).
async fn index(
    manager: &SchemaManager<'_>,
    existing: &[String],
    table: &str,
    name: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    if existing.iter().any(|e| e == name) {
        return Ok(());
    }
    let mut i = Index::create();
    i.name(name).table(a(table));
    for c in cols {
        i.col(a(c));
    }
    if unique {
        i.unique();
    }
    manager.create_index(i).await
}

/// `utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8, else `utf8mb4_bin`.
async fn mysql_collation(manager: &SchemaManager<'_>) -> Result<&'static str, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = manager.get_connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')",
        ))
        .await?;
    let names: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    Ok(if names.iter().any(|n| n == "utf8mb4_nopad_bin") {
        "utf8mb4_nopad_bin"
    } else if names.iter().any(|n| n == "utf8mb4_0900_bin") {
        "utf8mb4_0900_bin"
    } else {
        "utf8mb4_bin"
    })
}

/// The column constructors for this database and the index names it has already.
async fn columns(manager: &SchemaManager<'_>) -> Result<(Cols, Vec<String>), DbErr> {
    let backend = manager.get_database_backend();
    let collation = if backend == DbBackend::MySql {
        mysql_collation(manager).await?
    } else {
        ""
    };
    Ok((
        Cols { backend, collation },
        existing_indexes(manager).await?,
    ))
}

mod m0001_initial {
    use super::*;

    #[derive(DeriveMigrationName)]
    pub struct Migration;

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        #[allow(elided_lifetimes_in_paths)]
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            let (c, ex) = columns(manager).await?;
            manager
                .create_table(
                    c.table("schema_version")
                        .col(ColumnDef::new(a("id")).integer().not_null().primary_key())
                        .col(c.int("version"))
                        .col(c.ts("updated"))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    c.table("apps")
                        .col(c.id())
                        .col(ColumnDef::new(a("uuid")).string_len(64).null())
                        .col(c.name("name"))
                        .col(c.text("name_i18n"))
                        .col(c.text("description"))
                        .col(c.name_null("version"))
                        .col(c.text("executable"))
                        .col(c.text("cmdparams"))
                        .col(c.text_null("ociimage"))
                        .col(c.text_null("setup"))
                        .col(c.text_null("homepage"))
                        .col(c.text("tags"))
                        .col(c.text("requirements"))
                        .col(c.text("environment"))
                        .col(c.text("artifacts"))
                        .col(c.text("exit_codes"))
                        .col(c.boolean("enabled"))
                        .col(c.ts_null("created"))
                        .col(c.ts_null("updated"))
                        .to_owned(),
                )
                .await?;
            index(manager, &ex, "apps", "ux_apps_uuid", &["uuid"], true).await?;
            index(manager, &ex, "apps", "ix_apps_name", &["name"], false).await?;

            manager
                .create_table(
                    c.table("company")
                        .col(c.id())
                        .col(c.name("name"))
                        .col(c.name("slug"))
                        .col(c.name_null("email"))
                        .col(c.name_null("zabbix_host"))
                        .col(c.boolean("enabled"))
                        .col(c.ts_null("created"))
                        .col(c.ts_null("updated"))
                        .to_owned(),
                )
                .await?;
            index(manager, &ex, "company", "ux_company_name", &["name"], true).await?;
            index(manager, &ex, "company", "ux_company_slug", &["slug"], true).await?;

            manager
                .create_table(
                    c.table("company_env")
                        .col(c.id())
                        .col(c.big("company_id"))
                        .col(c.name("name"))
                        .col(c.text("value"))
                        .col(c.boolean("secret"))
                        .foreign_key(&mut fk(
                            "company_env",
                            "company_id",
                            "company",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "company_env",
                "ux_company_env_name",
                &["company_id", "name"],
                true,
            )
            .await?;

            manager
                .create_table(
                    c.table("credentials")
                        .col(c.id())
                        .col(c.big("company_id"))
                        .col(c.name("name"))
                        .col(c.name("kind"))
                        .foreign_key(&mut fk(
                            "credentials",
                            "company_id",
                            "company",
                            ForeignKeyAction::Restrict,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "credentials",
                "ux_credentials_name",
                &["company_id", "name"],
                true,
            )
            .await?;
            manager
                .create_table(
                    c.table("credential_values")
                        .col(c.id())
                        .col(c.big("credential_id"))
                        .col(c.int("position"))
                        .col(c.name("name"))
                        .col(c.text("value"))
                        .col(c.boolean("secret"))
                        .foreign_key(&mut fk(
                            "credential_values",
                            "credential_id",
                            "credentials",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "credential_values",
                "ix_credential_values_credential",
                &["credential_id", "position"],
                false,
            )
            .await?;

            manager
                .create_table(
                    c.table("runtemplate")
                        .col(c.id())
                        .col(c.big("app_id"))
                        .col(c.big("company_id"))
                        .col(c.name("name"))
                        .col(ColumnDef::new(a("interv")).string_len(1).not_null())
                        .col(c.name_null("cron"))
                        .col(c.name("timezone"))
                        .col(c.big("delay"))
                        .col(c.name("executor"))
                        .col(c.boolean("active"))
                        .col(c.ts_null("next_schedule"))
                        .col(c.ts_null("last_schedule"))
                        .col(c.big("successfull_jobs_count"))
                        .col(c.big("failed_jobs_count"))
                        .col(c.big("max_retries"))
                        .col(c.big("retry_delay"))
                        .col(c.name("retry_backoff"))
                        .col(c.text("retry_on_exit_codes"))
                        .col(c.big_null("timeout"))
                        .col(c.big_null("memory_limit_mb"))
                        .col(c.name("concurrency_policy"))
                        .col(c.name("catchup"))
                        .col(c.ts_null("created"))
                        .col(c.ts_null("updated"))
                        .foreign_key(&mut fk(
                            "runtemplate",
                            "app_id",
                            "apps",
                            ForeignKeyAction::Restrict,
                        ))
                        .foreign_key(&mut fk(
                            "runtemplate",
                            "company_id",
                            "company",
                            ForeignKeyAction::Restrict,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "runtemplate",
                "ix_runtemplate_company",
                &["company_id"],
                false,
            )
            .await?;
            index(
                manager,
                &ex,
                "runtemplate",
                "ix_runtemplate_app",
                &["app_id"],
                false,
            )
            .await?;
            index(
                manager,
                &ex,
                "runtemplate",
                "ix_runtemplate_due",
                &["active", "next_schedule"],
                false,
            )
            .await?;
            manager
                .create_table(
                    c.table("runtemplate_config")
                        .col(c.id())
                        .col(c.big("runtemplate_id"))
                        .col(c.name("name"))
                        .col(c.text("value"))
                        .col(c.boolean("secret"))
                        .foreign_key(&mut fk(
                            "runtemplate_config",
                            "runtemplate_id",
                            "runtemplate",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "runtemplate_config",
                "ux_runtemplate_config_name",
                &["runtemplate_id", "name"],
                true,
            )
            .await?;
            manager
                .create_table(
                    c.table("runtemplate_credential")
                        .col(c.id())
                        .col(c.big("runtemplate_id"))
                        .col(c.big("credential_id"))
                        .col(c.int("position"))
                        .foreign_key(&mut fk(
                            "runtemplate_credential",
                            "runtemplate_id",
                            "runtemplate",
                            ForeignKeyAction::Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "runtemplate_credential",
                            "credential_id",
                            "credentials",
                            ForeignKeyAction::Restrict,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "runtemplate_credential",
                "ux_runtemplate_credential",
                &["runtemplate_id", "credential_id"],
                true,
            )
            .await?;
            index(
                manager,
                &ex,
                "runtemplate_credential",
                "ix_runtemplate_credential_cred",
                &["credential_id"],
                false,
            )
            .await?;

            // Jobs are history: no foreign keys to the catalog (templates can be deleted once
            // their jobs are finished, and the jobs stay).
            manager
                .create_table(
                    c.table("job")
                        .col(c.id())
                        .col(c.big("runtemplate_id"))
                        .col(c.big("company_id"))
                        .col(c.big("app_id"))
                        .col(c.name("executor"))
                        .col(c.text("program"))
                        .col(c.text_null("image"))
                        .col(c.big_null("timeout"))
                        .col(c.big_null("memory_limit_mb"))
                        .col(c.text("artifact_patterns"))
                        .col(c.name("timezone"))
                        .col(c.bytes("env"))
                        .col(c.text("command"))
                        .col(c.name_null("launched_by"))
                        .col(c.name("phase"))
                        .col(c.name("status"))
                        .col(c.name_null("outcome"))
                        .col(c.name("trigger"))
                        .col(c.ts_null("slot"))
                        .col(c.big("attempt"))
                        .col(c.big_null("retry_of"))
                        .col(c.ts("after"))
                        .col(c.big_null("exitcode"))
                        .col(c.big_null("pid"))
                        .col(c.name_null("external_id"))
                        .col(c.name_null("lease_owner"))
                        .col(c.ts_null("lease_expires"))
                        .col(c.big("lease_token"))
                        .col(c.boolean("cancel_requested"))
                        .col(c.name_null("idempotency_key"))
                        .col(c.text_null("trace_context"))
                        .col(c.text("stdout"))
                        .col(c.text("stderr"))
                        .col(c.ts("created"))
                        .col(c.ts_null("scheduled"))
                        .col(c.ts_null("queued"))
                        .col(c.ts_null("begin"))
                        .col(c.ts_null("end"))
                        .col(c.ts_null("preserved"))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "job",
                "ux_job_slot",
                &["runtemplate_id", "slot", "attempt"],
                true,
            )
            .await?;
            index(
                manager,
                &ex,
                "job",
                "ux_job_idempotency",
                &["idempotency_key"],
                true,
            )
            .await?;
            index(
                manager,
                &ex,
                "job",
                "ix_job_status",
                &["status", "id"],
                false,
            )
            .await?;
            index(
                manager,
                &ex,
                "job",
                "ix_job_runtemplate",
                &["runtemplate_id", "phase"],
                false,
            )
            .await?;
            index(
                manager,
                &ex,
                "job",
                "ix_job_company",
                &["company_id", "id"],
                false,
            )
            .await?;
            index(manager, &ex, "job", "ix_job_end", &["end"], false).await?;
            index(
                manager,
                &ex,
                "job",
                "ix_job_lease",
                &["phase", "lease_expires"],
                false,
            )
            .await?;

            manager
                .create_table(
                    c.table("schedule")
                        .col(c.id())
                        .col(c.big("job_id"))
                        .col(c.ts("after"))
                        .col(c.name("executor"))
                        .col(c.boolean("claimed"))
                        .foreign_key(&mut fk(
                            "schedule",
                            "job_id",
                            "job",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "schedule",
                "ux_schedule_job",
                &["job_id"],
                true,
            )
            .await?;
            index(
                manager,
                &ex,
                "schedule",
                "ix_schedule_due",
                &["claimed", "executor", "after"],
                false,
            )
            .await?;

            manager
                .create_table(
                    c.table("job_output")
                        .col(c.id())
                        .col(c.big("job_id"))
                        .col(c.big("seq"))
                        .col(ColumnDef::new(a("stream")).string_len(8).not_null())
                        .col(c.bytes("bytes"))
                        .foreign_key(&mut fk(
                            "job_output",
                            "job_id",
                            "job",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "job_output",
                "ux_job_output_seq",
                &["job_id", "seq"],
                true,
            )
            .await?;

            manager
                .create_table(
                    c.table("artifacts")
                        .col(c.id())
                        .col(c.big("job_id"))
                        .col(c.name("filename"))
                        .col(c.name("content_type"))
                        .col(c.bytes("content"))
                        .col(c.big("size"))
                        .col(c.text_null("note"))
                        .col(c.ts("created"))
                        .foreign_key(&mut fk(
                            "artifacts",
                            "job_id",
                            "job",
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "artifacts",
                "ux_artifacts_name",
                &["job_id", "filename"],
                true,
            )
            .await?;

            manager
                .create_table(
                    c.table("audit_log")
                        .col(c.id())
                        .col(c.ts("at"))
                        .col(c.big_null("job_id"))
                        .col(c.name("actor"))
                        .col(c.name("action"))
                        .col(c.text("detail"))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "audit_log",
                "ix_audit_log_job",
                &["job_id", "at"],
                false,
            )
            .await?;
            index(manager, &ex, "audit_log", "ix_audit_log_at", &["at"], false).await?;
            Ok(())
        }
    }
}

mod m0002_access_tokens {
    use super::*;

    pub struct Migration;

    // Named by hand: the derive names a migration after its file, and m0001 (recorded as
    // `migration` in existing databases) lives in this same file.
    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0002_access_tokens"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        #[allow(elided_lifetimes_in_paths)]
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            let (c, ex) = columns(manager).await?;
            manager
                .create_table(
                    c.table("access_token")
                        .col(c.id())
                        .col(c.name("name"))
                        .col(ColumnDef::new(a("secret_hash")).string_len(64).not_null())
                        .col(c.big_null("company_id"))
                        .col(c.ts("created"))
                        .col(c.ts_null("revoked"))
                        .to_owned(),
                )
                .await?;
            index(
                manager,
                &ex,
                "access_token",
                "ux_access_token_name",
                &["name"],
                true,
            )
            .await?;
            index(
                manager,
                &ex,
                "access_token",
                "ux_access_token_hash",
                &["secret_hash"],
                true,
            )
            .await
        }
    }
}

mod m0003_hot_path_indexes {
    use super::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0003_hot_path_indexes"
        }
    }

    /// The claim reads due schedule rows `ORDER BY "after", job_id LIMIT n`: with `job_id` in
    /// the index the order comes from the index and a claim stops after n entries, instead of
    /// sorting every due row (PostgreSQL planned a bitmap scan and a sort of all of them). On
    /// PostgreSQL, four job indexes become partial (non-NULL values only).
    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        #[allow(elided_lifetimes_in_paths)]
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            let (_, ex) = columns(manager).await?;
            index(
                manager,
                &ex,
                "schedule",
                "ix_schedule_claim",
                &["claimed", "executor", "after", "job_id"],
                false,
            )
            .await?;
            if ex.iter().any(|e| e == "ix_schedule_due") {
                manager
                    .drop_index(
                        Index::drop()
                            .name("ix_schedule_due")
                            .table(a("schedule"))
                            .to_owned(),
                    )
                    .await?;
            }
            if manager.get_database_backend() == DbBackend::Postgres {
                // PostgreSQL writes an entry into EVERY index of a row at each update that is
                // not HOT, and every phase change is one (phase, status and lease columns are
                // indexed). Four job indexes only ever look up non-NULL values, so they leave
                // NULL rows out: ad-hoc jobs (no slot), jobs without an idempotency key, jobs
                // not ended yet and jobs holding no lease add no entries there. Same answers:
                // unique indexes never compared NULLs, and each lookup's condition implies the
                // predicate (`= key`, `"end" < t`, `lease_expires < t`).
                manager
                    .get_connection()
                    .execute_unprepared(
                        r#"DROP INDEX IF EXISTS ux_job_slot;
                        CREATE UNIQUE INDEX ux_job_slot ON job (runtemplate_id, slot, attempt)
                            WHERE slot IS NOT NULL;
                        DROP INDEX IF EXISTS ux_job_idempotency;
                        CREATE UNIQUE INDEX ux_job_idempotency ON job (idempotency_key)
                            WHERE idempotency_key IS NOT NULL;
                        DROP INDEX IF EXISTS ix_job_end;
                        CREATE INDEX ix_job_end ON job ("end") WHERE "end" IS NOT NULL;
                        DROP INDEX IF EXISTS ix_job_lease;
                        CREATE INDEX ix_job_lease ON job (phase, lease_expires)
                            WHERE lease_expires IS NOT NULL;"#,
                    )
                    .await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new migration raises [`SCHEMA_VERSION`] with it.
    #[test]
    fn schema_version_is_the_last_migration() {
        let last = Migrator::migrations()
            .last()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        assert_eq!(
            Migrator::migrations().len(),
            usize::try_from(SCHEMA_VERSION).unwrap(),
            "SCHEMA_VERSION is {SCHEMA_VERSION} but the last migration is {last}"
        );
        assert!(
            last.starts_with(&format!("m{SCHEMA_VERSION:04}_")),
            "the last migration {last} is not number {SCHEMA_VERSION}"
        );
    }
}
