//! Parsing, validation and wall-clock matching of 5-field cron expressions.
//!
//! We validate every field ourselves (so errors name the field and say what is allowed), turn
//! names into numbers, and hand the normalised expression to `croner`, which holds the bit sets
//! and decides day matches (`L`, `W`, `#`, day-of-month / day-of-week). Searching for the next or
//! previous matching *wall-clock minute* is done here, on `NaiveDateTime`, so that the DST rules
//! in the parent module can map each wall time to instants themselves.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use croner::parser::{CronParser, Seconds, Year};

/// What every cron error message ends with.
pub(crate) const FIELDS_HINT: &str =
    "a cron expression has 5 fields: minute hour day-of-month month day-of-week";

/// Days in the 400-year Gregorian cycle, after which weekdays and month lengths repeat.
const CYCLE_DAYS: i64 = 146_097;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Field::Minute => {
                "* or numbers 0-59, ranges a-b, steps */n or a-b/n, and comma-separated lists of these"
            }
            Field::Hour => {
                "* or numbers 0-23, ranges a-b, steps */n or a-b/n, and comma-separated lists of these"
            }
            Field::DayOfMonth => {
                "* or numbers 1-31, ranges a-b, steps */n or a-b/n, L (last day of the month), \
                 LW (last weekday of the month), nW (weekday nearest day n), and comma-separated \
                 lists of these"
            }
            Field::Month => {
                "* or numbers 1-12 or names jan-dec, ranges a-b, steps */n or a-b/n, and \
                 comma-separated lists of these"
            }
            Field::DayOfWeek => {
                "* or numbers 0-7 (0 and 7 are Sunday) or names sun-sat, ranges a-b, steps */n or \
                 a-b/n, dL (last weekday d of the month, e.g. 5L), d#n (n-th weekday d of the \
                 month, n 1-5, e.g. 1#2), and comma-separated lists of these"
            }
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Field::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }

    /// The number a name stands for (`jan` = 1, `sun` = 0).
    fn name_value(self, s: &str) -> Option<u32> {
        let offset = if self == Field::Month { 1 } else { 0 };
        self.names()
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u32 + offset)
    }
}

/// A problem in one field (or the whole expression); rendered by [`CronSpec::parse`].
struct Problem {
    what: String,
    field: Option<Field>,
}

impl Problem {
    fn new(field: Option<Field>, what: impl Into<String>) -> Self {
        Problem {
            what: what.into(),
            field,
        }
    }
}

/// A validated cron expression, matched against local wall-clock minutes.
#[derive(Debug, Clone)]
pub(crate) struct CronSpec {
    /// The expression as written (trimmed).
    source: String,
    cron: croner::Cron,
    minutes: u64,
    hours: u32,
    months: u16,
    fixed_time: bool,
}

impl CronSpec {
    /// Parses and validates `expr`; the error is the full message for `Error::InvalidInput`.
    pub(crate) fn parse(expr: &str) -> Result<CronSpec, String> {
        let source = expr.trim().to_string();
        let render = |p: Problem| match p.field {
            Some(f) => format!(
                "{source:?}: {}; allowed in {}: {}; {FIELDS_HINT}",
                p.what,
                f.name(),
                f.allowed()
            ),
            None => format!("{source:?}: {}; {FIELDS_HINT}", p.what),
        };
        let fields = split_fields(&source).map_err(render)?;
        let mut normalized_fields = Vec::with_capacity(5);
        for (field, text) in Field::ALL.into_iter().zip(fields.iter()) {
            normalized_fields.push(normalize_field(field, text).map_err(render)?);
        }
        let normalized = normalized_fields.join(" ");
        // Vixie cron and cronie: when either day field begins with `*`, a day must match both
        // (the `*` one matches everything anyway); otherwise a day matching either one fires.
        let day_star = |f: &str| f.starts_with('*') || f == "?";
        let dom_and_dow = day_star(&fields[2]) || day_star(&fields[4]);
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(dom_and_dow)
            .build()
            .parse(&normalized)
            .map_err(|e| {
                render(Problem::new(
                    None,
                    format!("not a valid cron expression ({e})"),
                ))
            })?;
        let mask = |values: Vec<u16>| values.into_iter().fold(0u64, |m, v| m | (1u64 << v));
        let spec = CronSpec {
            minutes: mask(cron.pattern.minutes.values()),
            hours: mask(cron.pattern.hours.values()) as u32,
            months: mask(cron.pattern.months.values()) as u16,
            // Vixie cron and cronie: a job is fixed-time when neither its minute nor its hour
            // field begins with `*`.
            fixed_time: !fields[0].starts_with('*') && !fields[1].starts_with('*'),
            source: source.clone(),
            cron,
        };
        if spec.minutes == 0 || spec.hours == 0 || spec.months == 0 {
            return Err(render(Problem::new(None, "selects no time at all")));
        }
        // Weekdays and month lengths repeat every 400 years: a date matching nowhere in one
        // cycle matches never (e.g. `0 0 30 2 *`, 30 February).
        let start = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
        if spec.next_day(start, CYCLE_DAYS).is_none() {
            return Err(render(Problem::new(
                None,
                "never fires: the day-of-month, month and day-of-week fields select no existing \
                 date (e.g. 30 2 would be 30 February)",
            )));
        }
        Ok(spec)
    }

