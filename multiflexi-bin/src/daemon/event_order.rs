//! Phase events back in the order they happened. Within one process the events of one job come
//! from different tasks — the scheduler reports Created and Scheduled after its write returns,
//! while a dispatcher woken by that write may already have claimed the job and reported Queued
//! — so the printer holds each event briefly and lets them out by the time they happened (then
//! by phase), never later than the hold after it arrived.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long an event is held for an earlier one to catch up.
pub const HOLD: Duration = Duration::from_millis(100);

/// Held events, ordered by (when it happened, phase rank, arrival).
#[derive(Debug)]
pub struct InOrder<T> {
    held: BTreeMap<(DateTime<Utc>, u8, u64), (Instant, T)>,
    arrivals: u64,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            held: BTreeMap::new(),
            arrivals: 0,
        }
    }
}

impl<T> InOrder<T> {
    /// Holds `item`, which happened `at` in phase order `rank`, arriving `now`.
    pub fn push(&mut self, at: DateTime<Utc>, rank: u8, now: Instant, item: T) {
        self.arrivals += 1;
        self.held.insert((at, rank, self.arrivals), (now, item));
    }

    /// When the earliest held event may go.
    pub fn next_due(&self) -> Option<Instant> {
        self.held
            .values()
            .next()
            .map(|(arrived, _)| *arrived + HOLD)
    }

    /// The earliest held event, once it has been held long enough at `now`.
    pub fn pop_ready(&mut self, now: Instant) -> Option<T> {
        let (_, (arrived, _)) = self.held.first_key_value()?;
        if *arrived + HOLD > now {
            return None;
        }
        self.held.pop_first().map(|(_, (_, item))| item)
    }

    /// Every held event, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + use<T> {
        std::mem::take(&mut self.held)
            .into_values()
            .map(|(_, item)| item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_arrival_that_happened_first_goes_first() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .to_utc();
        let start = Instant::now();
        let mut o = InOrder::default();
        // Queued (rank 2) arrives first, though the job's Created (rank 0) and Scheduled
        // (rank 1) happened a millisecond earlier, in the same transaction.
        o.push(t + chrono::Duration::milliseconds(1), 2, start, "queued");
        o.push(t, 1, start + Duration::from_millis(3), "scheduled");
        o.push(t, 0, start + Duration::from_millis(3), "created");
        assert_eq!(o.pop_ready(start + Duration::from_millis(50)), None, "held");
        assert_eq!(o.next_due(), Some(start + Duration::from_millis(3) + HOLD));
        let later = start + HOLD + Duration::from_millis(3);
        assert_eq!(o.pop_ready(later), Some("created"));
        assert_eq!(o.pop_ready(later), Some("scheduled"));
        assert_eq!(o.pop_ready(later), Some("queued"));
        assert_eq!(o.pop_ready(later), None);
    }

    #[test]
    fn drain_empties_in_order() {
        let t = Utc::now();
        let now = Instant::now();
        let mut o = InOrder::default();
        o.push(t + chrono::Duration::seconds(1), 0, now, 2);
        o.push(t, 5, now, 1);
        assert_eq!(o.drain().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(o.next_due(), None);
    }
}
