//! The flows against glewlwyd, a second, independent OpenID provider (C, OpenID Certified):
//! a fresh instance per test ([`Glewlwyd`]), driven by the same library calls as the
//! oidc-provider fixture. glewlwyd keeps no request counters, so these tests assert outcomes
//! at the provider (introspection, refusals), not request counts.
#![allow(
    clippy::disallowed_methods,
    reason = "a raw token request that replays a rotated refresh token, as an attacker would"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::oidc::OidcProvider;
use latchkey::{
    Algorithm, AuthorizationCode, ClientAuth, ClientCredentials, DeviceCode, DevicePrompt,
    ExposeSecret, Grant, OAuthClient, Password, PrivateKeyJwt, RefreshTokenOnly, RefusalCause,
    SecretString, TokenManager,
};
use latchkey_testkit::Glewlwyd;
use latchkey_testkit::glewlwyd::{
    GW_ALICE, GW_BASIC, GW_JWT, GW_NATIVE, GW_POST, GW_RESERVED, GW_SCOPE,
};

/// A client of `gw` with `auth`.
fn client(gw: &Glewlwyd, client_id: &str, auth: ClientAuth) -> OAuthClient {
    OAuthClient::builder(client_id)
        .auth(auth)
        .token_url(gw.token_url())
        .revocation_url(gw.revocation_url())
        .build()
        .expect("client config")
}

fn basic(gw: &Glewlwyd) -> OAuthClient {
    client(gw, GW_BASIC.0, ClientAuth::SecretBasic(GW_BASIC.1.into()))
}

fn alice() -> Password {
    Password::new(GW_ALICE.0, SecretString::from(GW_ALICE.1)).scopes(["openid", GW_SCOPE])
}

async fn provider(gw: &Glewlwyd) -> OidcProvider {
    OidcProvider::discover(&gw.issuer())
        .await
        .unwrap_or_else(|e| panic!("discovery: {e}\n{}", gw.log_tail()))
}

/// Whether `token` is active, asked by `as_client` (glewlwyd answers a client only about its
/// own tokens).
async fn is_active_for(
    gw: &Glewlwyd,
    as_client: &OAuthClient,
    token: &SecretString,
    hint: &str,
) -> bool {
    provider(gw)
        .await
        .introspect(as_client, token, Some(hint))
        .await
        .expect("introspection")
        .active
}

async fn is_active(gw: &Glewlwyd, token: &SecretString, hint: &str) -> bool {
    is_active_for(gw, &basic(gw), token, hint).await
}

#[tokio::test]
async fn discovery_of_an_issuer_with_a_path() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let provider = provider(&gw).await;
    let metadata = provider.metadata();
    assert_eq!(metadata.issuer, gw.issuer());
    assert!(gw.issuer().ends_with("/api/oidc"));
    assert_eq!(metadata.token_endpoint.as_str(), gw.token_url());
    assert_eq!(
        metadata.revocation_endpoint.as_ref().map(|u| u.as_str()),
        Some(gw.revocation_url().as_str())
    );
    assert!(metadata.introspection_endpoint.is_some());
    assert!(metadata.device_authorization_endpoint.is_some());
    assert!(metadata.userinfo_endpoint.is_some());
    // The client the discovered metadata builds works.
    let client = provider
        .client_builder(GW_BASIC.0)
        .auth(ClientAuth::SecretBasic(GW_BASIC.1.into()))
        .build()
        .unwrap();
    let tokens = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&client)
        .await
        .expect("client credentials with the discovered endpoints");
    assert_eq!(tokens.scopes(), [GW_SCOPE]);
}

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let basic = basic(&gw);
    let tokens = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&basic)
        .await
        .expect("client_secret_basic");
    assert_eq!(tokens.token_type(), "Bearer");
    assert!(tokens.expires_at().is_some());
    assert!(is_active(&gw, tokens.access_token(), "access_token").await);

    let post = client(&gw, GW_POST.0, ClientAuth::SecretPost(GW_POST.1.into()));
    let tokens = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&post)
        .await
        .expect("client_secret_post");
    assert!(is_active_for(&gw, &post, tokens.access_token(), "access_token").await);
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let key = PrivateKeyJwt::from_pem(
        &SecretString::from(gw.jwt_client_key_pem().to_owned()),
        Algorithm::ES256,
        None,
    )
    .unwrap();
    let client = client(&gw, GW_JWT, ClientAuth::PrivateKeyJwt(key));
    let tokens = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&client)
        .await
        .unwrap_or_else(|e| panic!("private_key_jwt: {e}\n{}", gw.log_tail()));
    assert!(is_active_for(&gw, &client, tokens.access_token(), "access_token").await);
}