    /// The expression as written (trimmed).
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Whether neither the minute nor the hour field begins with `*`.
    pub(crate) fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// croner's description of the expression, e.g. "At 02:30.".
    pub(crate) fn describe(&self) -> String {
        self.cron.describe()
    }

    /// Whether every day matches (day-of-month, month and day-of-week are all `*`).
    pub(crate) fn every_day(&self) -> bool {
        self.cron.as_str().split(" ").skip(2).all(|f| f == "*")
    }

    /// The normalised expression (numbers instead of names, `?` as `*`).
    #[cfg(test)]
    pub(crate) fn normalized(&self) -> &str {
        self.cron.as_str()
    }

    fn month_matches(&self, d: NaiveDate) -> bool {
        self.months & (1 << d.month()) != 0
    }

    /// Whether the date matches (month and day-of-month / day-of-week).
    pub(crate) fn date_matches(&self, d: NaiveDate) -> bool {
        self.month_matches(d)
            && self
                .cron
                .pattern
                .day_match(
                    d.year(),
                    d.month(),
                    d.day(),
                    croner::Weekday::from_days_from_sunday(d.weekday().num_days_from_sunday()),
                )
                .unwrap_or(false)
    }

    /// Whether the wall-clock time matches (seconds are ignored).
    #[cfg(test)]
    pub(crate) fn matches(&self, w: NaiveDateTime) -> bool {
        self.minutes & (1 << w.minute()) != 0
            && self.hours & (1 << w.hour()) != 0
            && self.date_matches(w.date())
    }

    /// The first matching date `>= from`, looking at most `limit` days ahead.
    fn next_day(&self, from: NaiveDate, limit: i64) -> Option<NaiveDate> {
        let end = from.checked_add_signed(Duration::days(limit))?;
        let mut d = from;
        while d <= end {
            if !self.month_matches(d) {
                d = first_of_next_month(d)?;
                continue;
            }
            if self.date_matches(d) {
                return Some(d);
            }
            d = d.succ_opt()?;
        }
        None
    }

    /// The last matching date `<= from`, looking at most `limit` days back.
    fn prev_day(&self, from: NaiveDate, limit: i64) -> Option<NaiveDate> {
        let end = from.checked_sub_signed(Duration::days(limit))?;
        let mut d = from;
        while d >= end {
            if !self.month_matches(d) {
                d = d.with_day(1)?.pred_opt()?;
                continue;
            }
            if self.date_matches(d) {
                return Some(d);
            }
            d = d.pred_opt()?;
        }
        None
    }

