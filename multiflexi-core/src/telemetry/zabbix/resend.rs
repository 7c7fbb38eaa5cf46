//! Values Zabbix refused because their items did not exist yet, held to be sent again.
//!
//! A job's items (`multiflexi.job.phase[<id>]`, `…exitcode[<id>]`, `…duration[<id>]`) are
//! created by the server from the job's discovery record, in the background and seen by the
//! trapper only at its next configuration sync (`CacheUpdateFrequency`, 60 s by default), so the
//! first values of every job arrive before their items exist and are refused. A server's reply
//! only counts refused values (`processed: N; failed: M`), so the sender sends the values of a
//! job whose items are not known to exist in a request of their own: refused as a whole, they
//! are held here and sent again, together with the job's later values (in order), after 1, 2, 4,
//! 8, 16, then every 30 seconds, at most [`ResendLimits::attempts`] times and for at most
//! [`ResendLimits::within`]; at most [`ResendLimits::values`] values are held. Once a request of
//! a job is accepted, its items exist ([`KnownJobs`]) and its values go with the others.

use super::protocol::ZabbixItem;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How much is held and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResendLimits {
    /// Attempts per job at most, the first send included (default 12).
    pub attempts: u32,
    /// How long after the first refusal a job's values are still sent again (default 180 s: a
    /// server's default `CacheUpdateFrequency` is 60 s).
    pub within: Duration,
    /// Values held at most; the values of a job that does not fit are given up (default 10,000).
    pub values: usize,
}

impl Default for ResendLimits {
    fn default() -> Self {
        Self {
            attempts: 12,
            within: Duration::from_secs(180),
            values: 10_000,
        }
    }
}

/// A job on a host: the values that go in one request.
pub type JobRef = (String, String);

/// The job an item belongs to: its host and the key's parameter (`multiflexi.job.phase[7]` →
/// `7`). None for keys without one (the discovery item, which exists with the template).
pub fn job_of(item: &ZabbixItem) -> Option<JobRef> {
    let (_, param) = item.key.strip_suffix(']')?.split_once('[')?;
    Some((item.host.clone(), param.to_string()))
}

/// The wait before attempt `n + 1` after `n` refused attempts.
pub fn backoff(refused: u32) -> Duration {
    Duration::from_secs(1u64 << refused.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

#[derive(Debug)]
struct Held {
    items: Vec<ZabbixItem>,
    first_refused: Instant,
    refused: u32,
    next: Instant,
}

/// What became of values given to [`Resend::refused`].
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Held for another attempt.
    Held,
    /// Given up: this many values (attempts or time used up, or no room).
    GivenUp(usize),
}

/// The held values, by job.
#[derive(Debug, Default)]
pub struct Resend {
    limits: ResendLimits,
    held: BTreeMap<JobRef, Held>,
    count: usize,
}

impl Resend {
    /// Nothing held yet.
    pub fn new(limits: ResendLimits) -> Self {
        Self {
            limits,
            held: BTreeMap::new(),
            count: 0,
        }
    }

    /// Whether values of `job` are held (its new values must join them, to keep their order).
    pub fn holds(&self, job: &JobRef) -> bool {
        self.held.contains_key(job)
    }

    /// Values held now.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds values of a job that is held (see [`holds`](Self::holds)); None when it is not,
    /// else what became of them (given up when there is no room).
    pub fn join(&mut self, job: &JobRef, items: Vec<ZabbixItem>) -> Option<Outcome> {
        let room = self.limits.values.saturating_sub(self.count);
        let held = self.held.get_mut(job)?;
        if items.len() > room {
            return Some(Outcome::GivenUp(items.len()));
        }
        self.count += items.len();
        held.items.extend(items);
        Some(Outcome::Held)
    }

    /// A request of `job`'s values (`items`, with the values held before, if any) was refused
    /// as a whole at `now`: hold them for another attempt, or give them up.
    pub fn refused(&mut self, job: JobRef, items: Vec<ZabbixItem>, now: Instant) -> Outcome {
        let (first_refused, refused) = match self.held.get(&job) {
            Some(h) => (h.first_refused, h.refused + 1),
            None => (now, 1),
        };
        if let Some(h) = self.held.remove(&job) {
            self.count -= h.items.len();
        }
        let n = items.len();
        if refused >= self.limits.attempts
            || now.duration_since(first_refused) >= self.limits.within
            || n > self.limits.values.saturating_sub(self.count)
        {
            return Outcome::GivenUp(n);
        }
        self.count += n;
        let next = now + backoff(refused);
        self.held.insert(
            job,
            Held {
                items,
                first_refused,
                refused,
                next,
            },
        );
        Outcome::Held
    }

    /// Takes the jobs whose next attempt is due at `now`, with their values in order.
    pub fn take_due(&mut self, now: Instant) -> Vec<(JobRef, Vec<ZabbixItem>)> {
        let due: Vec<JobRef> = self
            .held
            .iter()
            .filter(|(_, h)| h.next <= now)
            .map(|(j, _)| j.clone())
            .collect();
        due.into_iter()
            .filter_map(|j| self.take(&j).map(|items| (j, items)))
            .collect()
    }

    /// Takes one job's values (they are put back with [`refused`](Self::refused)), keeping its
    /// attempt count until then.
    fn take(&mut self, job: &JobRef) -> Option<Vec<ZabbixItem>> {
        let held = self.held.get_mut(job)?;
        let items = std::mem::take(&mut held.items);
        self.count -= items.len();
        if items.is_empty() {
            self.held.remove(job);
            return None;
        }
        Some(items)
    }

    /// Forgets a job after its values were accepted (or given up).
    pub fn forget(&mut self, job: &JobRef) {
        if let Some(h) = self.held.remove(job) {
            self.count -= h.items.len();
        }
    }

    /// When the earliest next attempt is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.values().map(|h| h.next).min()
    }

    /// Everything held (closing down).
    pub fn drain(&mut self) -> Vec<(JobRef, Vec<ZabbixItem>)> {
        self.count = 0;
        std::mem::take(&mut self.held)
            .into_iter()
            .map(|(j, h)| (j, h.items))
            .collect()
    }
}

