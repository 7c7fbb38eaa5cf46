//! Schedules: interval codes, cron in the template's timezone with the DST rules of
//! ARCHITECTURE §6, `delay`, and the look-ups catch-up needs.
//!
//! # Expressions
//!
//! A [`Schedule`] is an [`IntervalCode`]; `i h d w m y` stand for fixed cron expressions, `n`
//! never fires, and `c` uses the template's own expression. Expressions are POSIX 5-field cron
//! (`minute hour day-of-month month day-of-week`) with the usual extensions: ranges `a-b`, steps
//! `*/n` and `a-b/n`, lists `a,b`, month names `jan`-`dec`, weekday names `sun`-`sat`, weekdays
//! 0-7 (0 and 7 are Sunday), `L`, `LW` and `nW` in the day of the month, `dL` and `d#n` in the day
//! of the week, `?` for `*` in the day fields, and the nicknames `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Expressions with seconds or years (6
//! or 7 fields) are rejected. As in Vixie cron and cronie, when the day-of-month and day-of-week
//! fields are both restricted (neither begins with `*`), a day matching *either* fires; when one
//! begins with `*`, a day must match both.
//!
//! Expressions are matched against the wall clock of the schedule's IANA timezone.
//!
//! # Slots and daylight-saving time
//!
//! A *slot* is an instant at which the schedule fires, before [`Schedule::delay`] is added. The
//! rule is that of Vixie/ISC cron and cronie, except that slots landing on the same instant merge
//! into one:
//!
//! - A schedule is *fixed-time* when neither its minute nor its hour field begins with `*`
//!   (`30 2 * * *`, `15,45 2 * * *`, `0 2-3 * * *` are; `*/15 * * * *`, `0 * * * *`,
//!   `30 * * * *` are not).
//! - **Fall-back overlap** (a wall time happens twice): a fixed-time schedule fires only on the
//!   first occurrence of the wall time; other schedules fire in both passes, following elapsed
//!   time. Europe/Prague on 2026-10-25: `30 2 * * *` fires at 02:30+02:00 only;
//!   `0 2-3 * * *` at 02:00+02:00 and 03:00+01:00; `0 * * * *` at 01:00+02:00, 02:00+02:00,
//!   02:00+01:00 and 03:00+01:00.
//! - **Spring-forward gap** (a wall time never happens): a fixed-time slot inside the gap fires
//!   once, at the first instant after the gap (merged with any slot already there); other
//!   schedules skip it. Europe/Prague on 2026-03-29: `30 2 * * *` and `15,45 2 * * *` fire once
//!   at 03:00+02:00; `30 * * * *` fires at 01:30+01:00, then 03:30+02:00.
//!
//! The rule holds for any shift, e.g. the 30-minute one of Australia/Lord_Howe. croner alone
//! treats lists and ranges like `*` across DST changes, so we only use it to parse and to match
//! wall-clock fields, and map each matching wall time to instants with `chrono-tz` here.

mod cron;
mod interval;
#[cfg(test)]
mod tests;

pub use interval::IntervalCode;

use crate::{Error, Result};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use cron::CronSpec;

/// Parses an IANA timezone name such as `Europe/Prague` (surrounding spaces are ignored).
///
/// An unknown name is [`Error::InvalidInput`] with field `timezone`; when only the letter case
/// is wrong, the message names the right spelling.
pub fn parse_timezone(name: &str) -> Result<Tz> {
    let trimmed = name.trim();
    trimmed.parse::<Tz>().map_err(|_| {
        let hint = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
            .map(|tz| format!(" (did you mean {}?)", tz.name()))
            .unwrap_or_default();
        Error::invalid(
            "timezone",
            format!(
                "{name:?} is not an IANA timezone{hint}; use a name from the tz database like \
                 UTC, Europe/Prague or America/New_York"
            ),
        )
    })
}

/// A parsed schedule: an interval code or cron expression, evaluated in an IANA timezone, plus a
/// delay added to each slot. See the [module documentation](self) for the DST rules.
#[derive(Debug, Clone)]
pub struct Schedule {
    interv: IntervalCode,
    spec: Option<CronSpec>,
    tz: Tz,
    delay: u32,
}

