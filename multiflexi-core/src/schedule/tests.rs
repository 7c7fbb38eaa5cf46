//! Schedule tests: DST instants pinned for Europe/Prague, America/New_York and
//! Australia/Lord_Howe, interval codes, delay, errors, and a property test against a
//! brute-force oracle.

use super::*;
use chrono::{Datelike, Timelike};
use std::collections::BTreeSet;

const PRAGUE: &str = "Europe/Prague";
const NEW_YORK: &str = "America/New_York";
const LORD_HOWE: &str = "Australia/Lord_Howe";

fn cron(expr: &str, tz: &str) -> Schedule {
    Schedule::new(IntervalCode::Custom, Some(expr), tz, 0).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// An instant from RFC 3339 without seconds, e.g. `2026-10-25T02:30+02:00` or
/// `2026-10-25T00:30Z`.
fn at(s: &str) -> DateTime<Utc> {
    let full = match s.strip_suffix('Z') {
        Some(rest) => format!("{rest}+00:00"),
        None => s.to_string(),
    };
    DateTime::parse_from_str(&full, "%Y-%m-%dT%H:%M%:z")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .to_utc()
}

/// Instants rendered in the schedule's timezone, like [`at`] takes them.
fn local(s: &Schedule, instants: impl IntoIterator<Item = DateTime<Utc>>) -> Vec<String> {
    instants
        .into_iter()
        .map(|i| {
            i.with_timezone(&s.timezone())
                .format("%Y-%m-%dT%H:%M%:z")
                .to_string()
        })
        .collect()
}

/// The slots in `(from, to]`, rendered in the schedule's timezone.
fn slots(expr: &str, tz: &str, from: &str, to: &str) -> Vec<String> {
    let s = cron(expr, tz);
    let to = at(to);
    local(&s, s.iter_after(at(from)).take_while(|&x| x <= to))
}

/// Asserts the slots of `expr` in `(from, to]`, and that `next_after` and
/// `latest_at_or_before` agree with them from every minute in the window.
fn check(expr: &str, tz: &str, from: &str, to: &str, expected: &[&str]) {
    let got = slots(expr, tz, from, to);
    assert_eq!(got, expected, "{expr} in {tz} from {from} to {to}");
    let s = cron(expr, tz);
    let (from, to) = (at(from), at(to));
    let expected: Vec<DateTime<Utc>> = expected.iter().map(|e| at(e)).collect();
    // Every minute of short windows; about 3000 probes of long ones.
    let step = Duration::minutes(((to - from).num_minutes() / 3000).max(1));
    let mut t = from;
    while t <= to {
        let next = expected.iter().copied().find(|&e| e > t);
        if let Some(n) = next {
            assert_eq!(s.next_after(t), Some(n), "{expr} in {tz}: next after {t}");
        }
        let last = expected.iter().copied().rfind(|&e| e <= t);
        assert_eq!(
            s.latest_at_or_before(from, t),
            last,
            "{expr} in {tz}: latest in ({from}, {t}]"
        );
        t += step;
    }
}

// ----- Europe/Prague, fall back 2026-10-25 03:00+02:00 -> 02:00+01:00 -----

const PRAGUE_FALL: (&str, &str) = ("2026-10-24T23:00+02:00", "2026-10-25T05:00+01:00");

#[test]
fn prague_fall_back_fixed_time_fires_on_the_first_pass_only() {
    let (from, to) = PRAGUE_FALL;
    check("30 2 * * *", PRAGUE, from, to, &["2026-10-25T02:30+02:00"]);
    check(
        "0 2-3 * * *",
        PRAGUE,
        from,
        to,
        &["2026-10-25T02:00+02:00", "2026-10-25T03:00+01:00"],
    );
    check(
        "15,45 2 * * *",
        PRAGUE,
        from,
        to,
        &["2026-10-25T02:15+02:00", "2026-10-25T02:45+02:00"],
    );
}

#[test]
fn prague_fall_back_other_jobs_fire_in_both_passes() {
    let (from, to) = PRAGUE_FALL;
    check(
        "0 * * * *",
        PRAGUE,
        "2026-10-25T00:30+02:00",
        "2026-10-25T03:30+01:00",
        &[
            "2026-10-25T01:00+02:00",
            "2026-10-25T02:00+02:00",
            "2026-10-25T02:00+01:00",
            "2026-10-25T03:00+01:00",
        ],
    );
    check(
        "30 * * * *",
        PRAGUE,
        "2026-10-25T01:00+02:00",
        "2026-10-25T04:00+01:00",
        &[
            "2026-10-25T01:30+02:00",
            "2026-10-25T02:30+02:00",
            "2026-10-25T02:30+01:00",
            "2026-10-25T03:30+01:00",
        ],
    );
    check(
        "*/15 * * * *",
        PRAGUE,
        "2026-10-25T01:50+02:00",
        "2026-10-25T03:05+01:00",
        &[
            "2026-10-25T02:00+02:00",
            "2026-10-25T02:15+02:00",
            "2026-10-25T02:30+02:00",
            "2026-10-25T02:45+02:00",
            "2026-10-25T02:00+01:00",
            "2026-10-25T02:15+01:00",
            "2026-10-25T02:30+01:00",
            "2026-10-25T02:45+01:00",
            "2026-10-25T03:00+01:00",
        ],
    );
    let _ = (from, to);
}

#[test]
fn prague_fall_back_day_schedules() {
    // 2026-10-25 is a Sunday; 2026-10-31 a Saturday.
    check(
        "0 0 * * 0",
        PRAGUE,
        "2026-10-20T00:00+02:00",
        "2026-11-02T00:00+01:00",
        &["2026-10-25T00:00+02:00", "2026-11-01T00:00+01:00"],
    );
    check(
        "0 9 * * 1-5",
        PRAGUE,
        "2026-10-23T00:00+02:00",
        "2026-10-27T00:00+01:00",
        &["2026-10-23T09:00+02:00", "2026-10-26T09:00+01:00"],
    );
    check(
        "0 0 L * *",
        PRAGUE,
        "2026-09-29T00:00+02:00",
        "2026-11-30T12:00+01:00",
        &[
            "2026-09-30T00:00+02:00",
            "2026-10-31T00:00+01:00",
            "2026-11-30T00:00+01:00",
        ],
    );
}

// ----- Europe/Prague, spring forward 2026-03-29 02:00+01:00 -> 03:00+02:00 -----

#[test]
fn prague_spring_forward_fixed_time_fires_once_after_the_gap() {
    let (from, to) = ("2026-03-28T00:00+01:00", "2026-03-30T12:00+02:00");
    check(
        "30 2 * * *",
        PRAGUE,
        from,
        to,
        &[
            "2026-03-28T02:30+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-30T02:30+02:00",
        ],
    );
    check(
        "15,45 2 * * *",
        PRAGUE,
        from,
        to,
        &[
            "2026-03-28T02:15+01:00",
            "2026-03-28T02:45+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-30T02:15+02:00",
            "2026-03-30T02:45+02:00",
        ],
    );
    // 02:00 lands on 03:00, where the 03:00 slot already is: one run.
    check(
        "0 2-3 * * *",
        PRAGUE,
        "2026-03-29T00:00+01:00",
        "2026-03-29T12:00+02:00",
        &["2026-03-29T03:00+02:00"],
    );
}

#[test]
fn prague_spring_forward_other_jobs_skip_the_gap() {
    check(
        "30 * * * *",
        PRAGUE,
        "2026-03-29T01:00+01:00",
        "2026-03-29T04:00+02:00",
        &["2026-03-29T01:30+01:00", "2026-03-29T03:30+02:00"],
    );
    check(
        "0 * * * *",
        PRAGUE,
        "2026-03-29T00:30+01:00",
        "2026-03-29T04:00+02:00",
        &[
            "2026-03-29T01:00+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-29T04:00+02:00",
        ],
    );
    check(
        "*/15 * * * *",
        PRAGUE,
        "2026-03-29T01:40+01:00",
        "2026-03-29T03:20+02:00",
        &[
            "2026-03-29T01:45+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-29T03:15+02:00",
        ],
    );
}

#[test]
fn prague_spring_forward_day_schedules() {
    // 2026-03-29 is a Sunday.
    check(
        "0 0 * * 0",
        PRAGUE,
        "2026-03-22T00:00+01:00",
        "2026-04-05T00:00+02:00",
        &["2026-03-29T00:00+01:00", "2026-04-05T00:00+02:00"],
    );
    check(
        "0 9 * * 1-5",
        PRAGUE,
        "2026-03-27T00:00+01:00",
        "2026-03-31T00:00+02:00",
        &["2026-03-27T09:00+01:00", "2026-03-30T09:00+02:00"],
    );
    check(
        "0 0 L * *",
        PRAGUE,
        "2026-02-27T00:00+01:00",
        "2026-04-01T00:00+02:00",
        &["2026-02-28T00:00+01:00", "2026-03-31T00:00+02:00"],
    );
}

// ----- America/New_York: spring 2026-03-08 02:00-05:00 -> 03:00-04:00,
//       fall 2026-11-01 02:00-04:00 -> 01:00-05:00 -----

#[test]
fn new_york_spring_forward() {
    let (from, to) = ("2026-03-08T00:00-05:00", "2026-03-08T06:00-04:00");
    check(
        "30 2 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-03-08T03:00-04:00"],
    );
    check(
        "15,45 2 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-03-08T03:00-04:00"],
    );
    check(
        "0 2-3 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-03-08T03:00-04:00"],
    );
    check(
        "0 * * * *",
        NEW_YORK,
        from,
        to,
        &[
            "2026-03-08T01:00-05:00",
            "2026-03-08T03:00-04:00",
            "2026-03-08T04:00-04:00",
            "2026-03-08T05:00-04:00",
            "2026-03-08T06:00-04:00",
        ],
    );
    check(
        "30 * * * *",
        NEW_YORK,
        "2026-03-08T01:00-05:00",
        "2026-03-08T04:00-04:00",
        &["2026-03-08T01:30-05:00", "2026-03-08T03:30-04:00"],
    );
    check(
        "*/15 * * * *",
        NEW_YORK,
        "2026-03-08T01:40-05:00",
        "2026-03-08T03:20-04:00",
        &[
            "2026-03-08T01:45-05:00",
            "2026-03-08T03:00-04:00",
            "2026-03-08T03:15-04:00",
        ],
    );
    // 2026-03-08 is a Sunday.
    check(
        "0 0 * * 0",
        NEW_YORK,
        "2026-03-01T12:00-05:00",
        "2026-03-15T12:00-04:00",
        &["2026-03-08T00:00-05:00", "2026-03-15T00:00-04:00"],
    );
    check(
        "0 9 * * 1-5",
        NEW_YORK,
        "2026-03-06T00:00-05:00",
        "2026-03-10T00:00-04:00",
        &["2026-03-06T09:00-05:00", "2026-03-09T09:00-04:00"],
    );
    check(
        "0 0 L * *",
        NEW_YORK,
        "2026-02-27T00:00-05:00",
        "2026-04-01T00:00-04:00",
        &["2026-02-28T00:00-05:00", "2026-03-31T00:00-04:00"],
    );
}

