use super::Outcome;
use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a job is in its lifecycle.
///
/// ```text
///  Created ──► Scheduled ──► Queued ──► Running ──► Completed ──► Preserved
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The job row exists (status `pending`); never observed outside the creating transaction.
    Created,
    /// A `schedule` row says when it is due.
    Scheduled,
    /// An executor claimed it and holds a lease.
    Queued,
    /// The process / container / pod started.
    Running,
    /// It ended; `outcome`, `exitcode` and `end` are set.
    Completed,
    /// Its artifacts (stdout.txt, stderr.txt, result files) are stored.
    Preserved,
}

/// Something that happens to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Written to the schedule table (same transaction as creation).
    Schedule,
    /// Claimed by an executor with a lease.
    Claim,
    /// The executor reported the process / container / pod started.
    Start,
    /// The job ended with an outcome.
    Complete(Outcome),
    /// Its lease expired (the executor holding it is gone).
    LeaseExpired,
    /// The executor holding a claimed job gave it back before it started (its launch failed
    /// before the application ran, or the executor is draining).
    Release,
    /// Artifacts stored.
    Preserve,
}

impl Event {
    /// Every event, one per outcome for `Complete`: the rows of the transition table.
    pub fn all() -> Vec<Event> {
        let mut v = vec![Event::Schedule, Event::Claim, Event::Start];
        v.extend(Outcome::ALL.into_iter().map(Event::Complete));
        v.extend([Event::LeaseExpired, Event::Release, Event::Preserve]);
        v
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Schedule => f.write_str("schedule"),
            Event::Claim => f.write_str("claim"),
            Event::Start => f.write_str("start"),
            Event::Complete(o) => write!(f, "complete({o})"),
            Event::LeaseExpired => f.write_str("lease_expired"),
            Event::Release => f.write_str("release"),
            Event::Preserve => f.write_str("preserve"),
        }
    }
}

/// The result of a legal transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The phase the job moves to.
    pub to: Phase,
    /// The outcome it ends with, when it moves to Completed.
    pub outcome: Option<Outcome>,
}

impl Phase {
    /// Every phase in lifecycle order.
    pub const ALL: [Phase; 6] = [
        Phase::Created,
        Phase::Scheduled,
        Phase::Queued,
        Phase::Running,
        Phase::Completed,
        Phase::Preserved,
    ];

