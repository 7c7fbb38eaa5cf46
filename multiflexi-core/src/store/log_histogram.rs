//! A mergeable histogram with logarithmic buckets ([`LogHistogram`]): what the SQL stores keep
//! per (template, hour, outcome, exit code) of the jobs' run time, queue wait and peak memory,
//! so the percentiles of a long window are read from a few rows instead of every job.
//!
//! Bucket `i ≥ 1` holds the values `v` with `γ^(i−2) < v ≤ γ^(i−1)`, `γ = (1 + α)/(1 − α)`;
//! bucket 0 holds the values below 1 (a zero run time, a negative clock step). A bucket stands
//! for `2γ^(i−1)/(γ + 1)`, within [`RELATIVE_ERROR`] (α = 2 %) of every value in it (the
//! DDSketch construction). A percentile interpolates, like
//! [`percentile_cont`](super::percentile_cont), between the buckets holding the two ranks it
//! reads, so it too is within α of the exact percentile (of integer µs or bytes; 0 stays 0).
//!
//! Stored compactly as text: `index:count` pairs, comma separated, ascending
//! (`"0:3,412:1000"`).

use super::stats::{PERCENTILES, Percentiles, percentile_ranks};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The largest relative error of a value read from a bucket (and of a percentile).
pub const RELATIVE_ERROR: f64 = 0.02;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// Counts of values per logarithmic bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHistogram {
    buckets: BTreeMap<u32, u64>,
}

impl LogHistogram {
    /// The bucket of `v`.
    fn bucket(v: f64) -> u32 {
        if v.is_nan() || v < 1.0 {
            return 0;
        }
        (v.ln() / gamma().ln())
            .ceil()
            .clamp(0.0, f64::from(u32::MAX - 2)) as u32
            + 1
    }

    /// The value bucket `i` stands for.
    fn value(i: u32) -> f64 {
        if i == 0 {
            return 0.0;
        }
        let g = gamma();
        2.0 * g.powi(i as i32 - 1) / (g + 1.0)
    }

    /// Counts one value.
    pub fn add(&mut self, v: f64) {
        *self.buckets.entry(Self::bucket(v)).or_insert(0) += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &LogHistogram) {
        for (i, n) in &other.buckets {
            *self.buckets.entry(*i).or_insert(0) += n;
        }
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The stored text (`index:count,…`); empty when nothing was counted.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        for (i, n) in &self.buckets {
            if !s.is_empty() {
                s.push(',');
            }
            let _ = write!(s, "{i}:{n}");
        }
        s
    }

    /// The histogram of stored text; `None` when it is not [`encode`](Self::encode)'s.
    pub fn decode(s: &str) -> Option<LogHistogram> {
        let mut h = LogHistogram::default();
        for pair in s.split(',').filter(|p| !p.is_empty()) {
            let (i, n) = pair.split_once(':')?;
            *h.buckets.entry(i.parse().ok()?).or_insert(0) += n.parse::<u64>().ok()?;
        }
        Some(h)
    }

    /// The value of the `rank`-th smallest counted value (0-based), as its bucket stands for it.
    fn at_rank(&self, rank: u64) -> f64 {
        let mut seen = 0;
        for (i, n) in &self.buckets {
            seen += n;
            if rank < seen {
                return Self::value(*i);
            }
        }
        self.buckets
            .keys()
            .next_back()
            .map_or(0.0, |i| Self::value(*i))
    }

    /// The percentiles of the counted values, each scaled by `factor`; `None` when empty.
    pub fn percentiles(&self, factor: f64) -> Option<Percentiles> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let at = |p: f64| {
            let (lo, hi, frac) = percentile_ranks(n, p);
            let (a, b) = (self.at_rank(lo), self.at_rank(hi));
            (a + (b - a) * frac) * factor
        };
        Some(Percentiles {
            count: n,
            p50: at(PERCENTILES[0]),
            p90: at(PERCENTILES[1]),
            p99: at(PERCENTILES[2]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stats::Percentiles as Exact;

    #[test]
    fn every_value_is_within_the_relative_error() {
        for v in [1.0, 2.0, 7.0, 999.0, 1e6, 12_345_678.0, 1e12, 3.3e15] {
            let got = LogHistogram::value(LogHistogram::bucket(v));
            assert!(
                (got - v).abs() <= v * RELATIVE_ERROR * 1.0001,
                "{v} read as {got}"
            );
        }
        assert_eq!(LogHistogram::value(LogHistogram::bucket(0.0)), 0.0);
        assert_eq!(LogHistogram::bucket(-5.0), 0);
    }

    #[test]
    fn percentiles_merge_and_round_trip() {
        let (mut a, mut b) = (LogHistogram::default(), LogHistogram::default());
        let mut values: Vec<f64> = (1..=5000).map(|i| f64::from(i * i)).collect();
        for (k, v) in values.iter().enumerate() {
            if k % 3 == 0 { &mut a } else { &mut b }.add(*v);
        }
        let mut merged = LogHistogram::decode(&a.encode()).unwrap();
        merged.merge(&LogHistogram::decode(&b.encode()).unwrap());
        let got = merged.percentiles(1.0).unwrap();
        let want = Exact::of(&mut values).unwrap();
        assert_eq!(got.count, want.count);
        for (g, w) in [
            (got.p50, want.p50),
            (got.p90, want.p90),
            (got.p99, want.p99),
        ] {
            assert!((g - w).abs() <= w * RELATIVE_ERROR * 1.0001, "{g} vs {w}");
        }
        assert!(LogHistogram::decode("x").is_none());
        assert_eq!(LogHistogram::decode("").unwrap().count(), 0);
        assert!(LogHistogram::default().percentiles(1.0).is_none());
    }
}
