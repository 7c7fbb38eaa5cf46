//! Schedules: interval codes, cron in the template's timezone with the DST rules of
//! ARCHITECTURE §6, `delay`, and catch-up.

mod interval;

pub use interval::IntervalCode;

use crate::{Error, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Parses an IANA timezone name.
pub fn parse_timezone(name: &str) -> Result<Tz> {
    name.trim().parse::<Tz>().map_err(|_| {
        Error::invalid(
            "timezone",
            format!("{name:?} is not an IANA timezone; use a name like UTC, Europe/Prague or America/New_York"),
        )
    })
}

/// A parsed schedule: interval code or cron, in a timezone, plus a delay.
#[derive(Debug, Clone)]
pub struct Schedule {
    interv: IntervalCode,
    cron: Option<croner::Cron>,
    tz: Tz,
    delay: u32,
}

impl Schedule {
    /// Parses `interv` (and `cron` when `interv` is `c`) in timezone `tz`.
    pub fn new(interv: IntervalCode, cron: Option<&str>, tz: &str, delay: u32) -> Result<Self> {
        let tz = parse_timezone(tz)?;
        let expr = match interv {
            IntervalCode::Disabled => None,
            IntervalCode::Custom => Some(cron.ok_or_else(|| {
                Error::invalid("cron", "interval c (custom) needs a cron expression")
            })?),
            other => other.cron(),
        };
        let cron = expr
            .map(|e| {
                e.parse::<croner::Cron>()
                    .map_err(|err| Error::invalid("cron", format!("{e:?}: {err}")))
            })
            .transpose()?;
        Ok(Self {
            interv,
            cron,
            tz,
            delay,
        })
    }

    /// The interval code.
    pub fn interval(&self) -> IntervalCode {
        self.interv
    }

    /// The timezone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Seconds added to each slot.
    pub fn delay(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.delay))
    }

    /// The first slot strictly after `t` (`None` for a disabled schedule).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = self.cron.as_ref()?;
        let local = t.with_timezone(&self.tz);
        cron.find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last slot in `(from_exclusive, now]` (temporary naive version).
    pub fn latest_at_or_before(
        &self,
        from_exclusive: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut last = None;
        let mut t = from_exclusive;
        while let Some(n) = self.next_after(t) {
            if n > now {
                break;
            }
            last = Some(n);
            t = n;
        }
        last
    }
}