    /// The lifecycle's transition function.
    ///
    /// | from \ event | schedule  | claim  | start   | complete(o)                              | lease_expired    | release   | preserve  |
    /// |--------------|-----------|--------|---------|------------------------------------------|------------------|-----------|-----------|
    /// | Created      | Scheduled | –      | –       | –                                        | –                | –         | –         |
    /// | Scheduled    | –         | Queued | –       | Completed, only o = cancelled            | –                | –         | –         |
    /// | Queued       | –         | –      | Running | Completed, only o ∈ {platform_error, cancelled} | Scheduled (no attempt counted) | Scheduled (no attempt counted) | – |
    /// | Running      | –         | –      | –       | Completed (any o)                        | Completed(lost)  | –         | –         |
    /// | Completed    | –         | –      | –       | –                                        | –                | –         | Preserved |
    /// | Preserved    | –         | –      | –       | –                                        | –                | –         | –         |
    ///
    /// Everything marked `–` is rejected with [`Error::InvalidTransition`]. A `lost` job stops at
    /// Completed (its output died with it), so nothing preserves it automatically. `release` is
    /// the holder giving a claimed job back before it started (a launch that failed before the
    /// application ran, or a draining executor): only a Queued job can be released.
    pub fn apply(self, event: Event) -> Result<Transition, Error> {
        use Event as E;
        use Phase as P;
        let to = |to: Phase| Ok(Transition { to, outcome: None });
        let done = |o: Outcome| {
            Ok(Transition {
                to: P::Completed,
                outcome: Some(o),
            })
        };
        match (self, event) {
            (P::Created, E::Schedule) => to(P::Scheduled),
            (P::Scheduled, E::Claim) => to(P::Queued),
            (P::Scheduled, E::Complete(Outcome::Cancelled)) => done(Outcome::Cancelled),
            (P::Queued, E::Start) => to(P::Running),
            (P::Queued, E::Complete(o @ (Outcome::PlatformError | Outcome::Cancelled))) => done(o),
            (P::Queued, E::LeaseExpired | E::Release) => to(P::Scheduled),
            (P::Running, E::Complete(o)) => done(o),
            (P::Running, E::LeaseExpired) => done(Outcome::Lost),
            (P::Completed, E::Preserve) => to(P::Preserved),
            (from, event) => Err(Error::InvalidTransition {
                from,
                event: event.to_string(),
            }),
        }
    }

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Scheduled => "scheduled",
            Phase::Queued => "queued",
            Phase::Running => "running",
            Phase::Completed => "completed",
            Phase::Preserved => "preserved",
        }
    }

    /// Whether the job has ended (Completed or Preserved).
    pub fn is_finished(self) -> bool {
        matches!(self, Phase::Completed | Phase::Preserved)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "phase",
                    format!(
                        "{s:?} is not a phase; allowed: created, scheduled, queued, running, completed, preserved"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected table, written independently of `apply`: `Some(to, outcome)` or `None` (illegal).
    fn expected(from: Phase, event: Event) -> Option<(Phase, Option<Outcome>)> {
        use Phase::*;
        match from {
            Created => (event == Event::Schedule).then_some((Scheduled, None)),
            Scheduled => match event {
                Event::Claim => Some((Queued, None)),
                Event::Complete(Outcome::Cancelled) => Some((Completed, Some(Outcome::Cancelled))),
                _ => None,
            },
            Queued => match event {
                Event::Start => Some((Running, None)),
                Event::LeaseExpired => Some((Scheduled, None)),
                Event::Release => Some((Scheduled, None)),
                Event::Complete(o) if o == Outcome::PlatformError || o == Outcome::Cancelled => {
                    Some((Completed, Some(o)))
                }
                _ => None,
            },
            Running => match event {
                Event::Complete(o) => Some((Completed, Some(o))),
                Event::LeaseExpired => Some((Completed, Some(Outcome::Lost))),
                _ => None,
            },
            Completed => (event == Event::Preserve).then_some((Preserved, None)),
            Preserved => None,
        }
    }

    #[test]
    fn every_phase_event_pair_matches_the_table() {
        let mut legal = 0;
        let mut illegal = 0;
        for from in Phase::ALL {
            for event in Event::all() {
                match (from.apply(event), expected(from, event)) {
                    (Ok(t), Some((to, outcome))) => {
                        assert_eq!((t.to, t.outcome), (to, outcome), "{from} + {event}");
                        legal += 1;
                    }
                    (Err(Error::InvalidTransition { from: f, event: e }), None) => {
                        assert_eq!(f, from);
                        assert_eq!(e, event.to_string());
                        illegal += 1;
                    }
                    (got, want) => panic!("{from} + {event}: got {got:?}, want {want:?}"),
                }
            }
        }
        // 6 phases × 17 events (11 of them Complete, one per outcome): Created 1, Scheduled 2,
        // Queued 5, Running 12, Completed 1 legal.
        assert_eq!(legal + illegal, 6 * 17);
        assert_eq!(legal, 1 + 2 + 5 + 12 + 1);
    }

    #[test]
    fn straight_line_reaches_preserved() {
        let mut p = Phase::Created;
        for e in [
            Event::Schedule,
            Event::Claim,
            Event::Start,
            Event::Complete(Outcome::Success),
            Event::Preserve,
        ] {
            p = p.apply(e).unwrap().to;
        }
        assert_eq!(p, Phase::Preserved);
    }

    #[test]
    fn lost_job_cannot_restart() {
        let t = Phase::Running.apply(Event::LeaseExpired).unwrap();
        assert_eq!(t.outcome, Some(Outcome::Lost));
        assert!(t.to.apply(Event::Start).is_err());
        assert!(t.to.apply(Event::Claim).is_err());
    }

    #[test]
    fn only_a_queued_job_can_be_released() {
        for from in Phase::ALL {
            let r = from.apply(Event::Release);
            if from == Phase::Queued {
                assert_eq!(
                    r.unwrap(),
                    Transition {
                        to: Phase::Scheduled,
                        outcome: None
                    }
                );
            } else {
                assert!(r.is_err(), "{from} + release");
            }
        }
    }

    #[test]
    fn phase_names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert!("pending".parse::<Phase>().is_err());
    }
}
