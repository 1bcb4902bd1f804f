//! The scenario matrix's providers and flows as data: which real identity provider fixture
//! supports which flow, and one running fixture behind one interface so that the same test
//! code drives each (`crates/latchkey/tests/it/matrix`).
//!
//! Every cell of the matrix is a [`Support`]: the flow passes, the provider does not have the
//! feature, the provider deviates from an RFC and the flow fails for a documented reason, or
//! the fixture does not cover it yet. [`table`] renders the cells as the Markdown table in
//! `docs/interop.md`, so the table is generated from the same data the tests obey.

use std::future::Future;
use std::sync::Arc;

use url::Url;

use crate::clients::{ALICE, NATIVE_APP, PW_CONFIDENTIAL, SVC_BASIC, SVC_JWT, SVC_POST};
use crate::glewlwyd::{GW_ALICE, GW_BASIC, GW_JWT, GW_NATIVE, GW_POST, GW_SCOPE};
use crate::lemonldap::{LL_BASIC, LL_DWHO, LL_NATIVE, LL_POST, LL_SCOPE};
use crate::person::{UserAgent, forms};
use crate::{Glewlwyd, Idp, LemonLdap};

/// A real identity provider the matrix runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// oidc-provider (Node.js), the bundled fixture [`Idp`].
    OidcProvider,
    /// glewlwyd (C), [`Glewlwyd`].
    Glewlwyd,
    /// LemonLDAP::NG (Perl), [`LemonLdap`].
    LemonLdap,
}

impl Provider {
    /// Every provider, in the table's column order.
    pub const ALL: [Provider; 3] = [
        Provider::OidcProvider,
        Provider::Glewlwyd,
        Provider::LemonLdap,
    ];

    /// The provider's name as the table and the test output show it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OidcProvider => "oidc-provider",
            Provider::Glewlwyd => "glewlwyd",
            Provider::LemonLdap => "LemonLDAP::NG",
        }
    }
}

/// A scenario of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Discovery: the OpenID document, and a client built from it gets a token.
    Discovery,
    /// Client credentials with `client_secret_basic`.
    ClientCredentialsBasic,
    /// Client credentials with `client_secret_post`.
    ClientCredentialsPost,
    /// Client credentials with `private_key_jwt`.
    ClientCredentialsPrivateKeyJwt,
    /// The password grant, with a refresh token.
    Password,
    /// Refresh where the provider rotates the refresh token.
    RefreshWithRotation,
    /// Refresh where the provider keeps the refresh token.
    RefreshWithoutRotation,
    /// A rotated (retired) refresh token presented again is refused.
    RefreshReplayAfterRotation,
    /// Authorization code + PKCE through latchkey's loopback receiver on a fixed port.
    CodePkceFixedPort,
    /// Authorization code + PKCE on an ephemeral loopback port (RFC 8252 §7.3).
    CodePkceAnyPort,
    /// Device authorization grant, approved by the person.
    DeviceApproved,
    /// Device authorization grant, denied by the person.
    DeviceDenied,
    /// Token revocation (RFC 7009).
    Revocation,
    /// Token introspection (RFC 7662).
    Introspection,
    /// The userinfo endpoint.
    Userinfo,
    /// RP-initiated logout: the end-session URL latchkey builds is accepted.
    EndSession,
    /// ID token validation: signature, `iss`, `aud`; a token for another client is refused.
    IdTokenChecks,
    /// Signing-key rotation: a token signed by a new key validates after one JWKS refetch.
    KeyRotation,
    /// The CLI's `token` with a client-credentials profile by discovery, the stored token
    /// reused.
    CliToken,
    /// The CLI's `login` (authorization code + PKCE, the URL printed) and `status`.
    CliLoginStatus,
    /// The CLI's `logout --revoke` after a login.
    CliLogoutRevoke,
    /// The CLI's `doctor` on a profile by discovery.
    CliDoctor,
}