    /// The first matching (hour, minute) at or after minute-of-day `from`.
    fn first_time_from(&self, from: u32) -> Option<NaiveTime> {
        let (h0, m0) = (from / 60, from % 60);
        for h in h0..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let start = if h == h0 { m0 } else { 0 };
            let rest = self.minutes >> start;
            if rest != 0 {
                return NaiveTime::from_hms_opt(h, start + rest.trailing_zeros(), 0);
            }
        }
        None
    }

    /// The last matching (hour, minute) at or before minute-of-day `upto`.
    fn last_time_upto(&self, upto: u32) -> Option<NaiveTime> {
        let (h0, m0) = (upto / 60, upto % 60);
        for h in (0..=h0).rev() {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let end = if h == h0 { m0 } else { 59 };
            let rest = self.minutes & ((1u64 << (end + 1)) - 1);
            if rest != 0 {
                return NaiveTime::from_hms_opt(h, 63 - rest.leading_zeros(), 0);
            }
        }
        None
    }

    /// The first matching wall-clock minute at or after `from` (its seconds are dropped).
    pub(crate) fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut day = from.date();
        let mut minute_of_day = from.hour() * 60 + from.minute();
        loop {
            let d = self.next_day(day, CYCLE_DAYS + 31)?;
            if d != day {
                minute_of_day = 0;
            }
            if let Some(time) = self.first_time_from(minute_of_day) {
                return Some(d.and_time(time));
            }
            day = d.succ_opt()?;
            minute_of_day = 0;
        }
    }

    /// The last matching wall-clock minute at or before `upto` (its seconds are dropped).
    pub(crate) fn prev_match(&self, upto: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut day = upto.date();
        let mut minute_of_day = upto.hour() * 60 + upto.minute();
        loop {
            let d = self.prev_day(day, CYCLE_DAYS + 31)?;
            if d != day {
                minute_of_day = 24 * 60 - 1;
            }
            if let Some(time) = self.last_time_upto(minute_of_day) {
                return Some(d.and_time(time));
            }
            day = d.pred_opt()?;
            minute_of_day = 24 * 60 - 1;
        }
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year().checked_add(1)?, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

/// Splits an expression into its 5 fields, expanding `@daily` and friends.
fn split_fields(source: &str) -> Result<Vec<String>, Problem> {
    if source.is_empty() {
        return Err(Problem::new(None, "the expression is empty"));
    }
    if let Some(nick) = source.strip_prefix('@') {
        let expanded = match nick.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                return Err(Problem::new(
                    None,
                    format!(
                        "unknown nickname @{nick}; the nicknames are @yearly, @annually, \
                         @monthly, @weekly, @daily, @midnight and @hourly"
                    ),
                ));
            }
        };
        return Ok(expanded.split(' ').map(str::to_string).collect());
    }
    let fields: Vec<String> = source.split_whitespace().map(str::to_string).collect();
    match fields.len() {
        5 => Ok(fields),
        6 | 7 => Err(Problem::new(
            None,
            format!(
                "it has {} fields, but seconds and years are not supported",
                fields.len()
            ),
        )),
        n => Err(Problem::new(None, format!("it has {n} fields, not 5"))),
    }
}

/// Parses a number or (for month and day-of-week) a name, checking the field's range.
fn parse_value(field: Field, s: &str) -> Result<u32, Problem> {
    let (min, max) = field.range();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let v: u64 = s.parse().unwrap_or(u64::MAX);
        if v < u64::from(min) || v > u64::from(max) {
            return Err(Problem::new(
                None,
                format!("{} {s} is out of range {min}-{max}", field.name()),
            ));
        }
        return Ok(v as u32);
    }
    field.name_value(s).ok_or_else(|| {
        let what = if field.names().is_empty() {
            format!("{} value {s:?} is not a number", field.name())
        } else {
            format!("{} value {s:?} is not a number or name", field.name())
        };
        Problem::new(Some(field), what)
    })
}

/// Validates one field and returns it with names replaced by numbers and `?` by `*`.
fn normalize_field(field: Field, text: &str) -> Result<String, Problem> {
    let day_field = matches!(field, Field::DayOfMonth | Field::DayOfWeek);
    if text == "*" || (day_field && text == "?") {
        return Ok("*".to_string());
    }
    let mut out = Vec::new();
    for element in text.split(',') {
        out.push(normalize_element(field, text, element)?);
    }
    Ok(out.join(","))
}

