//! SeaORM entities, one module per table (ARCHITECTURE §5, the seed's table names).
//!
//! Timestamps are `DateTime<Utc>` truncated to microseconds; column types per backend are chosen
//! by the migration ([`crate::migration`]). Secret values are stored sealed (see [`crate::crypto`]).

#![allow(missing_docs)]

use chrono::{DateTime, FixedOffset, Utc};

/// A timestamp column value (always at offset +00:00).
///
/// Bound as `DateTime<FixedOffset>`, not `DateTime<Utc>`: the MySQL driver sends a
/// `DateTime<Utc>` parameter as a `TIMESTAMP`, which MariaDB cannot hold past 2038 (it stored
/// NULL); this type is sent as a UTC `DATETIME` text there, as `timestamptz` to PostgreSQL and as
/// RFC 3339 text (`+00:00`, order-preserving) to SQLite.
pub type Ts = DateTime<FixedOffset>;

/// A core instant as a column value.
pub fn ts(t: DateTime<Utc>) -> Ts {
    t.fixed_offset()
}

/// A column value as a core instant.
pub fn utc(t: Ts) -> DateTime<Utc> {
    t.to_utc()
}

/// [`ts`] of an optional instant, truncated to microseconds.
pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<Ts> {
    t.map(|t| ts(multiflexi_core::to_micros(t)))
}

/// [`utc`] of an optional column value.
pub fn utc_opt(t: Option<Ts>) -> Option<DateTime<Utc>> {
    t.map(utc)
}

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
        pub enum Relation {}
        impl sea_orm::ActiveModelBehavior for ActiveModel {}
    };
}

pub mod apps {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "apps")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub uuid: Option<String>,
        /// Display name (for lookups); `name_i18n` keeps every language.
        pub name: String,
        pub name_i18n: String,
        pub description: String,
        pub version: Option<String>,
        pub executable: String,
        pub cmdparams: String,
        pub ociimage: Option<String>,
        pub setup: Option<String>,
        pub homepage: Option<String>,
        pub tags: String,
        pub requirements: String,
        /// Environment field definitions (JSON).
        pub environment: String,
        /// Artifact patterns (JSON).
        pub artifacts: String,
        /// Exit code descriptions (JSON).
        pub exit_codes: String,
        pub enabled: bool,
        /// `ContainerSecurity` as JSON (migration 5).
        pub container: String,
        pub created: Option<Ts>,
        pub updated: Option<Ts>,
    }
    no_relations!();
}

pub mod company {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "company")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub slug: String,
        pub email: Option<String>,
        pub zabbix_host: Option<String>,
        pub enabled: bool,
        pub created: Option<Ts>,
        pub updated: Option<Ts>,
    }
    no_relations!();
}

/// Name/value rows of a company's environment and of a template's configuration.
pub mod company_env {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "company_env")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub company_id: i64,
        pub name: String,
        /// Plain text, or a sealed secret when `secret`.
        pub value: String,
        pub secret: bool,
    }
    no_relations!();
}

pub mod credentials {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credentials")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub company_id: i64,
        pub name: String,
        pub kind: String,
    }
    no_relations!();
}

pub mod credential_values {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credential_values")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub credential_id: i64,
        pub position: i32,
        pub name: String,
        pub value: String,
        pub secret: bool,
    }
    no_relations!();
}

pub mod runtemplate {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "runtemplate")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub app_id: i64,
        pub company_id: i64,
        pub name: String,
        pub interv: String,
        pub cron: Option<String>,
        pub timezone: String,
        pub delay: i64,
        pub executor: String,
        pub active: bool,
        pub next_schedule: Option<Ts>,
        pub last_schedule: Option<Ts>,
        pub successfull_jobs_count: i64,
        pub failed_jobs_count: i64,
        pub max_retries: i64,
        pub retry_delay: i64,
        pub retry_backoff: String,
        pub retry_on_exit_codes: String,
        pub timeout: Option<i64>,
        pub memory_limit_mb: Option<i64>,
        pub concurrency_policy: String,
        pub catchup: String,
        pub created: Option<Ts>,
        pub updated: Option<Ts>,
        /// Migration 5.
        pub pids_max: Option<i64>,
        pub cpu_seconds: Option<i64>,
        /// Migration 7: JSON arrays of actions (webhook secrets sealed); NULL when empty.
        pub on_success: Option<String>,
        pub on_failure: Option<String>,
    }
    no_relations!();
}