/// Jobs whose items are known to exist (a request of their values was accepted), the latest
/// `capacity` of them: their values are sent together with the others'.
#[derive(Debug)]
pub struct KnownJobs {
    set: HashSet<JobRef>,
    order: VecDeque<JobRef>,
    capacity: usize,
}

impl KnownJobs {
    /// Remembers at most `capacity` jobs (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Whether `job`'s items are known to exist.
    pub fn contains(&self, job: &JobRef) -> bool {
        self.set.contains(job)
    }

    /// Remembers `job`, forgetting the oldest one when full.
    pub fn insert(&mut self, job: JobRef) {
        if self.set.insert(job.clone()) {
            self.order.push_back(job);
            if self.order.len() > self.capacity
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn item(key: &str) -> ZabbixItem {
        ZabbixItem::new("h", key, "v", Utc::now())
    }

    fn job(id: &str) -> JobRef {
        ("h".into(), id.into())
    }

    #[test]
    fn finds_the_job_of_an_item() {
        assert_eq!(job_of(&item("multiflexi.job.phase[7]")), Some(job("7")));
        assert_eq!(job_of(&item("multiflexi.job.exitcode[7]")), Some(job("7")));
        assert_eq!(job_of(&item("multiflexi.job.lld")), None);
    }

    #[test]
    fn backs_off_up_to_30_seconds() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn holds_until_due_then_gives_up_after_the_attempts() {
        let limits = ResendLimits {
            attempts: 3,
            within: Duration::from_secs(3600),
            values: 100,
        };
        let mut r = Resend::new(limits);
        let t0 = Instant::now();
        let a = job("1");
        assert_eq!(
            r.refused(a.clone(), vec![item("multiflexi.job.phase[1]")], t0),
            Outcome::Held
        );
        assert!(r.holds(&a));
        // A later value of the job joins the held ones, in order.
        assert_eq!(
            r.join(&a, vec![item("multiflexi.job.exitcode[1]")]),
            Some(Outcome::Held)
        );
        assert_eq!(r.join(&job("2"), vec![item("x[2]")]), None);
        assert_eq!(r.len(), 2);
        assert!(r.take_due(t0).is_empty());
        assert_eq!(r.next_due(), Some(t0 + Duration::from_secs(1)));
        let due = r.take_due(t0 + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        let keys: Vec<_> = due[0].1.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["multiflexi.job.phase[1]", "multiflexi.job.exitcode[1]"]
        );
        assert_eq!(r.len(), 0);
        // Refused again: held with a longer wait; the third refusal gives up.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(r.refused(a.clone(), due[0].1.clone(), t1), Outcome::Held);
        assert_eq!(r.next_due(), Some(t1 + Duration::from_secs(2)));
        let due = r.take_due(t1 + Duration::from_secs(2));
        assert_eq!(
            r.refused(a.clone(), due[0].1.clone(), t1 + Duration::from_secs(2)),
            Outcome::GivenUp(2)
        );
        assert!(!r.holds(&a));
        assert!(r.is_empty());
    }

    #[test]
    fn gives_up_after_the_time_and_when_full() {
        let limits = ResendLimits {
            attempts: 100,
            within: Duration::from_secs(10),
            values: 2,
        };
        let mut r = Resend::new(limits);
        let t0 = Instant::now();
        assert_eq!(r.refused(job("1"), vec![item("a[1]")], t0), Outcome::Held);
        // No room for three more values.
        assert_eq!(
            r.refused(job("2"), vec![item("a[2]"), item("b[2]"), item("c[2]")], t0),
            Outcome::GivenUp(3)
        );
        assert_eq!(
            r.join(&job("1"), vec![item("b[1]"), item("c[1]")]),
            Some(Outcome::GivenUp(2))
        );
        let due = r.take_due(t0 + Duration::from_secs(1));
        assert_eq!(
            r.refused(job("1"), due[0].1.clone(), t0 + Duration::from_secs(10)),
            Outcome::GivenUp(1)
        );
        assert!(r.is_empty());
    }

    #[test]
    fn remembers_the_latest_known_jobs() {
        let mut k = KnownJobs::new(2);
        k.insert(job("1"));
        k.insert(job("2"));
        k.insert(job("2"));
        assert!(k.contains(&job("1")));
        k.insert(job("3"));
        assert!(!k.contains(&job("1")));
        assert!(k.contains(&job("2")) && k.contains(&job("3")));
    }
}
