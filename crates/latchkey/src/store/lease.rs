//! Lease locks shared by the SQLite and Redis stores.
//!
//! Neither backend can tie a lock to the life of a process the way `flock` does, so a lock
//! is a *lease*: a row or key naming a random owner and an expiry. The holder renews it
//! (a heartbeat every third of the lease) while it works, so a slow refresh keeps its lock;
//! a holder killed by SIGKILL stops renewing and its lock lapses after at most one lease.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::RngExt;

use super::StoreError;

/// The default lease: long enough that a live holder's heartbeat is never late, short
/// enough that a crashed holder blocks its peers only briefly.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// A random owner id: 128 bits, so two holders never share one.
pub(crate) fn owner_id() -> String {
    let bits: u128 = rand::rng().random();
    format!("{:032x}-{}", bits, std::process::id())
}

/// How often the holder renews its lease.
pub(crate) fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(50))
}

/// Calls `try_take` until it reports the lock taken or `wait` has passed, pausing a short
/// random time between attempts so waiters do not poll in lockstep.
pub(crate) async fn acquire<F, Fut>(
    key: &str,
    store: &str,
    wait: Duration,
    mut try_take: F,
) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let started = Instant::now();
    loop {
        if try_take().await? {
            return Ok(());
        }
        let elapsed = started.elapsed();
        if elapsed >= wait {
            return Err(StoreError::LockTimeout {
                key: key.to_owned(),
                store: store.to_owned(),
                waited: wait,
            });
        }
        let pause = Duration::from_millis(rand::rng().random_range(5..30));
        tokio::time::sleep(pause.min(wait - elapsed)).await;
    }
}

/// Milliseconds since the Unix epoch, for lease expiry shared between processes.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}