impl Flow {
    /// Every flow, in the table's row order: the library's, then the CLI's.
    pub const ALL: [Flow; 22] = [
        Flow::Discovery,
        Flow::ClientCredentialsBasic,
        Flow::ClientCredentialsPost,
        Flow::ClientCredentialsPrivateKeyJwt,
        Flow::Password,
        Flow::RefreshWithRotation,
        Flow::RefreshWithoutRotation,
        Flow::RefreshReplayAfterRotation,
        Flow::CodePkceFixedPort,
        Flow::CodePkceAnyPort,
        Flow::DeviceApproved,
        Flow::DeviceDenied,
        Flow::Revocation,
        Flow::Introspection,
        Flow::Userinfo,
        Flow::EndSession,
        Flow::IdTokenChecks,
        Flow::KeyRotation,
        Flow::CliToken,
        Flow::CliLoginStatus,
        Flow::CliLogoutRevoke,
        Flow::CliDoctor,
    ];

    /// The flows the CLI's tests run (`crates/latchkey-cli/tests/it/cli_matrix.rs`).
    pub const CLI: [Flow; 4] = [
        Flow::CliToken,
        Flow::CliLoginStatus,
        Flow::CliLogoutRevoke,
        Flow::CliDoctor,
    ];

    /// The flows the library's tests run (`crates/latchkey/tests/it/matrix`).
    pub const LIBRARY: [Flow; 18] = [
        Flow::Discovery,
        Flow::ClientCredentialsBasic,
        Flow::ClientCredentialsPost,
        Flow::ClientCredentialsPrivateKeyJwt,
        Flow::Password,
        Flow::RefreshWithRotation,
        Flow::RefreshWithoutRotation,
        Flow::RefreshReplayAfterRotation,
        Flow::CodePkceFixedPort,
        Flow::CodePkceAnyPort,
        Flow::DeviceApproved,
        Flow::DeviceDenied,
        Flow::Revocation,
        Flow::Introspection,
        Flow::Userinfo,
        Flow::EndSession,
        Flow::IdTokenChecks,
        Flow::KeyRotation,
    ];

