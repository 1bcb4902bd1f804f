//! The in-process backend: records with a TTL in a map, indexed by expiry so that expired
//! records are found without looking at live ones.
//!
//! Every operation holds the table's lock for O(log n) work. Expired records are swept at
//! most once per [`SWEEP_EVERY`], in batches of [`SWEEP_BATCH`] with the lock released in
//! between, and their values are freed after the lock is released: however many sessions
//! there are, no request waits behind a pass over all of them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use latchkey::MemoryStore;
use secrecy::SecretString;

/// How often at most a table sweeps its expired records.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Most expired records removed per hold of the lock.
const SWEEP_BATCH: usize = 256;

/// The in-process backend of [`SessionStore::Memory`](super::SessionStore::Memory).
#[derive(Clone)]
pub struct MemorySessions {
    pub(super) sessions: Arc<Table>,
    pub(super) logins: Arc<Table>,
    pub(super) tokens: Arc<MemoryStore>,
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Records hold session secrets: only their existence is shown.
        f.debug_struct("MemorySessions").finish_non_exhaustive()
    }
}

impl Default for MemorySessions {
    fn default() -> Self {
        Self {
            sessions: Arc::new(Table::new(SWEEP_EVERY)),
            logins: Arc::new(Table::new(SWEEP_EVERY)),
            tokens: Arc::new(MemoryStore::new()),
        }
    }
}

/// Records with a deadline each.
pub(super) struct Table {
    entries: Mutex<Entries>,
    born: Instant,
    sweep_every: Duration,
    /// When the last sweep started, in milliseconds since `born`.
    last_sweep: AtomicU64,
    /// Records looked at by sweeps, for the tests that prove live records are not.
    #[cfg(test)]
    examined: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Entries {
    values: HashMap<String, (SecretString, Instant)>,
    by_expiry: BTreeSet<(Instant, String)>,
}

impl Entries {
    fn insert(&mut self, key: &str, value: SecretString, until: Instant) {
        if let Some((_, old)) = self.values.insert(key.to_owned(), (value, until)) {
            self.by_expiry.remove(&(old, key.to_owned()));
        }
        self.by_expiry.insert((until, key.to_owned()));
    }

    fn remove(&mut self, key: &str) -> Option<(SecretString, Instant)> {
        let (value, until) = self.values.remove(key)?;
        self.by_expiry.remove(&(until, key.to_owned()));
        Some((value, until))
    }