#[test]
fn new_york_fall_back() {
    let (from, to) = ("2026-10-31T23:00-04:00", "2026-11-01T06:00-05:00");
    // 02:30 happens once in New York (the overlap is 01:00-02:00).
    check(
        "30 2 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T02:30-05:00"],
    );
    check(
        "30 1 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T01:30-04:00"],
    );
    check(
        "15,45 1 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T01:15-04:00", "2026-11-01T01:45-04:00"],
    );
    check(
        "0 1-2 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T01:00-04:00", "2026-11-01T02:00-05:00"],
    );
    check(
        "0 2-3 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T02:00-05:00", "2026-11-01T03:00-05:00"],
    );
    check(
        "15,45 2 * * *",
        NEW_YORK,
        from,
        to,
        &["2026-11-01T02:15-05:00", "2026-11-01T02:45-05:00"],
    );
    check(
        "0 * * * *",
        NEW_YORK,
        "2026-10-31T23:30-04:00",
        "2026-11-01T02:30-05:00",
        &[
            "2026-11-01T00:00-04:00",
            "2026-11-01T01:00-04:00",
            "2026-11-01T01:00-05:00",
            "2026-11-01T02:00-05:00",
        ],
    );
    check(
        "30 * * * *",
        NEW_YORK,
        "2026-11-01T00:00-04:00",
        "2026-11-01T03:00-05:00",
        &[
            "2026-11-01T00:30-04:00",
            "2026-11-01T01:30-04:00",
            "2026-11-01T01:30-05:00",
            "2026-11-01T02:30-05:00",
        ],
    );
    check(
        "*/15 * * * *",
        NEW_YORK,
        "2026-11-01T01:40-04:00",
        "2026-11-01T02:00-05:00",
        &[
            "2026-11-01T01:45-04:00",
            "2026-11-01T01:00-05:00",
            "2026-11-01T01:15-05:00",
            "2026-11-01T01:30-05:00",
            "2026-11-01T01:45-05:00",
            "2026-11-01T02:00-05:00",
        ],
    );
    // 2026-11-01 is a Sunday; 2026-10-31 a Saturday.
    check(
        "0 0 * * 0",
        NEW_YORK,
        "2026-10-30T00:00-04:00",
        "2026-11-08T12:00-05:00",
        &["2026-11-01T00:00-04:00", "2026-11-08T00:00-05:00"],
    );
    check(
        "0 9 * * 1-5",
        NEW_YORK,
        "2026-10-30T00:00-04:00",
        "2026-11-03T00:00-05:00",
        &["2026-10-30T09:00-04:00", "2026-11-02T09:00-05:00"],
    );
    check(
        "0 0 L * *",
        NEW_YORK,
        "2026-10-30T00:00-04:00",
        "2026-11-30T12:00-05:00",
        &["2026-10-31T00:00-04:00", "2026-11-30T00:00-05:00"],
    );
}

