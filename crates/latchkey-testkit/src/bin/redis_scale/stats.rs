//! What the workers' reports add up to: tokens per key per expiry, lock hand-overs, and
//! percentiles. Pure functions, so the definitions in `docs/bench.md` can be checked here.

use std::collections::{BTreeMap, BTreeSet};

/// The `p`-th percentile (0–100, nearest rank) of `sorted`, which must be in ascending order.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One holding of the refresh lock, by one process (times in ns on a clock all share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acquisition {
    /// Which worker process held it.
    pub(crate) process: usize,
    /// When the holder called `lock`.
    pub(crate) asked: u64,
    /// When `lock` returned the guard.
    pub(crate) got: u64,
    /// When the holder dropped the guard.
    pub(crate) released: u64,
}

/// The hand-overs found in one run.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Handovers {
    /// Release-to-acquire times, ascending (ns).
    pub(crate) latencies: Vec<u64>,
    /// Acquisitions in all.
    pub(crate) acquisitions: usize,
    /// Holdings that began before the previous one ended: two holders at once. Must be 0.
    pub(crate) overlaps: usize,
}

/// Orders every holding by when it began; each one taken by a process that was already
/// waiting (it asked before the previous holder, another process, released) is a hand-over,
/// and its latency is `got - previous.released`. A holding taken by the previous holder
/// again, or by a process that asked only after the release, is not one: nobody was
/// waiting for it.
pub(crate) fn handovers(mut all: Vec<Acquisition>) -> Handovers {
    all.sort_by_key(|a| a.got);
    let mut out = Handovers {
        acquisitions: all.len(),
        ..Handovers::default()
    };
    for pair in all.windows(2) {
        let (previous, next) = (pair[0], pair[1]);
        if next.got < previous.released {
            out.overlaps += 1;
        } else if next.process != previous.process && next.asked < previous.released {
            out.latencies.push(next.got - previous.released);
        }
    }
    out.latencies.sort_unstable();
    out
}

/// The token lifetimes the callers of every key saw, over all processes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenTally {
    /// Keys that got a token at all.
    pub(crate) keys: usize,
    /// Distinct access tokens in use, summed over keys: one per key and token lifetime.
    pub(crate) lifetimes: u64,
    /// Times a key's token was replaced (`lifetimes - keys`): the expiries that needed a
    /// refresh.
    pub(crate) expiries: u64,
    /// The fewest and most expiries of one key.
    pub(crate) expiries_per_key: (u64, u64),
}

/// Adds up the distinct tokens each key's callers saw (`key -> token fingerprints`, merged
/// over processes).
pub(crate) fn tally(per_key: &BTreeMap<String, BTreeSet<String>>) -> TokenTally {
    let counts: Vec<u64> = per_key.values().map(|t| t.len() as u64).collect();
    let lifetimes: u64 = counts.iter().sum();
    let expiries = |n: &u64| n.saturating_sub(1);
    TokenTally {
        keys: counts.len(),
        lifetimes,
        expiries: counts.iter().map(expiries).sum(),
        expiries_per_key: (
            counts.iter().map(expiries).min().unwrap_or(0),
            counts.iter().map(expiries).max().unwrap_or(0),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(process: usize, asked: u64, got: u64, released: u64) -> Acquisition {
        Acquisition {
            process,
            asked,
            got,
            released,
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn only_waiters_in_other_processes_make_a_handover() {
        let found = handovers(vec![
            // Process 1 waits from 5 while 0 holds until 10, and gets it at 13: 3.
            held(1, 5, 13, 20),
            held(0, 0, 1, 10),
            // Process 1 takes it back after its own release: nobody was handed anything.
            held(1, 21, 22, 30),
            // Process 2 asked only after the release at 30: not waiting, not a hand-over.
            held(2, 31, 32, 40),
            // Process 0 asked at 35, before 2 released at 40, and got it at 47: 7.
            held(0, 35, 47, 50),
        ]);
        assert_eq!(
            found,
            Handovers {
                latencies: vec![3, 7],
                acquisitions: 5,
                overlaps: 0,
            }
        );
    }

    #[test]
    fn two_holders_at_once_are_counted() {
        let found = handovers(vec![held(0, 0, 1, 10), held(1, 2, 9, 12)]);
        assert_eq!(found.overlaps, 1);
        assert!(found.latencies.is_empty());
    }

    #[test]
    fn expiries_are_token_lifetimes_after_the_first() {
        let set = |n: usize| (0..n).map(|i| format!("t{i}")).collect::<BTreeSet<_>>();
        let per_key = BTreeMap::from([
            ("a-0".to_owned(), set(6)),
            ("a-1".to_owned(), set(5)),
            ("a-2".to_owned(), set(1)),
        ]);
        assert_eq!(
            tally(&per_key),
            TokenTally {
                keys: 3,
                lifetimes: 12,
                expiries: 9,
                expiries_per_key: (0, 5),
            }
        );
    }
}
