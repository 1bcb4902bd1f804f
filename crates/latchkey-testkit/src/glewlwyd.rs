//! glewlwyd (Debian package `glewlwyd`, 2.7.x; C; OpenID Certified) as a second, independent
//! identity provider: one fresh instance per test, on a free loopback port, with its own
//! configuration file and SQLite database in a throwaway directory, provisioned through its
//! admin REST API, and stopped by PID when dropped.
//!
//! Where it differs from the oidc-provider fixture ([`crate::Idp`]), on purpose of the tests:
//! its issuer has a path (`/api/oidc`); it compares loopback redirect URIs exactly, port
//! included (so [`Glewlwyd::native_redirect_uri`] has a fixed port); it refuses bad client
//! credentials, a missing scope, a bad refresh token or a grant the client may not use with
//! an *empty* 400/403; it does not URL-decode HTTP Basic credentials.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;

/// Set to `1` to skip the glewlwyd tests (with a printed reason) where glewlwyd is not
/// installed. CI never sets it: there the tests must run.
pub const SKIP_ENV: &str = "LATCHKEY_SKIP_GLEWLWYD";

/// The admin account the SQLite install script creates.
const ADMIN: (&str, &str) = ("admin", "password");
/// The database schema and first data shipped by the Debian package.
const SCHEMA: &str = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3";
/// The OIDC plugin instance name: the issuer path is `/api/<name>`.
const PLUGIN: &str = "oidc";

/// Confidential client registered for `client_secret_basic`: client credentials, password,
/// refresh token; may ask for `api` (and `openid` for users).
pub const GW_BASIC: (&str, &str) = ("gw-basic", "gw-basic-secret");
/// Confidential client registered for `client_secret_post`: client credentials only.
pub const GW_POST: (&str, &str) = ("gw-post", "gw-post-secret");
/// Confidential client (`client_secret_basic` or `client_secret_post`) whose secret has characters RFC 6749 §2.3.1
/// form-encoding changes (`:`, `+`, `/`, space, `%`, `&`, `=`): glewlwyd does not decode
/// them, so only raw Basic credentials or `client_secret_post` work.
pub const GW_RESERVED: (&str, &str) = ("gw-reserved", "s3cr:t+/ %&=~");
/// Confidential `private_key_jwt` client (its key: [`Glewlwyd::jwt_client_key_pem`]).
pub const GW_JWT: &str = "gw-jwt";
/// Public native client: authorization code + PKCE with a fixed-port loopback redirect URI,
/// refresh token, device authorization.
pub const GW_NATIVE: &str = "gw-native";
/// The scope every client may ask for.
pub const GW_SCOPE: &str = "api";
/// A user with a password and nothing else.
pub const GW_ALICE: (&str, &str) = ("alice", "alice-wonderland");

/// How to start a [`Glewlwyd`] (see [`Glewlwyd::builder`]).
#[derive(Debug, Clone)]
pub struct GlewlwydBuilder {
    rotate_refresh_tokens: bool,
}

impl GlewlwydBuilder {
    /// Whether every refresh returns a new refresh token and retires the old one (glewlwyd's
    /// `refresh-token-one-use: always`; reusing a retired one revokes the chain). Default on.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// Starts and provisions the instance. `None` only when glewlwyd is not installed and
    /// [`SKIP_ENV`] is `1` (the reason is printed); panics when it is not installed
    /// otherwise, or does not come up.
    pub async fn start(self) -> Option<Glewlwyd> {
        if !std::path::Path::new("/usr/bin/glewlwyd").exists()
            || !std::path::Path::new(SCHEMA).exists()
        {
            let why = "glewlwyd is not installed: run scripts/test.sh, or `echo \"glewlwyd glewlwyd/config_type select No configuration\" | debconf-set-selections && apt-get install -y --no-install-recommends glewlwyd dbconfig-no-thanks`";
            if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
                eprintln!("skipping a glewlwyd test ({SKIP_ENV}=1): {why}");
                return None;
            }
            panic!("{why} (or set {SKIP_ENV}=1 to skip these tests)");
        }
        // Another process may take the free port between probing and glewlwyd binding it.
        const ATTEMPTS: u32 = 3;
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match Glewlwyd::spawn(&self).await {
                Ok(server) => return Some(server),
                Err(why) => last = why,
            }
        }
        panic!("glewlwyd did not start ({ATTEMPTS} attempts); last: {last}")
    }
}

