//! The slow path: obtain fresh tokens exactly once per key, across tasks and processes.
//!
//! Runs inside a spawned task (see `TokenManager::ensure`), so a caller that gives up does
//! not cancel the refresh the other waiters depend on.

use std::sync::Arc;
use std::time::Duration;

use super::live::Live;
use super::{FirstCallLogin, Inner};
use crate::error::{Error, Result};
use crate::store::{StoreError, StoreLock};
use crate::token::TokenSet;

/// How many times a holder that lost its lease starts over (takes the lock again and
/// re-reads what its successor saved) before it reports [`StoreError::LeaseLost`].
const LEASE_LOST_RETRIES: u32 = 2;

/// Fresh tokens and whether persisting them failed (they are served either way, so a
/// rotated refresh token is never dropped on the floor).
struct Fresh {
    live: Arc<Live>,
    save_error: Option<StoreError>,
}

/// Refreshes, installs the result as current, and decides what callers see on failure.
/// `ahead` > 0 refreshes tokens that are still fresh now but will not be `ahead` from now.
pub(super) async fn run(inner: &Arc<Inner>, ahead: Duration) -> Result<Arc<Live>> {
    let previous = inner.current.load_full();
    match obtain_fresh(inner, previous.as_deref(), ahead).await {
        Ok(Fresh { live, save_error }) => {
            inner.current.replace(Some(live.clone()));
            match save_error {
                None => Ok(live),
                Some(err) => {
                    tracing::error!(key = %inner.key, error = %err, "fresh tokens could not be saved; they are kept in memory only");
                    Err(Error::Store(err))
                }
            }
        }
        Err(err) => {
            let now = inner.clock.now();
            // Serve-while-valid: a token that has not actually expired still works, so a
            // flaky identity provider must not take the API client down with it.
            if let Some(prev) =
                previous.filter(|p| !p.rejected && p.tokens.access_valid(now, Duration::ZERO))
            {
                let expires_at = prev
                    .tokens
                    .expires_at()
                    .unwrap_or(now + inner.failure_cooldown);
                let retry_at = (now + inner.failure_cooldown).min(expires_at);
                tracing::warn!(key = %inner.key, error = %err, "refresh failed; serving the current token until it expires");
                let deferred = Arc::new(prev.deferred(retry_at));
                inner.current.replace(Some(deferred.clone()));
                if err.needs_login() {
                    inner.notify_reauth_required(&err);
                }
                return Ok(deferred);
            }
            if err.needs_login() {
                inner.notify_reauth_required(&err);
            }
            Err(err)
        }
    }
}

/// [`obtain_fresh_once`], started over when the lock's lease was lost midway: whatever this
/// holder had in hand is then discarded, and the next round reads what the successor saved.
async fn obtain_fresh(inner: &Inner, previous: Option<&Live>, ahead: Duration) -> Result<Fresh> {
    let mut retries = 0;
    loop {
        match obtain_fresh_once(inner, previous, ahead).await {
            Err(Error::Store(err @ StoreError::LeaseLost { .. }))
                if retries < LEASE_LOST_RETRIES =>
            {
                retries += 1;
                tracing::warn!(key = %inner.key, error = %err, "the refresh lock lapsed while this process stalled; reading the new holder's tokens");
            }
            other => return other,
        }
    }
}

async fn obtain_fresh_once(
    inner: &Inner,
    previous: Option<&Live>,
    ahead: Duration,
) -> Result<Fresh> {
    let lock = inner.store.lock(&inner.key, inner.lock_wait).await?;
    let now = inner.clock.now();
    // Re-read under the lock: another task or process may have refreshed while we waited.
    let stored = inner.store.load(&inner.key).await?;
    if let Some(stored) = &stored {
        let rejected = previous.is_some_and(|p| p.rejected && p.tokens.same_access_token(stored));
        if !rejected && stored.is_fresh(now + ahead, inner.margin) {
            tracing::debug!(key = %inner.key, "adopting tokens refreshed by a peer");
            return Ok(Fresh {
                live: Arc::new(Live::new(stored.clone(), inner.margin)?),
                save_error: None,
            });
        }
    }
    let base = stored
        .or_else(|| previous.map(|p| TokenSet::clone(&p.tokens)))
        .or_else(|| inner.grant.seed());
    let tokens = match base.filter(|b| b.refresh_valid(now, Duration::ZERO)) {
        Some(base) => refresh_or_reauth(inner, &lock, base).await?,
        None if inner.first_call_login == FirstCallLogin::On
            && !inner.grant.can_run_unattended() =>
        {
            drop(lock);
            return login_on_first_call(inner).await;
        }
        None => reauth(inner, None).await?,
    };
    // Persist before handing out: a rotated refresh token must survive this process. A lost
    // lease means a successor has the lock and its own tokens: ours are dropped, not served.
    let save_error = match inner.store.save_locked(&inner.key, &tokens, &lock).await {
        Ok(()) => None,
        Err(err @ StoreError::LeaseLost { .. }) => return Err(Error::Store(err)),
        Err(err) => Some(err),
    };
    Ok(Fresh {
        live: Arc::new(Live::new(tokens, inner.margin)?),
        save_error,
    })
}

