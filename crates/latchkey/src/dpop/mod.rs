//! DPoP (RFC 9449): sender-constrained tokens. A per-identity key signs a proof for every
//! request to the authorization server (token, refresh, revocation) and, with `ath`, to
//! resource servers; nonces the servers hand out are remembered per origin.
//!
//! Turn it on with [`OAuthClientBuilder::dpop`](crate::OAuthClientBuilder::dpop); the key
//! is then created with the first token set and stored with it (see
//! [`TokenSet::dpop_key`](crate::TokenSet::dpop_key)), and
//! [`TokenManager::dpop_proof`](crate::TokenManager::dpop_proof) or the
//! [`Authenticator::apply_to`](crate::Authenticator::apply_to) seam add a proof to each
//! resource request.

mod key;
mod nonce;
mod proof;

pub use key::{DpopAlgorithm, DpopKey};
pub use nonce::DPOP_NONCE;
pub(crate) use nonce::{Nonces, resource_wants_nonce};
pub use proof::access_token_hash;

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: &str = "dpop";

/// A client's DPoP settings and what it has learnt from servers.
#[derive(Debug, Default)]
pub(crate) struct DpopSettings {
    pub(crate) algorithm: DpopAlgorithm,
    pub(crate) nonces: Nonces,
}
