//! The scenario matrix: every flow as data (`latchkey_testkit::matrix::Flow`), run by the
//! same test code ([`flows`]) against each real identity provider fixture — oidc-provider,
//! glewlwyd and LemonLDAP::NG. A test per (flow, provider): `matrix::<flow>::<provider>`.
//!
//! What a provider does not support is not skipped silently: the test prints
//! `unsupported by <provider>: <reason>` (or `not covered for …`), a documented deviation is
//! run and must fail, and `docs/interop.md` holds the table generated from the same data
//! (`the_table_in_the_docs_is_current`; `LATCHKEY_UPDATE_MATRIX=1` rewrites it).

mod flows;
mod table;

use latchkey_testkit::matrix::{Flow, Provider, run_cell};

/// Runs `flow` against `provider` as the matrix says it behaves.
async fn run(provider: Provider, flow: Flow) {
    run_cell(provider, flow, |fixture| async move {
        flows::run(flow, &fixture).await
    })
    .await;
}

latchkey_testkit::matrix_rows! {
    Discovery => discovery,
    ClientCredentialsBasic => client_credentials_basic,
    ClientCredentialsPost => client_credentials_post,
    ClientCredentialsPrivateKeyJwt => client_credentials_private_key_jwt,
    Password => password,
    RefreshWithRotation => refresh_with_rotation,
    RefreshWithoutRotation => refresh_without_rotation,
    RefreshReplayAfterRotation => refresh_replay_after_rotation,
    CodePkceFixedPort => code_pkce_fixed_port,
    CodePkceAnyPort => code_pkce_any_port,
    DeviceApproved => device_approved,
    DeviceDenied => device_denied,
    Revocation => revocation,
    Introspection => introspection,
    Userinfo => userinfo,
    EndSession => end_session,
    IdTokenChecks => id_token_checks,
    KeyRotation => key_rotation,
}

#[test]
fn every_flow_has_a_row_of_tests() {
    assert_eq!(ROWS, Flow::LIBRARY.as_slice());
}