#[tokio::test]
async fn password_grant_id_token_userinfo_introspection_and_revocation() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let provider = provider(&gw).await;
    let client = basic(&gw);
    let tokens = alice().obtain(&client).await.expect("password grant");
    assert!(tokens.refresh_token().is_some());
    // The ID token is signed with ES256 by the key the JWKS publishes.
    let claims = provider
        .id_token_validator(GW_BASIC.0)
        .unwrap()
        .build()
        .unwrap()
        .validate(tokens.id_token().expect("an ID token"), None)
        .await
        .expect("the ID token validates");
    let info = provider
        .userinfo(tokens.access_token(), Some(&claims.sub))
        .await
        .expect("userinfo");
    assert_eq!(info.sub, claims.sub);

    let introspected = provider
        .introspect(&client, tokens.access_token(), Some("access_token"))
        .await
        .unwrap();
    assert!(introspected.active);
    let refresh = tokens.refresh_token().unwrap();
    assert!(is_active(&gw, refresh, "refresh_token").await);
    client
        .revoke(refresh, "refresh_token")
        .await
        .expect("revocation");
    assert!(
        !is_active(&gw, refresh, "refresh_token").await,
        "the revoked refresh token is inactive"
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_refresh_token_is_refused() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let client = basic(&gw);
    let first = alice().obtain(&client).await.expect("password grant");
    let old = first.refresh_token().unwrap().clone();
    let manager = TokenManager::builder(client.clone(), RefreshTokenOnly::new(old.clone()))
        .build()
        .unwrap();
    manager.invalidate().await.expect("refresh");
    let second = manager.tokens().await.unwrap();
    let new = second.refresh_token().expect("a rotated refresh token");
    assert_ne!(new.expose_secret(), old.expose_secret(), "rotated");
    assert!(!is_active(&gw, &old, "refresh_token").await);
    assert!(is_active(&gw, new, "refresh_token").await);

    // The old token, presented again, is refused (and glewlwyd revokes the chain).
    let replay = TokenManager::builder(client.clone(), RefreshTokenOnly::new(old))
        .build()
        .unwrap();
    let err = replay.invalidate().await.unwrap_err();
    assert!(err.to_string().contains("refresh token"), "{err}");
    assert!(
        !is_active(&gw, new, "refresh_token").await,
        "reusing a rotated refresh token revokes the newer one too"
    );
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let Some(gw) = Glewlwyd::builder()
        .rotate_refresh_tokens(false)
        .start()
        .await
    else {
        return;
    };
    let client = basic(&gw);
    let first = alice().obtain(&client).await.expect("password grant");
    let refresh = first.refresh_token().unwrap().clone();
    let manager = TokenManager::builder(client, RefreshTokenOnly::new(refresh.clone()))
        .build()
        .unwrap();
    manager.invalidate().await.expect("first refresh");
    manager
        .invalidate()
        .await
        .expect("second refresh, same token");
    let tokens = manager.tokens().await.unwrap();
    assert_eq!(
        tokens.refresh_token().map(|t| t.expose_secret().to_owned()),
        Some(refresh.expose_secret().to_owned()),
        "the refresh token is kept when the provider sends none"
    );
}