// ----- Australia/Lord_Howe: 30-minute shifts. Fall back 2026-04-05 02:00+11:00 ->
//       01:30+10:30; spring forward 2026-10-04 02:00+10:30 -> 02:30+11:00 -----

#[test]
fn lord_howe_half_hour_shifts() {
    check(
        "45 1 * * *",
        LORD_HOWE,
        "2026-04-05T00:00+11:00",
        "2026-04-05T04:00+10:30",
        &["2026-04-05T01:45+11:00"],
    );
    check(
        "*/15 * * * *",
        LORD_HOWE,
        "2026-04-05T01:20+11:00",
        "2026-04-05T02:00+10:30",
        &[
            "2026-04-05T01:30+11:00",
            "2026-04-05T01:45+11:00",
            "2026-04-05T01:30+10:30",
            "2026-04-05T01:45+10:30",
            "2026-04-05T02:00+10:30",
        ],
    );
    check(
        "15 2 * * *",
        LORD_HOWE,
        "2026-10-04T00:00+10:30",
        "2026-10-04T04:00+11:00",
        &["2026-10-04T02:30+11:00"],
    );
    check(
        "0,15,30,45 2 * * *",
        LORD_HOWE,
        "2026-10-04T00:00+10:30",
        "2026-10-04T04:00+11:00",
        &["2026-10-04T02:30+11:00", "2026-10-04T02:45+11:00"],
    );
    check(
        "*/15 * * * *",
        LORD_HOWE,
        "2026-10-04T01:40+10:30",
        "2026-10-04T02:50+11:00",
        &[
            "2026-10-04T01:45+10:30",
            "2026-10-04T02:30+11:00",
            "2026-10-04T02:45+11:00",
        ],
    );
}

