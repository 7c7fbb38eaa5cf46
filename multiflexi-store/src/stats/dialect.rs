//! The SQL expressions the statistics queries need, per database: timestamps as microseconds,
//! UTC day and hour keys, integer casts, placeholders.
//!
//! | | SQLite | PostgreSQL | MySQL / MariaDB |
//! |---|---|---|---|
//! | instant → µs | `strftime('%s')` of the first 19 characters × 10⁶ + the fraction's digits (the RFC 3339 text sqlx writes; exact, no float) | `EXTRACT(EPOCH …)` × 10⁶ (numeric, exact) | `TIMESTAMPDIFF(MICROSECOND, …)` |
//! | day, hour | `substr("end", 1, 10 / 13)` | `to_char("end" AT TIME ZONE 'UTC', …)` | `DATE_FORMAT(`end`, …)` (UTC `DATETIME`) |

use sea_orm::{DbBackend, Value};

/// One database's spelling.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    pub backend: DbBackend,
}

impl Dialect {
    /// A quoted column name.
    pub fn col(&self, name: &str) -> String {
        match self.backend {
            DbBackend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    /// `e` as a 64-bit signed integer.
    pub fn int(&self, e: &str) -> String {
        match self.backend {
            DbBackend::MySql => format!("CAST({e} AS SIGNED)"),
            DbBackend::Postgres => format!("CAST({e} AS BIGINT)"),
            _ => format!("CAST({e} AS INTEGER)"),
        }
    }

    /// The largest integer not above the non-negative number `e`.
    pub fn floor(&self, e: &str) -> String {
        match self.backend {
            DbBackend::Sqlite => format!("CAST({e} AS INTEGER)"),
            _ => format!("FLOOR({e})"),
        }
    }

    /// Microseconds from `from` to `to` (timestamp columns or expressions) as an integer.
    fn diff_us(&self, from: &str, to: &str) -> String {
        match self.backend {
            DbBackend::Postgres => self.int(&format!(
                "ROUND(EXTRACT(EPOCH FROM ({to} - {from})) * 1000000)"
            )),
            DbBackend::MySql => format!("TIMESTAMPDIFF(MICROSECOND, {from}, {to})"),
            _ => format!("({} - {})", sqlite_us(to), sqlite_us(from)),
        }
    }

    /// The instant in timestamp column `c` as microseconds since the epoch.
    pub fn epoch_us(&self, c: &str) -> String {
        let c = self.col(c);
        match self.backend {
            DbBackend::Postgres => self.int(&format!("ROUND(EXTRACT(EPOCH FROM {c}) * 1000000)")),
            DbBackend::MySql => format!("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {c})"),
            _ => sqlite_us(&c),
        }
    }

    /// A job's run time, µs (`end − begin`).
    pub fn duration_us(&self) -> String {
        self.diff_us(&self.col("begin"), &self.col("end"))
    }

    /// A job's queue wait, µs (`begin − max(after, created)`).
    pub fn wait_us(&self) -> String {
        let (after, created, begin) = (self.col("after"), self.col("created"), self.col("begin"));
        match self.backend {
            DbBackend::Sqlite => format!(
                "({} - max({}, {}))",
                sqlite_us(&begin),
                sqlite_us(&after),
                sqlite_us(&created)
            ),
            _ => self.diff_us(&format!("GREATEST({after}, {created})"), &begin),
        }
    }

    /// The UTC day `end` falls on, `YYYY-MM-DD`.
    pub fn day(&self) -> String {
        let end = self.col("end");
        match self.backend {
            DbBackend::Postgres => format!("to_char({end} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
            DbBackend::MySql => format!("DATE_FORMAT({end}, '%Y-%m-%d')"),
            _ => format!("substr({end}, 1, 10)"),
        }
    }

    /// The UTC hour `end` falls in, `YYYY-MM-DD HH` (SQLite: `YYYY-MM-DDTHH`).
    pub fn hour(&self) -> String {
        let end = self.col("end");
        match self.backend {
            DbBackend::Postgres => format!("to_char({end} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"),
            DbBackend::MySql => format!("DATE_FORMAT({end}, '%Y-%m-%d %H')"),
            _ => format!("substr({end}, 1, 13)"),
        }
    }
}

/// A timestamp column written by sqlx (`2026-01-05T10:00:00.123456+00:00`, the fraction 0, 3,
/// 6 or 9 digits or absent) or by SQLite (`2026-01-05 10:00:00`) as integer microseconds since
/// the epoch: whole seconds from the first 19 characters, plus the fraction's first six digits.
fn sqlite_us(c: &str) -> String {
    format!(
        "(CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000 + \
         CASE WHEN substr({c}, 20, 1) = '.' THEN CAST(substr(substr({c}, 21, \
         instr(substr({c}, 21) || '+', '+') - 1) || '000000', 1, 6) AS INTEGER) ELSE 0 END)"
    )
}

/// Parameters of one statement and their placeholders.
#[derive(Debug, Default)]
pub(super) struct Params {
    pub values: Vec<Value>,
}

impl Params {
    /// Adds `v` and returns its placeholder.
    pub fn push(&mut self, d: Dialect, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match d.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }
}