#[tokio::test]
async fn device_flow_approved_through_the_login_api() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let person = gw.person();
    let approved = Arc::new(Mutex::new(None));
    let seen = approved.clone();
    let scope = format!("openid {GW_SCOPE}");
    let on_prompt = move |prompt: &DevicePrompt| {
        let (person, seen, scope) = (person.clone(), seen.clone(), scope.clone());
        let (uri, code) = (prompt.verification_uri.clone(), prompt.user_code.clone());
        tokio::spawn(async move {
            let done = person
                .approve_device(GW_ALICE, GW_NATIVE, &scope, &uri, &code)
                .await;
            *seen.lock().unwrap() = Some(done);
        });
    };
    let grant = DeviceCode::builder(format!("{}/device_authorization", gw.issuer()))
        .scopes(["openid", GW_SCOPE])
        .on_prompt(on_prompt)
        .build()
        .unwrap();
    let client = client(&gw, GW_NATIVE, ClientAuth::None);
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let tokens = tokio::time::timeout(Duration::from_secs(25), manager.login())
        .await
        .expect("the device login ends within 25 s")
        .expect("device login");
    assert_eq!(*approved.lock().unwrap(), Some(true));
    assert!(tokens.refresh_token().is_some());
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn authorization_code_with_pkce_on_a_fixed_loopback_port() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let person = gw.person();
    let callback = Arc::new(Mutex::new(None));
    let seen = callback.clone();
    let opener = move |url: &url::Url| {
        let (person, seen, url) = (person.clone(), seen.clone(), url.to_string());
        tokio::spawn(async move {
            let status = person.complete_login(GW_ALICE, &url).await;
            *seen.lock().unwrap() = Some(status);
        });
    };
    let provider = provider(&gw).await;
    let validator = provider
        .id_token_validator(GW_NATIVE)
        .unwrap()
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(format!("{}/auth", gw.issuer()))
            .scopes(["openid", GW_SCOPE])
            .build()
            .unwrap(),
    )
    // glewlwyd compares loopback redirect URIs exactly (port included): the registered one.
    .redirect_uri(gw.native_redirect_uri())
    .timeout(Duration::from_secs(20))
    .on_authorization_url(opener)
    .id_token_check(validator)
    .build()
    .unwrap();
    let client = client(&gw, GW_NATIVE, ClientAuth::None);
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let tokens = manager
        .login()
        .await
        .unwrap_or_else(|e| panic!("code + PKCE login: {e}\n{}", gw.log_tail()));
    assert_eq!(*callback.lock().unwrap(), Some(200));
    assert!(tokens.refresh_token().is_some());
    manager.invalidate().await.expect("refresh after the login");
}

/// The message of an empty refusal: its causes, most likely first.
fn refusal(err: &latchkey::Error) -> &[RefusalCause] {
    match err {
        latchkey::Error::TokenRefused { causes, .. } => causes,
        other => panic!("expected an empty refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_client_credentials_are_named_first() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let client = client(
        &gw,
        GW_BASIC.0,
        ClientAuth::SecretBasic("wrong-7781".into()),
    );
    let err = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&client)
        .await
        .unwrap_err();
    assert_eq!(refusal(&err)[0], RefusalCause::ClientCredentials, "{err}");
    let message = err.to_string();
    assert!(message.contains("empty HTTP 403"), "{message}");
    assert!(
        message.contains("1) the client id or secret is wrong"),
        "{message}"
    );
    assert!(
        !message.contains("token endpoint"),
        "the URL was right: {message}"
    );
    assert!(
        err.hint().unwrap().contains("client_auth"),
        "{:?}",
        err.hint()
    );
    assert!(!format!("{err} {err:?}").contains("wrong-7781"));
}

#[tokio::test]
async fn a_missing_scope_is_named_first() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let err = ClientCredentials::new()
        .obtain(&basic(&gw))
        .await
        .unwrap_err();
    assert_eq!(refusal(&err)[0], RefusalCause::NoScope, "{err}");
    assert!(
        err.to_string().contains("1) no scope was requested"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("scopes"), "{:?}", err.hint());
}

#[tokio::test]
async fn a_grant_type_the_client_may_not_use_is_named_first() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    // gw-post may use client credentials only.
    let client = client(&gw, GW_POST.0, ClientAuth::SecretPost(GW_POST.1.into()));
    let err = alice().obtain(&client).await.unwrap_err();
    assert_eq!(refusal(&err)[0], RefusalCause::GrantType, "{err}");
    assert!(err.to_string().contains("empty HTTP 400"), "{err}");
    assert!(
        err.to_string()
            .contains("1) this grant type is not enabled for the client"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("enable this grant type"));
}

#[tokio::test]
async fn a_bad_refresh_token_is_named_first() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let manager = TokenManager::builder(
        basic(&gw),
        RefreshTokenOnly::new(SecretString::from("not-a-refresh-token")),
    )
    .build()
    .unwrap();
    let err = manager.invalidate().await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("1) the refresh token is invalid, expired, revoked or was already used"),
        "{message}"
    );
    assert!(message.contains("`refresh_token` request"), "{message}");
}

