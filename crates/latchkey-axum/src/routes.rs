//! The `/auth/*` handlers.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey::{IdTokenClaims, PendingLogin, TokenSet};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::error::WebAuthError;
use crate::guard::safe_return_to;
use crate::page;
use crate::session::{self, PendingRecord, SessionRecord, random_id};
use crate::session_token::{Presented, RequestView, Source};
use crate::{WebAuth, login_key, session_key, token_key};

/// The paths of the login routes: public whatever the app protects.
pub(crate) const PATHS: [&str; 6] = [
    "/auth/login",
    "/auth/callback",
    "/auth/refresh",
    "/auth/logout",
    "/auth/userinfo",
    "/auth/status",
];

pub(crate) fn router(auth: WebAuth) -> Router {
    let [
        login_path,
        callback_path,
        refresh_path,
        logout_path,
        userinfo_path,
        status_path,
    ] = PATHS;
    Router::new()
        .route(login_path, get(login))
        .route(callback_path, get(callback))
        .route(refresh_path, post(refresh))
        .route(logout_path, get(logout_page).post(logout))
        .route(userinfo_path, get(userinfo))
        .route(status_path, get(status))
        .with_state(auth)
}

/// A `303 See Other` to `location`, with `Set-Cookie` headers, never cached.
fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Result<Response, WebAuthError> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| WebAuthError::Config("redirect target is not a valid header".into()))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn query_pairs(request: &Request) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).collect()
}

fn client_ip(auth: &WebAuth, request: &Request) -> Option<IpAddr> {
    if auth.inner.trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The last address is the one the proxy in front of us appended; earlier ones
            // come from the client and are whatever it chose to send.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// `GET /auth/login?return_to=/path`: keeps the login's one-time values server-side under a
/// random id, binds the id to this browser with a signed cookie, and sends it to the IdP.
async fn login(State(auth): State<WebAuth>, request: Request) -> Result<Response, WebAuthError> {
    let inner = &auth.inner;
    inner.rate.check(client_ip(&auth, &request))?;
    let return_to = query_pairs(&request)
        .into_iter()
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| "/".into());
    let return_to = safe_return_to(&return_to)?;
    // Pushed (PAR), signed (JAR) or JARM as the provider and the configuration ask.
    let (url, pending) = inner.login.begin(&inner.client).await?;
    let record = PendingRecord {
        state: pending.state().expose_secret().to_owned(),
        nonce: pending.nonce().expose_secret().to_owned(),
        verifier: pending.verifier().expose_secret().to_owned(),
        return_to,
    };
    let id = random_id();
    inner
        .store
        .start_login(
            &login_key(&id),
            &session::seal(&record)?,
            inner.login_ttl,
            inner.max_pending_logins,
        )
        .await?;
    let cookie = inner
        .cookies
        .set(&inner.cookies.login_name, &id, inner.login_ttl)?;
    see_other(url.as_str(), vec![cookie])
}

/// `GET /auth/callback`: takes the login state (once), checks `state`/`iss`, exchanges the
/// code, validates the ID token and opens the session.
async fn callback(State(auth): State<WebAuth>, request: Request) -> Result<Response, WebAuthError> {
    let inner = &auth.inner;
    let cookies = &inner.cookies;
    let id = cookies
        .read(request.headers(), &cookies.login_name)
        .ok_or(WebAuthError::LoginCookie)?;
    // `take`, not `get`: a replayed callback finds nothing.
    let raw = inner
        .store
        .take_login(&login_key(&id))
        .await?
        .ok_or(WebAuthError::LoginExpired)?;
    let record: PendingRecord = session::open(&raw)?;
    let pending = PendingLogin::from_parts(
        SecretString::from(record.state),
        SecretString::from(record.nonce),
        SecretString::from(record.verifier),
    );
    let outcome = inner
        .login
        .finish(&inner.client, &pending, query_pairs(&request))
        .await?;
    let mut claims = outcome
        .claims
        .ok_or_else(|| WebAuthError::Config("the login returned no validated ID token".into()))?;
    let tokens = outcome.tokens;
    complete_profile(&auth, &mut claims, &tokens).await;
    let session_id = random_id();
    inner
        .store
        .tokens()
        .save(&token_key(&session_id), &tokens)
        .await
        .map_err(latchkey::Error::from)?;
    let session = SessionRecord {
        roles: inner.roles.roles_for(&claims),
        claims,
        id_token: tokens.id_token().map(|t| t.expose_secret().to_owned()),
    };
    inner
        .store
        .put(
            &session_key(&session_id),
            &session::seal(&session)?,
            inner.session_ttl,
        )
        .await?;
    tracing::info!(sub = %session.claims.sub, "signed in");
    let set = cookies.set(&cookies.session_name, &session_id, inner.session_ttl)?;
    let clear = cookies.clear(&cookies.login_name)?;
    see_other(&record.return_to, vec![set, clear])
}

/// Fills the profile claims the ID token left out from the userinfo endpoint: providers may
/// put `name` and `email` only there (OIDC Core §5.4). Best effort: the login stands without.
async fn complete_profile(auth: &WebAuth, claims: &mut IdTokenClaims, tokens: &TokenSet) {
    if claims.name.is_some() && claims.email.is_some()
        || auth.inner.provider.metadata().userinfo_endpoint.is_none()
    {
        return;
    }
    let info = match auth
        .inner
        .provider
        .userinfo(tokens.access_token(), Some(&claims.sub))
        .await
    {
        Ok(info) => info,
        Err(err) => {
            tracing::debug!(error = %err, "userinfo unavailable; keeping the ID token's claims");
            return;
        }
    };
    let text = |name: &str| info.claim_str(name).map(str::to_owned);
    claims.name = claims.name.take().or_else(|| text("name"));
    claims.given_name = claims.given_name.take().or_else(|| text("given_name"));
    claims.family_name = claims.family_name.take().or_else(|| text("family_name"));
    claims.preferred_username = claims
        .preferred_username
        .take()
        .or_else(|| text("preferred_username"));
    claims.email = claims.email.take().or_else(|| text("email"));
    claims.email_verified = claims
        .email_verified
        .or_else(|| info.claims.get("email_verified").and_then(|v| v.as_bool()));
}