/// Migration 7: one action after completion of one job.
pub mod runtemplate_count {
    use sea_orm::entity::prelude::*;
    /// One delta of a template's counters (migration 11).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "runtemplate_count")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub runtemplate_id: i64,
        pub succeeded: i64,
        pub failed: i64,
    }
    no_relations!();
}

pub mod job_action {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_action")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job_id: i64,
        pub idx: i32,
        pub kind: String,
        /// The action as JSON (a webhook secret sealed).
        pub settings: String,
        pub state: String,
        pub attempts: i32,
        pub last_error: Option<String>,
        pub next_attempt_at: Ts,
        pub lease_owner: Option<String>,
        pub lease_token: i64,
        pub lease_expires: Option<Ts>,
        pub created: Ts,
        pub finished: Option<Ts>,
    }
    no_relations!();
}

pub mod runtemplate_config {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "runtemplate_config")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub runtemplate_id: i64,
        pub name: String,
        pub value: String,
        pub secret: bool,
    }
    no_relations!();
}

pub mod runtemplate_credential {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "runtemplate_credential")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub runtemplate_id: i64,
        pub credential_id: i64,
        pub position: i32,
    }
    no_relations!();
}

pub mod job {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub runtemplate_id: i64,
        pub company_id: i64,
        pub app_id: i64,
        pub executor: String,
        pub program: String,
        pub image: Option<String>,
        pub timeout: Option<i64>,
        pub memory_limit_mb: Option<i64>,
        pub artifact_patterns: String,
        pub timezone: String,
        /// The frozen environment and argv, sealed as one blob.
        pub env: Vec<u8>,
        pub command: String,
        pub launched_by: Option<String>,
        pub phase: String,
        pub status: String,
        pub outcome: Option<String>,
        pub trigger: String,
        pub slot: Option<Ts>,
        pub attempt: i64,
        pub retry_of: Option<i64>,
        pub after: Ts,
        pub exitcode: Option<i64>,
        pub pid: Option<i64>,
        pub external_id: Option<String>,
        pub lease_owner: Option<String>,
        pub lease_expires: Option<Ts>,
        pub lease_token: i64,
        pub cancel_requested: bool,
        pub idempotency_key: Option<String>,
        pub trace_context: Option<String>,
        pub stdout: String,
        pub stderr: String,
        pub created: Ts,
        pub scheduled: Option<Ts>,
        pub queued: Option<Ts>,
        pub begin: Option<Ts>,
        pub end: Option<Ts>,
        pub preserved: Option<Ts>,
        /// Launches that failed before the application started (migration 4).
        pub launch_failures: i32,
        /// Migration 5: the job's process and CPU-time limits, the app's container needs (JSON).
        pub pids_max: Option<i64>,
        pub cpu_seconds: Option<i64>,
        pub container: String,
        /// Migration 8: what the job used while it ran (see `ResourceUsage`).
        pub peak_memory_bytes: Option<i64>,
        pub cpu_time_ms: Option<i64>,
        pub memory_limit_hit: Option<bool>,
        pub usage_note: Option<String>,
    }
    no_relations!();
}

pub mod schedule {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schedule")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job_id: i64,
        pub after: Ts,
        pub executor: String,
        /// Set while the job is Queued/Running (claimed), so claims skip it.
        pub claimed: bool,
    }
    no_relations!();
}

pub mod job_output {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_output")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job_id: i64,
        pub seq: i64,
        pub stream: String,
        pub bytes: Vec<u8>,
    }
    no_relations!();
}

pub mod artifacts {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "artifacts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job_id: i64,
        pub filename: String,
        pub content_type: String,
        pub content: Vec<u8>,
        pub size: i64,
        pub note: Option<String>,
        pub created: Ts,
    }
    no_relations!();
}

pub mod audit_log {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: Ts,
        pub job_id: Option<i64>,
        pub actor: String,
        pub action: String,
        pub detail: String,
    }
    no_relations!();
}

/// API tokens: the SHA-256 of each secret, never the secret.
pub mod access_token {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_token")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub secret_hash: String,
        /// NULL: an admin token.
        pub company_id: Option<i64>,
        pub created: Ts,
        pub revoked: Option<Ts>,
    }
    no_relations!();
}

/// Retention policies, one per scope (`RetentionScope::key`).
pub mod retention_policy {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "retention_policy")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub scope: String,
        pub company_id: Option<i64>,
        pub app_id: Option<i64>,
        pub days: i32,
        pub artifacts_only: bool,
        pub grace_days: i32,
        pub updated: Ts,
    }
    no_relations!();
}

pub mod schema_version {
    use super::Ts;
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schema_version")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub version: i32,
        pub updated: Ts,
    }
    no_relations!();
}