#[tokio::test]
async fn a_secret_with_reserved_characters_needs_raw_basic_or_post() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    // RFC 6749 §2.3.1 form-encoding: glewlwyd compares the encoded secret and refuses it,
    // and the message says why before anything else.
    let encoded = client(
        &gw,
        GW_RESERVED.0,
        ClientAuth::SecretBasic(GW_RESERVED.1.into()),
    );
    let err = ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&encoded)
        .await
        .unwrap_err();
    assert_eq!(refusal(&err)[0], RefusalCause::BasicEncoding, "{err}");
    let hint = err.hint().unwrap();
    assert!(hint.contains("client_secret_post"), "{hint}");
    assert!(hint.contains("basic_credentials = \"raw\""), "{hint}");
    assert!(!format!("{err} {err:?} {hint}").contains(GW_RESERVED.1));

    // Raw Basic credentials work.
    let raw = client(
        &gw,
        GW_RESERVED.0,
        ClientAuth::SecretBasicRaw(GW_RESERVED.1.into()),
    );
    ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&raw)
        .await
        .expect("raw Basic credentials with reserved characters");
    // So does client_secret_post, when the client is registered for it too.
    let post = client(
        &gw,
        GW_RESERVED.0,
        ClientAuth::SecretPost(GW_RESERVED.1.into()),
    );
    ClientCredentials::new()
        .scopes([GW_SCOPE])
        .obtain(&post)
        .await
        .expect("client_secret_post with reserved characters");
}

/// A profile for `gw-reserved` by discovery, with `extra` lines.
fn reserved_profile(gw: &Glewlwyd, extra: &str) -> latchkey::profile::ProfilesFile {
    let text = format!(
        "[profiles.gw]\nauth = \"client-credentials\"\nissuer = \"{}\"\nclient_id = \"{}\"\n\
         client_secret = {{ env = \"GW_SECRET\" }}\nscopes = [\"{GW_SCOPE}\"]\n{extra}",
        gw.issuer(),
        GW_RESERVED.0
    );
    latchkey::profile::ProfilesFile::parse(std::path::Path::new("profiles.toml"), &text).unwrap()
}

async fn profile_token(file: &latchkey::profile::ProfilesFile) -> latchkey::Result<()> {
    use latchkey::profile::{LoginOptions, ProfileError, select};
    let env = |name: &str| (name == "GW_SECRET").then(|| GW_RESERVED.1.to_owned());
    let selected = select(file, Some("gw"), &env).unwrap();
    let managed = selected
        .managed_with_store(
            Arc::new(latchkey::MemoryStore::new()),
            &env,
            &LoginOptions::default(),
        )
        .await
        .map_err(|e| match e {
            ProfileError::Core(e) => e,
            other => panic!("profile: {other}"),
        })?;
    managed.manager.tokens().await.map(|_| ())
}

#[tokio::test]
async fn a_profile_chooses_raw_basic_credentials() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let err = profile_token(&reserved_profile(&gw, "")).await.unwrap_err();
    assert_eq!(refusal(&err)[0], RefusalCause::BasicEncoding, "{err}");
    let hint = latchkey::profile::cli_hint(&err).unwrap();
    assert!(hint.contains("basic_credentials = \"raw\""), "{hint}");
    profile_token(&reserved_profile(&gw, "basic_credentials = \"raw\"\n"))
        .await
        .expect("the profile's raw Basic credentials");
    profile_token(&reserved_profile(
        &gw,
        "client_auth = \"client_secret_post\"\n",
    ))
    .await
    .expect("the profile's client_secret_post");
}

/// glewlwyd refuses a revoked refresh token with an empty 400, not `invalid_grant`: the
/// manager still treats it as a rejected refresh token, and a password session logs in again.
#[tokio::test]
async fn a_refused_refresh_token_re_authenticates_a_password_session() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let client = basic(&gw);
    let manager = TokenManager::builder(client.clone(), alice())
        .build()
        .unwrap();
    let first = manager.tokens().await.expect("password grant");
    client
        .revoke(first.refresh_token().unwrap(), "refresh_token")
        .await
        .expect("revocation");
    manager
        .invalidate()
        .await
        .expect("the refused refresh leads to a new password grant");
    let second = manager.tokens().await.unwrap();
    assert!(!second.same_access_token(&first));
    assert!(is_active(&gw, second.refresh_token().unwrap(), "refresh_token").await);

    // A refresh-token-only session cannot log in by itself: it says a login is needed.
    let only = TokenManager::builder(
        client,
        RefreshTokenOnly::new(first.refresh_token().unwrap().clone()),
    )
    .build()
    .unwrap();
    let err = only.invalidate().await.unwrap_err();
    assert!(err.needs_login(), "{err:?}");
    assert!(
        err.to_string().contains("the refresh token is invalid"),
        "{err}"
    );
}
