//! Instants a write sets "from now" (lease expiry, a released job's due time), taken from the
//! store's clock when the write executes — never before the store waited for a connection, a
//! lock or its turn to write.
//!
//! - Database clock (PostgreSQL, MySQL/MariaDB without an injected clock): the statement
//!   computes it, `clock_timestamp() + n µs` (the instant the statement runs, not the start of
//!   its transaction) on PostgreSQL, `NOW(6) + INTERVAL n MICROSECOND` on MySQL/MariaDB (the
//!   session time zone is UTC, matching the `DATETIME(6)` columns).
//! - Injected clock, and SQLite (a file on this host: its clock is ours): read in Rust inside
//!   the transaction, after `BEGIN IMMEDIATE` took the write lock or the locked read returned,
//!   and bound as a value in the column's stored format.

use crate::entity::ts;
use crate::store::SqlStore;
use chrono::{DateTime, Utc};
use multiflexi_core::to_micros;
use sea_orm::DbBackend;
use sea_orm::sea_query::Expr;
use std::time::Duration;

/// `now + d` for one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// Computed from the store's clock inside the transaction.
    At(DateTime<Utc>),
    /// The database's clock when the statement runs, plus this many microseconds.
    DbClockPlus(i64),
}

/// `now + d`, saturating, in microseconds.
pub(crate) fn plus(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    to_micros(
        now.checked_add_signed(d)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

impl SqlStore {
    /// `now + d` for a write about to execute. Call it inside the transaction, once the
    /// connection (and any lock) is held.
    pub(crate) fn deadline(&self, d: Duration) -> Deadline {
        match self.local_now() {
            Some(now) => Deadline::At(plus(now, d)),
            None => Deadline::DbClockPlus(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        }
    }
}

impl Deadline {
    /// The value a SeaORM update sets.
    pub(crate) fn expr(self, backend: DbBackend) -> Expr {
        match self {
            Deadline::At(t) => Expr::value(Some(ts(t))),
            Deadline::DbClockPlus(us) => {
                let param = if backend == DbBackend::Postgres {
                    "$1"
                } else {
                    "?"
                };
                Expr::cust_with_values(Self::sql(backend, param), [us])
            }
        }
    }

    /// The SQL computing a [`Deadline::DbClockPlus`] with `param` as the placeholder of its
    /// microseconds (`$n` on PostgreSQL, `?` elsewhere).
    pub(crate) fn sql(backend: DbBackend, param: &str) -> String {
        match backend {
            DbBackend::Postgres => {
                format!("(clock_timestamp() + {param}::bigint * INTERVAL '1 microsecond')")
            }
            _ => format!("(NOW(6) + INTERVAL {param} MICROSECOND)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_saturates_and_truncates() {
        let now = DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1);
        assert_eq!(
            plus(now, Duration::from_secs(u64::MAX)),
            to_micros(DateTime::<Utc>::MAX_UTC)
        );
        let t = DateTime::parse_from_rfc3339("2026-01-05T10:00:00.123456789Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            plus(t, Duration::from_nanos(1_500)),
            DateTime::parse_from_rfc3339("2026-01-05T10:00:00.123458Z")
                .unwrap()
                .to_utc()
        );
    }
}
