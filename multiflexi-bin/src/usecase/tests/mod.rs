//! The use cases against the in-memory store: every rule and every error, as each front end
//! would meet it.

mod app_create;
mod apps;
mod companies;
mod credentials;
mod erasure;
mod jobs;
mod queue_fix;
mod retention;
mod templates;
mod tokens;

use super::{Caller, UseCases};
use multiflexi_core::store::{AuditFilter, TokenScope};
use multiflexi_core::{CompanyId, Error, InMemoryStore, ManualClock};
use std::sync::Arc;

/// Use cases over a fresh in-memory store.
fn usecases() -> UseCases {
    UseCases::new(
        Arc::new(InMemoryStore::new()),
        Arc::new(ManualClock::new(chrono::Utc::now())),
        Arc::new(multiflexi_core::telemetry::NoopTelemetry),
    )
}

fn operator() -> Caller {
    Caller::operator("alice")
}

fn company_token(id: CompanyId) -> Caller {
    Caller::token("acme-bot", TokenScope::Company(id))
}

/// The field an InvalidInput or Forbidden error names (panics on any other result).
fn field_of<T: std::fmt::Debug>(r: multiflexi_core::Result<T>) -> String {
    match r {
        Err(Error::InvalidInput { field, .. } | Error::Forbidden { field, .. }) => field,
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

/// Every audit row as (actor, action, detail).
async fn audit_rows(u: &UseCases) -> Vec<(String, String, String)> {
    u.store()
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail))
        .collect()
}