// ----- Interval codes, delay, accessors -----

#[test]
fn every_interval_code() {
    let t = at("2026-03-25T10:20+01:00"); // a Wednesday
    let expect = |code: IntervalCode, tz: &str, next: &[&str]| {
        let s = Schedule::new(code, None, tz, 0).unwrap();
        assert_eq!(s.interval(), code);
        assert_eq!(s.expression(), code.cron());
        let got = local(&s, s.iter_after(t).take(next.len()));
        assert_eq!(got, next, "{code}");
    };
    expect(
        IntervalCode::Minutely,
        PRAGUE,
        &["2026-03-25T10:21+01:00", "2026-03-25T10:22+01:00"],
    );
    expect(
        IntervalCode::Hourly,
        PRAGUE,
        &["2026-03-25T11:00+01:00", "2026-03-25T12:00+01:00"],
    );
    expect(
        IntervalCode::Daily,
        PRAGUE,
        &["2026-03-26T00:00+01:00", "2026-03-27T00:00+01:00"],
    );
    expect(
        IntervalCode::Weekly,
        PRAGUE,
        &["2026-03-30T00:00+02:00", "2026-04-06T00:00+02:00"],
    );
    expect(
        IntervalCode::Monthly,
        PRAGUE,
        &["2026-04-01T00:00+02:00", "2026-05-01T00:00+02:00"],
    );
    expect(
        IntervalCode::Yearly,
        "UTC",
        &["2027-01-01T00:00+00:00", "2028-01-01T00:00+00:00"],
    );

    let disabled = Schedule::new(IntervalCode::Disabled, Some("* * * * *"), PRAGUE, 0).unwrap();
    assert_eq!(disabled.next_after(t), None);
    assert_eq!(disabled.iter_after(t).count(), 0);
    assert_eq!(
        disabled.latest_at_or_before(at("2020-01-01T00:00Z"), t),
        None
    );
    assert_eq!(disabled.expression(), None);
    assert!(!disabled.is_fixed_time());
    assert_eq!(disabled.describe(), "disabled (on demand only)");

    // The expression is only used with `c`.
    let daily = Schedule::new(IntervalCode::Daily, Some("* * * * *"), "UTC", 0).unwrap();
    assert_eq!(daily.expression(), Some("0 0 * * *"));
    assert!(daily.is_fixed_time());
    assert!(
        !Schedule::new(IntervalCode::Hourly, None, "UTC", 0)
            .unwrap()
            .is_fixed_time()
    );

    let custom = cron(" 30 2 * * * ", PRAGUE);
    assert_eq!(custom.interval(), IntervalCode::Custom);
    assert_eq!(custom.expression(), Some("30 2 * * *"));
    assert_eq!(custom.timezone(), chrono_tz::Europe::Prague);
    assert!(custom.is_fixed_time());

    for missing in [None, Some(""), Some("   ")] {
        let err = Schedule::new(IntervalCode::Custom, missing, "UTC", 0).unwrap_err();
        let Error::InvalidInput { field, message } = err else {
            panic!("{err:?}")
        };
        assert_eq!(field, "cron");
        assert!(message.contains("interval c (custom) needs a cron expression"));
        assert!(message.contains(cron::FIELDS_HINT), "{message}");
    }
}