    /// Removes up to `limit` records expired at `now`, earliest first; the caller drops
    /// the values once the lock is released.
    fn evict_expired(&mut self, now: Instant, limit: usize) -> Vec<SecretString> {
        let mut evicted = Vec::new();
        while evicted.len() < limit
            && self
                .by_expiry
                .first()
                .is_some_and(|(until, _)| *until <= now)
        {
            if let Some((_, key)) = self.by_expiry.pop_first()
                && let Some((value, _)) = self.values.remove(&key)
            {
                evicted.push(value);
            }
        }
        evicted
    }
}

/// `now + ttl`, or a century on for a TTL too long for the clock.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

impl Table {
    pub(super) fn new(sweep_every: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            born: Instant::now(),
            sweep_every,
            last_sweep: AtomicU64::new(0),
            #[cfg(test)]
            examined: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sweeps the expired records when the last sweep is `sweep_every` old; of concurrent
    /// callers, one sweeps and the others go on.
    fn maybe_sweep(&self) {
        let now = Instant::now();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let at = millis(now.duration_since(self.born));
        let last = self.last_sweep.load(Ordering::Relaxed);
        if at.saturating_sub(last) < millis(self.sweep_every)
            || self
                .last_sweep
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        loop {
            let evicted = self.lock().evict_expired(now, SWEEP_BATCH);
            #[cfg(test)]
            self.examined.fetch_add(evicted.len(), Ordering::Relaxed);
            if evicted.len() < SWEEP_BATCH {
                break;
            }
        }
    }

    pub(super) fn put(&self, key: &str, value: SecretString, ttl: Duration) {
        self.maybe_sweep();
        let now = Instant::now();
        self.lock().insert(key, value, deadline(now, ttl));
    }

    /// Stores `value` unless `max` records are live already; then says how long until the
    /// earliest of them expires.
    pub(super) fn put_capped(
        &self,
        key: &str,
        value: SecretString,
        ttl: Duration,
        max: usize,
    ) -> Result<(), Duration> {
        self.maybe_sweep();
        let now = Instant::now();
        let mut entries = self.lock();
        // Records that expired since the last sweep do not count; evicting a bounded few
        // is enough to make room for this one.
        let evicted = if entries.values.len() >= max {
            entries.evict_expired(now, 16)
        } else {
            Vec::new()
        };
        let verdict = if entries.values.len() >= max {
            let earliest = entries.by_expiry.first().map(|(until, _)| *until);
            Err(earliest.map_or(Duration::ZERO, |until| until.duration_since(now)))
        } else {
            entries.insert(key, value, deadline(now, ttl));
            Ok(())
        };
        drop(entries);
        drop(evicted);
        verdict
    }

    /// The value under `key`, if present and not expired.
    pub(super) fn get(&self, key: &str) -> Option<SecretString> {
        self.maybe_sweep();
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.values.get(key) {
            Some((value, until)) if *until > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Removes the value under `key` and returns it, if it had not expired.
    pub(super) fn take(&self, key: &str) -> Option<SecretString> {
        self.maybe_sweep();
        let now = Instant::now();
        let removed = self.lock().remove(key);
        removed
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().values.len()
    }

    #[cfg(test)]
    pub(super) fn examined(&self) -> usize {
        self.examined.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn value(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn expired_records_are_swept_in_batches_at_most_once_per_interval() {
        // Long enough that the puts below finish before it on a loaded machine.
        let table = Table::new(Duration::from_millis(500));
        for i in 0..1_000 {
            table.put(&format!("gone{i}"), value("v"), Duration::ZERO);
        }
        for i in 0..10 {
            table.put(&format!("live{i}"), value("v"), Duration::from_secs(3600));
        }
        assert_eq!(table.examined(), 0, "no sweep before the interval");
        std::thread::sleep(Duration::from_millis(550));
        assert!(table.get("live0").is_some());
        assert_eq!(
            table.examined(),
            1_000,
            "the sweep looked at expired records only"
        );
        assert_eq!(table.len(), 10);
        for i in 0..100 {
            table.put(&format!("gone-again{i}"), value("v"), Duration::ZERO);
        }
        assert!(table.get("live1").is_some());
        assert_eq!(table.examined(), 1_000, "at most one sweep per interval");
    }

    #[test]
    fn replacing_a_record_moves_its_deadline() {
        let table = Table::new(Duration::from_secs(3600));
        table.put("k", value("old"), Duration::ZERO);
        table.put("k", value("new"), Duration::from_secs(3600));
        let mut entries = table.lock();
        assert_eq!(
            entries.by_expiry.len(),
            1,
            "the old deadline is gone from the index"
        );
        assert!(entries.evict_expired(Instant::now(), 10).is_empty());
        drop(entries);
        assert_eq!(table.get("k").unwrap().expose_secret(), "new");
    }

    #[test]
    fn capped_tables_refuse_when_full_and_count_only_live_records() {
        let table = Table::new(Duration::from_secs(3600));
        table
            .put_capped("a", value("v"), Duration::ZERO, 2)
            .unwrap();
        table
            .put_capped("b", value("v"), Duration::from_secs(60), 2)
            .unwrap();
        // `a` has expired: it makes room although no sweep ran.
        table
            .put_capped("c", value("v"), Duration::from_secs(120), 2)
            .unwrap();
        let wait = table
            .put_capped("d", value("v"), Duration::from_secs(60), 2)
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(58) && wait <= Duration::from_secs(60),
            "until `b` expires: {wait:?}"
        );
        assert!(table.take("b").is_some());
        table
            .put_capped("d", value("v"), Duration::from_secs(60), 2)
            .unwrap();
    }

    #[test]
    fn huge_ttls_do_not_overflow_the_clock() {
        let table = Table::new(SWEEP_EVERY);
        table.put("k", value("v"), Duration::MAX);
        assert!(table.get("k").is_some());
    }
}
