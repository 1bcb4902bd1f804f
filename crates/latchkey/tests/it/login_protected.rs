//! Protected logins against the real IdP fixture: pushed authorization requests (PAR,
//! RFC 9126, counted at the fixture's PAR endpoint), signed request objects (JAR, RFC 9101)
//! and JWT-secured responses (JARM), in the loopback login and the server-side web login.
//! The person is headless Chromium where noted, else the scripted HTTP user agent that
//! fills the IdP's real forms.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::authorization::{AuthorizationRequest, ParMode};
use latchkey::oidc::DiscoveryOptions;
use latchkey::{
    Algorithm, AuthorizationCode, ClientAuth, Error, LoginError, OAuthClient, OidcProvider,
    PrivateKeyJwt, SecretString, TokenManager, WebLogin,
};
use latchkey_testkit::Idp;
use latchkey_testkit::browser::{self, Driver};
use latchkey_testkit::clients::{
    ALICE, JAR_APP, JARM_APP, NATIVE_APP, PAR_APP, SVC_JWT_RSA_KID, WEB_APP, svc_jwt_rsa_pem,
};
use latchkey_testkit::person::UserAgent;
use url::Url;

const REDIRECT: &str = "http://127.0.0.1:8765/callback";

async fn provider(idp: &Idp) -> OidcProvider {
    OidcProvider::discover_with(idp.issuer(), &DiscoveryOptions::default())
        .await
        .expect("discovery")
}

fn public_client(idp: &Idp, client_id: &str) -> OAuthClient {
    OAuthClient::builder(client_id)
        .token_url(idp.token_url())
        .build()
        .unwrap()
}

/// `jar-app`, authenticating (and signing request objects) with svc-jwt's RSA key.
fn jar_client(idp: &Idp) -> OAuthClient {
    let key = PrivateKeyJwt::from_pem(
        &SecretString::from(svc_jwt_rsa_pem()),
        Algorithm::RS256,
        Some(SVC_JWT_RSA_KID.into()),
    )
    .unwrap();
    OAuthClient::builder(JAR_APP)
        .auth(ClientAuth::PrivateKeyJwt(key))
        .token_url(idp.token_url())
        .build()
        .unwrap()
}

/// The URLs a login went through: the authorization URL, then the redirect back.
type Seen = Arc<Mutex<Vec<Url>>>;

/// A redirect capturer that plays the person with the HTTP user agent, optionally
/// rewriting the authorization URL first (an attacker's swap), and records both URLs.
fn person(
    idp: &Idp,
    seen: Seen,
    rewrite: fn(Url) -> Url,
) -> impl Fn(Url, Url) -> Boxed + Send + Sync + 'static {
    let origin = idp.issuer().to_owned();
    move |url: Url, _redirect: Url| {
        let (origin, seen) = (origin.clone(), seen.clone());
        let url = rewrite(url);
        Box::pin(async move {
            seen.lock().unwrap().push(url.clone());
            match UserAgent::new()
                .log_in_and_consent(&url, &origin, ALICE)
                .await
            {
                Err(redirect) => {
                    seen.lock().unwrap().push(redirect.clone());
                    Ok(redirect)
                }
                Ok(page) => Err(Error::Config(format!(
                    "the IdP stopped at its own page: {}",
                    page.body
                ))),
            }
        })
    }
}

/// What the capturer returns: the redirect, later.
type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = latchkey::Result<Url>> + Send>>;

fn names(url: &Url) -> BTreeSet<String> {
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn keep(url: Url) -> Url {
    url
}

async fn log_in(
    client: OAuthClient,
    request: AuthorizationRequest,
    idp: &Idp,
    seen: &Seen,
    rewrite: fn(Url) -> Url,
) -> latchkey::Result<Arc<latchkey::TokenSet>> {
    let grant = AuthorizationCode::builder(request)
        .redirect_uri(REDIRECT)
        .redirect_capturer(person(idp, seen.clone(), rewrite))
        .build()
        .unwrap();
    TokenManager::builder(client, grant)
        .build()
        .unwrap()
        .login()
        .await
}

#[tokio::test]
async fn par_is_used_when_advertised_and_the_browser_url_names_only_the_pushed_request() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    idp.reset_counters().await;
    let seen = Seen::default();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = log_in(public_client(&idp, NATIVE_APP), request, &idp, &seen, keep)
        .await
        .expect("login with a pushed request");
    assert!(tokens.id_token().is_some());
    assert_eq!(idp.counters().await.endpoint("par"), 1, "one push");
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(names(&sent), set(&["client_id", "request_uri"]), "{sent}");

    // `never` sends the parameters in the URL and nothing to the PAR endpoint.
    idp.reset_counters().await;
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .par(ParMode::Never)
        .scopes(["openid"])
        .build()
        .unwrap();
    let seen = Seen::default();
    log_in(public_client(&idp, NATIVE_APP), request, &idp, &seen, keep)
        .await
        .expect("login without PAR");
    assert_eq!(idp.counters().await.endpoint("par"), 0);
    assert!(names(&seen.lock().unwrap()[0]).contains("code_challenge"));
}

