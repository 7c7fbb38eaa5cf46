//! W3C trace context (`traceparent`) for jobs, without an OpenTelemetry dependency.

use super::PhaseEvent;
use crate::lifecycle::Trigger;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// A W3C `traceparent`: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace id (never 0).
    pub trace_id: u128,
    /// The parent span id (never 0).
    pub span_id: u64,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceContext {
    /// A fresh context: random trace id and span id, sampled.
    pub fn random() -> Self {
        Self {
            trace_id: (u128::from(random_u64()) << 64 | u128::from(random_u64())).max(1),
            span_id: random_u64().max(1),
            flags: 1,
        }
    }

    /// The context every process derives for a job created without a stored one: a function
    /// of the job id and its creation instant (microseconds), the same in every process and
    /// every version.
    pub fn derived(job_id: i64, created_micros: i64) -> Self {
        let a = mix(job_id as u64 ^ 0x6d75_6c74_6966_6c78, created_micros as u64);
        let b = mix(a, 0x7472_6163_6521);
        let c = mix(b, 0x7370_616e_2121);
        Self {
            trace_id: (u128::from(a) << 64 | u128::from(b)).max(1),
            span_id: c.max(1),
            flags: 1,
        }
    }

    /// Whether the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

/// Why a `traceparent` did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTraceContextError(String);

impl fmt::Display for ParseTraceContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid traceparent: {}", self.0)
    }
}

impl std::error::Error for ParseTraceContextError {}

impl FromStr for TraceContext {
    type Err = ParseTraceContextError;

    /// Parses a `traceparent` (version 00, or a later version's first four fields as the W3C
    /// spec asks). All-zero ids and version `ff` are invalid.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |m: &str| ParseTraceContextError(format!("{s:?}: {m}"));
        let s = s.trim();
        let mut parts = s.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected version-traceid-spanid-flags"));
        };
        let hex = |p: &str, len: usize| {
            p.len() == len
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !hex(version, 2) || version == "ff" {
            return Err(err("bad version"));
        }
        if version == "00" && parts.next().is_some() {
            return Err(err("version 00 has exactly four fields"));
        }
        if !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
            return Err(err(
                "ids must be lower-case hex of 32 and 16 digits, flags 2",
            ));
        }
        let trace_id = u128::from_str_radix(trace, 16).map_err(|_| err("trace id"))?;
        let span_id = u64::from_str_radix(span, 16).map_err(|_| err("span id"))?;
        let flags = u8::from_str_radix(flags, 16).map_err(|_| err("flags"))?;
        if trace_id == 0 || span_id == 0 {
            return Err(err("all-zero id"));
        }
        Ok(Self {
            trace_id,
            span_id,
            flags,
        })
    }
}

/// A fresh `traceparent` for a job being created: what the job factory stores in
/// `NewJob::trace_context`. The span id it carries becomes the id of the job's `job.execute`
/// span, so every process that later emits a phase of the job continues the same trace.
pub fn new_trace_context() -> String {
    TraceContext::random().to_string()
}

/// A `traceparent` for a job created while handling a request that is itself traced (the API):
/// the request's trace id with a fresh span id, so the job's spans join the request's trace.
/// An unparsable `parent` gives a fresh context.
pub fn child_trace_context(parent: &str) -> String {
    match parent.parse::<TraceContext>() {
        Ok(p) => TraceContext {
            span_id: random_u64().max(1),
            ..p
        }
        .to_string(),
        Err(_) => new_trace_context(),
    }
}

/// The ids of a job's `job.execute` span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTrace {
    /// The job's trace.
    pub trace_id: u128,
    /// The `job.execute` span.
    pub span_id: u64,
    /// Its parent: the first attempt's `job.execute` span for a retry (retries inherit the
    /// first attempt's stored context), none otherwise.
    pub parent_span_id: Option<u64>,
    /// Trace flags.
    pub flags: u8,
    /// Whether the context came from the job row (else it was derived).
    pub stored: bool,
}

impl JobTrace {
    /// The ids for the job of `event`:
    ///
    /// - stored context, first attempt: `job.execute` has the stored span id, no parent;
    /// - stored context, a retry (it carries the first attempt's context): `job.execute` has a
    ///   span id derived from the stored one and the job id, and the stored span as parent;
    /// - no stored context (or an unparsable one): ids derived from the job id and creation
    ///   time ([`TraceContext::derived`]), no parent.
    pub fn of(event: &PhaseEvent) -> Self {
        let stored = event
            .trace_context
            .as_deref()
            .and_then(|s| s.parse::<TraceContext>().ok());
        match stored {
            Some(ctx) if event.attempt == 0 && event.trigger != Trigger::Retry => Self {
                trace_id: ctx.trace_id,
                span_id: ctx.span_id,
                parent_span_id: None,
                flags: ctx.flags,
                stored: true,
            },
            Some(ctx) => Self {
                trace_id: ctx.trace_id,
                span_id: mix(ctx.span_id, event.job_id.get() as u64).max(1),
                parent_span_id: Some(ctx.span_id),
                flags: ctx.flags,
                stored: true,
            },
            None => {
                let ctx =
                    TraceContext::derived(event.job_id.get(), event.created.timestamp_micros());
                Self {
                    trace_id: ctx.trace_id,
                    span_id: ctx.span_id,
                    parent_span_id: None,
                    flags: ctx.flags,
                    stored: false,
                }
            }
        }
    }

    /// The `traceparent` naming the `job.execute` span (what a child span's parent is).
    pub fn traceparent(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: self.span_id,
            flags: self.flags,
        }
    }
}

/// A random span id (segment spans).
pub(crate) fn random_span_id() -> u64 {
    random_u64().max(1)
}

/// A random 64-bit value without a `rand` dependency: SipHash with the process's random keys
/// (std's `RandomState`, which the OS seeds) over a counter and the time.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// splitmix64 over two words: a fixed, portable mixing function (derived ids must agree
/// between processes and versions, so std's unspecified hashers are not used).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_add(b.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        let s = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let c: TraceContext = s.parse().unwrap();
        assert_eq!(c.to_string(), s);
        assert!(c.sampled());
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "trace-1",
        ] {
            assert!(bad.parse::<TraceContext>().is_err(), "{bad:?}");
        }
        // A later version may carry more fields.
        assert!(
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz"
                .parse::<TraceContext>()
                .is_ok()
        );
    }

    #[test]
    fn fresh_contexts_differ_and_parse() {
        let a = new_trace_context();
        let b = new_trace_context();
        assert_ne!(a, b);
        assert!(a.parse::<TraceContext>().is_ok());
        let child: TraceContext = child_trace_context(&a).parse().unwrap();
        let parent: TraceContext = a.parse().unwrap();
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
    }

    #[test]
    fn derived_is_stable() {
        // Pinned: derived ids must never change between versions.
        let c = TraceContext::derived(42, 1_700_000_000_000_000);
        assert_eq!(c, TraceContext::derived(42, 1_700_000_000_000_000));
        assert_ne!(c, TraceContext::derived(43, 1_700_000_000_000_000));
        assert_ne!(c, TraceContext::derived(42, 1_700_000_000_000_001));
        assert_eq!(c.to_string(), DERIVED_42);
    }

    const DERIVED_42: &str = "00-a75e7009cdc1b0bdafabb06862b59a04-18c6f44603256614-01";
}
