//! The matrix's flows, written once against [`Fixture`]: each uses only discovery, the
//! registered clients the fixture names and the person it drives, so the same code runs
//! against every provider. A flow returns `Err(reason)` when the provider refuses it (which
//! the matrix expects for a documented deviation) and panics on a broken fixture.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::oidc::{IdTokenValidator, OidcProvider};
use latchkey::{
    Algorithm, AuthorizationCode, ClientAuth, ClientCredentials, DeviceCode, DevicePrompt, Error,
    ExposeSecret, Grant, LoginError, OAuthClient, Password, PrivateKeyJwt, RefreshTokenOnly,
    SecretString, TokenManager, TokenSet,
};
use latchkey_testkit::matrix::{Fixture, Flow, Registered};

type Outcome = Result<(), String>;

/// `Err(message)` unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// Runs `flow` against `fixture`.
pub(super) async fn run(flow: Flow, fixture: &Arc<Fixture>) -> Outcome {
    match flow {
        Flow::Discovery => discovery(fixture).await,
        Flow::ClientCredentialsBasic => client_credentials(fixture, Auth::Basic).await,
        Flow::ClientCredentialsPost => client_credentials(fixture, Auth::Post).await,
        Flow::ClientCredentialsPrivateKeyJwt => client_credentials(fixture, Auth::Jwt).await,
        Flow::Password => password(fixture).await,
        Flow::RefreshWithRotation => refresh_with_rotation(fixture).await,
        Flow::RefreshWithoutRotation => refresh_without_rotation(fixture).await,
        Flow::RefreshReplayAfterRotation => refresh_replay(fixture).await,
        Flow::CodePkceFixedPort => code_pkce(fixture, true).await,
        Flow::CodePkceAnyPort => code_pkce(fixture, false).await,
        Flow::DeviceApproved => device(fixture, true).await,
        Flow::DeviceDenied => device(fixture, false).await,
        Flow::Revocation => revocation(fixture).await,
        Flow::Introspection => introspection(fixture).await,
        Flow::Userinfo => userinfo(fixture).await,
        Flow::EndSession => end_session(fixture).await,
        Flow::IdTokenChecks => id_token_checks(fixture).await,
        Flow::KeyRotation => key_rotation(fixture).await,
        Flow::CliToken | Flow::CliLoginStatus | Flow::CliLogoutRevoke | Flow::CliDoctor => {
            panic!("the CLI's flows run in latchkey-cli's tests")
        }
    }
}

fn text(err: Error) -> String {
    err.to_string()
}

async fn discover(fixture: &Fixture) -> OidcProvider {
    OidcProvider::discover(&fixture.issuer())
        .await
        .unwrap_or_else(|e| panic!("discovery of {}: {e}", fixture.issuer()))
}

fn secret(client: Registered) -> SecretString {
    SecretString::from(client.secret.expect("a confidential client"))
}

/// A client built from discovery, authenticating with `client_secret_basic`.
fn basic_client(provider: &OidcProvider, client: Registered) -> OAuthClient {
    provider
        .client_builder(client.id)
        .auth(ClientAuth::SecretBasic(secret(client)))
        .build()
        .expect("client config")
}

/// The confidential client of users' tokens.
fn user_client(fixture: &Fixture, provider: &OidcProvider) -> OAuthClient {
    basic_client(provider, fixture.user_client())
}

fn password_grant(fixture: &Fixture) -> Password {
    let (user, password) = fixture.user();
    Password::new(user, SecretString::from(password)).scopes(fixture.user_scopes())
}

/// A user's tokens by the password grant, with a refresh and an ID token.
async fn user_tokens(fixture: &Fixture, client: &OAuthClient) -> Result<TokenSet, String> {
    let tokens = password_grant(fixture).obtain(client).await.map_err(text)?;
    ensure!(tokens.refresh_token().is_some(), "no refresh token");
    ensure!(tokens.id_token().is_some(), "no ID token");
    Ok(tokens)
}

