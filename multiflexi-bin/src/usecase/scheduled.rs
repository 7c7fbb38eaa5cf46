//! When a job asked for through the API becomes due: `scheduled` as upstream MultiFlexi documents
//! it — `now`, `Y-m-d H:i:s` (a wall time in `MULTIFLEXI_TIMEZONE`, else UTC) — or an RFC 3339
//! instant.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use multiflexi_core::schedule::parse_timezone;
use multiflexi_core::{Error, Result};

/// The wall-time form upstream documents (`2026-11-28 02:30:00`).
const WALL_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The timezone of wall times: `MULTIFLEXI_TIMEZONE`, else UTC (a value that is not a timezone
/// is refused, naming the variable).
pub fn wall_timezone() -> Result<Tz> {
    match std::env::var("MULTIFLEXI_TIMEZONE") {
        Ok(v) if !v.trim().is_empty() => parse_timezone(v.trim()).map_err(|e| {
            Error::invalid(
                "scheduled",
                format!("MULTIFLEXI_TIMEZONE={v:?} is not a timezone ({e}), so a wall time cannot be read; send an RFC 3339 instant"),
            )
        }),
        _ => Ok(chrono_tz::UTC),
    }
}

/// Parses `value`: `now` (or nothing) is `now`; else an RFC 3339 instant, or `Y-m-d H:i:s` in
/// `zone`. A wall time that falls in a DST gap is refused; one
/// that happens twice (fall-back) means its first occurrence.
pub fn parse_scheduled(value: &str, zone: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("now") || v.is_empty() {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let wall = NaiveDateTime::parse_from_str(v, WALL_FORMAT).map_err(|_| {
        Error::invalid(
            "scheduled",
            format!(
                "{v:?} is not a time; give \"now\", an RFC 3339 instant (2026-11-28T02:30:00Z) \
                 or \"Y-m-d H:i:s\" (2026-11-28 02:30:00, in {})",
                zone.name()
            ),
        )
    })?;
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(Error::invalid(
            "scheduled",
            format!(
                "{v} does not exist in {} (the clocks skip it); give another time or an RFC 3339 instant",
                zone.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_scheduled;
    use chrono::{DateTime, Utc};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reads_the_three_forms() {
        let now = utc("2026-11-28T10:00:00Z");
        let prague = chrono_tz::Europe::Prague;
        assert_eq!(parse_scheduled("now", prague, now).unwrap(), now);
        assert_eq!(parse_scheduled(" NOW ", prague, now).unwrap(), now);
        assert_eq!(
            parse_scheduled("2026-11-28T12:00:00+02:00", prague, now).unwrap(),
            utc("2026-11-28T10:00:00Z")
        );
        // Winter in Prague is UTC+1.
        assert_eq!(
            parse_scheduled("2026-11-28 12:00:00", prague, now).unwrap(),
            utc("2026-11-28T11:00:00Z")
        );
        assert_eq!(
            parse_scheduled("2026-11-28 12:00:00", chrono_tz::UTC, now).unwrap(),
            utc("2026-11-28T12:00:00Z")
        );
    }

    #[test]
    fn dst_edges() {
        let now = utc("2026-01-01T00:00:00Z");
        let prague = chrono_tz::Europe::Prague;
        // Fall-back: 02:30 happens twice; the first (summer time, +02:00) is meant.
        assert_eq!(
            parse_scheduled("2026-10-25 02:30:00", prague, now).unwrap(),
            utc("2026-10-25T00:30:00Z")
        );
        // Spring-forward: 02:30 never happens.
        let e = parse_scheduled("2026-03-29 02:30:00", prague, now).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn refuses_other_text_naming_the_forms() {
        let now = utc("2026-01-01T00:00:00Z");
        for bad in [
            "tomorrow",
            "2026-13-01 00:00:00",
            "28.11.2026",
            "2026-11-28",
        ] {
            let e = parse_scheduled(bad, chrono_tz::UTC, now).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("scheduled") && text.contains("RFC 3339"),
                "{text}"
            );
        }
    }
}
