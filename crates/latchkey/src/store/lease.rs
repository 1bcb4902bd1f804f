//! Lease locks shared by the SQLite and Redis stores.
//!
//! Neither backend can tie a lock to the life of a process the way `flock` does, so a lock
//! is a *lease*: a row or key naming a random owner and an expiry. The holder renews it
//! (a heartbeat every third of the lease) while it works, so a slow refresh keeps its lock;
//! a holder killed by SIGKILL stops renewing and its lock lapses after at most one lease.
//!
//! Tasks of one process that share a store handle first queue on an in-process, FIFO
//! mutex per key, so only one of them at a time polls the backend. Without it, hundreds of
//! token managers in a few processes poll the same lease, and an unlucky waiter can lose
//! every race until its wait runs out (seen with 8 processes × 50 managers).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

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

/// The in-process queue of a store handle: one FIFO async mutex per key.
#[derive(Debug, Default)]
pub(crate) struct LocalQueue {
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalQueue {
    fn mutex(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }
}

/// Waits for this process's turn on `key`, then calls `try_take` until it reports the lease
/// taken or `wait` has passed. Pauses between attempts grow (with jitter) from 5 to 100 ms,
/// so waiters in different processes neither poll in lockstep nor flood the backend.
/// The returned guard is this process's turn: keep it as long as the lease.
pub(crate) async fn acquire<F, Fut>(
    queue: &LocalQueue,
    key: &str,
    store: &str,
    wait: Duration,
    mut try_take: F,
) -> Result<OwnedMutexGuard<()>, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let timeout = || StoreError::LockTimeout {
        key: key.to_owned(),
        store: store.to_owned(),
        waited: wait,
    };
    let started = Instant::now();
    let turn = tokio::time::timeout(wait, queue.mutex(key).lock_owned())
        .await
        .map_err(|_| timeout())?;
    let mut pause_ms = 5u64;
    loop {
        if try_take().await? {
            return Ok(turn);
        }
        let elapsed = started.elapsed();
        if elapsed >= wait {
            return Err(timeout());
        }
        let pause = Duration::from_millis(rand::rng().random_range(pause_ms / 2..=pause_ms));
        tokio::time::sleep(pause.min(wait - elapsed)).await;
        pause_ms = (pause_ms * 3 / 2).min(100);
    }
}

/// Milliseconds since the Unix epoch, for lease expiry shared between processes.
#[cfg(feature = "sqlite")]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}
