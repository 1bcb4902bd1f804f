//! [`AuthenticatedUser`]: the signed-in user and a fresh access token, for handlers.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use latchkey::{IdTokenClaims, TokenSet};
use secrecy::SecretString;

use crate::WebAuth;
use crate::error::WebAuthError;

/// The signed-in user of a request: the validated ID token claims and an access token that
/// is valid beyond the refresh margin (refreshed through the refresh token when needed, once
/// per session however many requests wait for it).
///
/// Rejects with `401` when nobody is signed in. Use `Option<AuthenticatedUser>` on pages
/// that work signed out. Needs [`WebAuth::layer`] (or [`WebAuth::attach`]) on the router.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    claims: Arc<IdTokenClaims>,
    tokens: Arc<TokenSet>,
}

impl AuthenticatedUser {
    pub(crate) fn new(claims: IdTokenClaims, tokens: Arc<TokenSet>) -> Self {
        Self {
            claims: Arc::new(claims),
            tokens,
        }
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
        web_auth(parts)?.user(&parts.headers).await
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
    type Rejection = WebAuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match web_auth(parts)?.user(&parts.headers).await {
            Ok(user) => Ok(Some(user)),
            Err(WebAuthError::NotSignedIn)
            | Err(WebAuthError::Latchkey(latchkey::Error::LoginRequired { .. })) => Ok(None),
            Err(other) => Err(other),
        }
    }
}