#[tokio::test]
async fn a_client_that_must_push_is_refused_by_the_provider_when_it_does_not() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let request = |mode| {
        AuthorizationRequest::builder(idp.url("/auth"))
            .provider(&provider)
            .par(mode)
            .scopes(["openid"])
            .build()
            .unwrap()
    };
    let seen = Seen::default();
    let err = log_in(
        public_client(&idp, PAR_APP),
        request(ParMode::Never),
        &idp,
        &seen,
        keep,
    )
    .await
    .expect_err("par-app must push");
    assert!(
        err.to_string().contains("Pushed Authorization Request"),
        "{err}"
    );
    log_in(
        public_client(&idp, PAR_APP),
        request(ParMode::Always),
        &idp,
        &seen,
        keep,
    )
    .await
    .expect("par-app pushing logs in");
}

#[tokio::test]
async fn a_provider_that_requires_par_gets_it_and_never_is_a_configuration_error() {
    let idp = Idp::start().await;
    idp.require_par(true).await;
    let provider = provider(&idp).await;
    assert_eq!(
        provider.metadata().extra["require_pushed_authorization_requests"],
        true
    );
    let err = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .par(ParMode::Never)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("requires pushed"), "{err}");

    idp.reset_counters().await;
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .scopes(["openid"])
        .build()
        .unwrap();
    log_in(
        public_client(&idp, NATIVE_APP),
        request,
        &idp,
        &Seen::default(),
        keep,
    )
    .await
    .expect("auto pushes when required");
    assert_eq!(idp.counters().await.endpoint("par"), 1);

    // `always` with no endpoint known: refused before anything is sent.
    let err = AuthorizationRequest::builder(idp.url("/auth"))
        .issuer(idp.issuer(), true)
        .par(ParMode::Always)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("pushed_authorization_request_endpoint"),
        "{err}"
    );
}

#[tokio::test]
async fn a_signed_request_object_logs_in_pushed_and_in_the_url() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let request = |mode| {
        AuthorizationRequest::builder(idp.url("/auth"))
            .provider(&provider)
            .par(mode)
            .request_object(true)
            .scopes(["openid"])
            .build()
            .unwrap()
    };

    let seen = Seen::default();
    log_in(jar_client(&idp), request(ParMode::Never), &idp, &seen, keep)
        .await
        .expect("a request object in the URL");
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(names(&sent), set(&["client_id", "request"]), "{sent}");

    idp.reset_counters().await;
    log_in(
        jar_client(&idp),
        request(ParMode::Always),
        &idp,
        &Seen::default(),
        keep,
    )
    .await
    .expect("a pushed request object, with private_key_jwt at the PAR endpoint");
    assert_eq!(idp.counters().await.endpoint("par"), 1);

    // The fixture does require one from jar-app: the same login unsigned is refused.
    let unsigned = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .par(ParMode::Never)
        .scopes(["openid"])
        .build()
        .unwrap();
    let err = log_in(jar_client(&idp), unsigned, &idp, &Seen::default(), keep)
        .await
        .expect_err("jar-app must sign");
    assert!(err.to_string().contains("Request Object"), "{err}");
}

#[tokio::test]
async fn a_jarm_response_is_validated_and_its_code_used() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let seen = Seen::default();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .jwt_response(true)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = log_in(public_client(&idp, NATIVE_APP), request, &idp, &seen, keep)
        .await
        .expect("login with a JWT-secured response");
    assert!(tokens.id_token().is_some());
    let returned = seen.lock().unwrap()[1].clone();
    assert!(names(&returned).contains("response"), "{returned}");
    assert!(
        !names(&returned).contains("code"),
        "the code is inside the JWT"
    );
}

/// The attacker's swap: the person is sent to log in for `jarm-app` instead, with this
/// login's `state`; the provider signs a real response addressed to `jarm-app`.
fn swap_client(mut url: Url) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "client_id" {
                JARM_APP.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

#[tokio::test]
async fn a_jarm_response_addressed_to_another_client_is_refused() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let seen = Seen::default();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .par(ParMode::Never)
        .jwt_response(true)
        .scopes(["openid"])
        .build()
        .unwrap();
    idp.reset_counters().await;
    let err = log_in(
        public_client(&idp, NATIVE_APP),
        request,
        &idp,
        &seen,
        swap_client,
    )
    .await
    .expect_err("a response for jarm-app is not native-app's");
    assert!(
        matches!(&err, Error::Login(LoginError::InvalidRedirect(reason)) if reason.contains("another client")),
        "{err:?}"
    );
    assert!(names(&seen.lock().unwrap()[1]).contains("response"));
    assert_eq!(
        idp.counters().await.token("authorization_code"),
        0,
        "the code was never exchanged"
    );
}

