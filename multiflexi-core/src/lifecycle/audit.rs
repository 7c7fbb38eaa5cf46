//! The audit row of a phase change: one type, one text per phase, on every backend.
//!
//! Every store writes `phase:<phase>` rows with exactly these details. A claim's detail holds
//! values only the database knows when it writes the row (the new lease token, the expiry by its
//! clock), so its text, and a start's, is defined once as a sequence of pieces
//! ([`PhaseAudit::write_queued`], [`PhaseAudit::write_running`]) that a [`DetailWriter`] renders:
//! [`PhaseAudit::detail`] from values, a store as an SQL expression over the rows it writes.

use super::{Outcome, Phase, Trigger};
use chrono::{DateTime, SecondsFormat, Utc};

/// What a phase change's audit row says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhaseAudit {
    /// Created and scheduled: `trigger=<t> attempt=<n> after=<RFC 3339>[ slot=<RFC 3339>]`.
    Scheduled {
        /// Why the job was created.
        trigger: Trigger,
        /// 0 for a first run.
        attempt: u32,
        /// When it is due.
        after: DateTime<Utc>,
        /// Its schedule slot, if it has one.
        slot: Option<DateTime<Utc>>,
    },
    /// Claimed: `lease_token=<n> expires=<RFC 3339, microseconds, +00:00>`.
    Queued {
        /// The new lease token.
        lease_token: i64,
        /// When the lease expires.
        expires: DateTime<Utc>,
    },
    /// Started: `pid=<pid|-> external_id=<id|->`.
    Running {
        /// The process id, when the executor has one.
        pid: Option<i64>,
        /// The engine's id (container, pod), when it has one.
        external_id: Option<String>,
    },
    /// Completed: `outcome=<outcome> exitcode=<code>`.
    Completed {
        /// How it ended.
        outcome: Outcome,
        /// Its exit code (none when it ended without one: a cancel before start, a lost lease).
        exitcode: Option<i32>,
    },
}

impl PhaseAudit {
    /// The phase the job is in after the change.
    pub fn phase(&self) -> Phase {
        match self {
            PhaseAudit::Scheduled { .. } => Phase::Scheduled,
            PhaseAudit::Queued { .. } => Phase::Queued,
            PhaseAudit::Running { .. } => Phase::Running,
            PhaseAudit::Completed { .. } => Phase::Completed,
        }
    }

    /// The row's action: `phase:<phase>`.
    pub fn action(&self) -> String {
        phase_action(self.phase())
    }

    /// The row's detail text.
    pub fn detail(&self) -> String {
        match self {
            PhaseAudit::Scheduled {
                trigger,
                attempt,
                after,
                slot,
            } => format!(
                "trigger={trigger} attempt={attempt} after={}{}",
                after.to_rfc3339(),
                slot.map(|s| format!(" slot={}", s.to_rfc3339()))
                    .unwrap_or_default()
            ),
            PhaseAudit::Queued {
                lease_token,
                expires,
            } => {
                let mut text = DetailText::default();
                Self::write_queued(&mut text, *lease_token, *expires);
                text.0
            }
            PhaseAudit::Running { pid, external_id } => {
                let mut text = DetailText::default();
                Self::write_running(&mut text, pid.map(|p| p.to_string()), external_id.clone());
                text.0
            }
            PhaseAudit::Completed { outcome, exitcode } => format!(
                "outcome={outcome} exitcode={}",
                exitcode.map_or_else(|| "-".into(), |c| c.to_string())
            ),
        }
    }
}

/// Renders the pieces of a detail text ([`PhaseAudit::write_queued`]): from values in the
/// process, or, in a store, as an expression of its query language over columns.
pub trait DetailWriter {
    /// What an integer piece is given as.
    type Integer;
    /// What an instant piece is given as.
    type Instant;
    /// What a piece that may be absent is given as (an optional integer or text).
    type Optional;
    /// Fixed text.
    fn text(&mut self, text: &str);
    /// An integer in decimal.
    fn integer(&mut self, value: Self::Integer);
    /// An instant in RFC 3339, UTC, with microseconds: `2026-03-29T01:00:00.000000+00:00`.
    fn instant_micros(&mut self, value: Self::Instant);
    /// An integer in decimal or a text as it is, `-` when absent.
    fn or_dash(&mut self, value: Self::Optional);
}

/// A [`DetailWriter`] over values: the text itself.
#[derive(Debug, Default)]
struct DetailText(String);

impl DetailWriter for DetailText {
    type Integer = i64;
    type Instant = DateTime<Utc>;
    type Optional = Option<String>;
    fn text(&mut self, text: &str) {
        self.0.push_str(text);
    }
    fn integer(&mut self, value: i64) {
        self.0.push_str(&value.to_string());
    }
    fn instant_micros(&mut self, value: DateTime<Utc>) {
        self.0
            .push_str(&value.to_rfc3339_opts(SecondsFormat::Micros, false));
    }
    fn or_dash(&mut self, value: Option<String>) {
        self.0.push_str(value.as_deref().unwrap_or("-"));
    }
}

impl PhaseAudit {
    /// A claim's detail, `lease_token=<n> expires=<instant>`, piece by piece.
    pub fn write_queued<W: DetailWriter>(w: &mut W, lease_token: W::Integer, expires: W::Instant) {
        w.text("lease_token=");
        w.integer(lease_token);
        w.text(" expires=");
        w.instant_micros(expires);
    }

    /// A start's detail, `pid=<pid|-> external_id=<id|->`, piece by piece.
    pub fn write_running<W: DetailWriter>(w: &mut W, pid: W::Optional, external_id: W::Optional) {
        w.text("pid=");
        w.or_dash(pid);
        w.text(" external_id=");
        w.or_dash(external_id);
    }
}

/// The audit action of a change to `phase`: `phase:<phase>`.
pub fn phase_action(phase: Phase) -> String {
    format!("phase:{}", phase.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn each_phase_has_one_text() {
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        let scheduled = PhaseAudit::Scheduled {
            trigger: Trigger::Schedule,
            attempt: 1,
            after: t,
            slot: Some(t),
        };
        assert_eq!(scheduled.action(), "phase:scheduled");
        assert_eq!(
            scheduled.detail(),
            "trigger=schedule attempt=1 after=2026-03-29T01:00:00+00:00 \
             slot=2026-03-29T01:00:00+00:00"
        );
        let queued = PhaseAudit::Queued {
            lease_token: 3,
            expires: t,
        };
        assert_eq!(
            queued.detail(),
            "lease_token=3 expires=2026-03-29T01:00:00.000000+00:00"
        );
        let running = PhaseAudit::Running {
            pid: None,
            external_id: Some("c1".into()),
        };
        assert_eq!(running.detail(), "pid=- external_id=c1");
        let completed = PhaseAudit::Completed {
            outcome: Outcome::Failed,
            exitcode: Some(2),
        };
        assert_eq!(completed.action(), "phase:completed");
        assert_eq!(completed.detail(), "outcome=failed exitcode=2");
        let lost = PhaseAudit::Completed {
            outcome: Outcome::Lost,
            exitcode: None,
        };
        assert_eq!(lost.detail(), "outcome=lost exitcode=-");
    }
}
