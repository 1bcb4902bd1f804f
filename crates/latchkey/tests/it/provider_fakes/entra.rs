//! The `microsoft` preset against `fake_entra`: the `{tenantid}` issuer of the
//! multi-tenant document, v2.0 endpoints, `AADSTS` errors, `/.default` client credentials,
//! the device flow, and a tenant named by its domain.

use std::sync::{Arc, Mutex};

use latchkey::oidc::DiscoveryOptions;
use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{Error, ExposeSecret, OidcProvider, Profile};
use latchkey_testkit::fakes::fake_entra::{self, EntraOptions, FakeEntra};

use super::{following_browser, managed, param, secret};

/// A `microsoft` preset profile pointed at the fake's `tenant` authority.
fn microsoft_profile(fake: &FakeEntra, tenant: &str, auth: AuthKind) -> Selected {
    let mut p = Profile::new(auth);
    p.preset = Some("microsoft".into());
    p.issuer = Some(fake.authority(tenant));
    p.client_id = Some(fake_entra::CLIENT.0.into());
    p.client_secret = secret(fake_entra::CLIENT.1);
    Selected::new("ms", p)
}

#[tokio::test]
async fn the_microsoft_preset_logs_in_at_common_and_accepts_the_tenant_issuer() {
    let fake = FakeEntra::start(EntraOptions {
        expires_in: 1,
        ..EntraOptions::default()
    });
    let selected = microsoft_profile(&fake, "common", AuthKind::AuthorizationCode);
    let shown = Arc::new(Mutex::new(None));
    let managed = managed(&selected, &following_browser(shown.clone())).await;
    // The multi-tenant document's issuer is the template, kept as Entra spells it.
    assert_eq!(
        managed.metadata.issuer,
        format!("{}/{{tenantid}}/v2.0", fake.base_url())
    );
    assert!(managed.metadata.revocation_endpoint.is_none());
    // The login validates the ID token, whose `iss` names the tenant of its `tid`.
    let first = managed.manager.login().await.expect("browser login");
    assert!(first.id_token().is_some());
    let url = shown.lock().unwrap().clone().unwrap();
    assert_eq!(url.path(), "/common/oauth2/v2.0/authorize");
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("openid profile email offline_access"),
        "the preset's scopes"
    );
    // Refresh: a new refresh token each time, stored.
    super::until_due().await;
    let second = managed.manager.tokens().await.expect("refreshed");
    assert_eq!(fake.token_requests("refresh_token"), 1);
    assert_ne!(
        first.refresh_token().unwrap().expose_secret(),
        second.refresh_token().unwrap().expose_secret()
    );
    // The preset's `client_secret_post`.
    let token_requests: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == "/common/oauth2/v2.0/token")
        .collect();
    assert_eq!(token_requests.len(), 2);
    assert!(
        token_requests
            .iter()
            .all(|s| s.param("client_secret") == Some(fake_entra::CLIENT.1) && !s.authorization)
    );
}

#[tokio::test]
async fn a_tenant_named_by_its_domain_is_discovered() {
    // Entra's document for `contoso.onmicrosoft.com` names the tenant by its id.
    let fake = FakeEntra::start(EntraOptions::default());
    let selected = microsoft_profile(
        &fake,
        fake_entra::TENANT_DOMAIN,
        AuthKind::AuthorizationCode,
    );
    let shown = Arc::new(Mutex::new(None));
    let managed = managed(&selected, &following_browser(shown)).await;
    assert_eq!(
        managed.metadata.issuer,
        format!("{}/{}/v2.0", fake.base_url(), fake_entra::TENANT_ID)
    );
    let tokens = managed.manager.login().await.expect("browser login");
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn client_credentials_need_a_default_scope_and_errors_carry_aadsts_codes() {
    let fake = FakeEntra::start(EntraOptions::default());
    let mut selected = microsoft_profile(&fake, fake_entra::TENANT_ID, AuthKind::ClientCredentials);
    selected.profile.scopes = vec!["api://my-api/read".into()];
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!((p.status, p.error.as_str()), (400, "invalid_scope"));
            assert!(
                p.description
                    .as_deref()
                    .unwrap()
                    .starts_with("AADSTS1002012: "),
                "{p:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("AADSTS1002012"),
        "the code is shown: {err}"
    );

    selected.profile.scopes = vec!["api://my-api/.default".into()];
    let tokens = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .expect("client credentials");
    assert!(tokens.refresh_token().is_none() && tokens.id_token().is_none());

    selected.profile.client_secret = secret("the-secret-id-not-its-value");
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Provider(p) if p.error == "invalid_client" && p.status == 401),
        "{err:?}"
    );
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
}

#[tokio::test]
async fn the_device_flow_polls_through_aadsts70016() {
    let fake = FakeEntra::start(EntraOptions {
        device_interval: 1,
        ..EntraOptions::default()
    });
    let selected = microsoft_profile(&fake, "organizations", AuthKind::DeviceCode);
    let shown = Arc::new(Mutex::new(None));
    let record = shown.clone();
    let mut options = LoginOptions::default();
    options.on_device_prompt = Some(Arc::new(move |p: &latchkey::DevicePrompt| {
        *record.lock().unwrap() = Some((p.verification_uri.clone(), p.user_code.clone()));
    }));
    let tokens = managed(&selected, &options)
        .await
        .manager
        .login()
        .await
        .expect("device login");
    assert!(tokens.refresh_token().is_some() && tokens.id_token().is_some());
    assert_eq!(
        shown.lock().unwrap().clone(),
        Some((
            "https://microsoft.com/devicelogin".to_owned(),
            fake_entra::USER_CODE.to_owned()
        ))
    );
    assert_eq!(
        fake.token_requests("urn:ietf:params:oauth:grant-type:device_code"),
        2,
        "one authorization_pending (AADSTS70016), then the tokens"
    );
}

#[tokio::test]
async fn the_v1_document_is_refused_for_its_other_host_issuer() {
    // `/common/.well-known/openid-configuration` is the v1.0 document: its issuer is
    // `https://sts.windows.net/{tenantid}/`, not the URL it was fetched from.
    let fake = FakeEntra::start(EntraOptions::default());
    let err = OidcProvider::discover_with(
        &format!("{}/common", fake.base_url()),
        &DiscoveryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("sts.windows.net"), "{err}");
}
