//! The token set a manager hands out now, published so the fast path reads it cheaply.
//!
//! Two layers. `live` is the truth: an [`ArcSwapOption`] that writers replace. Reading it
//! is lock-free but costs a few atomic operations, and cloning its header bumps one
//! reference count that every thread shares, so on many cores the threads fight over one
//! cache line. Each thread therefore also keeps its own copy of the header
//! ([`thread_copies`]), tagged with the id of the [`Live`] it was copied from. The fast
//! path compares that id with `id`, one read-only atomic load, and clones the thread's own
//! copy: no shared cache line is ever written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwapOption, Guard};
use http::HeaderValue;

use super::live::Live;

/// See the module documentation.
pub(crate) struct Current {
    live: ArcSwapOption<Live>,
    /// The id of the `Live` in `live`, or 0 when there is none.
    id: AtomicU64,
    /// Serializes writers, so `id` always ends up naming what `live` holds.
    write: Mutex<()>,
    /// Tells this manager's copies from other managers' in a thread's slots.
    owner: u64,
}

impl Current {
    pub(crate) fn new() -> Self {
        static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);
        Self {
            live: ArcSwapOption::empty(),
            id: AtomicU64::new(0),
            write: Mutex::new(()),
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The header of the current token if it is fresh at `now` (nanoseconds since the Unix
    /// epoch).
    #[inline(always)]
    pub(crate) fn fresh_header(&self, now: u64) -> Option<HeaderValue> {
        let id = self.id.load(Ordering::Acquire);
        if id == 0 {
            return None;
        }
        if let Some(header) = thread_copies::get(self.owner, id, now) {
            return Some(header);
        }
        self.fresh_shared_header(now)
    }

    /// The shared header, when this thread has no current copy of it. Out of line: the
    /// inlined fast path above must stay small, since every caller carries a copy.
    #[inline(never)]
    fn fresh_shared_header(&self, now: u64) -> Option<HeaderValue> {
        let guard = self.live.load();
        let live = guard.as_deref().filter(|live| live.fresh_at_nanos(now))?;
        thread_copies::put(self.owner, live);
        Some(live.header.clone())
    }

    pub(crate) fn load(&self) -> Guard<Option<Arc<Live>>> {
        self.live.load()
    }

    pub(crate) fn load_full(&self) -> Option<Arc<Live>> {
        self.live.load_full()
    }

    /// Installs `live` (or nothing) and returns what was there.
    pub(crate) fn replace(&self, live: Option<Arc<Live>>) -> Option<Arc<Live>> {
        let _write = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let id = live.as_ref().map_or(0, |l| l.id);
        let previous = self.live.swap(live);
        self.id.store(id, Ordering::Release);
        previous
    }

    /// Installs `live` only if `expected` is still current; says whether it did.
    pub(crate) fn replace_if(&self, expected: &Option<Arc<Live>>, live: Arc<Live>) -> bool {
        let _write = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let id = live.id;
        let previous = self.live.compare_and_swap(expected, Some(live));
        let replaced = match (&*previous, expected) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if replaced {
            self.id.store(id, Ordering::Release);
        }
        replaced
    }
}

/// Each thread's own copies of current headers, a few managers per thread.
mod thread_copies {
    use std::cell::RefCell;

    use http::HeaderValue;
    use zeroize::Zeroizing;

    use super::Live;
    use crate::manager::live::cache_line_header;

    /// Managers sharing a slot on one thread take turns; a thread with many managers (one
    /// per web session) falls back to the shared header for most of them.
    pub(super) const SLOTS: usize = 4;

    /// Calls from other managers tolerated before a slot changes hands: two managers that
    /// alternate on one thread do not copy a header on every call.
    const PATIENCE: u32 = 64;

    struct Copy {
        owner: u64,
        live_id: u64,
        header: HeaderValue,
        /// Nanoseconds since the Unix epoch.
        fresh_until: u64,
        /// Calls for other managers' tokens since this copy was last used.
        misses: u32,
    }

    thread_local! {
        static COPIES: RefCell<[Option<Copy>; SLOTS]> =
            const { RefCell::new([const { None }; SLOTS]) };
    }

    fn slot(owner: u64) -> usize {
        (owner % SLOTS as u64) as usize
    }

    #[inline(always)]
    pub(super) fn get(owner: u64, live_id: u64, now: u64) -> Option<HeaderValue> {
        COPIES
            .try_with(|copies| {
                let mut copies = copies.try_borrow_mut().ok()?;
                let copy = copies.get_mut(slot(owner))?.as_mut()?;
                if copy.owner != owner {
                    copy.misses = copy.misses.saturating_add(1);
                    return None;
                }
                copy.misses = 0;
                (copy.live_id == live_id && now < copy.fresh_until).then(|| copy.header.clone())
            })
            .ok()
            .flatten()
    }

    /// Copies `live`'s header into this thread's slot, unless another manager is using it.
    pub(super) fn put(owner: u64, live: &Live) {
        let _ = COPIES.try_with(|copies| {
            let Ok(mut copies) = copies.try_borrow_mut() else {
                return;
            };
            let Some(entry) = copies.get_mut(slot(owner)) else {
                return;
            };
            if entry
                .as_ref()
                .is_some_and(|c| c.owner != owner && c.misses < PATIENCE)
            {
                return;
            }
            if let Some(header) = cache_line_header(Zeroizing::new(live.header.as_bytes().to_vec()))
            {
                *entry = Some(Copy {
                    owner,
                    live_id: live.id,
                    header,
                    fresh_until: live.refresh_at_nanos,
                    misses: 0,
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use std::time::SystemTime;

    use super::*;
    use crate::clock::unix_nanos;
    use crate::token::TokenSet;

    fn live(token: &str, now: SystemTime, lifetime_secs: u64) -> Arc<Live> {
        let tokens = TokenSet::new(SecretString::from(token.to_owned()), now)
            .with_expires_at(Some(now + Duration::from_secs(lifetime_secs)));
        Arc::new(Live::new(tokens, Duration::from_secs(60)).expect("valid header"))
    }

    fn served(current: &Current, now: SystemTime) -> Option<String> {
        current
            .fresh_header(unix_nanos(now))
            .map(|h| h.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn a_replaced_token_is_never_served_from_a_thread_copy() {
        let now = SystemTime::now();
        let current = Current::new();
        assert_eq!(served(&current, now), None);
        current.replace(Some(live("one", now, 3600)));
        // Twice: the first call fills this thread's copy, the second is served from it.
        assert_eq!(served(&current, now).as_deref(), Some("Bearer one"));
        assert_eq!(served(&current, now).as_deref(), Some("Bearer one"));
        current.replace(Some(live("two", now, 3600)));
        assert_eq!(served(&current, now).as_deref(), Some("Bearer two"));
        current.replace(None);
        assert_eq!(served(&current, now), None);
    }

    #[test]
    fn a_thread_copy_is_not_served_past_the_refresh_time() {
        let now = SystemTime::now();
        let current = Current::new();
        current.replace(Some(live("one", now, 3600)));
        assert!(served(&current, now).is_some());
        assert_eq!(served(&current, now + Duration::from_secs(3600 - 59)), None);
    }

    #[test]
    fn a_rejected_token_is_not_served_from_a_thread_copy() {
        let now = SystemTime::now();
        let current = Current::new();
        current.replace(Some(live("one", now, 3600)));
        assert!(served(&current, now).is_some());
        let held = current.load_full();
        let rejected = Arc::new(held.as_deref().expect("held").rejected());
        assert!(current.replace_if(&held, rejected));
        assert_eq!(served(&current, now), None);
        // The compare-and-swap refuses to act on a token that was already replaced.
        current.replace(Some(live("two", now, 3600)));
        let stale = Arc::new(live("one", now, 3600).rejected());
        assert!(!current.replace_if(&held, stale));
        assert_eq!(served(&current, now).as_deref(), Some("Bearer two"));
    }

    #[test]
    fn managers_sharing_a_slot_on_one_thread_each_get_their_own_token() {
        let now = SystemTime::now();
        // More managers than slots, so several share one and take turns.
        let managers: Vec<(Current, String)> = (0..3 * thread_copies::SLOTS)
            .map(|i| {
                let current = Current::new();
                current.replace(Some(live(&format!("token-{i}"), now, 3600)));
                (current, format!("Bearer token-{i}"))
            })
            .collect();
        for round in 0..200 {
            for (current, expected) in &managers {
                assert_eq!(
                    served(current, now).as_deref(),
                    Some(expected.as_str()),
                    "round {round}"
                );
            }
        }
    }

    #[test]
    fn a_replacement_on_one_thread_reaches_the_copies_of_others() {
        let now = SystemTime::now();
        let current = Arc::new(Current::new());
        current.replace(Some(live("one", now, 3600)));
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (seen, report) = std::sync::mpsc::channel();
        let reader = {
            let current = current.clone();
            std::thread::spawn(move || {
                seen.send(served(&current, now)).expect("report");
                seen.send(served(&current, now)).expect("report");
                wait.recv().expect("go");
                seen.send(served(&current, now)).expect("report");
            })
        };
        assert_eq!(report.recv().expect("first").as_deref(), Some("Bearer one"));
        assert_eq!(report.recv().expect("copy").as_deref(), Some("Bearer one"));
        current.replace(Some(live("two", now, 3600)));
        go.send(()).expect("go");
        assert_eq!(report.recv().expect("after").as_deref(), Some("Bearer two"));
        reader.join().expect("reader");
    }

    #[test]
    fn headers_are_sensitive_and_identical_to_the_shared_one() {
        let now = SystemTime::now();
        let current = Current::new();
        current.replace(Some(live("one", now, 3600)));
        let shared = current.fresh_header(unix_nanos(now)).expect("first");
        let copy = current.fresh_header(unix_nanos(now)).expect("copy");
        assert!(shared.is_sensitive() && copy.is_sensitive());
        assert_eq!(shared, copy);
    }
}