fn normalize_element(field: Field, text: &str, element: &str) -> Result<String, Problem> {
    let (min, max) = field.range();
    let bad = |what: String| Problem::new(Some(field), what);
    if element.is_empty() {
        return Err(bad(format!(
            "the {} field {text:?} has an empty list element",
            field.name()
        )));
    }
    if element == "*" {
        // croner takes `*` only as a whole field; in a list it is the full range.
        return Ok(format!("{min}-{max}"));
    }
    if element == "?" {
        return Err(bad(format!(
            "? may only stand alone in the {} field",
            field.name()
        )));
    }
    // Steps: */n or a-b/n.
    if let Some((base, step)) = element.split_once('/') {
        let span = max - min + 1;
        let step_value = if !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) {
            step.parse::<u32>().ok().filter(|s| (1..=span).contains(s))
        } else {
            None
        };
        let Some(step_value) = step_value else {
            return Err(bad(format!(
                "step {step:?} in {element:?} is not a number 1-{span}"
            )));
        };
        if base == "*" {
            return Ok(format!("*/{step_value}"));
        }
        if let Some((a, b)) = base.split_once('-') {
            let (a, b) = range_bounds(field, a, b)?;
            return Ok(format!("{a}-{b}/{step_value}"));
        }
        return Err(bad(format!(
            "step {element:?} needs a range before the slash: write */{step_value} or \
             {base}-{max}/{step_value}"
        )));
    }
    if field == Field::DayOfMonth {
        if element.eq_ignore_ascii_case("L") {
            return Ok("L".to_string());
        }
        if element.eq_ignore_ascii_case("LW") {
            return Ok("LW".to_string());
        }
        if let Some(day) = element
            .strip_suffix('W')
            .or_else(|| element.strip_suffix('w'))
        {
            let day = parse_value(field, day).map_err(with_field(field))?;
            return Ok(format!("{day}W"));
        }
    }
    if field == Field::DayOfWeek {
        if element.eq_ignore_ascii_case("L") {
            return Err(bad(
                "L alone is not a day of the week; write dL, e.g. 5L for the last Friday of the \
                 month"
                    .to_string(),
            ));
        }
        if let Some((day, nth)) = element.split_once('#') {
            let day = parse_value(field, day).map_err(with_field(field))?;
            let nth = match nth {
                "1" | "2" | "3" | "4" | "5" => nth,
                _ => {
                    return Err(bad(format!(
                        "{element:?}: the n in d#n must be 1-5 (the n-th weekday d of the month)"
                    )));
                }
            };
            return Ok(format!("{day}#{nth}"));
        }
        if let Some(day) = element
            .strip_suffix('L')
            .or_else(|| element.strip_suffix('l'))
        {
            let day = parse_value(field, day).map_err(with_field(field))?;
            return Ok(format!("{day}L"));
        }
    }
    if let Some((a, b)) = element.split_once('-') {
        let (a, b) = range_bounds(field, a, b)?;
        return Ok(format!("{a}-{b}"));
    }
    let v = parse_value(field, element).map_err(with_field(field))?;
    Ok(v.to_string())
}

/// Out-of-range values already say what is allowed; other problems get the field's syntax.
fn with_field(field: Field) -> impl Fn(Problem) -> Problem {
    move |p| {
        if p.what.contains("out of range") {
            p
        } else {
            Problem::new(Some(field), p.what)
        }
    }
}

