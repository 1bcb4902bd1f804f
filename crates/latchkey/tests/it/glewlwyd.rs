//! What is particular to glewlwyd, a second, independent OpenID provider (C, OpenID
//! Certified), a fresh instance per test ([`Glewlwyd`]): its empty refusals named by their
//! likely causes, and Basic credentials it does not URL-decode. The flows every provider
//! shares (client credentials, password, refresh, code + PKCE, device, revocation,
//! introspection, userinfo, ID tokens) are rows of the scenario matrix (`matrix::`).

use std::sync::Arc;

use latchkey::oidc::OidcProvider;
use latchkey::{
    ClientAuth, ClientCredentials, Grant, OAuthClient, Password, RefreshTokenOnly, RefusalCause,
    SecretString, TokenManager,
};
use latchkey_testkit::Glewlwyd;
use latchkey_testkit::glewlwyd::{GW_ALICE, GW_BASIC, GW_POST, GW_RESERVED, GW_SCOPE};

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