/// The interactive login, run for the first caller (the others wait on the same flight).
/// The store's lock is not held while a person takes their time: a lease would lapse and
/// make the login run twice. It is taken again to save, as [`TokenManager::login`] does.
///
/// [`TokenManager::login`]: super::TokenManager::login
async fn login_on_first_call(inner: &Inner) -> Result<Fresh> {
    tracing::info!(key = %inner.key, grant = %inner.grant.kind(), "nothing stored: logging in on first call");
    let tokens = inner.grant.obtain(&inner.client).await?;
    let lock = inner.store.lock(&inner.key, inner.lock_wait).await?;
    let save_error = inner
        .store
        .save_locked(&inner.key, &tokens, &lock)
        .await
        .err();
    Ok(Fresh {
        live: Arc::new(Live::new(tokens, inner.margin)?),
        save_error,
    })
}

/// Refreshes `base`, first making sure the lock is still ours: a holder that stalled past
/// its lease would otherwise spend a refresh token its successor may have rotated already,
/// and a rotating identity provider revokes the whole grant on such a replay.
async fn refresh_or_reauth(inner: &Inner, lock: &StoreLock, base: TokenSet) -> Result<TokenSet> {
    lock.ensure_held().await?;
    let err = match refresh_with(inner, &base).await {
        Ok(tokens) => return Ok(tokens),
        Err(err) if err.rejects_refresh_token() => err,
        Err(err) => return Err(err),
    };
    // `invalid_grant` (or its empty-400 form): a peer that does not share our lock (another machine, an old
    // version) may have rotated the refresh token. Look once more before giving up on it.
    if let Some(again) = inner.store.load(&inner.key).await?
        && !again.same_refresh_token(&base)
    {
        let now = inner.clock.now();
        if again.is_fresh(now, inner.margin) {
            return Ok(again);
        }
        if again.refresh_valid(now, Duration::ZERO) {
            lock.ensure_held().await?;
            match refresh_with(inner, &again).await {
                Ok(tokens) => return Ok(tokens),
                Err(e) if e.rejects_refresh_token() => return reauth(inner, Some(e)).await,
                Err(e) => return Err(e),
            }
        }
    }
    reauth(inner, Some(err)).await
}

async fn refresh_with(inner: &Inner, base: &TokenSet) -> Result<TokenSet> {
    let refresh_token = base
        .refresh_token()
        .ok_or_else(|| Error::Internal("refresh without a refresh token".into()))?;
    tracing::debug!(key = %inner.key, "refreshing access token");
    // The refresh proves possession of the key the stored tokens are bound to.
    let client = inner.client.with_dpop_key(base.dpop_key().cloned());
    let resource = inner.grant.resources().first();
    Ok(client
        .refresh(refresh_token, resource)
        .await?
        .succeeding(base))
}

async fn reauth(inner: &Inner, cause: Option<Error>) -> Result<TokenSet> {
    if inner.grant.can_run_unattended() {
        tracing::info!(key = %inner.key, grant = %inner.grant.kind(), "obtaining new tokens");
        return inner.grant.obtain(&inner.client).await;
    }
    const NOTHING_STORED: &str =
        "no valid access or refresh token is stored, and this grant needs a person to log in";
    let reason = match (cause, &inner.first_call_login) {
        (Some(err), _) => format!("the refresh token was rejected ({err})"),
        // `On` logs in before getting here (see `login_on_first_call`).
        (None, FirstCallLogin::Off | FirstCallLogin::On) => NOTHING_STORED.to_string(),
        (None, FirstCallLogin::Unavailable { reason }) => format!(
            "{NOTHING_STORED}; login on first call (`login = \"auto\"`) is set but did not apply: {reason}"
        ),
    };
    Err(Error::LoginRequired {
        key: inner.key.clone(),
        reason,
    })
}
