use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the fixture lives in the repository.
pub(crate) fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/idp")
}

/// A running identity provider fixture. Stopped when dropped (its stdin closes and the
/// process is killed), so a test never leaks one.
#[derive(Debug)]
pub struct Idp {
    _child: Child,
    issuer: String,
    admin: reqwest::Client,
    mtls_origin: Option<String>,
    // Dropped after the child: the fixture reads them at start-up only.
    mtls: crate::MtlsFiles,
}

impl Idp {
    /// Starts a fresh fixture on a free loopback port and waits until it is ready.
    ///
    /// Panics with a clear message when Node or the fixture's npm packages are missing
    /// (run `scripts/test.sh`, which installs them).
    pub async fn start() -> Idp {
        let dir = fixture_dir();
        ensure_npm_packages(&dir);
        // The fixture is ready in about 0.4 s. Once in a CI run one instance, among many
        // started at once, printed nothing for 30 s; a second process is cheaper than a red
        // run, and a fixture that never starts still fails, naming both attempts.
        const ATTEMPTS: u32 = 2;
        for attempt in 1..=ATTEMPTS {
            match Self::spawn(&dir).await {
                Ok(idp) => return idp,
                Err(why) if attempt < ATTEMPTS => {
                    eprintln!(
                        "latchkey-testkit: IdP fixture attempt {attempt}: {why}; starting another"
                    );
                }
                Err(why) => panic!(
                    "the IdP fixture did not start ({ATTEMPTS} attempts; last: {why}); \
                     set LATCHKEY_IDP_LOG=1 to see its log"
                ),
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// One attempt: spawns the fixture and waits for its ready line.
    async fn spawn(dir: &std::path::Path) -> Result<Idp, String> {
        let mtls = crate::MtlsFiles::generate();
        let mut command = Command::new("node");
        command
            .env("IDP_MTLS_DIR", mtls.dir())
            .arg(dir.join("server.mjs"))
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("LATCHKEY_IDP_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start `node` for the IdP fixture: {e} (install Node.js 20+)")
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
            Err(_) => return Err("not ready within 20 s".into()),
            Ok(Err(e)) => return Err(format!("reading its stdout failed: {e}")),
            Ok(Ok(None)) => return Err("it exited before it was ready".into()),
            Ok(Ok(Some(line))) => line,
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected ready line {line:?}: {e}"));
        let issuer = ready["issuer"]
            .as_str()
            .expect("issuer in the ready line")
            .to_owned();
        #[allow(
            clippy::disallowed_methods,
            reason = "the fixture's admin API is local and must bypass any proxy, which http_client() does not"
        )]
        let admin = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("admin HTTP client");
        let mtls_origin = ready["mtls"].as_str().map(str::to_owned);
        Ok(Idp {
            _child: child,
            issuer,
            admin,
            mtls_origin,
            mtls,
        })
    }

    /// The issuer, e.g. `http://127.0.0.1:40123`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `issuer + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The certificates of the mutual-TLS listener.
    pub fn mtls(&self) -> &crate::MtlsFiles {
        &self.mtls
    }

    /// `path` on the mutual-TLS (HTTPS, client certificates asked for) listener, e.g.
    /// `https://127.0.0.1:40124/token`: the `mtls_endpoint_aliases` of discovery point here.
    pub fn mtls_url(&self, path: &str) -> String {
        let origin = self
            .mtls_origin
            .as_deref()
            .expect("the fixture started its mutual-TLS listener");
        format!("{origin}{path}")
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        self.url("/token")
    }

    /// The revocation endpoint.
    pub fn revocation_url(&self) -> String {
        self.url("/token/revocation")
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .admin
            .request(method, self.url(&format!("/__admin{path}")));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("admin request {path} failed: {e}"));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "admin request {path} answered {status}: {value}"
        );
        value
    }

    /// The request counters.
    pub async fn counters(&self) -> Counters {
        Counters(self.admin(reqwest::Method::GET, "/counters", None).await)
    }

    /// Zeroes the request counters.
    pub async fn reset_counters(&self) {
        self.admin(reqwest::Method::POST, "/counters/reset", None)
            .await;
    }

    /// Queues a fault (see `tests/idp/README.md`), e.g.
    /// `json!({"path":"/token","action":"status","status":500,"times":2})`.
    pub async fn fault(&self, fault: Value) {
        self.admin(reqwest::Method::POST, "/faults", Some(fault))
            .await;
    }

    /// Removes all queued faults.
    pub async fn clear_faults(&self) {
        self.admin(reqwest::Method::DELETE, "/faults", None).await;
    }

    /// Sets token lifetimes in seconds for tokens issued afterwards, e.g.
    /// `json!({"AccessToken": 5})`.
    pub async fn set_ttl(&self, ttl: Value) {
        self.admin(reqwest::Method::POST, "/ttl", Some(ttl)).await;
    }

    /// Makes every client push its authorization requests (`require_par`), or stops it;
    /// discovery then shows `require_pushed_authorization_requests` (or not).
    pub async fn require_par(&self, required: bool) {
        self.admin(
            reqwest::Method::POST,
            "/protection",
            Some(json!({ "require_par": required })),
        )
        .await;
    }

    /// The current TOTP code of `user`.
    pub async fn totp(&self, user: &str) -> String {
        self.admin(reqwest::Method::GET, &format!("/totp/{user}"), None)
            .await["code"]
            .as_str()
            .expect("code")
            .to_owned()
    }

    /// Whether `token` is active at the IdP, straight from its storage.
    pub async fn is_active(&self, token: &str) -> bool {
        self.admin(
            reqwest::Method::POST,
            "/inspect",
            Some(json!({ "token": token })),
        )
        .await["active"]
            .as_bool()
            .unwrap_or(false)
    }

    /// Rotates signing keys: `"hard"` replaces them, `"soft"` adds new ones first.
    pub async fn rotate_keys(&self, mode: &str) -> Vec<String> {
        let kids = self
            .admin(
                reqwest::Method::POST,
                "/rotate-keys",
                Some(json!({ "mode": mode })),
            )
            .await;
        kids["kids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Splits the metadata: the OpenID document stops listing the revocation,
    /// introspection and device authorization endpoints, which only the RFC 8414 document
    /// (`/.well-known/oauth-authorization-server`) still names, as some providers publish
    /// them. With `rfc8414_issuer`, that document claims this other issuer.
    pub async fn split_metadata(&self, rfc8414_issuer: Option<&str>) {
        self.admin(
            reqwest::Method::POST,
            "/metadata",
            Some(json!({ "split": true, "rfc8414_issuer": rfc8414_issuer })),
        )
        .await;
    }

    /// Configures DPoP (`tests/idp/dpop.mjs`): `{"requireNonce": true}` makes the token
    /// endpoint insist on server nonces, `{"resourceNonce": true}` the resource route
    /// `/__resource/dpop`; returns the settings and the route's counters.
    pub async fn dpop(&self, settings: Value) -> Value {
        self.admin(reqwest::Method::POST, "/dpop", Some(settings))
            .await
    }

    /// The DPoP resource route's counters: `requests`, `ok`, and `refused` by reason
    /// (`replay`, `ath`, `htu`, `nonce`, `jkt`, …).
    pub async fn dpop_stats(&self) -> Value {
        self.admin(reqwest::Method::GET, "/dpop", None).await
    }

    /// Configures the device flow: announced `interval` and how many `slow_down` answers.
    pub async fn device_config(&self, config: Value) {
        self.admin(reqwest::Method::POST, "/device", Some(config))
            .await;
    }
}

/// A snapshot of the fixture's request counters.
#[derive(Debug, Clone)]
pub struct Counters(pub Value);

impl Counters {
    /// Token endpoint requests with this `grant_type` (e.g. `client_credentials`).
    pub fn token(&self, grant_type: &str) -> u64 {
        self.0["token"][grant_type].as_u64().unwrap_or(0)
    }

    /// All token endpoint requests.
    pub fn token_total(&self) -> u64 {
        self.token("total")
    }

    /// Token endpoint requests by this client.
    pub fn by_client(&self, client_id: &str) -> u64 {
        self.0["by_client"][client_id].as_u64().unwrap_or(0)
    }

    /// Requests to another counted endpoint (`revocation`, `introspection`, `userinfo`,
    /// `jwks`, `discovery` (both metadata documents), `oauth_metadata` (the RFC 8414 one
    /// alone), `device_authorization`).
    pub fn endpoint(&self, name: &str) -> u64 {
        self.0[name].as_u64().unwrap_or(0)
    }
}

/// Installs the fixture's npm packages once, under a lock so parallel tests do not race.
fn ensure_npm_packages(dir: &std::path::Path) {
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    #[allow(
        clippy::disallowed_methods,
        reason = "an empty lock file in the fixture's own directory, holding no secret"
    )]
    let lock =
        std::fs::File::create(dir.join(".npm-install.lock")).expect("create npm install lock");
    lock.lock().expect("lock npm install");
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `npm ci` in {}: {e} (install Node.js 20+ and npm)",
                dir.display()
            )
        });
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}
