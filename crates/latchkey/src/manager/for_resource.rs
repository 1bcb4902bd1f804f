//! Tokens for another resource (RFC 8707) next to a manager's own: a sibling manager with
//! its own store key, so each resource's access token is kept and reused on its own.
//!
//! Where the sibling's tokens come from:
//! - a grant that runs unattended and can be asked for one resource (client credentials, a
//!   password without a one-time code) simply asks again, for that resource;
//! - otherwise the parent's refresh token is spent with `resource` (RFC 8707 §2.2: "the
//!   client may use a refresh token to request an access token for a different resource").
//!
//! The refresh token stays in one place, the parent's entry: the sibling keeps only its
//! access token, and asks the parent's refresh token again when it expires. Each copy of a
//! refresh token would be a hazard: a provider that rotates refresh tokens (oidc-provider,
//! Keycloak, Auth0 with rotation on) invalidates the old one on use, and a second holder
//! spending the old one makes the provider revoke the whole grant. So the sibling spends it
//! under the parent's store lock and writes the rotated refresh token back into the
//! parent's entry, where the parent's next refresh reads it (it always re-reads the store
//! under the lock).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::current::Current;
use super::{FirstCallLogin, Inner, TokenManager};
use crate::client::OAuthClient;
use crate::error::{Error, Result};
use crate::grant::{Grant, GrantKind};
use crate::resource::{Resource, resource_store_key};
use crate::token::TokenSet;

impl TokenManager {
    /// A manager for tokens for `resource` (RFC 8707), kept under their own store key next to
    /// this manager's and sharing its client and store. For the resource this manager's
    /// grant already names first, it is this manager.
    ///
    /// The new manager's tokens come from the grant asked again for `resource` when it runs
    /// unattended, and from this manager's refresh token otherwise (the provider must allow
    /// the resource for the grant: name it in the login's authorization request too). Its
    /// errors say to log in here when there is no refresh token to spend.
    pub fn for_resource(&self, resource: Resource) -> TokenManager {
        let parent = &self.inner;
        if parent.grant.resources().first() == Some(&resource) {
            return self.clone();
        }
        let grant: Arc<dyn Grant> = match parent.grant.for_resource(resource.clone()) {
            Some(grant) if grant.can_run_unattended() => grant,
            _ => Arc::new(ViaRefreshToken {
                parent: parent.clone(),
                resources: vec![resource.clone()],
            }),
        };
        let inner = Arc::new(Inner {
            key: resource_store_key(&parent.key, &resource),
            client: parent.client.clone(),
            grant,
            store: parent.store.clone(),
            clock: parent.clock.clone(),
            system_clock: parent.system_clock,
            margin: parent.margin,
            lock_wait: parent.lock_wait,
            failure_cooldown: parent.failure_cooldown,
            current: Current::new(),
            flight: Mutex::new(None),
            on_reauth_required: parent.on_reauth_required.clone(),
            first_call_login: FirstCallLogin::Off,
            background: Mutex::new(None),
        });
        TokenManager { inner }
    }
}

/// Obtains a token for one resource by spending the parent manager's refresh token.
struct ViaRefreshToken {
    parent: Arc<Inner>,
    resources: Vec<Resource>,
}

impl std::fmt::Debug for ViaRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViaRefreshToken")
            .field("parent", &self.parent.key)
            .field("resources", &self.resources)
            .finish()
    }
}

#[async_trait]
impl Grant for ViaRefreshToken {
    fn kind(&self) -> GrantKind {
        self.parent.grant.kind()
    }

    /// Spending a stored refresh token needs nobody; when there is none, `obtain` says so.
    fn can_run_unattended(&self) -> bool {
        true
    }

    fn resources(&self) -> &[Resource] {
        &self.resources
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let parent = &self.parent;
        let resource = &self.resources[0];
        let lock = parent.store.lock(&parent.key, parent.lock_wait).await?;
        let now = parent.clock.now();
        // As the parent's own refresh reads it: the store, else what it holds, else its seed
        // (a refresh token given in the profile).
        let base = match parent.store.load(&parent.key).await? {
            Some(stored) => Some(stored),
            None => parent
                .current
                .load_full()
                .map(|l| TokenSet::clone(&l.tokens))
                .or_else(|| parent.grant.seed()),
        };
        let Some(base) = base.filter(|b| b.refresh_valid(now, Duration::ZERO)) else {
            return Err(Error::LoginRequired {
                key: parent.key.clone(),
                reason: format!(
                    "a token for resource `{resource}` is asked with `{}`'s refresh token, and \
                     no valid one is stored",
                    parent.key
                ),
            });
        };
        let refresh_token = base
            .refresh_token()
            .ok_or_else(|| Error::Internal("refresh without a refresh token".into()))?;
        lock.ensure_held().await?;
        tracing::debug!(key = %parent.key, %resource, "refreshing for another resource");
        let fresh = match client.refresh(refresh_token, Some(resource)).await {
            Ok(fresh) => fresh,
            Err(err) if err.rejects_refresh_token() => {
                return Err(Error::LoginRequired {
                    key: parent.key.clone(),
                    reason: format!("the refresh token was rejected ({err})"),
                });
            }
            Err(err) => return Err(err),
        };
        if fresh.refresh_token().is_some() && !fresh.same_refresh_token(&base) {
            // Rotated: the parent's entry gets the successor, its access token unchanged.
            let rotated = base
                .clone()
                .with_refresh_token(fresh.refresh_token().cloned())
                .with_refresh_expires_at(fresh.refresh_expires_at());
            parent
                .store
                .save_locked(&parent.key, &rotated, &lock)
                .await?;
        }
        // The sibling keeps its access token only; see the module comment.
        Ok(fresh.with_refresh_token(None).with_refresh_expires_at(None))
    }
}
