//! Maps database errors onto the core's portable [`Error`].
//!
//! | database error | core error |
//! |---|---|
//! | unique violation | `AlreadyExists` |
//! | foreign key violation | `Conflict` (still referenced) |
//! | serialization failure, deadlock, lock wait timeout, SQLite busy | `Conflict` (transient: retried inside the store first) |
//! | connection refused / reset, pool timeout, I/O | `Backend { retryable: true }` |
//! | anything else | `Backend { retryable: false }` |

use multiflexi_core::Error;
use sea_orm::{DbErr, RuntimeErr};

/// The message prefix of transient conflicts (serialization failures, deadlocks, busy).
pub(crate) const TRANSIENT: &str = "transient: ";

/// Whether `e` is a transient conflict the store may retry.
pub(crate) fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Conflict { message } if message.starts_with(TRANSIENT))
}

/// What kind of failure a database error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unique,
    ForeignKey,
    Transient,
    Unavailable,
    Other,
}

fn classify_sqlx(e: &sea_orm::sqlx::Error) -> Kind {
    use sea_orm::sqlx::Error as E;
    use sea_orm::sqlx::error::ErrorKind;
    match e {
        E::Database(dbe) => {
            match dbe.kind() {
                ErrorKind::UniqueViolation => return Kind::Unique,
                ErrorKind::ForeignKeyViolation => return Kind::ForeignKey,
                _ => {}
            }
            let code = dbe.code().map(|c| c.to_string()).unwrap_or_default();
            // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available,
            // admin/crash shutdown, cannot connect now.
            if matches!(
                code.as_str(),
                "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
            ) {
                return Kind::Transient;
            }
            #[cfg(feature = "mysql")]
            if let Some(my) = dbe.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
                // 1213 deadlock, 1205 lock wait timeout, 1020 record changed
                if matches!(my.number(), 1213 | 1205 | 1020) {
                    return Kind::Transient;
                }
                if my.number() == 1062 {
                    return Kind::Unique;
                }
            }
            #[cfg(feature = "sqlite")]
            if dbe
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // SQLITE_BUSY (5, 261, 517, 773), SQLITE_LOCKED (6, 262)
                let primary = code.parse::<i64>().unwrap_or(0) & 0xff;
                if primary == 5 || primary == 6 {
                    return Kind::Transient;
                }
                if dbe.message().contains("database is locked") {
                    return Kind::Transient;
                }
            }
            Kind::Other
        }
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::Tls(_) | E::WorkerCrashed => {
            Kind::Unavailable
        }
        E::Protocol(_) => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// Classifies a SeaORM error.
pub(crate) fn classify(e: &DbErr) -> Kind {
    match e {
        DbErr::ConnectionAcquire(_) => Kind::Unavailable,
        DbErr::Conn(RuntimeErr::SqlxError(s))
        | DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s)) => match classify_sqlx(s) {
            Kind::Other if matches!(e, DbErr::Conn(_)) => Kind::Unavailable,
            k => k,
        },
        DbErr::Conn(_) => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// The backend name used in errors.
pub(crate) fn backend_name(b: sea_orm::DbBackend) -> &'static str {
    match b {
        sea_orm::DbBackend::Postgres => "postgres",
        sea_orm::DbBackend::MySql => "mysql",
        _ => "sqlite",
    }
}

/// Maps a database error; unique violations name `entity` and `key`.
pub(crate) fn map_db(backend: &'static str, entity: &'static str, key: &str, e: DbErr) -> Error {
    match classify(&e) {
        Kind::Unique => Error::AlreadyExists {
            entity,
            key: key.to_string(),
        },
        Kind::ForeignKey => Error::conflict(format!("{entity} {key} is still referenced: {e}")),
        Kind::Transient => Error::conflict(format!("{TRANSIENT}{backend}: {e}")),
        Kind::Unavailable => Error::backend(backend, true, e),
        Kind::Other => Error::backend(backend, false, e),
    }
}