impl Schedule {
    /// Parses a schedule.
    ///
    /// `interv` selects the expression: `i h d w m y` stand for their cron expressions (see
    /// [`IntervalCode::cron`]), `n` never fires, and `c` takes `cron`, which is ignored for the
    /// other codes. `tz` is an IANA timezone name. `delay_secs` is added to every slot by
    /// [`Schedule::due_at`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] with field `timezone` for an unknown timezone, and field `cron`
    /// when `c` has no expression or the expression is invalid; the message says what was wrong
    /// and what is allowed.
    pub fn new(
        interv: IntervalCode,
        cron: Option<&str>,
        tz: &str,
        delay_secs: u32,
    ) -> Result<Self> {
        let tz = parse_timezone(tz)?;
        let expr = match interv {
            IntervalCode::Disabled => None,
            IntervalCode::Custom => match cron {
                Some(c) if !c.trim().is_empty() => Some(c),
                _ => {
                    return Err(Error::invalid(
                        "cron",
                        format!(
                            "interval c (custom) needs a cron expression; {}",
                            cron::FIELDS_HINT
                        ),
                    ));
                }
            },
            other => other.cron(),
        };
        let spec = expr
            .map(|e| CronSpec::parse(e).map_err(|message| Error::invalid("cron", message)))
            .transpose()?;
        Ok(Self {
            interv,
            spec,
            tz,
            delay: delay_secs,
        })
    }

    /// The interval code.
    pub fn interval(&self) -> IntervalCode {
        self.interv
    }

    /// The timezone the expression is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The cron expression in effect, as written: the code's expression for `i h d w m y`, the
    /// template's for `c`, `None` for `n`.
    pub fn expression(&self) -> Option<&str> {
        self.spec.as_ref().map(CronSpec::source)
    }

    /// Whether the schedule is fixed-time: neither its minute nor its hour field begins with
    /// `*`. Decides how slots behave across DST changes (see the module documentation). `false`
    /// for `n`.
    pub fn is_fixed_time(&self) -> bool {
        self.spec.as_ref().is_some_and(CronSpec::is_fixed_time)
    }

    /// The delay added to each slot.
    pub fn delay(&self) -> Duration {
        Duration::seconds(i64::from(self.delay))
    }

    /// When the job for `slot` is due: `slot` plus [`Schedule::delay`].
    pub fn due_at(&self, slot: DateTime<Utc>) -> DateTime<Utc> {
        slot + self.delay()
    }

    /// The first slot strictly after `t` (`None` for `n`, and past the end of the calendar).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let spec = self.spec.as_ref()?;
        let fixed = spec.is_fixed_time();
        let local = wall_clock(self.tz, t)?;
        // In the first pass of a fall-back overlap, earlier wall times still have their second
        // pass ahead: start that far back.
        let start = match locate(self.tz, local) {
            Local::Two(first, second) if t < second => local.checked_sub_signed(second - first)?,
            _ => local,
        };
        let mut wall = spec.next_match(start)?;
        let mut best: Option<DateTime<Utc>> = None;
        loop {
            let at = locate(self.tz, wall);
            // Every later wall time happens no earlier than this one first happens.
            if let (Some(b), Some(earliest)) = (best, at.earliest())
                && earliest >= b
            {
                break;
            }
            let slots = at.slots(fixed);
            for &s in &slots {
                if s > t && best.is_none_or(|b| s < b) {
                    best = Some(s);
                }
            }
            if slots.first().is_some_and(|&s| s > t) {
                break;
            }
            match wall
                .checked_add_signed(Duration::minutes(1))
                .and_then(|w| spec.next_match(w))
            {
                Some(w) => wall = w,
                None => break,
            }
        }
        best
    }

    /// The slots strictly after `t`, in order (empty for `n`).
    pub fn iter_after(&self, t: DateTime<Utc>) -> Slots {
        Slots {
            schedule: self.clone(),
            after: Some(t),
        }
    }

    /// The last slot at or before `t` (`None` for `n`).
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let spec = self.spec.as_ref()?;
        let fixed = spec.is_fixed_time();
        let local = wall_clock(self.tz, t)?;
        // In the second pass of a fall-back overlap, later wall times already had their first
        // pass: start that far ahead.
        let start = match locate(self.tz, local) {
            Local::Two(first, second) if t >= second => local.checked_add_signed(second - first)?,
            _ => local,
        };
        let mut wall = spec.prev_match(start)?;
        let mut best: Option<DateTime<Utc>> = None;
        loop {
            let at = locate(self.tz, wall);
            // Every earlier wall time happens no later than this one last happens.
            if let (Some(b), Some(latest)) = (best, at.latest())
                && latest <= b
            {
                break;
            }
            let slots = at.slots(fixed);
            for &s in &slots {
                if s <= t && best.is_none_or(|b| s > b) {
                    best = Some(s);
                }
            }
            if slots.last().is_some_and(|&s| s <= t) && slots.last().copied() == at.latest() {
                break;
            }
            match wall
                .checked_sub_signed(Duration::minutes(1))
                .and_then(|w| spec.prev_match(w))
            {
                Some(w) => wall = w,
                None => break,
            }
        }
        best
    }

    /// The last slot in `(from_exclusive, now]`, or `None` when there is none: the one missed
    /// slot that catch-up policy `once` runs. The work is bounded by the distance to the
    /// previous slot, not by the length of the downtime.
    pub fn latest_at_or_before(
        &self,
        from_exclusive: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if now <= from_exclusive {
            return None;
        }
        self.last_at_or_before(now).filter(|&s| s > from_exclusive)
    }

    /// The schedule in words, from croner's description: e.g. `"At 02:30 every day
    /// (Europe/Prague)"`, `"At 00:00, on the last day of the month (UTC), delayed by 300 s"` or
    /// `"disabled (on demand only)"`.
    pub fn describe(&self) -> String {
        let Some(spec) = &self.spec else {
            return IntervalCode::Disabled.describe().to_string();
        };
        let base = spec.describe();
        let mut out = base.strip_suffix('.').unwrap_or(&base).to_string();
        if spec.is_fixed_time() && spec.every_day() {
            out.push_str(if out.contains(',') {
                ", every day"
            } else {
                " every day"
            });
        }
        out.push_str(&format!(" ({})", self.tz.name()));
        if self.delay > 0 {
            out.push_str(&format!(", delayed by {} s", self.delay));
        }
        out
    }
}

