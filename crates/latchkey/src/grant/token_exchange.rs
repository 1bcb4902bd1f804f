//! The token exchange grant (RFC 8693): a token the client holds (a person's access token, a
//! workload's service-account token) traded for one another service accepts.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::ExposeSecret;

use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::Result;
use crate::token::TokenSet;
use crate::token_source::TokenSource;

/// The `grant_type` of RFC 8693 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type identifiers (RFC 8693 §3) for `subject_token_type`, `actor_token_type`,
/// `requested_token_type` and the answer's `issued_token_type`.
pub mod token_type {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth 2.0 refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT (a Kubernetes service-account token, a SPIFFE JWT-SVID, a CI runner's token).
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// One token the exchange presents, with its type.
#[derive(Debug, Clone)]
struct Presented {
    source: Arc<dyn TokenSource>,
    token_type: String,
}

/// The token exchange grant (RFC 8693): presents a subject token (and optionally an actor
/// token), each read from its [`TokenSource`] at every exchange, and asks for a token for an
/// `audience` or `resource`.
///
/// Re-authentication is unattended: when the issued token ends and no refresh token came
/// with it, the manager exchanges again with whatever the source holds then (a rotated
/// workload token, the other profile's refreshed access token).
///
/// ```
/// use latchkey::grant::{TokenExchange, token_type};
/// use latchkey::token_source::FileToken;
///
/// let grant = TokenExchange::builder(
///     FileToken::new("/var/run/secrets/tokens/latchkey"),
///     token_type::JWT,
/// )
/// .audience("https://api.example.org")
/// .scopes(["api:read"])
/// .build();
/// ```
#[derive(Debug, Clone)]
pub struct TokenExchange {
    subject: Presented,
    actor: Option<Presented>,
    audiences: Vec<String>,
    resources: Vec<String>,
    requested_token_type: Option<String>,
    scopes: Vec<String>,
}

impl TokenExchange {
    /// Starts an exchange of the token `subject` gives, of type `subject_token_type` (one of
    /// [`token_type`], or the provider's own URI).
    pub fn builder(
        subject: impl TokenSource + 'static,
        subject_token_type: impl Into<String>,
    ) -> TokenExchangeBuilder {
        TokenExchangeBuilder {
            grant: TokenExchange {
                subject: Presented {
                    source: Arc::new(subject),
                    token_type: subject_token_type.into(),
                },
                actor: None,
                audiences: Vec::new(),
                resources: Vec::new(),
                requested_token_type: None,
                scopes: Vec::new(),
            },
        }
    }
}

/// Builds a [`TokenExchange`].
#[derive(Debug)]
#[must_use]
pub struct TokenExchangeBuilder {
    grant: TokenExchange,
}

impl TokenExchangeBuilder {
    /// Also presents `actor`'s token, of `actor_token_type`: the party acting for the
    /// subject (delegation, RFC 8693 §1.1).
    pub fn actor(
        mut self,
        actor: impl TokenSource + 'static,
        actor_token_type: impl Into<String>,
    ) -> Self {
        self.grant.actor = Some(Presented {
            source: Arc::new(actor),
            token_type: actor_token_type.into(),
        });
        self
    }

    /// Asks for a token for this audience (a logical name the provider knows); may repeat.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.grant.audiences.push(audience.into());
        self
    }

    /// Asks for a token for this resource (an absolute URI, RFC 8707); may repeat.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.grant.resources.push(resource.into());
        self
    }

    /// Asks for this type of token (default: whatever the provider issues, usually an
    /// access token).
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.grant.requested_token_type = Some(token_type.into());
        self
    }

    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grant.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The grant.
    pub fn build(self) -> TokenExchange {
        self.grant
    }
}

#[async_trait]
impl Grant for TokenExchange {
    fn kind(&self) -> GrantKind {
        GrantKind::TokenExchange
    }

    fn can_run_unattended(&self) -> bool {
        true
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let subject = self.subject.source.token().await?;
        let actor = match &self.actor {
            Some(actor) => Some((actor.source.token().await?, actor.token_type.as_str())),
            None => None,
        };
        let scope = scope_param(&self.scopes);
        let mut params: Vec<(&str, &str)> = vec![
            ("subject_token", subject.expose_secret()),
            ("subject_token_type", &self.subject.token_type),
        ];
        if let Some((token, token_type)) = &actor {
            params.push(("actor_token", token.expose_secret()));
            params.push(("actor_token_type", token_type));
        }
        params.extend(self.audiences.iter().map(|a| ("audience", a.as_str())));
        params.extend(self.resources.iter().map(|r| ("resource", r.as_str())));
        if let Some(requested) = &self.requested_token_type {
            params.push(("requested_token_type", requested));
        }
        if let Some(scope) = &scope {
            params.push(("scope", scope));
        }
        let tokens = client
            .token_request(GRANT_TYPE, &params, Replay::Safe)
            .await?;
        Ok(if tokens.scopes().is_empty() {
            tokens.with_scopes(self.scopes.clone())
        } else {
            tokens
        })
    }
}

impl TokenSet {
    /// The `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1): what the
    /// `access_token` field holds (an access token, a JWT, an ID token…). `None` for other
    /// grants.
    pub fn issued_token_type(&self) -> Option<&str> {
        self.extra()
            .get("issued_token_type")
            .and_then(|v| v.as_str())
    }
}