fn range_bounds(field: Field, a: &str, b: &str) -> Result<(u32, u32), Problem> {
    let lo = parse_value(field, a).map_err(with_field(field))?;
    let mut hi = parse_value(field, b).map_err(with_field(field))?;
    // `fri-sun`: Sunday as the end of a range is 7.
    if field == Field::DayOfWeek && hi == 0 && lo > 0 {
        hi = 7;
    }
    if lo > hi {
        return Err(Problem::new(
            Some(field),
            format!(
                "{} range {a}-{b} is reversed; ranges run from low to high (no wrap-around)",
                field.name()
            ),
        ));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// The matching days of `year`-`month`.
    fn days(expr: &str, year: i32, month: u32) -> Vec<u32> {
        let spec = CronSpec::parse(expr).unwrap();
        (1..=31)
            .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
            .filter(|&d| spec.date_matches(d))
            .map(|d| d.day())
            .collect()
    }

    #[test]
    fn accepts_posix_syntax_and_the_usual_extensions() {
        for (expr, normalized) in [
            ("0 0 * * 0", "0 0 * * 0"),
            ("0 0 * * 7", "0 0 * * 7"),
            ("0 9 * * 1-5", "0 9 * * 1-5"),
            ("0 0 L * *", "0 0 L * *"),
            ("0 0 LW * *", "0 0 LW * *"),
            ("0 0 15W * *", "0 0 15W * *"),
            ("0 0 * * 5L", "0 0 * * 5L"),
            ("0 0 * * 1#2", "0 0 * * 1#2"),
            ("0 0 * * mon", "0 0 * * 1"),
            ("0 0 * * MON-fri", "0 0 * * 1-5"),
            ("0 0 * * fri-sun", "0 0 * * 5-7"),
            ("0 0 * * FRI#2,sunL", "0 0 * * 5#2,0L"),
            ("0 0 1 jan,Jul *", "0 0 1 1,7 *"),
            ("*/15 9-17/2 1,15 */3 *", "*/15 9-17/2 1,15 */3 *"),
            ("0 0 ? * 1", "0 0 * * 1"),
            ("*,5 * * * 1,*", "0-59,5 * * * 1,0-7"),
            ("  30\t2 * * *  ", "30 2 * * *"),
            ("@daily", "0 0 * * *"),
            ("@weekly", "0 0 * * 0"),
            ("@hourly", "0 * * * *"),
        ] {
            let spec = CronSpec::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert_eq!(spec.normalized(), normalized, "{expr}");
            assert_eq!(spec.source(), expr.trim());
        }
    }

    #[test]
    fn rejects_with_the_field_and_what_is_allowed() {
        for (expr, expected) in [
            ("0 25 * * *", "hour 25 is out of range 0-23"),
            ("60 * * * *", "minute 60 is out of range 0-59"),
            ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
            ("0 0 * 13 *", "month 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
            (
                "0 0 0 * * *",
                "it has 6 fields, but seconds and years are not supported",
            ),
            ("0 0 0 * * * 2026", "it has 7 fields"),
            ("0 0 * *", "it has 4 fields, not 5"),
            ("", "the expression is empty"),
            (
                "5/15 * * * *",
                "needs a range before the slash: write */15 or 5-59/15",
            ),
            ("*/0 * * * *", "step \"0\" in \"*/0\" is not a number 1-60"),
            ("0 5-1 * * *", "hour range 5-1 is reversed"),
            ("0 0 * * L", "L alone is not a day of the week"),
            ("0 0 * * 1#6", "the n in d#n must be 1-5"),
            ("0 0 L * 1L,", "empty list element"),
            ("0 x * * *", "hour value \"x\" is not a number"),
            ("0 0 * foo *", "month value \"foo\" is not a number or name"),
            ("mon 0 * * *", "minute value \"mon\" is not a number"),
            ("0 0 * * ?,1", "? may only stand alone"),
            ("0 0 30 2 *", "never fires"),
            ("@reboot", "unknown nickname @reboot"),
        ] {
            let message = CronSpec::parse(expr).expect_err(expr);
            assert!(message.contains(expected), "{expr}: {message}");
            assert!(
                message.starts_with(&format!("{:?}: ", expr.trim())),
                "{message}"
            );
            assert!(message.ends_with(FIELDS_HINT), "{message}");
        }
        // Syntax problems list what the field allows.
        let message = CronSpec::parse("0 0 * * 1-5L").unwrap_err();
        assert!(
            message.contains("allowed in day-of-week: * or numbers 0-7 (0 and 7 are Sunday)"),
            "{message}"
        );
        assert_eq!(
            CronSpec::parse("0 25 * * *").unwrap_err(),
            "\"0 25 * * *\": hour 25 is out of range 0-23; a cron expression has 5 fields: \
             minute hour day-of-month month day-of-week"
        );
    }

    #[test]
    fn fixed_time_is_decided_by_the_first_character_of_minute_and_hour() {
        for (expr, fixed) in [
            ("30 2 * * *", true),
            ("15,45 2 * * *", true),
            ("0 2-3 * * *", true),
            ("0-59 0-23 * * *", true),
            ("*/15 * * * *", false),
            ("0 * * * *", false),
            ("30 * * * *", false),
            ("* 2 * * *", false),
            ("0 */2 * * *", false),
            ("@daily", true),
            ("@hourly", false),
        ] {
            assert_eq!(
                CronSpec::parse(expr).unwrap().is_fixed_time(),
                fixed,
                "{expr}"
            );
        }
    }

    #[test]
    fn sunday_is_0_and_7() {
        // 2026-03: Sundays are 1, 8, 15, 22, 29.
        assert_eq!(days("0 0 * * 0", 2026, 3), [1, 8, 15, 22, 29]);
        assert_eq!(days("0 0 * * 7", 2026, 3), [1, 8, 15, 22, 29]);
        assert_eq!(days("0 0 * * sun", 2026, 3), [1, 8, 15, 22, 29]);
        assert_eq!(
            days("0 0 * * 6-7", 2026, 3),
            [1, 7, 8, 14, 15, 21, 22, 28, 29]
        );
        assert_eq!(days("0 0 * * 1-5", 2026, 3).len(), 22);
    }

    #[test]
    fn day_of_month_or_day_of_week_like_vixie_cron() {
        // Both restricted: either matches (13th, and every Friday: 6, 13, 20, 27 in 2026-03).
        assert_eq!(days("0 0 13 * 5", 2026, 3), [6, 13, 20, 27]);
        assert_eq!(days("0 0 1,2 * 1", 2026, 3), [1, 2, 9, 16, 23, 30]);
        // One begins with `*`: both must match (odd days that are Mondays: 9, 23).
        assert_eq!(days("0 0 */2 * 1", 2026, 3), [9, 23]);
        assert_eq!(
            days("0 0 1-31/2 * 1", 2026, 3),
            [
                1, 2, 3, 5, 7, 9, 11, 13, 15, 16, 17, 19, 21, 23, 25, 27, 29, 30, 31
            ]
        );
        // Day-of-week `*/3` (Sunday, Wednesday, Saturday) and the 1st, a Sunday; the 5th is not.
        assert_eq!(days("0 0 1 * */3", 2026, 3), [1]);
        assert_eq!(days("0 0 5 * */3", 2026, 3), Vec::<u32>::new());
    }

    #[test]
    fn last_nearest_weekday_and_nth() {
        assert_eq!(days("0 0 L * *", 2026, 2), [28]);
        assert_eq!(days("0 0 L * *", 2028, 2), [29]);
        assert_eq!(days("0 0 L * *", 2026, 4), [30]);
        // 2026-05-31 is a Sunday: last weekday is Friday the 29th.
        assert_eq!(days("0 0 LW * *", 2026, 5), [29]);
        // 2026-03-15 is a Sunday: nearest weekday is Monday the 16th; 2026-02-01 is a Sunday.
        assert_eq!(days("0 0 15W * *", 2026, 3), [16]);
        assert_eq!(days("0 0 1W * *", 2026, 2), [2]);
        // Last Friday of 2026-03 is the 27th; second Monday is the 9th.
        assert_eq!(days("0 0 * * 5L", 2026, 3), [27]);
        assert_eq!(days("0 0 * * 1#2", 2026, 3), [9]);
        assert_eq!(days("0 0 * * 0#5", 2026, 3), [29]);
        assert_eq!(days("0 0 * * 7#5", 2026, 3), [29]);
        assert_eq!(days("0 0 * * 0#5", 2026, 2), Vec::<u32>::new());
    }

    #[test]
    fn next_and_previous_wall_minutes() {
        let spec = CronSpec::parse("15,45 2 * * *").unwrap();
        assert_eq!(
            spec.next_match(wall("2026-03-29 00:00")),
            Some(wall("2026-03-29 02:15"))
        );
        assert_eq!(
            spec.next_match(wall("2026-03-29 02:15")),
            Some(wall("2026-03-29 02:15"))
        );
        assert_eq!(
            spec.next_match(wall("2026-03-29 02:16")),
            Some(wall("2026-03-29 02:45"))
        );
        assert_eq!(
            spec.next_match(wall("2026-03-29 02:46")),
            Some(wall("2026-03-30 02:15"))
        );
        assert_eq!(
            spec.prev_match(wall("2026-03-29 02:44")),
            Some(wall("2026-03-29 02:15"))
        );
        assert_eq!(
            spec.prev_match(wall("2026-03-29 02:14")),
            Some(wall("2026-03-28 02:45"))
        );
        assert_eq!(
            spec.prev_match(wall("2026-03-29 02:45")),
            Some(wall("2026-03-29 02:45"))
        );

        let leap = CronSpec::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            leap.next_match(wall("2097-01-01 00:00")),
            Some(wall("2104-02-29 12:00"))
        );
        assert_eq!(
            leap.prev_match(wall("2104-02-29 11:59")),
            Some(wall("2096-02-29 12:00"))
        );

        let every = CronSpec::parse("* * * * *").unwrap();
        assert_eq!(
            every.next_match(wall("2026-12-31 23:59")),
            Some(wall("2026-12-31 23:59"))
        );
        assert_eq!(
            every.prev_match(wall("2027-01-01 00:00")),
            Some(wall("2027-01-01 00:00"))
        );
        assert!(every.matches(wall("2026-12-31 23:59")));
    }
}