/// The session a state-changing `/auth/*` request presents, after the cross-site request
/// forgery check: a request that may ride on the browser's cookie (signed in by it, or not
/// signed in at all) must come from this site or a trusted origin. A bearer session token
/// is not something a page of another site can make the browser send.
fn state_changing(auth: &WebAuth, headers: &HeaderMap) -> Result<Option<Presented>, WebAuthError> {
    let presented = auth.presented(RequestView::headers(headers));
    if presented.as_ref().map(|p| p.source) != Some(Source::Bearer) {
        auth.check_origin(headers)?;
    }
    Ok(presented)
}

/// `POST /auth/refresh`: renews the access token now.
async fn refresh(
    State(auth): State<WebAuth>,
    headers: HeaderMap,
) -> Result<Response, WebAuthError> {
    state_changing(&auth, &headers)?;
    let (presented, _) = auth.session(RequestView::headers(&headers)).await?;
    let manager = auth.manager(&presented.id).await?;
    manager.invalidate().await?;
    let tokens = manager.tokens().await?;
    Ok(Json(json!({ "refreshed": true, "expires_at": unix(tokens.expires_at()) })).into_response())
}

/// `POST /auth/logout`: revokes the session's tokens at the IdP, forgets the session, clears
/// the cookie, and goes to `/` (or to the IdP's end-session endpoint when configured).
async fn logout(State(auth): State<WebAuth>, headers: HeaderMap) -> Result<Response, WebAuthError> {
    let inner = &auth.inner;
    let mut id_token = None;
    if let Some(Presented { id, .. }) = state_changing(&auth, &headers)? {
        if let Some(raw) = inner.store.take(&session_key(&id)).await? {
            id_token = session::open::<SessionRecord>(&raw)?.id_token;
        }
        match auth.manager(&id).await {
            // Revocation failures are logged by the manager; the local session ends anyway.
            Ok(manager) => {
                if let Err(err) = manager.logout().await {
                    tracing::warn!(error = %err, "revoking the session's tokens failed");
                }
            }
            Err(WebAuthError::NotSignedIn) => {}
            Err(other) => return Err(other),
        }
        auth.forget_manager(&id);
    }
    let clear = inner.cookies.clear(&inner.cookies.session_name)?;
    let target = match (inner.end_session, id_token) {
        (true, Some(id_token)) => match inner.provider.end_session_url() {
            Ok(url) => url
                .id_token_hint(&SecretString::from(id_token))
                .post_logout_redirect_uri(format!("{}/", inner.origin))
                .client_id(inner.client.client_id())
                .build()
                .to_string(),
            Err(err) => {
                tracing::debug!(error = %err, "no end-session endpoint; logging out locally");
                "/".to_owned()
            }
        },
        _ => "/".to_owned(),
    };
    see_other(&target, vec![clear])
}

/// `GET /auth/logout`: a page whose button POSTs to `/auth/logout`, so a plain link can lead
/// to sign-out while the sign-out itself stays a same-origin POST.
async fn logout_page(
    State(auth): State<WebAuth>,
    headers: HeaderMap,
) -> Result<Response, WebAuthError> {
    let who = match auth.session(RequestView::headers(&headers)).await {
        Ok((_, record)) => {
            let claims = record.claims;
            Some(claims.name.or(claims.email).unwrap_or(claims.sub))
        }
        Err(WebAuthError::NotSignedIn) => None,
        Err(other) => return Err(other),
    };
    Ok(page::sign_out(who.as_deref()))
}

/// `GET /auth/userinfo`: the provider's userinfo for the signed-in user, with the user's
/// roles in this app as `roles` (in place of any claim of that name: the app's roles are
/// the ones it checks).
async fn userinfo(
    State(auth): State<WebAuth>,
    headers: HeaderMap,
) -> Result<Response, WebAuthError> {
    let user = auth.user(&headers).await?;
    let mut info = auth
        .inner
        .provider
        .userinfo(user.access_token(), Some(user.sub()))
        .await?;
    info.claims.insert("roles".into(), json!(user.roles()));
    Ok(Json(info).into_response())
}

/// `GET /auth/status`: who is signed in, without secrets.
async fn status(State(auth): State<WebAuth>, headers: HeaderMap) -> Result<Response, WebAuthError> {
    let body = match auth.user(&headers).await {
        Ok(user) => json!({
            "authenticated": true,
            "sub": user.sub(),
            "name": user.name(),
            "email": user.email(),
            "roles": user.roles(),
            "expires_at": user.expires_at().map(rfc3339),
        }),
        Err(WebAuthError::NotSignedIn)
        | Err(WebAuthError::Latchkey(latchkey::Error::LoginRequired { .. })) => {
            json!({ "authenticated": false })
        }
        Err(other) => return Err(other),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// RFC 3339 in UTC, whole seconds (`2026-11-29T17:20:00Z`), as the CLI's `status --json`.
fn rfc3339(at: SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| "invalid-time".into())
}

fn unix(at: Option<SystemTime>) -> Option<u64> {
    at.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}
