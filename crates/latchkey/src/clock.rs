//! Time, injected so expiry logic is tested without sleeping.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A source of wall-clock time.
///
/// The token manager asks the clock, never `SystemTime::now()` directly, so tests move time
/// forward with [`ManualClock`] instead of waiting for tokens to expire.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time, allowed to lag by a few milliseconds. The token manager's fast path
    /// uses it: a refresh decision taken 60 s before expiry does not need nanoseconds, and
    /// a coarse clock is several times cheaper to read.
    fn now_coarse(&self) -> SystemTime {
        self.now()
    }

    /// Whether this is the system's wall clock. The token manager's fast path then reads
    /// the coarse clock itself instead of calling through this trait. Only [`SystemClock`]
    /// says yes; other clocks keep the default.
    fn is_system_clock(&self) -> bool {
        false
    }
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn now_coarse(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(Self::coarse_unix_nanos())
    }

    fn is_system_clock(&self) -> bool {
        true
    }
}

impl SystemClock {
    /// Nanoseconds since the Unix epoch, allowed to lag by a few milliseconds.
    #[inline(always)]
    pub(crate) fn coarse_unix_nanos() -> u64 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // CLOCK_REALTIME_COARSE is read from the vDSO without touching the TSC, several
            // times cheaper than the precise clock, at jiffy resolution (1–4 ms).
            let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            if let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u64::try_from(ts.tv_nsec)) {
                return secs.saturating_mul(1_000_000_000).saturating_add(nanos);
            }
        }
        unix_nanos(SystemTime::now())
    }
}

/// `time` as nanoseconds since the Unix epoch: 0 before it, `u64::MAX` after the year 2554.
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock that starts at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock that starts at `start`.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: SystemTime) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = ManualClock::starting_at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + Duration::from_secs(5));
    }
}
