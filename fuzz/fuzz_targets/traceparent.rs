//! W3C `traceparent` headers, as API requests send them: `TraceContext: FromStr` and
//! `child_trace_context`. A context it accepts prints as a version-00 header that parses back to
//! the same context, and a child keeps the parent's trace id and flags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::telemetry::{TraceContext, child_trace_context};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let child = child_trace_context(header)
        .parse::<TraceContext>()
        .expect("a child context always parses");
    let parent = match header.parse::<TraceContext>() {
        Ok(parent) => parent,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(parent.to_string().parse::<TraceContext>(), Ok(parent));
    assert_eq!(
        (child.trace_id, child.flags),
        (parent.trace_id, parent.flags)
    );
});