    /// The flow's name in the table.
    pub fn title(self) -> &'static str {
        match self {
            Flow::Discovery => "Discovery",
            Flow::ClientCredentialsBasic => "Client credentials, `client_secret_basic`",
            Flow::ClientCredentialsPost => "Client credentials, `client_secret_post`",
            Flow::ClientCredentialsPrivateKeyJwt => "Client credentials, `private_key_jwt`",
            Flow::Password => "Password grant",
            Flow::RefreshWithRotation => "Refresh with rotation",
            Flow::RefreshWithoutRotation => "Refresh without rotation",
            Flow::RefreshReplayAfterRotation => "Replay of a rotated refresh token refused",
            Flow::CodePkceFixedPort => "Authorization code + PKCE, fixed loopback port",
            Flow::CodePkceAnyPort => "Authorization code + PKCE, ephemeral loopback port",
            Flow::DeviceApproved => "Device flow, approved",
            Flow::DeviceDenied => "Device flow, denied",
            Flow::Revocation => "Revocation (RFC 7009)",
            Flow::Introspection => "Introspection (RFC 7662)",
            Flow::Userinfo => "Userinfo",
            Flow::EndSession => "End session (RP-initiated logout)",
            Flow::IdTokenChecks => "ID token checks (signature, `iss`, `aud`)",
            Flow::KeyRotation => "Signing-key rotation",
            Flow::CliToken => "CLI `token` (client credentials by discovery, stored token reused)",
            Flow::CliLoginStatus => "CLI `login` (code + PKCE, URL printed) and `status`",
            Flow::CliLogoutRevoke => "CLI `logout --revoke`",
            Flow::CliDoctor => "CLI `doctor`",
        }
    }

    /// Whether the flow needs a provider that rotates refresh tokens (the glewlwyd fixture
    /// is started accordingly).
    pub fn wants_rotation(self) -> bool {
        !matches!(self, Flow::RefreshWithoutRotation)
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// The flow passes against the provider.
    Passes,
    /// The provider does not have the feature; nothing is run.
    NotSupported(&'static str),
    /// The provider deviates from the named RFC section, and the flow fails for that
    /// reason: the test runs it and asserts that it fails.
    Deviation {
        /// What the provider does.
        reason: &'static str,
        /// The RFC section it departs from.
        rfc: &'static str,
        /// Text the failure must contain, so that another failure is not taken for it.
        shows: &'static str,
    },
    /// The provider has the feature but the fixture cannot drive it yet; nothing is run.
    NotCovered(&'static str),
}

/// What `provider` does with `flow`.
pub fn support(provider: Provider, flow: Flow) -> Support {
    use Flow as F;
    use Provider as P;
    use Support::*;
    match (provider, flow) {
        (P::OidcProvider, F::RefreshWithoutRotation) => {
            NotCovered("the fixture configures oidc-provider to rotate every refresh token")
        }
        (P::OidcProvider, _) => Passes,

        (P::Glewlwyd, F::CodePkceAnyPort) => Deviation {
            reason: "compares loopback redirect URIs exactly, port included; an unregistered port gets an empty 403",
            rfc: "RFC 8252 §7.3",
            shows: "glewlwyd answered 403 Forbidden without a redirect",
        },
        (P::Glewlwyd, F::CliLogoutRevoke) => Deviation {
            reason: "refuses revocation from a public client (HTTP 401); the CLI removes the local tokens and exits 4",
            rfc: "RFC 7009 §2.1",
            shows: "/revoke answered HTTP 401",
        },
        (P::Glewlwyd, F::DeviceDenied) => {
            NotCovered("glewlwyd's login API has no call to deny a device code; its web page does")
        }
        (P::Glewlwyd, _) => Passes,

        (P::LemonLdap, F::ClientCredentialsPrivateKeyJwt) => {
            NotSupported("2.16 authenticates clients with a secret only")
        }
        (P::LemonLdap, F::RefreshWithRotation | F::RefreshReplayAfterRotation) => {
            NotSupported("never rotates refresh tokens")
        }
        (P::LemonLdap, F::DeviceApproved | F::DeviceDenied) => {
            NotSupported("has no device authorization grant")
        }
        (P::LemonLdap, F::Revocation | F::CliLogoutRevoke) => {
            NotSupported("has no revocation endpoint")
        }
        (P::LemonLdap, F::CodePkceAnyPort) => Deviation {
            reason: "compares redirect URIs exactly, port included; an unregistered port is refused",
            rfc: "RFC 8252 §7.3",
            shows: "/callback not allowed",
        },
        (P::LemonLdap, _) => Passes,
    }
}

/// Runs one cell of the matrix: `flow` against `provider`, by `body`, as [`support`] says it
/// behaves. A flow the provider does not support (or the fixture does not cover) is not run
/// and says so on the test's output; a passing one must pass; a deviation must fail, with
/// the text it names.
pub async fn run_cell<F, Fut>(provider: Provider, flow: Flow, body: F)
where
    F: FnOnce(Arc<Fixture>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let cell = support(provider, flow);
    match cell {
        Support::NotSupported(why) => {
            eprintln!(
                "{}: unsupported by {}: {why}",
                flow.title(),
                provider.name()
            );
            return;
        }
        Support::NotCovered(why) => {
            eprintln!(
                "{}: not covered for {}: {why}",
                flow.title(),
                provider.name()
            );
            return;
        }
        Support::Passes | Support::Deviation { .. } => {}
    }
    let Some(fixture) = Fixture::start(provider, flow).await else {
        return;
    };
    let fixture = Arc::new(fixture);
    let outcome = body(fixture.clone()).await;
    match (cell, outcome) {
        (Support::Passes, Ok(())) => {}
        (Support::Passes, Err(why)) => panic!(
            "{} fails against {}: {why}\n{}",
            flow.title(),
            provider.name(),
            fixture.log_tail()
        ),
        (Support::Deviation { reason, rfc, shows }, Err(why)) => {
            assert!(
                why.contains(shows),
                "{} against {} fails, but not as documented (`{shows}`): {why}",
                flow.title(),
                provider.name()
            );
            eprintln!(
                "{}: fails against {} as documented ({reason}; {rfc}): {why}",
                flow.title(),
                provider.name()
            );
        }
        (Support::Deviation { .. }, Ok(())) => panic!(
            "{} is documented to fail against {} but passes: update latchkey_testkit::matrix::support",
            flow.title(),
            provider.name()
        ),
        (Support::NotSupported(_) | Support::NotCovered(_), _) => unreachable!("returned above"),
    }
}

/// The matrix as a Markdown table: a row per flow, a column per provider.
pub fn table() -> String {
    let mut out = String::from("| Flow |");
    for provider in Provider::ALL {
        out.push_str(&format!(" {} |", provider.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Provider::ALL.len()));
    out.push('\n');
    for flow in Flow::ALL {
        out.push_str(&format!("| {} |", flow.title()));
        for provider in Provider::ALL {
            let cell = match support(provider, flow) {
                Support::Passes => "passes".to_owned(),
                Support::NotSupported(why) => format!("not supported by the provider: {why}"),
                Support::Deviation { reason, rfc, .. } => format!("fails: {reason} ({rfc})"),
                Support::NotCovered(why) => format!("not covered yet: {why}"),
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// A client registered at a fixture: its id and, for confidential clients, its secret.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    /// The client id.
    pub id: &'static str,
    /// The client secret (none for public clients).
    pub secret: Option<&'static str>,
}

/// A running fixture of one [`Provider`], behind the interface the matrix's flows use.
#[derive(Debug)]
pub enum Fixture {
    /// oidc-provider.
    OidcProvider(Box<Idp>),
    /// glewlwyd.
    Glewlwyd(Glewlwyd),
    /// LemonLDAP::NG.
    LemonLdap(LemonLdap),
}

impl Fixture {
    /// Starts a fresh fixture of `provider` set up for `flow`. `None` where the provider is
    /// not installed and its skip variable is set (the fixture prints why).
    pub async fn start(provider: Provider, flow: Flow) -> Option<Fixture> {
        Some(match provider {
            Provider::OidcProvider => Fixture::OidcProvider(Box::new(Idp::start().await)),
            Provider::Glewlwyd => Fixture::Glewlwyd(
                Glewlwyd::builder()
                    .rotate_refresh_tokens(flow.wants_rotation())
                    .start()
                    .await?,
            ),
            Provider::LemonLdap => Fixture::LemonLdap(LemonLdap::start().await?),
        })
    }

    /// Which provider this is.
    pub fn provider(&self) -> Provider {
        match self {
            Fixture::OidcProvider(_) => Provider::OidcProvider,
            Fixture::Glewlwyd(_) => Provider::Glewlwyd,
            Fixture::LemonLdap(_) => Provider::LemonLdap,
        }
    }

    /// The issuer, for discovery.
    pub fn issuer(&self) -> String {
        match self {
            Fixture::OidcProvider(idp) => idp.issuer().to_owned(),
            Fixture::Glewlwyd(gw) => gw.issuer(),
            Fixture::LemonLdap(ll) => ll.issuer(),
        }
    }

    /// The client registered for `client_secret_basic` with client credentials.
    pub fn basic_client(&self) -> Registered {
        let (id, secret) = match self {
            Fixture::OidcProvider(_) => SVC_BASIC,
            Fixture::Glewlwyd(_) => GW_BASIC,
            Fixture::LemonLdap(_) => LL_BASIC,
        };
        Registered {
            id,
            secret: Some(secret),
        }
    }

    /// The client registered for `client_secret_post` with client credentials.
    pub fn post_client(&self) -> Registered {
        let (id, secret) = match self {
            Fixture::OidcProvider(_) => SVC_POST,
            Fixture::Glewlwyd(_) => GW_POST,
            Fixture::LemonLdap(_) => LL_POST,
        };
        Registered {
            id,
            secret: Some(secret),
        }
    }

    /// The `private_key_jwt` client: its id, its EC P-256 private key (PEM) and the key id
    /// the provider registered, if it wants one. `None` where the provider has no such
    /// client.
    pub fn jwt_client(&self) -> Option<(&'static str, String, Option<&'static str>)> {
        match self {
            Fixture::OidcProvider(_) => Some((
                SVC_JWT,
                crate::clients::svc_jwt_ec_pem(),
                Some(crate::clients::SVC_JWT_EC_KID),
            )),
            Fixture::Glewlwyd(gw) => Some((GW_JWT, gw.jwt_client_key_pem().to_owned(), None)),
            Fixture::LemonLdap(_) => None,
        }
    }

    /// The confidential client (`client_secret_basic`) for the password grant, refresh,
    /// introspection and revocation.
    pub fn user_client(&self) -> Registered {
        match self {
            Fixture::OidcProvider(_) => Registered {
                id: PW_CONFIDENTIAL.0,
                secret: Some(PW_CONFIDENTIAL.1),
            },
            _ => self.basic_client(),
        }
    }

    /// The public native client: authorization code + PKCE, refresh, device.
    pub fn native_client(&self) -> &'static str {
        match self {
            Fixture::OidcProvider(_) => NATIVE_APP,
            Fixture::Glewlwyd(_) => GW_NATIVE,
            Fixture::LemonLdap(_) => LL_NATIVE,
        }
    }

    /// The user who logs in.
    pub fn user(&self) -> (&'static str, &'static str) {
        match self {
            Fixture::OidcProvider(_) => ALICE,
            Fixture::Glewlwyd(_) => GW_ALICE,
            Fixture::LemonLdap(_) => LL_DWHO,
        }
    }

    /// The scopes a machine client asks for (some providers refuse a request without one).
    pub fn machine_scopes(&self) -> Vec<&'static str> {
        match self {
            Fixture::OidcProvider(_) => vec![],
            Fixture::Glewlwyd(_) => vec![GW_SCOPE],
            Fixture::LemonLdap(_) => vec![LL_SCOPE],
        }
    }

    /// The scopes a user login asks for: an ID token, and a refresh token.
    pub fn user_scopes(&self) -> Vec<&'static str> {
        match self {
            Fixture::OidcProvider(_) => vec!["openid", "offline_access"],
            Fixture::Glewlwyd(_) => vec!["openid", GW_SCOPE],
            Fixture::LemonLdap(_) => vec!["openid", "profile", "email", "offline_access"],
        }
    }

    /// Extra authorization request parameters the provider needs to grant a refresh token
    /// (oidc-provider grants `offline_access` only with `prompt=consent`).
    pub fn authorization_params(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Fixture::OidcProvider(_) => vec![("prompt", "consent")],
            _ => vec![],
        }
    }

    /// The loopback redirect URI registered for the native client, where the provider
    /// compares redirect URIs exactly; `None` where any loopback port is accepted.
    pub fn fixed_redirect_uri(&self) -> Option<String> {
        match self {
            Fixture::OidcProvider(_) => None,
            Fixture::Glewlwyd(gw) => Some(gw.native_redirect_uri()),
            Fixture::LemonLdap(ll) => Some(ll.native_redirect_uri()),
        }
    }

    /// A post-logout redirect URI registered for the native client.
    pub fn post_logout_redirect_uri(&self) -> Option<String> {
        match self {
            Fixture::LemonLdap(ll) => Some(ll.post_logout_redirect_uri()),
            _ => None,
        }
    }

    /// The person logs in (and consents) at `authorize_url` and follows the provider's
    /// redirect: returns where the provider sends the browser (the client's redirect URI
    /// with a code or an error), without opening it.
    pub async fn authorize(&self, authorize_url: &Url) -> Url {
        match self {
            Fixture::OidcProvider(idp) => UserAgent::new()
                .log_in_and_consent(authorize_url, idp.issuer(), ALICE)
                .await
                .expect_err("oidc-provider redirects back to the client"),
            Fixture::Glewlwyd(gw) => {
                gw.person()
                    .authorize(GW_ALICE, authorize_url.as_str())
                    .await
            }
            Fixture::LemonLdap(ll) => ll.authorize(LL_DWHO, authorize_url).await,
        }
    }

    /// The person approves a device login; panics unless the provider says it is done.
    pub async fn approve_device(&self, prompt_uri: &str, uri_complete: Option<&str>, code: &str) {
        match self {
            Fixture::OidcProvider(idp) => {
                let complete =
                    Url::parse(uri_complete.expect("oidc-provider sends the complete URI"))
                        .expect("a verification URI");
                crate::person::approve_device(&complete, idp.issuer(), ALICE).await;
            }
            Fixture::Glewlwyd(gw) => {
                let scope = format!("openid {GW_SCOPE}");
                let done = gw
                    .person()
                    .approve_device(GW_ALICE, GW_NATIVE, &scope, prompt_uri, code)
                    .await;
                assert!(done, "glewlwyd did not complete the device approval");
            }
            Fixture::LemonLdap(_) => panic!("LemonLDAP::NG has no device grant"),
        }
    }

    /// Makes the provider's device flow quick to poll (oidc-provider announces no interval
    /// by itself; the fixture's middleware adds one).
    pub async fn prepare_device(&self) {
        if let Fixture::OidcProvider(idp) = self {
            idp.device_config(serde_json::json!({ "interval": 1 }))
                .await;
        }
    }

    /// The person denies a device login on the verification page (oidc-provider's
    /// "Confirm Device" page has an Abort button).
    pub async fn deny_device(&self, uri_complete: Option<&str>) {
        let Fixture::OidcProvider(idp) = self else {
            panic!(
                "{}: the fixture cannot deny a device code",
                self.provider().name()
            );
        };
        let url = Url::parse(uri_complete.expect("oidc-provider sends the complete URI"))
            .expect("a verification URI");
        let origin = idp.issuer();
        let agent = UserAgent::new();
        // The first page auto-submits (xsrf + user_code); the second is "Confirm Device".
        let first = agent
            .follow(agent.get(&url).await, origin)
            .await
            .expect("a page");
        let form = forms(&first.url, &first.body).remove(0);
        let confirm = agent
            .follow(agent.submit(&form).await, origin)
            .await
            .expect("the confirmation page");
        assert!(confirm.body.contains("Confirm Device"), "{}", confirm.body);
        let mut form = forms(&confirm.url, &confirm.body).remove(0);
        // The "[ Abort ]" button: a browser sends its name and value.
        form.set("abort", "yes");
        agent.submit(&form).await;
    }

    /// Replaces the provider's signing key (oidc-provider: a hard rotation; glewlwyd: the
    /// OIDC plugin updated with a new key; LemonLDAP::NG: a new configuration with a new key).
    pub async fn rotate_keys(&self) {
        match self {
            Fixture::OidcProvider(idp) => {
                idp.rotate_keys("hard").await;
            }
            Fixture::Glewlwyd(gw) => gw
                .rotate_key()
                .await
                .unwrap_or_else(|e| panic!("glewlwyd key rotation: {e}")),
            Fixture::LemonLdap(ll) => {
                ll.rotate_key().await;
            }
        }
    }

    /// The last lines of the provider's log, for failure messages (oidc-provider's is
    /// printed by its own fixture).
    pub fn log_tail(&self) -> String {
        match self {
            Fixture::OidcProvider(_) => String::new(),
            Fixture::Glewlwyd(gw) => gw.log_tail(),
            Fixture::LemonLdap(ll) => ll.log_tail(),
        }
    }
}

/// A module of tests per flow, one test per provider, and `ROWS`: the flows that have a
/// row, in order (a test compares it with the flows the matrix lists). It expands where it
/// is called: that module must have `run(Provider, Flow)` and `Flow` and `Provider` in scope.
/// A provider added to the matrix gets its column in every row here.
#[macro_export]
macro_rules! matrix_rows {
    ($($flow:ident => $name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::{Flow, Provider, run};

                #[tokio::test]
                async fn oidc_provider() {
                    run(Provider::OidcProvider, Flow::$flow).await;
                }

                #[tokio::test]
                async fn glewlwyd() {
                    run(Provider::Glewlwyd, Flow::$flow).await;
                }

                #[tokio::test]
                async fn lemonldap() {
                    run(Provider::LemonLdap, Flow::$flow).await;
                }
            }
        )*

        /// The flows with a row of tests, in order.
        const ROWS: &[Flow] = &[$(Flow::$flow),*];
    };
}
