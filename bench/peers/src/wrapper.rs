//! The "minimal `oauth2`-crate cached-token wrapper" peer: what a team writes in an afternoon.
//! A cached header behind an `RwLock`, a client-credentials request through the `oauth2`
//! crate when it is missing or expired. No single flight, no cross-process lock.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, TokenResponse, TokenUrl,
};

type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Clone)]
pub struct CachedToken {
    client: Arc<Client>,
    http: oauth2::reqwest::Client,
    cache: Arc<RwLock<Option<(String, Instant)>>>,
}

impl CachedToken {
    pub fn new(token_url: &str, client_id: &str, secret: &str) -> Self {
        let client = BasicClient::new(ClientId::new(client_id.into()))
            .set_client_secret(ClientSecret::new(secret.into()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(token_url.into()).expect("token url"));
        let http = oauth2::reqwest::ClientBuilder::new()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            client: Arc::new(client),
            http,
            cache: Arc::new(RwLock::new(None)),
        }
    }

    /// The `Authorization` value: cached while more than 60 s of life is left.
    pub async fn header(&self) -> Result<String, String> {
        if let Some((header, expires)) = &*self.cache.read().expect("lock")
            && Instant::now() + Duration::from_secs(60) < *expires
        {
            return Ok(header.clone());
        }
        let token = self
            .client
            .exchange_client_credentials()
            .request_async(&self.http)
            .await
            .map_err(|e| e.to_string())?;
        let header = format!("Bearer {}", token.access_token().secret());
        let life = token.expires_in().unwrap_or(Duration::from_secs(3600));
        *self.cache.write().expect("lock") = Some((header.clone(), Instant::now() + life));
        Ok(header)
    }

    /// Makes the cached token look expired (the stampede starts here).
    pub fn expire(&self) {
        if let Some((_, expires)) = &mut *self.cache.write().expect("lock") {
            *expires = Instant::now();
        }
    }
}

/// One process of the cross-process run: read the shared cache file, or fetch and write it.
pub async fn once(token_url: &str, file: &str) {
    if std::fs::read_to_string(file).is_ok_and(|s| !s.is_empty()) {
        return;
    }
    let wrapper = CachedToken::new(
        token_url,
        latchkey_testkit::clients::SVC_POST.0,
        latchkey_testkit::clients::SVC_POST.1,
    );
    match wrapper.header().await {
        Ok(header) => std::fs::write(file, header).expect("write cache file"),
        Err(err) => eprintln!("wrapper-once: {err}"),
    }
}