/// The slots of a schedule after an instant, in order; made by [`Schedule::iter_after`].
#[derive(Debug, Clone)]
pub struct Slots {
    schedule: Schedule,
    after: Option<DateTime<Utc>>,
}

impl Iterator for Slots {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let next = self.schedule.next_after(self.after?);
        self.after = next;
        next
    }
}

impl std::iter::FusedIterator for Slots {}

/// The instants at which a wall-clock time happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// Once.
    One(DateTime<Utc>),
    /// Twice (fall-back overlap): first and second pass.
    Two(DateTime<Utc>, DateTime<Utc>),
    /// Never (spring-forward gap); the first instant after the gap, if the tz database knows it.
    Gap(Option<DateTime<Utc>>),
}

/// The wall-clock time in `tz` at `t` (`None` past the end of the calendar).
fn wall_clock(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset)
}

/// When the wall time `w` happens in `tz`.
fn locate(tz: Tz, w: NaiveDateTime) -> Local {
    match tz.from_local_datetime(&w) {
        LocalResult::Single(x) => Local::One(x.to_utc()),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.to_utc(), b.to_utc());
            Local::Two(a.min(b), a.max(b))
        }
        LocalResult::None => Local::Gap(
            chrono_tz::GapInfo::new(&w, &tz)
                .and_then(|g| g.end)
                .map(|e| e.to_utc()),
        ),
    }
}

impl Local {
    /// The first instant showing this wall time (for a gap: the end of the gap).
    fn earliest(self) -> Option<DateTime<Utc>> {
        match self {
            Local::One(x) | Local::Two(x, _) => Some(x),
            Local::Gap(end) => end,
        }
    }

    /// The last instant showing this wall time (for a gap: the end of the gap).
    fn latest(self) -> Option<DateTime<Utc>> {
        match self {
            Local::One(x) | Local::Two(_, x) => Some(x),
            Local::Gap(end) => end,
        }
    }

    /// The slots a matching wall time gives, in order, by the rules of the module docs.
    fn slots(self, fixed_time: bool) -> Vec<DateTime<Utc>> {
        match self {
            Local::One(x) => vec![x],
            Local::Two(first, _) if fixed_time => vec![first],
            Local::Two(first, second) => vec![first, second],
            Local::Gap(Some(end)) if fixed_time => vec![end],
            Local::Gap(_) => Vec::new(),
        }
    }
}