#[test]
fn delay_is_added_to_slots_not_to_the_schedule() {
    let s = Schedule::new(IntervalCode::Hourly, None, "UTC", 90).unwrap();
    assert_eq!(s.delay(), Duration::seconds(90));
    let slot = s.next_after(at("2026-05-01T10:20Z")).unwrap();
    assert_eq!(slot, at("2026-05-01T11:00Z"));
    assert_eq!(
        s.due_at(slot),
        at("2026-05-01T11:00Z") + Duration::seconds(90)
    );
    // Slots are the same with or without delay.
    assert_eq!(s.next_after(slot), Some(at("2026-05-01T12:00Z")));
    let no_delay = Schedule::new(IntervalCode::Hourly, None, "UTC", 0).unwrap();
    assert_eq!(no_delay.delay(), Duration::zero());
    assert_eq!(no_delay.due_at(slot), slot);
    assert_eq!(
        s.describe(),
        "At minute 0 past every hour (UTC), delayed by 90 s"
    );
}

#[test]
fn describe_in_words() {
    assert_eq!(
        cron("30 2 * * *", PRAGUE).describe(),
        "At 02:30 every day (Europe/Prague)"
    );
    assert_eq!(
        cron("0 9 * * 1-5", NEW_YORK).describe(),
        "At 09:00, on Monday, Tuesday, Wednesday, Thursday, and Friday (America/New_York)"
    );
    assert_eq!(
        cron("0 0 L * *", "UTC").describe(),
        "At 00:00, on the last day of the month (UTC)"
    );
    assert_eq!(
        cron("0 0 13 * 5", "UTC").describe(),
        "At 00:00, on day 13 or Friday (UTC)"
    );
}

#[test]
fn sub_minute_instants_and_exact_slots() {
    let s = cron("30 2 * * *", "UTC");
    let slot = at("2026-05-01T02:30Z");
    assert_eq!(s.next_after(slot - Duration::nanoseconds(1)), Some(slot));
    assert_eq!(s.next_after(slot), Some(slot + Duration::days(1)));
    assert_eq!(
        s.next_after(slot + Duration::milliseconds(1500)),
        Some(slot + Duration::days(1))
    );
    assert_eq!(
        s.latest_at_or_before(slot - Duration::days(1), slot),
        Some(slot)
    );
    assert_eq!(
        s.latest_at_or_before(slot - Duration::days(1), slot - Duration::nanoseconds(1)),
        None
    );
    assert_eq!(s.latest_at_or_before(slot, slot), None);
    assert_eq!(s.latest_at_or_before(slot, slot - Duration::days(1)), None);
}

#[test]
fn catch_up_after_long_downtime_is_cheap() {
    // Ten years of a minutely schedule: the answer is the last minute, found without walking.
    let s = Schedule::new(IntervalCode::Minutely, None, PRAGUE, 0).unwrap();
    let from = at("2016-10-30T01:30Z");
    let now = at("2026-10-25T01:30Z") + Duration::seconds(59);
    assert_eq!(
        s.latest_at_or_before(from, now),
        Some(at("2026-10-25T01:30Z"))
    );
    // In the second pass of Prague's overlap, the latest of a fixed-time job is its first pass.
    let fixed = cron("30 2 * * *", PRAGUE);
    assert_eq!(
        fixed.latest_at_or_before(from, at("2026-10-25T02:40+01:00")),
        Some(at("2026-10-25T02:30+02:00"))
    );
    let hourly = cron("30 * * * *", PRAGUE);
    assert_eq!(
        hourly.latest_at_or_before(from, at("2026-10-25T02:40+01:00")),
        Some(at("2026-10-25T02:30+01:00"))
    );
    // A leap-day schedule, years apart.
    let leap = cron("0 12 29 2 *", "UTC");
    assert_eq!(
        leap.latest_at_or_before(from, at("2027-06-01T00:00Z")),
        Some(at("2024-02-29T12:00Z"))
    );
    assert_eq!(
        leap.next_after(at("2097-01-01T00:00Z")),
        Some(at("2104-02-29T12:00Z"))
    );
}

#[test]
fn the_ends_of_time_do_not_panic() {
    let s = Schedule::new(IntervalCode::Minutely, None, LORD_HOWE, 0).unwrap();
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    assert_eq!(s.next_after(max), None);
    assert_eq!(s.iter_after(max).next(), None);
    assert_eq!(s.latest_at_or_before(min, min), None);
    assert!(s.next_after(min).is_some());
    assert!(
        s.latest_at_or_before(min, max - Duration::days(1))
            .is_some()
    );
    let _ = s.latest_at_or_before(min, max);
    let never_soon = cron("0 0 29 2 1", NEW_YORK);
    assert!(
        never_soon
            .next_after(max - Duration::days(400))
            .is_none_or(|x| x <= max)
    );
}

