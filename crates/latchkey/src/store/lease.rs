//! The lease lock shared by the SQLite and Redis stores.
//!
//! Neither backend can tie a lock to the life of a process the way `flock` does, so a lock
//! is a *lease*: a row or key naming a random owner and an expiry. The holder renews it
//! (a heartbeat every third of the lease) while it works, so a slow refresh keeps its lock;
//! a holder killed by SIGKILL stops renewing and its lock lapses after at most one lease.
//!
//! A holder that merely *stalls* longer than its lease (a stopped process, a suspended VM)
//! wakes up believing it still holds the lock while a successor has taken it and may have
//! rotated the refresh token. The owner id is therefore also a fencing value: a save under
//! the lock is a compare-and-set on it ([`LeaseBackend::save_if_held`]), and
//! [`Lease::ensure_held`] renews the lease before the holder spends its refresh token. A
//! holder that lost its lease gets [`StoreError::LeaseLost`] instead of overwriting its
//! successor's tokens.
//!
//! Tasks of one process that share a store handle first queue on an in-process, FIFO
//! mutex per key, so only one of them at a time polls the backend. Without it, hundreds of
//! token managers in a few processes poll the same lease, and an unlucky waiter can lose
//! every race until its wait runs out (seen with 8 processes × 50 managers).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::RngExt;
use tokio::sync::OwnedMutexGuard;

use super::{KeyLocks, StoreError};
use crate::token::TokenSet;

/// The default lease: long enough that a live holder's heartbeat is never late, short
/// enough that a crashed holder blocks its peers only briefly.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The few operations a backend supplies; [`Lease`] does the rest (waiting with backoff,
/// the heartbeat, fencing, release on drop). Every operation is atomic in the backend.
#[async_trait]
pub(crate) trait LeaseBackend: Send + Sync + 'static {
    /// The store, as [`TokenStore::describe`](super::TokenStore::describe) shows it.
    fn describe(&self) -> String;

    /// How long a lease lasts without renewal.
    fn lease(&self) -> Duration;

    /// Takes the lease on `key` for `owner` unless another owner holds an unexpired one.
    async fn try_acquire(&self, key: &str, owner: &str) -> Result<bool, StoreError>;

    /// Extends the lease on `key` by a full lease; `false` when `owner` no longer holds it.
    async fn renew(&self, key: &str, owner: &str) -> Result<bool, StoreError>;

    /// Deletes the lease on `key` if `owner` still holds it.
    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError>;

    /// Like [`release`](Self::release), without a runtime (a guard dropped at shutdown).
    /// Backends that cannot do it leave the lease to lapse.
    fn release_without_runtime(&self, _key: &str, _owner: &str) {}

    /// Stores `tokens` under `key` if, and in the same atomic step as, `owner` holding the
    /// lease on `key`; `false` (nothing written) when another owner holds it.
    async fn save_if_held(
        &self,
        key: &str,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<bool, StoreError>;
}

/// A random owner id: 128 bits, so two holders never share one.
fn owner_id() -> String {
    let bits: u128 = rand::rng().random();
    format!("{:032x}-{}", bits, std::process::id())
}

/// How often the holder renews its lease.
fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(50))
}

/// What the guard and its heartbeat share.
struct Held {
    backend: Arc<dyn LeaseBackend>,
    key: String,
    /// The fencing value: the backend's lease names it while, and only while, it is ours.
    owner: String,
    /// Set once the heartbeat found the lease taken by someone else.
    lost: AtomicBool,
}

impl Held {
    fn lost(&self) -> StoreError {
        self.lost.store(true, Ordering::Release);
        StoreError::LeaseLost {
            key: self.key.clone(),
            store: self.backend.describe(),
        }
    }
}

/// A held lease; dropping it stops the heartbeat and releases the lease.
pub(crate) struct Lease {
    held: Arc<Held>,
    heartbeat: tokio::task::AbortHandle,
    /// This process's turn on the key, passed on once the lease is released: a task here
    /// that waits for the key then finds it free in the backend, instead of polling until
    /// the release lands.
    turn: Option<OwnedMutexGuard<()>>,
}

