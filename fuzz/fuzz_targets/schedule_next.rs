//! Next-occurrence computation: a run template's interval code, cron expression, timezone and
//! delay become a schedule (`RunTemplate::schedule`), whose slots after an instant are computed
//! and checked against the look-backs. Bounded: at most 6 slots, instants in 1970-2199.
//!
//! Input, one item per line: interval code, cron expression (empty line: none), IANA
//! timezone, delay in seconds, start as Unix seconds.
//!
//! The slots are a set S, so with `n = next_after(t)` and `p = last_at_or_before(t)`: the slots
//! after `t` increase strictly, each is its own `last_at_or_before`, `p <= t`,
//! `next_after(p) == n`, and catch-up over `(t - 40 days, t]` finds `p` when it is in that window.
#![no_main]

use chrono::{DateTime, Duration};
use libfuzzer_sys::fuzz_target;
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::{AppId, CompanyId, RunTemplate};

/// Seconds from 1970-01-01 to 2200-01-01: start instants are taken modulo this.
const SPAN: i64 = 7_258_118_400;
const MAX_SLOTS: usize = 6;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let Ok(interv) = lines.next().unwrap_or_default().parse::<IntervalCode>() else {
        return;
    };
    let cron = lines.next().unwrap_or_default();
    let timezone = lines.next().unwrap_or_default();
    let delay = lines
        .next()
        .unwrap_or_default()
        .trim()
        .parse::<u32>()
        .unwrap_or(0);
    let start = lines
        .next()
        .unwrap_or_default()
        .trim()
        .parse::<i64>()
        .unwrap_or(0);

    let mut template = RunTemplate::new(AppId(1), CompanyId(1), "fuzz").with_timezone(timezone);
    template.interv = interv;
    template.cron = (!cron.is_empty()).then(|| cron.to_string());
    template.delay = delay;
    let Ok(schedule) = template.schedule() else {
        return;
    };
    let _ = schedule.describe();

    let t = DateTime::from_timestamp(start.rem_euclid(SPAN), 0).expect("in range");
    let slots: Vec<_> = schedule.iter_after(t).take(MAX_SLOTS).collect();
    let mut previous = t;
    for &s in &slots {
        assert!(s > previous, "slot {s} not after {previous}");
        assert_eq!(schedule.last_at_or_before(s), Some(s), "slot {s}");
        assert_eq!(schedule.due_at(s), s + Duration::seconds(i64::from(delay)));
        previous = s;
    }
    let next = slots.first().copied();
    assert_eq!(schedule.next_after(t), next);
    let last = schedule.last_at_or_before(t);
    if let Some(p) = last {
        assert!(p <= t, "last slot {p} after {t}");
        assert_eq!(schedule.next_after(p), next, "next after the last slot {p}");
    }
    let from = t - Duration::days(40);
    assert_eq!(
        schedule.latest_at_or_before(from, t),
        last.filter(|&p| p > from)
    );
});