#[test]
fn interval_codes_round_trip() {
    for code in IntervalCode::ALL {
        assert_eq!(
            code.code().to_string().parse::<IntervalCode>().unwrap(),
            code
        );
        assert_eq!(code.to_string(), code.code().to_string());
        let schedule = Schedule::new(code, Some("* * * * *"), "UTC", 0).unwrap();
        assert_eq!(schedule.interval(), code);
        assert_eq!(
            schedule.next_after(at("2026-01-01T00:00Z")).is_some(),
            code != IntervalCode::Disabled
        );
    }
    let err = "x".parse::<IntervalCode>().unwrap_err();
    assert!(err.to_string().contains("c (custom cron)"), "{err}");
}

// ----- Errors -----

#[test]
fn bad_cron_says_what_is_wrong_and_what_is_allowed() {
    for (expr, problem) in [
        ("0 25 * * *", "hour 25 is out of range 0-23"),
        (
            "0 0 0 * * *",
            "it has 6 fields, but seconds and years are not supported",
        ),
        ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
        ("0 0 * * L", "L alone is not a day of the week"),
        ("0 0 31 4 *", "never fires"),
    ] {
        let err = Schedule::new(IntervalCode::Custom, Some(expr), PRAGUE, 0).unwrap_err();
        let Error::InvalidInput { field, message } = err else {
            panic!("{expr}: {err:?}")
        };
        assert_eq!(field, "cron", "{expr}");
        assert!(message.contains(problem), "{expr}: {message}");
        assert!(
            message.contains(
                "a cron expression has 5 fields: minute hour day-of-month month day-of-week"
            ),
            "{expr}: {message}"
        );
    }
    let Error::InvalidInput { message, .. } =
        Schedule::new(IntervalCode::Custom, Some("0 0 * * 1-5L"), PRAGUE, 0).unwrap_err()
    else {
        panic!()
    };
    assert!(message.contains("allowed in day-of-week:"), "{message}");
    assert!(message.contains("d#n"), "{message}");
}

#[test]
fn bad_timezone_says_what_is_allowed() {
    for (tz, extra) in [
        ("Europe/Prag", None),
        ("", None),
        ("CET+1", None),
        ("europe/prague", Some("did you mean Europe/Prague?")),
    ] {
        let err = Schedule::new(IntervalCode::Daily, None, tz, 0).unwrap_err();
        let Error::InvalidInput { field, message } = err else {
            panic!("{tz}: {err:?}")
        };
        assert_eq!(field, "timezone");
        assert!(
            message.contains(&format!("{tz:?} is not an IANA timezone")),
            "{message}"
        );
        assert!(
            message.contains("UTC, Europe/Prague or America/New_York"),
            "{message}"
        );
        if let Some(extra) = extra {
            assert!(message.contains(extra), "{message}");
        }
    }
    // The timezone is checked even when the schedule is disabled.
    assert!(Schedule::new(IntervalCode::Disabled, None, "Mars/Base", 0).is_err());
    assert_eq!(parse_timezone(" UTC ").unwrap(), chrono_tz::UTC);
}

// ----- Property test against a brute-force oracle -----

/// One element of a generated cron field, with the values it stands for.
#[derive(Debug, Clone)]
enum Element {
    Star,
    StarStep(u32),
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
}

impl Element {
    fn text(&self) -> String {
        match self {
            Element::Star => "*".into(),
            Element::StarStep(s) => format!("*/{s}"),
            Element::Value(v) => v.to_string(),
            Element::Range(a, b) => format!("{a}-{b}"),
            Element::RangeStep(a, b, s) => format!("{a}-{b}/{s}"),
        }
    }

    fn values(&self, min: u32, max: u32) -> Vec<u32> {
        match *self {
            Element::Star => (min..=max).collect(),
            Element::StarStep(s) => (min..=max).step_by(s as usize).collect(),
            Element::Value(v) => vec![v],
            Element::Range(a, b) => (a..=b).collect(),
            Element::RangeStep(a, b, s) => (a..=b).step_by(s as usize).collect(),
        }
    }
}

/// A generated field: a list of elements.
#[derive(Debug, Clone)]
struct GenField {
    elements: Vec<Element>,
    min: u32,
    max: u32,
}

impl GenField {
    fn text(&self) -> String {
        let parts: Vec<String> = self.elements.iter().map(Element::text).collect();
        parts.join(",")
    }

    fn starts_with_star(&self) -> bool {
        matches!(self.elements[0], Element::Star | Element::StarStep(_))
    }

    fn set(&self) -> BTreeSet<u32> {
        self.elements
            .iter()
            .flat_map(|e| e.values(self.min, self.max))
            .collect()
    }
}