impl Lease {
    /// Waits for this process's turn on `key`, then tries to take the lease until it is
    /// taken or `wait` has passed. Pauses between attempts grow (with jitter) from 5 to
    /// 100 ms, so waiters in different processes neither poll in lockstep nor flood the
    /// backend.
    pub(crate) async fn acquire(
        backend: Arc<dyn LeaseBackend>,
        queue: &KeyLocks,
        key: &str,
        wait: Duration,
    ) -> Result<Lease, StoreError> {
        let timeout = || StoreError::LockTimeout {
            key: key.to_owned(),
            store: backend.describe(),
            waited: wait,
        };
        let started = Instant::now();
        let turn = queue.lock(key, wait, &backend.describe()).await?;
        let owner = owner_id();
        let mut pause_ms = 5u64;
        while !backend.try_acquire(key, &owner).await? {
            let elapsed = started.elapsed();
            if elapsed >= wait {
                return Err(timeout());
            }
            let pause = Duration::from_millis(rand::rng().random_range(pause_ms / 2..=pause_ms));
            tokio::time::sleep(pause.min(wait - elapsed)).await;
            pause_ms = (pause_ms * 3 / 2).min(100);
        }
        let held = Arc::new(Held {
            backend,
            key: key.to_owned(),
            owner,
            lost: AtomicBool::new(false),
        });
        Ok(Lease {
            heartbeat: spawn_heartbeat(held.clone()),
            held,
            turn: Some(turn),
        })
    }

    /// Renews the lease now, or fails with [`StoreError::LeaseLost`] when it lapsed and
    /// another holder has taken it. Called before spending a refresh token: a renewal
    /// right before the request gives it a whole lease of margin.
    pub(crate) async fn ensure_held(&self) -> Result<(), StoreError> {
        let held = &self.held;
        if held.lost.load(Ordering::Acquire) {
            return Err(held.lost());
        }
        match held.backend.renew(&held.key, &held.owner).await? {
            true => Ok(()),
            false => Err(held.lost()),
        }
    }

    /// Saves `tokens` under `key` only while this lease is still ours (one atomic
    /// compare-and-set in the backend); [`StoreError::LeaseLost`] when it is not, and then
    /// nothing was written.
    pub(crate) async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        let held = &self.held;
        if key != held.key {
            return Err(StoreError::InvalidKey {
                key: key.to_owned(),
                reason: format!(
                    "the lock passed along is for `{}`; take the lock for this key",
                    held.key
                ),
            });
        }
        match held.backend.save_if_held(key, &held.owner, tokens).await? {
            true => Ok(()),
            false => Err(held.lost()),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let held = self.held.clone();
        let turn = self.turn.take();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move {
                if let Err(err) = held.backend.release(&held.key, &held.owner).await {
                    tracing::warn!(key = %held.key, error = %err, "could not release the refresh lock; it lapses with its lease");
                }
                drop(turn);
            })),
            Err(_) => held.backend.release_without_runtime(&held.key, &held.owner),
        }
    }
}

fn spawn_heartbeat(held: Arc<Held>) -> tokio::task::AbortHandle {
    let every = heartbeat_every(held.backend.lease());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match held.backend.renew(&held.key, &held.owner).await {
                Ok(true) => {}
                Ok(false) => {
                    held.lost.store(true, Ordering::Release);
                    tracing::error!(key = %held.key, "the refresh lock lease was lost (renewed too late); its holder will not save over its successor");
                    return;
                }
                // Retried at the next beat; the lease has slack for a missed one.
                Err(err) => {
                    tracing::warn!(key = %held.key, error = %err, "could not renew the refresh lock")
                }
            }
        }
    })
    .abort_handle()
}

/// Milliseconds since the Unix epoch, for lease expiry shared between processes.
#[cfg(feature = "sqlite")]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}
