//! [`AuthenticatedUser`]: the signed-in user, their roles and a fresh access token, for
//! handlers.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use latchkey::{IdTokenClaims, TokenSet};
use secrecy::SecretString;

use crate::WebAuth;
use crate::error::{AuthRejection, WebAuthError};
use crate::session_token::RequestView;

/// The signed-in user of a request: the validated ID token claims and an access token that
/// is valid beyond the refresh margin (refreshed through the refresh token when needed, once
/// per session however many requests wait for it).
///
/// The session is found by its cookie, an `Authorization: Bearer` session token, or (when
/// allowed) a `?session=` token on a WebSocket upgrade.
///
/// Rejects with `401` when nobody is signed in. Use `Option<AuthenticatedUser>` on pages
/// that work signed out. Needs [`WebAuth::layer`] (or [`WebAuth::attach`]) on the router.
#[derive(Clone)]
pub struct AuthenticatedUser {
    claims: Arc<IdTokenClaims>,
    roles: Arc<[String]>,
    tokens: Arc<TokenSet>,
    auth: WebAuth,
    session_id: Arc<str>,
}

impl AuthenticatedUser {
    pub(crate) fn new(
        claims: IdTokenClaims,
        roles: Vec<String>,
        tokens: Arc<TokenSet>,
        auth: WebAuth,
        session_id: String,
    ) -> Self {
        Self {
            claims: Arc::new(claims),
            roles: roles.into(),
            tokens,
            auth,
            session_id: session_id.into(),
        }
    }

    /// The roles given at sign-in:
    /// [`default_roles`](crate::WebAuthBuilder::default_roles), and `admin` for
    /// [`admin_users`](crate::WebAuthBuilder::admin_users).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// `Ok` when the user holds `role`; otherwise a `403` JSON rejection naming it, for
    /// handlers that learn the role they need at run time (otherwise take
    /// [`RequireRole`](crate::RequireRole)):
    ///
    /// ```
    /// use axum::extract::Path;
    /// use latchkey_axum::{AuthRejection, AuthenticatedUser};
    ///
    /// async fn board(user: AuthenticatedUser, Path(team): Path<String>) -> Result<String, AuthRejection> {
    ///     user.require_role(&format!("team-{team}"))?;
    ///     Ok(format!("the {team} board"))
    /// }
    /// ```
    pub fn require_role(&self, role: &str) -> Result<(), AuthRejection> {
        if self.roles.iter().any(|r| r == role) {
            Ok(())
        } else {
            Err(WebAuthError::MissingRole {
                role: role.to_owned(),
            }
            .into())
        }
    }

    /// This session's token, for clients that cannot send the cookie: native apps
    /// (`Authorization: Bearer <token>`) and cross-origin WebSockets (`?session=<token>`,
    /// when [allowed](crate::WebAuthBuilder::session_in_websocket_query)). It is as
    /// powerful as the session cookie and lives and dies with the session.
    ///
    /// The cookie is `HttpOnly` so that a script injected into a page cannot steal the
    /// session; a token handed to page scripts gives that up. Hand it out only where needed
    /// (a same-origin WebSocket already gets the cookie).
    pub fn session_token(&self) -> Result<SecretString, WebAuthError> {
        self.auth.session_token(&self.session_id)
    }

    /// The user's stable id at the identity provider.
    pub fn sub(&self) -> &str {
        &self.claims.sub
    }

    /// The user's full name, when the provider sent one.
    pub fn name(&self) -> Option<&str> {
        self.claims.name.as_deref()
    }

    /// The user's email address, when the provider sent one.
    pub fn email(&self) -> Option<&str> {
        self.claims.email.as_deref()
    }

    /// Every claim of the ID token the session started with.
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// The access token, to call APIs on the user's behalf.
    pub fn access_token(&self) -> &SecretString {
        self.tokens.access_token()
    }

    /// When the access token expires, if the provider said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.tokens.expires_at()
    }

    /// `Bearer <access token>`, marked sensitive.
    pub fn authorization_header(&self) -> Result<HeaderValue, WebAuthError> {
        Ok(self
            .tokens
            .authorization_header()
            .map_err(latchkey::Error::from)?)
    }
}

impl fmt::Debug for AuthenticatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedUser")
            .field("claims", &self.claims)
            .field("roles", &self.roles)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

fn web_auth(parts: &Parts) -> Result<WebAuth, WebAuthError> {
    parts.extensions.get::<WebAuth>().cloned().ok_or_else(|| {
        WebAuthError::Config(
            "AuthenticatedUser used on a route without `WebAuth::layer()`; use `WebAuth::attach`"
                .into(),
        )
    })
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = WebAuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        user_of(parts).await
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
    type Rejection = WebAuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match user_of(parts).await {
            Ok(user) => Ok(Some(user)),
            Err(WebAuthError::NotSignedIn)
            | Err(WebAuthError::Latchkey(latchkey::Error::LoginRequired { .. })) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// The user [`crate::require_login`] already found, or the one the request presents.
async fn user_of(parts: &Parts) -> Result<AuthenticatedUser, WebAuthError> {
    if let Some(user) = parts.extensions.get::<AuthenticatedUser>() {
        return Ok(user.clone());
    }
    let view = RequestView::of(&parts.method, &parts.uri, &parts.headers);
    web_auth(parts)?.user_of(view).await.map(|(user, _)| user)
}
