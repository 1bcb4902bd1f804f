//! Fetch an access token with the client credentials grant and print its expiry.
//!
//! ```sh
//! LATCHKEY_TOKEN_URL=https://idp.example.org/token LATCHKEY_CLIENT_ID=svc \
//! LATCHKEY_CLIENT_SECRET=… cargo run -p latchkey --example client_credentials
//! ```
//! Tokens are cached in `./tokens/` (0600 files): run it twice and the second run makes no
//! request to the identity provider.

use std::sync::Arc;

use latchkey::{ClientAuth, ClientCredentials, FileStore, OAuthClient, SecretString, TokenManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let client = OAuthClient::builder(env("LATCHKEY_CLIENT_ID")?)
        .auth(ClientAuth::SecretBasic(SecretString::from(env(
            "LATCHKEY_CLIENT_SECRET",
        )?)))
        .token_url(env("LATCHKEY_TOKEN_URL")?)
        .build()?;
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .key("example")
        .store(Arc::new(FileStore::new("tokens")))
        .build()?;
    let tokens = manager.tokens().await.map_err(|e| match e.hint() {
        Some(hint) => format!("{e}\nhint: {hint}"),
        None => e.to_string(),
    })?;
    eprintln!(
        "got a {} token, expires at {:?}",
        tokens.token_type(),
        tokens.expires_at()
    );
    Ok(())
}
