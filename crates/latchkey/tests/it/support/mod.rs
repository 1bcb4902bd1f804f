//! Shared set-up for the test modules: `OAuthClient`s for the fixture's registered clients
//! ([`oidc`] holds the OIDC helpers).

pub(crate) mod fake_github;
pub(crate) mod oidc;

use std::sync::Arc;
use std::time::Duration;

use latchkey::{ClientAuth, ManualClock, OAuthClient, RetryPolicy, SecretString};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;

/// Retries quick enough for tests.
pub(crate) fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(500),
    }
}

/// A client of the fixture with `auth`, a manual clock and fast retries.
pub(crate) fn client(
    idp: &Idp,
    client_id: &str,
    auth: ClientAuth,
    clock: &Arc<ManualClock>,
) -> OAuthClient {
    OAuthClient::builder(client_id)
        .auth(auth)
        .token_url(idp.token_url())
        .revocation_url(idp.revocation_url())
        .clock(clock.clone())
        .retry(fast_retry(3))
        .build()
        .expect("client config")
}

/// `svc-basic` with client_secret_basic.
pub(crate) fn svc_basic(idp: &Idp, clock: &Arc<ManualClock>) -> OAuthClient {
    client(
        idp,
        SVC_BASIC.0,
        ClientAuth::SecretBasic(SecretString::from(SVC_BASIC.1)),
        clock,
    )
}

/// `pw-client`, the public password-grant client.
pub(crate) fn pw_client(idp: &Idp, clock: &Arc<ManualClock>) -> OAuthClient {
    client(idp, PW_CLIENT, ClientAuth::None, clock)
}

/// The password grant for alice.
pub(crate) fn alice() -> latchkey::Password {
    latchkey::Password::new(ALICE.0, SecretString::from(ALICE.1))
        .scopes(["openid", "offline_access"])
}
