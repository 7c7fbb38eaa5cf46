//! Cron expressions: a template's custom expression (`interv` `c`) parsed by `Schedule::new` in
//! UTC. An expression it accepts is described in words and, since parsing rejects expressions
//! that match no date in the 400-year calendar cycle, has a next slot after 2026-01-01.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::schedule::{IntervalCode, Schedule};

/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let schedule = match Schedule::new(IntervalCode::Custom, Some(expr), "UTC", 0) {
        Ok(schedule) => schedule,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(schedule.expression(), Some(expr.trim()));
    let _ = schedule.is_fixed_time();
    let _ = schedule.describe();
    let start = chrono::DateTime::from_timestamp(START, 0).expect("valid instant");
    let next = schedule.next_after(start);
    assert!(
        next.is_some_and(|n| n > start),
        "{expr:?}: accepted, but no slot after {start}: {next:?}"
    );
});