#[tokio::test]
async fn a_forged_jarm_response_at_the_loopback_is_refused_and_the_login_goes_on() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let kid = provider.jwks().unwrap().kids();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .jwt_response(true)
        .scopes(["openid"])
        .build()
        .unwrap();
    let forged_status = Arc::new(Mutex::new(None));
    let origin = idp.issuer().to_owned();
    let issuer = idp.issuer().to_owned();
    let status = forged_status.clone();
    let grant = AuthorizationCode::builder(request)
        .redirect_uri("http://127.0.0.1:0/callback")
        .timeout(Duration::from_secs(60))
        .on_authorization_url(move |url: &Url| {
            let (url, origin, issuer, status) =
                (url.clone(), origin.clone(), issuer.clone(), status.clone());
            let kid = kid.first().cloned();
            tokio::spawn(async move {
                let agent = UserAgent::new();
                // Log in at the IdP first, keeping the real redirect for later.
                let redirect = agent
                    .log_in_and_consent(&url, &origin, ALICE)
                    .await
                    .expect_err("the IdP redirects back");
                let state = jarm_state(&redirect);
                // The forgery: right state, issuer and audience, the provider's `kid`, but
                // signed with a key that is not the provider's.
                let forged = forge(&issuer, &state, kid);
                let mut fake = redirect.clone();
                fake.set_query(None);
                fake.query_pairs_mut().append_pair("response", &forged);
                *status.lock().unwrap() = Some(agent.get(&fake).await.status.as_u16());
                agent.get(&redirect).await;
            });
        })
        .build()
        .unwrap();
    let tokens = TokenManager::builder(public_client(&idp, NATIVE_APP), grant)
        .build()
        .unwrap()
        .login()
        .await
        .expect("the real response still logs in");
    assert!(tokens.id_token().is_some());
    assert_eq!(*forged_status.lock().unwrap(), Some(400), "forgery refused");
}

/// The `state` inside a real JARM response (its payload, read without verifying).
fn jarm_state(redirect: &Url) -> String {
    use base64::Engine as _;
    let jwt = redirect
        .query_pairs()
        .find(|(k, _)| k == "response")
        .map(|(_, v)| v.into_owned())
        .expect("a JARM response");
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["state"].as_str().unwrap().to_owned()
}