/// The oracle's own reading of a generated expression.
#[derive(Debug, Clone)]
struct GenCron {
    fields: [GenField; 5],
}

impl GenCron {
    fn text(&self) -> String {
        let parts: Vec<String> = self.fields.iter().map(GenField::text).collect();
        parts.join(" ")
    }

    fn fixed_time(&self) -> bool {
        !self.fields[0].starts_with_star() && !self.fields[1].starts_with_star()
    }

    /// Field matching on wall-clock times, Vixie style.
    fn matcher(&self) -> impl Fn(NaiveDateTime) -> bool + use<> {
        let [minute, hour, dom, month, dow] = &self.fields;
        let either = !dom.starts_with_star() && !dow.starts_with_star();
        let (minutes, hours, doms, months, dows) =
            (minute.set(), hour.set(), dom.set(), month.set(), dow.set());
        move |w: NaiveDateTime| {
            let weekday = w.weekday().num_days_from_sunday();
            let dow_ok = dows.contains(&weekday) || (weekday == 0 && dows.contains(&7));
            let dom_ok = doms.contains(&w.day());
            let day_ok = if either {
                dom_ok || dow_ok
            } else {
                dom_ok && dow_ok
            };
            minutes.contains(&w.minute())
                && hours.contains(&w.hour())
                && months.contains(&w.month())
                && day_ok
        }
    }
}

/// The oracle: step minute by minute in UTC from a day before `from` to `to`, read the wall
/// clock, and apply the rules of §6 directly. Returns the firing instants in `(from, to]`.
fn oracle(c: &GenCron, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let fixed = c.fixed_time();
    let matches = c.matcher();
    let mut fires = BTreeSet::new();
    let mut u = from - Duration::days(1);
    u -=
        Duration::seconds(i64::from(u.second())) + Duration::nanoseconds(i64::from(u.nanosecond()));
    let mut prev_wall: Option<NaiveDateTime> = None;
    let mut max_wall: Option<NaiveDateTime> = None;
    while u <= to {
        let wall = u.with_timezone(&tz).naive_local();
        // The clock jumped forward: the wall minutes in between never happened.
        if let Some(prev) = prev_wall {
            let mut skipped = prev + Duration::minutes(1);
            while skipped < wall {
                if fixed && matches(skipped) {
                    fires.insert(u);
                }
                skipped += Duration::minutes(1);
            }
        }
        // A wall time not later than one already seen is a repeat (overlap second pass).
        let repeat = max_wall.is_some_and(|m| wall <= m);
        if matches(wall) && !(fixed && repeat) {
            fires.insert(u);
        }
        prev_wall = Some(wall);
        max_wall = Some(max_wall.map_or(wall, |m| m.max(wall)));
        u += Duration::minutes(1);
    }
    fires.into_iter().filter(|&f| f > from && f <= to).collect()
}

mod property {
    use super::*;
    use proptest::prelude::*;

    fn element(min: u32, max: u32, bias: Option<(u32, u32)>) -> impl Strategy<Value = Element> {
        // Values near `bias` (e.g. the DST hours) are likelier, so that the property bites.
        let (lo, hi) = bias.unwrap_or((min, max));
        let value = prop_oneof![3 => lo..=hi, 1 => min..=max];
        let span = max - min + 1;
        prop_oneof![
            1 => Just(Element::Star),
            2 => (1..=span.min(30)).prop_map(Element::StarStep),
            4 => value.clone().prop_map(Element::Value),
            2 => (value.clone(), 0..=max - min).prop_map(move |(a, len)| {
                Element::Range(a, (a + len % 4).min(max))
            }),
            1 => (value, 0..=max - min, 1..=span.min(30)).prop_map(move |(a, len, s)| {
                Element::RangeStep(a, (a + len).min(max), s)
            }),
        ]
    }

    fn field(
        min: u32,
        max: u32,
        bias: Option<(u32, u32)>,
        star: u32,
    ) -> impl Strategy<Value = GenField> {
        prop_oneof![
            star => Just(vec![Element::Star]),
            10 => prop::collection::vec(element(min, max, bias), 1..=3),
        ]
        .prop_map(move |elements| GenField { elements, min, max })
    }

    fn gen_cron() -> impl Strategy<Value = GenCron> {
        (
            // Mostly every day, so that the DST days are in; hours mostly around the changes.
            field(0, 59, None, 2),
            field(0, 23, Some((0, 4)), 2),
            field(1, 31, None, 30),
            field(1, 12, None, 30),
            field(0, 7, None, 15),
        )
            .prop_map(|(minute, hour, dom, month, dow)| GenCron {
                fields: [minute, hour, dom, month, dow],
            })
    }