async fn discovery(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let metadata = provider.metadata();
    ensure!(
        metadata.issuer == fixture.issuer(),
        "issuer {} != {}",
        metadata.issuer,
        fixture.issuer()
    );
    ensure!(metadata.userinfo_endpoint.is_some(), "no userinfo endpoint");
    ensure!(provider.jwks().is_some(), "no jwks_uri");
    let tokens = ClientCredentials::new()
        .scopes(fixture.machine_scopes())
        .obtain(&basic_client(&provider, fixture.basic_client()))
        .await
        .map_err(text)?;
    ensure!(
        tokens.token_type().eq_ignore_ascii_case("bearer"),
        "token type {}",
        tokens.token_type()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Auth {
    Basic,
    Post,
    Jwt,
}

async fn client_credentials(fixture: &Fixture, auth: Auth) -> Outcome {
    let provider = discover(fixture).await;
    let (id, auth) = match auth {
        Auth::Basic => {
            let client = fixture.basic_client();
            (client.id, ClientAuth::SecretBasic(secret(client)))
        }
        Auth::Post => {
            let client = fixture.post_client();
            (client.id, ClientAuth::SecretPost(secret(client)))
        }
        Auth::Jwt => {
            let (id, pem, kid) = fixture.jwt_client().expect("a private_key_jwt client");
            let key = PrivateKeyJwt::from_pem(
                &SecretString::from(pem),
                Algorithm::ES256,
                kid.map(str::to_owned),
            )
            .expect("the client's key");
            (id, ClientAuth::PrivateKeyJwt(key))
        }
    };
    let client = provider
        .client_builder(id)
        .auth(auth)
        .build()
        .expect("client");
    let tokens = ClientCredentials::new()
        .scopes(fixture.machine_scopes())
        .obtain(&client)
        .await
        .map_err(text)?;
    ensure!(tokens.expires_at().is_some(), "no expiry");
    ensure!(
        !tokens.access_token().expose_secret().is_empty(),
        "empty access token"
    );
    Ok(())
}

async fn password(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    user_tokens(fixture, &user_client(fixture, &provider))
        .await
        .map(|_| ())
}

/// One refresh through the manager, from `refresh_token` alone; the tokens it then holds.
async fn refresh(
    client: &OAuthClient,
    refresh_token: &SecretString,
) -> Result<Arc<TokenSet>, Error> {
    let manager =
        TokenManager::builder(client.clone(), RefreshTokenOnly::new(refresh_token.clone()))
            .build()
            .expect("manager");
    manager.invalidate().await?;
    manager.tokens().await
}

async fn refresh_with_rotation(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let first = user_tokens(fixture, &client).await?;
    let old = first.refresh_token().expect("checked");
    let second = refresh(&client, old).await.map_err(text)?;
    let new = second
        .refresh_token()
        .ok_or("no refresh token after the refresh")?;
    ensure!(new.expose_secret() != old.expose_secret(), "not rotated");
    ensure!(!second.same_access_token(&first), "the same access token");
    // The successor works.
    refresh(&client, new).await.map_err(text)?;
    Ok(())
}

async fn refresh_without_rotation(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let first = user_tokens(fixture, &client).await?;
    let original = first.refresh_token().expect("checked");
    let manager = TokenManager::builder(client, RefreshTokenOnly::new(original.clone()))
        .build()
        .expect("manager");
    manager.invalidate().await.map_err(text)?;
    manager.invalidate().await.map_err(text)?;
    let kept = manager.tokens().await.map_err(text)?;
    ensure!(
        kept.refresh_token().map(|t| t.expose_secret().to_owned())
            == Some(original.expose_secret().to_owned()),
        "the refresh token changed"
    );
    Ok(())
}

async fn refresh_replay(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let first = user_tokens(fixture, &client).await?;
    let old = first.refresh_token().expect("checked");
    refresh(&client, old).await.map_err(text)?;
    match refresh(&client, old).await {
        Ok(_) => Err("the retired refresh token was accepted again".into()),
        Err(err) => {
            ensure!(
                err.needs_login(),
                "not read as a rejected refresh token: {err:?}"
            );
            Ok(())
        }
    }
}

/// Authorization code + PKCE through latchkey's loopback receiver: the fixture's person logs
/// in and the browser's last step (the redirect to the receiver) is made here. `fixed`: the
/// redirect URI registered with a fixed port; otherwise port 0 (any free port, RFC 8252).
async fn code_pkce(fixture: &Arc<Fixture>, fixed: bool) -> Outcome {
    let provider = discover(fixture).await;
    let native = fixture.native_client();
    let redirect_uri = match (fixed, fixture.fixed_redirect_uri()) {
        (false, _) => "http://127.0.0.1:0/callback".to_owned(),
        (true, Some(uri)) => uri,
        (true, None) => format!("http://127.0.0.1:{}/callback", free_port()),
    };
    let callback = Arc::new(Mutex::new(None));
    // The person's task: when the provider refuses, its panic says what the provider answered.
    let task = Arc::new(Mutex::new(None));
    let (seen, person, running) = (callback.clone(), fixture.clone(), task.clone());
    let opener = move |url: &url::Url| {
        let (person, seen, url) = (person.clone(), seen.clone(), url.clone());
        *running.lock().unwrap() = Some(tokio::spawn(async move {
            let redirect = person.authorize(&url).await;
            let status = plain_get(&redirect).await;
            *seen.lock().unwrap() = Some(status);
        }));
    };
    let mut request = AuthorizationRequest::builder(
        provider
            .metadata()
            .authorization_endpoint
            .as_ref()
            .expect("an authorization endpoint")
            .as_str(),
    )
    .scopes(fixture.user_scopes());
    for (name, value) in fixture.authorization_params() {
        request = request.param(name, value);
    }
    let grant = AuthorizationCode::builder(request.build().expect("request"))
        .redirect_uri(redirect_uri)
        .timeout(Duration::from_secs(if fixed { 30 } else { 10 }))
        .on_authorization_url(opener)
        .id_token_check(
            provider
                .id_token_validator(native)
                .expect("a JWKS")
                .build()
                .expect("validator"),
        )
        .build()
        .expect("grant");
    let client = provider.client_builder(native).build().expect("client");
    let manager = TokenManager::builder(client, grant)
        .build()
        .expect("manager");
    let login = manager.login().await;
    let person_task = task.lock().unwrap().take();
    let tokens = match (login, person_task) {
        (Ok(tokens), _) => tokens,
        (Err(err), Some(handle)) => match handle.await {
            Err(joined) if joined.is_panic() => {
                let panic = joined.into_panic();
                let said = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                return Err(format!("{err}; the provider refused the person: {said}"));
            }
            _ => return Err(text(err)),
        },
        (Err(err), None) => return Err(text(err)),
    };
    ensure!(
        *callback.lock().unwrap() == Some(200),
        "the loopback receiver answered {:?}",
        callback.lock().unwrap()
    );
    ensure!(tokens.refresh_token().is_some(), "no refresh token");
    manager.invalidate().await.map_err(text)?;
    Ok(())
}

async fn device(fixture: &Arc<Fixture>, approve: bool) -> Outcome {
    let provider = discover(fixture).await;
    fixture.prepare_device().await;
    let endpoint = provider
        .metadata()
        .device_authorization_endpoint
        .as_ref()
        .ok_or("no device_authorization_endpoint")?
        .to_string();
    let person = fixture.clone();
    let on_prompt = move |prompt: &DevicePrompt| {
        let person = person.clone();
        let prompt = prompt.clone();
        tokio::spawn(async move {
            let complete = prompt.verification_uri_complete.as_deref();
            if approve {
                person
                    .approve_device(&prompt.verification_uri, complete, &prompt.user_code)
                    .await;
            } else {
                person.deny_device(complete).await;
            }
        });
    };
    let grant = DeviceCode::builder(endpoint)
        .scopes(fixture.user_scopes())
        .on_prompt(on_prompt)
        .build()
        .expect("grant");
    let client = provider
        .client_builder(fixture.native_client())
        .build()
        .expect("client");
    let manager = TokenManager::builder(client, grant)
        .build()
        .expect("manager");
    let outcome = tokio::time::timeout(Duration::from_secs(30), manager.login())
        .await
        .map_err(|_| "the device login did not end within 30 s".to_owned())?;
    match (approve, outcome) {
        (true, Ok(tokens)) => {
            ensure!(tokens.refresh_token().is_some(), "no refresh token");
            Ok(())
        }
        (false, Err(Error::Login(LoginError::AccessDenied { .. }))) => Ok(()),
        (_, Err(err)) => Err(text(err)),
        (false, Ok(_)) => Err("a denied device login obtained tokens".into()),
    }
}

async fn revocation(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let tokens = user_tokens(fixture, &client).await?;
    let refresh_token = tokens.refresh_token().expect("checked");
    client
        .revoke(refresh_token, "refresh_token")
        .await
        .map_err(text)?;
    match refresh(&client, refresh_token).await {
        Ok(_) => Err("the revoked refresh token still refreshes".into()),
        Err(err) => {
            ensure!(
                err.needs_login(),
                "not read as a rejected refresh token: {err:?}"
            );
            Ok(())
        }
    }
}

async fn introspection(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let tokens = user_tokens(fixture, &client).await?;
    let active = provider
        .introspect(&client, tokens.access_token(), Some("access_token"))
        .await
        .map_err(text)?;
    ensure!(active.active, "the fresh access token is inactive");
    let unknown = provider
        .introspect(&client, &SecretString::from("no-such-token-4711"), None)
        .await
        .map_err(text)?;
    ensure!(!unknown.active, "an unknown token is active");
    Ok(())
}

async fn validated_sub(
    provider: &OidcProvider,
    client_id: &str,
    tokens: &TokenSet,
) -> Result<String, String> {
    let claims = provider
        .id_token_validator(client_id)
        .map_err(text)?
        .build()
        .map_err(text)?
        .validate(tokens.id_token().expect("checked"), None)
        .await
        .map_err(text)?;
    Ok(claims.sub)
}

async fn userinfo(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client = user_client(fixture, &provider);
    let tokens = user_tokens(fixture, &client).await?;
    let sub = validated_sub(&provider, fixture.user_client().id, &tokens).await?;
    let info = provider
        .userinfo(tokens.access_token(), Some(&sub))
        .await
        .map_err(text)?;
    ensure!(info.sub == sub, "userinfo sub {} != {sub}", info.sub);
    // Another subject than the ID token's is refused.
    ensure!(
        provider
            .userinfo(tokens.access_token(), Some("someone-else"))
            .await
            .is_err(),
        "a userinfo answer about another subject was accepted"
    );
    Ok(())
}

/// The end-session URL latchkey builds is accepted: the provider answers with a page or a
/// redirect, not an error.
async fn end_session(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client_id = fixture.user_client().id;
    let tokens = user_tokens(fixture, &user_client(fixture, &provider)).await?;
    let mut url = provider
        .end_session_url()
        .map_err(text)?
        .id_token_hint(tokens.id_token().expect("checked"))
        .client_id(client_id)
        .state("matrix-state");
    if let Some(uri) = fixture.post_logout_redirect_uri() {
        url = url.post_logout_redirect_uri(uri);
    }
    let url = url.build();
    let page = latchkey_testkit::person::UserAgent::new().get(&url).await;
    ensure!(
        page.status.is_success() || page.status.is_redirection(),
        "{url} answered {}: {}",
        page.status,
        page.body
    );
    if let Some(location) = &page.location {
        ensure!(
            !location.query().unwrap_or_default().contains("error="),
            "redirected with an error: {location}"
        );
    }
    Ok(())
}

/// The provider's real ID token validates, and the same token is refused by a validator
/// expecting another audience or another issuer.
async fn id_token_checks(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client_id = fixture.user_client().id;
    let tokens = user_tokens(fixture, &user_client(fixture, &provider)).await?;
    let token = tokens.id_token().expect("checked");
    validated_sub(&provider, client_id, &tokens).await?;
    let algorithms = [Algorithm::RS256, Algorithm::ES256];
    let jwks = provider.jwks().expect("a JWKS").clone();
    let wrong_audience =
        IdTokenValidator::builder(&provider.metadata().issuer, "another-client", jwks.clone())
            .algorithms(algorithms)
            .build()
            .expect("validator")
            .validate(token, None)
            .await;
    ensure!(
        matches!(&wrong_audience, Err(Error::IdToken(_))),
        "a token for another audience: {wrong_audience:?}"
    );
    let wrong_issuer = IdTokenValidator::builder("https://issuer.invalid", client_id, jwks)
        .algorithms(algorithms)
        .build()
        .expect("validator")
        .validate(token, None)
        .await;
    ensure!(
        matches!(&wrong_issuer, Err(Error::IdToken(_))),
        "a token from another issuer: {wrong_issuer:?}"
    );
    Ok(())
}

async fn key_rotation(fixture: &Fixture) -> Outcome {
    let provider = discover(fixture).await;
    let client_id = fixture.user_client().id;
    let client = user_client(fixture, &provider);
    let validator = provider
        .id_token_validator(client_id)
        .map_err(text)?
        .build()
        .map_err(text)?;
    let before = user_tokens(fixture, &client).await?;
    validator
        .validate(before.id_token().expect("checked"), None)
        .await
        .map_err(text)?;
    fixture.rotate_keys().await;
    let after = user_tokens(fixture, &client).await?;
    let (old_kid, new_kid) = (kid(&before), kid(&after));
    ensure!(
        old_kid != new_kid,
        "the new ID token is signed with the old key `{old_kid:?}`"
    );
    validator
        .validate(after.id_token().expect("checked"), None)
        .await
        .map_err(text)?;
    Ok(())
}

/// The `kid` in the header of `tokens`' ID token.
fn kid(tokens: &TokenSet) -> Option<String> {
    use base64::Engine as _;
    let jwt = tokens.id_token()?.expose_secret().to_owned();
    let header = jwt.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    header["kid"].as_str().map(str::to_owned)
}

/// The browser's last step: opens the redirect (latchkey's loopback receiver).
#[expect(
    clippy::disallowed_methods,
    reason = "a browser's GET of the loopback redirect, not a latchkey request"
)]
async fn plain_get(url: &url::Url) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
        .get(url.clone())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