fn forge(issuer: &str, state: &str, kid: Option<String>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid;
    let claims = serde_json::json!({
        "iss": issuer, "aud": NATIVE_APP, "exp": now + 60, "state": state, "code": "forged",
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(svc_jwt_rsa_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn a_web_login_pushes_with_the_clients_basic_authentication() {
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    let client = OAuthClient::builder(WEB_APP.0)
        .auth(ClientAuth::SecretBasic(WEB_APP.1.into()))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .provider(&provider)
        .jwt_response(true)
        .scopes(["openid"])
        .build()
        .unwrap();
    let login = WebLogin::builder(request, "http://127.0.0.1:8765/callback")
        .id_token_validator(
            provider
                .id_token_validator(WEB_APP.0)
                .unwrap()
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    idp.reset_counters().await;
    let (url, pending) = login.begin(&client).await.expect("pushed");
    assert_eq!(names(&url), set(&["client_id", "request_uri"]), "{url}");
    assert_eq!(idp.counters().await.endpoint("par"), 1);

    let redirect = UserAgent::new()
        .log_in_and_consent(&url, idp.issuer(), ALICE)
        .await
        .expect_err("the IdP redirects back");
    let outcome = login
        .finish(&client, &pending, redirect.query_pairs())
        .await
        .expect("a JARM callback finishes the web login");
    assert_eq!(outcome.claims.unwrap().sub, "alice");

    // A wrong secret fails at the PAR endpoint, before any browser is involved.
    let wrong = OAuthClient::builder(WEB_APP.0)
        .auth(ClientAuth::SecretBasic("not-the-secret".into()))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let err = login
        .begin(&wrong)
        .await
        .expect_err("client authentication");
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn headless_chromium_logs_in_with_a_pushed_request_and_a_jwt_response() {
    if !browser::available("login_protected") {
        return;
    }
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let idp = Idp::start().await;
    let provider = provider(&idp).await;
    idp.reset_counters().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Url>();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .provider(&provider)
            .jwt_response(true)
            .scopes(["openid", "profile"])
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:0/callback")
    .timeout(Duration::from_secs(90))
    .on_authorization_url(move |url: &Url| {
        let _ = tx.send(url.clone());
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(public_client(&idp, PAR_APP), grant)
        .build()
        .unwrap();
    let login = tokio::spawn({
        let manager = manager.clone();
        async move { manager.login().await }
    });
    let url = rx.recv().await.expect("the authorization URL");
    assert_eq!(names(&url), set(&["client_id", "request_uri"]), "{url}");
    let browser = driver.chromium(profile.path(), &[]).await;
    browser.goto(url.as_str()).await.unwrap();
    browser::log_in_and_consent(&browser, ALICE).await;
    let tokens = login.await.unwrap().expect("login through Chromium");
    assert!(tokens.id_token().is_some());
    assert_eq!(idp.counters().await.endpoint("par"), 1);
    let landed = browser.current_url().await.unwrap();
    assert!(names(&landed).contains("response"), "{landed}");
    let source = browser.source().await.unwrap();
    assert!(source.contains("Login complete"), "{source}");
    browser.close().await.unwrap();
}

/// A profile for `jar-app` with `extra` lines; its private key comes from `JAR_KEY`.
#[cfg(feature = "profiles")]
fn jar_profile(idp: &Idp, extra: &str) -> latchkey::profile::ProfilesFile {
    let text = format!(
        "[profiles.jar]\nauth = \"authorization-code\"\nissuer = \"{}\"\nclient_id = \"{JAR_APP}\"\n\
         client_auth = \"private_key_jwt\"\nprivate_key = {{ env = \"JAR_KEY\" }}\n\
         key_id = \"{SVC_JWT_RSA_KID}\"\nscopes = [\"openid\"]\n{extra}",
        idp.issuer()
    );
    latchkey::profile::ProfilesFile::parse(std::path::Path::new("profiles.toml"), &text)
        .expect("the profile parses")
}

#[cfg(feature = "profiles")]
#[tokio::test]
async fn a_profile_pushes_a_signed_request_and_takes_a_jwt_response() {
    use latchkey::profile::{LoginOptions, select};

    let idp = Idp::start().await;
    let file = jar_profile(
        &idp,
        "par = \"always\"\nrequest_object = true\nresponse_mode = \"jwt\"\n",
    );
    let pem = svc_jwt_rsa_pem();
    let env = move |name: &str| (name == "JAR_KEY").then(|| pem.clone());
    let selected = select(&file, Some("jar"), &env).unwrap();
    let seen = Seen::default();
    let mut options = LoginOptions::default();
    options.on_authorization_url = Some(Arc::new({
        let (origin, seen) = (idp.issuer().to_owned(), seen.clone());
        move |url: &Url| {
            let (url, origin, seen) = (url.clone(), origin.clone(), seen.clone());
            seen.lock().unwrap().push(url.clone());
            tokio::spawn(async move {
                let agent = UserAgent::new();
                let redirect = agent
                    .log_in_and_consent(&url, &origin, ALICE)
                    .await
                    .expect_err("the IdP redirects back");
                seen.lock().unwrap().push(redirect.clone());
                agent.get(&redirect).await;
            });
        }
    }));
    let managed = selected
        .managed_with_store(Arc::new(latchkey::MemoryStore::new()), &env, &options)
        .await
        .expect("the profile builds");
    idp.reset_counters().await;
    let tokens = managed.manager.login().await.expect("profile login");
    assert!(tokens.id_token().is_some());
    assert_eq!(idp.counters().await.endpoint("par"), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(names(&seen[0]), set(&["client_id", "request_uri"]));
    assert!(names(&seen[1]).contains("response"), "{}", seen[1]);
}

#[cfg(feature = "profiles")]
#[tokio::test]
async fn a_profile_that_forbids_par_at_a_provider_that_requires_it_is_refused() {
    use latchkey::profile::{LoginOptions, select};

    let idp = Idp::start().await;
    idp.require_par(true).await;
    let file = jar_profile(&idp, "par = \"never\"\n");
    let pem = svc_jwt_rsa_pem();
    let env = move |name: &str| (name == "JAR_KEY").then(|| pem.clone());
    let selected = select(&file, Some("jar"), &env).unwrap();
    let err = selected
        .managed_with_store(
            Arc::new(latchkey::MemoryStore::new()),
            &env,
            &LoginOptions::default(),
        )
        .await
        .expect_err("never cannot log in here");
    assert!(err.to_string().contains("requires pushed"), "{err}");

    let bad = latchkey::profile::ProfilesFile::parse(
        std::path::Path::new("profiles.toml"),
        "[profiles.x]\nauth = \"authorization-code\"\npar = \"sometimes\"\n",
    )
    .expect_err("an unknown par mode");
    assert!(
        bad.to_string().contains("`auto`, `always`, `never`"),
        "{bad}"
    );
}
