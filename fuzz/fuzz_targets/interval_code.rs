//! Interval codes: `IntervalCode: FromStr` on arbitrary text (a template's `interv`). A code it
//! accepts prints as its letter, which parses back to the same code, and every code but `c`
//! (custom) makes a schedule without a cron expression of its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::schedule::{IntervalCode, Schedule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let code = match text.parse::<IntervalCode>() {
        Ok(code) => code,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(code.to_string().parse::<IntervalCode>().ok(), Some(code));
    let _ = code.describe();
    if code != IntervalCode::Custom
        && let Err(e) = Schedule::new(code, None, "UTC", 0)
    {
        panic!("interval {code} makes no schedule: {e}");
    }
});