    /// DST changes of 2026 (UTC) in the three zones.
    fn change() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
        prop_oneof![
            Just((chrono_tz::Europe::Prague, "2026-03-29T01:00Z")),
            Just((chrono_tz::Europe::Prague, "2026-10-25T01:00Z")),
            Just((chrono_tz::America::New_York, "2026-03-08T07:00Z")),
            Just((chrono_tz::America::New_York, "2026-11-01T06:00Z")),
            Just((chrono_tz::Australia::Lord_Howe, "2026-04-04T15:00Z")),
            Just((chrono_tz::Australia::Lord_Howe, "2026-10-03T15:30Z")),
        ]
        .prop_map(|(tz, s)| (tz, at(s)))
    }

    proptest! {
        // No regression files: they would land outside this module.
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn slots_match_the_brute_force_oracle(
            c in gen_cron(),
            (tz, change) in change(),
            start_secs in -36 * 3600i64..12 * 3600,
            probes in prop::collection::vec(0.0f64..1.0, 16),
            near_change in prop::collection::vec(-5400i64..5400, 16),
        ) {
            let from = change + Duration::seconds(start_secs);
            let to = from + Duration::days(2);
            let expected = oracle(&c, tz, from, to);
            let schedule = match Schedule::new(IntervalCode::Custom, Some(&c.text()), tz.name(), 0) {
                Ok(s) => s,
                // E.g. `* * 30 2 *`: rejected because no date ever matches.
                Err(Error::InvalidInput { message, .. }) if message.contains("never fires") => {
                    prop_assert!(expected.is_empty());
                    return Ok(());
                }
                Err(e) => return Err(TestCaseError::fail(format!("{}: {e}", c.text()))),
            };
            prop_assert_eq!(schedule.is_fixed_time(), c.fixed_time());
            let got: Vec<_> = schedule.iter_after(from).take_while(|&s| s <= to).collect();
            prop_assert_eq!(&got, &expected, "{} in {}", c.text(), tz.name());
            // `next_after` and catch-up from instants spread over the window and packed
            // around the change, at odd seconds.
            let spread = probes
                .iter()
                .map(|p| from + Duration::seconds((p * 2.0 * 86_400.0) as i64));
            let near = near_change.iter().map(|&d| change + Duration::seconds(d));
            for now in spread.chain(near).filter(|&n| n >= from && n <= to) {
                if let Some(&next) = expected.iter().find(|&&s| s > now) {
                    prop_assert_eq!(schedule.next_after(now), Some(next), "{} in {}: after {}", c.text(), tz.name(), now);
                }
                let last = expected.iter().copied().rfind(|&s| s <= now);
                prop_assert_eq!(schedule.latest_at_or_before(from, now), last, "{} in {}: up to {}", c.text(), tz.name(), now);
            }
        }
    }
}

#[test]
fn oracle_agrees_with_the_examples_of_section_6() {
    let c = |m: Vec<Element>, h: Vec<Element>| GenCron {
        fields: [
            GenField {
                elements: m,
                min: 0,
                max: 59,
            },
            GenField {
                elements: h,
                min: 0,
                max: 23,
            },
            GenField {
                elements: vec![Element::Star],
                min: 1,
                max: 31,
            },
            GenField {
                elements: vec![Element::Star],
                min: 1,
                max: 12,
            },
            GenField {
                elements: vec![Element::Star],
                min: 0,
                max: 7,
            },
        ],
    };
    let tz = chrono_tz::Europe::Prague;
    let render = |v: Vec<DateTime<Utc>>| {
        v.into_iter()
            .map(|i| i.with_timezone(&tz).format("%H:%M%:z").to_string())
            .collect::<Vec<_>>()
    };
    let (from, to) = (at("2026-10-25T00:30+02:00"), at("2026-10-25T03:30+01:00"));
    assert_eq!(
        render(oracle(
            &c(vec![Element::Value(0)], vec![Element::Range(2, 3)]),
            tz,
            from,
            to
        )),
        ["02:00+02:00", "03:00+01:00"]
    );
    assert_eq!(
        render(oracle(
            &c(vec![Element::Value(0)], vec![Element::Star]),
            tz,
            from,
            to
        )),
        ["01:00+02:00", "02:00+02:00", "02:00+01:00", "03:00+01:00"]
    );
    let (from, to) = (at("2026-03-29T00:00+01:00"), at("2026-03-29T04:00+02:00"));
    assert_eq!(
        render(oracle(
            &c(
                vec![Element::Value(15), Element::Value(45)],
                vec![Element::Value(2)]
            ),
            tz,
            from,
            to
        )),
        ["03:00+02:00"]
    );
    assert_eq!(
        render(oracle(
            &c(vec![Element::Value(30)], vec![Element::Star]),
            tz,
            from,
            to
        )),
        ["00:30+01:00", "01:30+01:00", "03:30+02:00"]
    );
}