/// A running glewlwyd instance, provisioned; killed (by PID) when dropped.
#[derive(Debug)]
pub struct Glewlwyd {
    child: Child,
    port: u16,
    redirect_port: u16,
    dir: Scratch,
    jwt_client_key: String,
    http: reqwest::Client,
}

impl Glewlwyd {
    /// A fresh instance with refresh-token rotation on. See [`GlewlwydBuilder::start`].
    pub async fn start() -> Option<Glewlwyd> {
        Self::builder().start().await
    }

    /// Options for the instance.
    pub fn builder() -> GlewlwydBuilder {
        GlewlwydBuilder {
            rotate_refresh_tokens: true,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The issuer: `http://127.0.0.1:<port>/api/oidc` (it has a path).
    pub fn issuer(&self) -> String {
        format!("{}/api/{PLUGIN}", self.base_url())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The revocation endpoint.
    pub fn revocation_url(&self) -> String {
        format!("{}/revoke", self.issuer())
    }

    /// The one redirect URI registered for [`GW_NATIVE`]: loopback with a port chosen for
    /// this instance, which glewlwyd compares exactly.
    pub fn native_redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.redirect_port)
    }

    /// The PEM (PKCS#8, EC P-256) of [`GW_JWT`]'s private key.
    pub fn jwt_client_key_pem(&self) -> &str {
        &self.jwt_client_key
    }

    /// The last lines of glewlwyd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.0.join("glewlwyd.log"))
    }

