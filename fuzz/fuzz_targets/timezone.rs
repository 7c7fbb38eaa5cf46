//! Timezone names: `schedule::parse_timezone` on arbitrary text (a template's `timezone`). A
//! name it accepts resolves to a zone whose canonical name parses to the same zone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::schedule::parse_timezone;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_timezone(text) {
        Ok(tz) => assert_eq!(parse_timezone(tz.name()).ok(), Some(tz)),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