    /// A person with their own cookie jar, to log in and consent through glewlwyd's JSON API.
    #[expect(
        clippy::disallowed_methods,
        reason = "a browser stand-in: its own cookie jar, no proxy, redirects shown not followed"
    )]
    pub fn person(&self) -> GlewlwydPerson {
        GlewlwydPerson {
            api: format!("{}/api", self.base_url()),
            http: reqwest::Client::builder()
                .no_proxy()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client for the glewlwyd person"),
        }
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the fixture's own throwaway configuration, not token state"
    )]
    async fn spawn(options: &GlewlwydBuilder) -> Result<Glewlwyd, String> {
        let port = free_port();
        let redirect_port = free_port();
        let dir = Scratch::new(port);
        let db = dir.0.join("glewlwyd.db");
        let schema = std::fs::read_to_string(SCHEMA).map_err(|e| format!("read {SCHEMA}: {e}"))?;
        rusqlite::Connection::open(&db)
            .and_then(|c| c.execute_batch(&schema))
            .map_err(|e| format!("initialise the SQLite database: {e}"))?;
        let config = dir.0.join("glewlwyd.conf");
        std::fs::write(&config, config_file(port, &db, &dir.0.join("glewlwyd.log")))
            .map_err(|e| format!("write the configuration: {e}"))?;
        let child = Command::new("/usr/bin/glewlwyd")
            .arg(format!("--config-file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start glewlwyd: {e}"))?;
        let (jwt_client_key, jwt_client_public) = ec_key_pair();
        let mut server = Glewlwyd {
            child,
            port,
            redirect_port,
            dir,
            jwt_client_key,
            http: reqwest::Client::builder()
                .no_proxy()
                .cookie_store(true)
                .build()
                .expect("the admin HTTP client"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("glewlwyd exited ({status}): {}", server.log_tail()));
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!("not listening within 10 s: {}", server.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
            .provision(options, &jwt_client_public)
            .await
            .map_err(|e| format!("{e}; log: {}", server.log_tail()))?;
        Ok(server)
    }

    async fn provision(&self, options: &GlewlwydBuilder, jwt_public: &str) -> Result<(), String> {
        let admin = json!({"username": ADMIN.0, "password": ADMIN.1});
        self.admin("POST", "/auth/", admin).await?;
        self.admin(
            "POST",
            "/scope/",
            json!({
                "name": GW_SCOPE, "display_name": "Test API", "description": "the tests' API",
                "password_required": false, "scheme": {}
            }),
        )
        .await?;
        self.admin(
            "POST",
            "/user/",
            json!({
                "username": GW_ALICE.0, "name": "Alice", "email": "alice@example.test",
                "password": GW_ALICE.1, "scope": ["openid", GW_SCOPE], "enabled": true
            }),
        )
        .await?;
        let confidential = |id: &str, secret: &str, methods: &[&str], grants: Value| {
            json!({
                "client_id": id, "client_name": id, "client_secret": secret,
                "confidential": true, "token_endpoint_auth_method": methods,
                "authorization_type": grants, "scope": [GW_SCOPE], "enabled": true
            })
        };
        let machine = json!(["client_credentials", "password", "refresh_token"]);
        for client in [
            confidential(
                GW_BASIC.0,
                GW_BASIC.1,
                &["client_secret_basic"],
                machine.clone(),
            ),
            confidential(
                GW_POST.0,
                GW_POST.1,
                &["client_secret_post"],
                json!(["client_credentials"]),
            ),
            confidential(
                GW_RESERVED.0,
                GW_RESERVED.1,
                &["client_secret_basic", "client_secret_post"],
                machine,
            ),
            json!({
                "client_id": GW_JWT, "client_name": GW_JWT, "confidential": true,
                "token_endpoint_auth_method": ["private_key_jwt"], "pubkey": jwt_public,
                "authorization_type": ["client_credentials"], "scope": [GW_SCOPE], "enabled": true
            }),
            json!({
                "client_id": GW_NATIVE, "client_name": GW_NATIVE, "confidential": false,
                "authorization_type": ["code", "refresh_token", "device_authorization"],
                "redirect_uri": [self.native_redirect_uri()], "enabled": true
            }),
        ] {
            self.admin("POST", "/client/", client).await?;
        }
        let (key, public) = ec_key_pair();
        let rotation = if options.rotate_refresh_tokens {
            "always"
        } else {
            "never"
        };
        self.admin(
            "POST",
            "/mod/plugin/",
            json!({
                "module": "oidc", "name": PLUGIN, "display_name": "OpenID Connect", "enabled": true,
                "parameters": {
                    "iss": self.issuer(), "jwt-type": "ecdsa", "jwt-key-size": "256",
                    "key": key, "cert": public, "jwks-show": true,
                    "access-token-duration": 3600, "refresh-token-duration": 1_209_600,
                    "code-duration": 600, "refresh-token-rolling": true,
                    "refresh-token-one-use": rotation, "allow-non-oidc": true,
                    "auth-type-code-enabled": true, "auth-type-token-enabled": false,
                    "auth-type-id-token-enabled": true, "auth-type-none-enabled": false,
                    "auth-type-password-enabled": true, "auth-type-client-enabled": true,
                    "auth-type-device-enabled": true, "auth-type-refresh-enabled": true,
                    "allowed-scope": ["openid", GW_SCOPE],
                    "pkce-allowed": true, "pkce-method-plain-allowed": false,
                    "introspection-revocation-allowed": true,
                    "introspection-revocation-auth-scope": [],
                    "introspection-revocation-allow-target-client": true,
                    "device-authorization-expiration": 600, "device-authorization-interval": 1,
                    // Without JWT requests allowed, private_key_jwt assertions are refused too.
                    "client-pubkey-parameter": "pubkey", "request-parameter-allow": true,
                    "name-claim": "on-demand", "email-claim": "on-demand",
                    // Publishes `end_session_endpoint` (RP-initiated logout).
                    "session-management-allowed": true,
                    "session-cookie-name": "GLEWLWYD_OIDC_SID", "session-cookie-expiration": 2_419_200
                }
            }),
        )
        .await?;
        // The plugin answers discovery once it is loaded.
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = self
                .http
                .get(&discovery)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("discovery did not answer within 10 s of provisioning".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replaces the OIDC plugin's signing key with a new EC P-256 key: its configuration is
    /// read back, updated with the key, and the plugin reloaded (an update alone keeps the
    /// loaded instance's keys).
    pub async fn rotate_key(&self) -> Result<(), String> {
        let path = format!("/mod/plugin/{PLUGIN}");
        let url = format!("{}/api{path}", self.base_url());
        let mut plugin: Value = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("admin GET {path}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("admin GET {path}: {e}"))?;
        let (key, public) = ec_key_pair();
        plugin["parameters"]["key"] = json!(key);
        plugin["parameters"]["cert"] = json!(public);
        self.admin("PUT", &path, plugin).await?;
        for action in ["disable", "enable"] {
            self.admin("PUT", &format!("{path}/{action}"), json!({}))
                .await?;
        }
        Ok(())
    }

    async fn admin(&self, method: &str, path: &str, body: Value) -> Result<(), String> {
        let url = format!("{}/api{path}", self.base_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let response = self
            .http
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("admin {path}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("admin {path} answered {status}: {text}"));
        }
        Ok(())
    }
}

impl Drop for Glewlwyd {
    fn drop(&mut self) {
        // `Child::kill` signals this process's PID; it never looks processes up by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A person using glewlwyd's login API (its login page is a JavaScript app calling it): logs
/// in with a password, grants a client its scopes, and then lets glewlwyd continue an
/// authorization or device approval.
#[derive(Debug, Clone)]
pub struct GlewlwydPerson {
    api: String,
    http: reqwest::Client,
}

impl GlewlwydPerson {
    /// Logs in as `user` (`POST /api/auth/` with the password scheme).
    pub async fn log_in(&self, user: (&str, &str)) {
        let response = self
            .http
            .post(format!("{}/auth/", self.api))
            .json(&json!({"username": user.0, "password": user.1}))
            .send()
            .await
            .expect("glewlwyd login request");
        assert!(
            response.status().is_success(),
            "glewlwyd login: {}",
            response.status()
        );
    }

    /// Grants `client_id` the `scope` (space-separated) for the logged-in user
    /// (`PUT /api/auth/grant/<client>`).
    pub async fn grant(&self, client_id: &str, scope: &str) {
        let response = self
            .http
            .put(format!("{}/auth/grant/{client_id}", self.api))
            .json(&json!({"scope": scope}))
            .send()
            .await
            .expect("glewlwyd grant request");
        assert!(
            response.status().is_success(),
            "glewlwyd grant: {}",
            response.status()
        );
    }

    /// Logs in, consents and opens `authorize_url` with `g_continue` (what the login page
    /// does at its end); returns where glewlwyd redirects (the client's redirect URI with
    /// the code, or an error).
    pub async fn authorize(&self, user: (&str, &str), authorize_url: &str) -> Url {
        let url = Url::parse(authorize_url).expect("an authorization URL");
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        self.log_in(user).await;
        self.grant(&query("client_id"), &query("scope")).await;
        let location = self
            .redirect_of(&format!("{authorize_url}&g_continue"))
            .await;
        assert!(
            !location.path().ends_with("login.html"),
            "glewlwyd did not continue the authorization: {location}"
        );
        location
    }

    /// Follows an authorization to the client's loopback redirect URI, as the browser does.
    pub async fn complete_login(&self, user: (&str, &str), authorize_url: &str) -> u16 {
        let redirect = self.authorize(user, authorize_url).await;
        let response = self
            .http
            .get(redirect)
            .send()
            .await
            .expect("the loopback redirect");
        response.status().as_u16()
    }

    /// Approves a device login: logs in, consents to `scope` for `client_id`, then opens
    /// the verification URI with the `user_code`. Returns whether glewlwyd said it is done.
    pub async fn approve_device(
        &self,
        user: (&str, &str),
        client_id: &str,
        scope: &str,
        verification_uri: &str,
        user_code: &str,
    ) -> bool {
        self.log_in(user).await;
        self.grant(client_id, scope).await;
        let mut url = Url::parse(verification_uri).expect("a verification URI");
        url.query_pairs_mut()
            .append_pair("code", user_code)
            .append_pair("g_continue", "");
        let location = self.redirect_of(url.as_str()).await;
        location.as_str().contains("prompt=deviceComplete")
    }

    async fn redirect_of(&self, url: &str) -> Url {
        let response = self.http.get(url).send().await.expect("a glewlwyd page");
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| {
                panic!("glewlwyd answered {} without a redirect", response.status())
            });
        Url::parse(url)
            .and_then(|u| u.join(location))
            .expect("a redirect URL")
    }
}

fn config_file(port: u16, db: &std::path::Path, log: &std::path::Path) -> String {
    // No `use_secure_connection` at all: any value makes 2.7.5 look for a certificate.
    format!(
        r#"port={port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:{port}"
login_url="login.html"
api_prefix="api"
static_files_path="/usr/share/glewlwyd/webapp/"
allow_origin="*"
log_mode="file"
log_level="DEBUG"
log_file="{log}"
cookie_domain="127.0.0.1"
cookie_secure=0
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_scope="g_admin"
profile_scope="g_profile"
login_api_enabled=true
user_module_path="/usr/lib/glewlwyd/user"
user_middleware_module_path="/usr/lib/glewlwyd/user_middleware"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
hash_algorithm="SHA512"
database = {{
  type = "sqlite3"
  path = "{db}"
}};
"#,
        log = log.display(),
        db = db.display(),
    )
}

/// An EC P-256 key pair: (PKCS#8 private PEM, SPKI public PEM).
fn ec_key_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("an EC key");
    (key.serialize_pem(), key.public_key_pem())
}

fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The instance's directory (configuration, database, log), removed when it is dropped.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new(port: u16) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("latchkey-glewlwyd-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir for the glewlwyd fixture");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
