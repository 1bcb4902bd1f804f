//! LemonLDAP::NG (Debian package `lemonldap-ng`, 2.16; Perl) as a third, independent
//! identity provider: one fresh portal per test, served by `plackup` on a free loopback port
//! from a JSON configuration written into a throwaway directory, and stopped by PID when
//! dropped.
//!
//! What it serves, as configured here: discovery and JWKS (RS256), client credentials
//! (`client_secret_basic` and `client_secret_post`), the password grant, authorization code +
//! PKCE through its HTML login form, refresh (it never rotates refresh tokens),
//! introspection, userinfo and end-session. It has no device grant, no revocation endpoint
//! and no `private_key_jwt` client authentication. Users come from its `Demo` backend
//! (login = password: `dwho`, `rtyler`, `msmith`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;

use crate::person::{UserAgent, forms};

/// Set to `1` to skip the LemonLDAP::NG tests (with a printed reason) where it is not
/// installed. CI never sets it: there the tests must run.
pub const SKIP_ENV: &str = "LATCHKEY_SKIP_LEMONLDAP";

/// Confidential client whose token requests use `client_secret_basic`: client credentials,
/// password, refresh token. (LemonLDAP::NG 2.16 accepts either method from any confidential
/// client; the tests use each client with one.)
pub const LL_BASIC: (&str, &str) = ("lemon-basic", "lemon-basic-secret");
/// Confidential client used with `client_secret_post`: client credentials, password.
pub const LL_POST: (&str, &str) = ("lemon-post", "lemon-post-secret");
/// Public client: authorization code + PKCE (required) with a fixed-port loopback redirect
/// URI, refresh token.
pub const LL_NATIVE: &str = "lemon-native";
/// A user of the `Demo` authentication backend (its password is its login).
pub const LL_DWHO: (&str, &str) = ("dwho", "dwho");
/// A scope for client credentials: LemonLDAP::NG refuses a client-credentials request
/// without any scope (`invalid_scope`).
pub const LL_SCOPE: &str = "api";

/// The portal's PSGI entry point (the Debian package ships FastCGI/uWSGI wrappers only).
const PSGI: &str = "use Lemonldap::NG::Portal::Main;\nLemonldap::NG::Portal::Main->run({});\n";
/// The portal's main module: present when `lemonldap-ng` is installed.
const PORTAL_MODULE: &str = "/usr/share/perl5/Lemonldap/NG/Portal/Main.pm";
/// The Debian packages to install (`--no-install-recommends`): the portal answers 500 until
/// the Perl modules it loads at start (captcha, OIDC issuer) are there.
pub const PACKAGES: &str = "lemonldap-ng libplack-perl libgd-securityimage-perl libimage-magick-perl libcrypt-openssl-bignum-perl libconvert-base32-perl libio-string-perl libstring-random-perl libdigest-hmac-perl";

/// A running LemonLDAP::NG portal; killed (by PID) when dropped.
#[derive(Debug)]
pub struct LemonLdap {
    child: Child,
    port: u16,
    redirect_port: u16,
    dir: Scratch,
    /// The number of the configuration in force and its content (for a key rotation).
    config: Mutex<(u32, Value)>,
}

impl LemonLdap {
    /// Starts a fresh portal. `None` only when LemonLDAP::NG is not installed and
    /// [`SKIP_ENV`] is `1` (the reason is printed); panics when it is not installed
    /// otherwise, or does not come up.
    pub async fn start() -> Option<LemonLdap> {
        if !Path::new(PORTAL_MODULE).exists() || !Path::new("/usr/bin/plackup").exists() {
            let why = format!(
                "LemonLDAP::NG is not installed: run scripts/test.sh, or `apt-get install -y --no-install-recommends {PACKAGES}`"
            );
            if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
                eprintln!("skipping a LemonLDAP::NG test ({SKIP_ENV}=1): {why}");
                return None;
            }
            panic!("{why} (or set {SKIP_ENV}=1 to skip these tests)");
        }
        // Another process may take the free port between probing and plackup binding it.
        const ATTEMPTS: u32 = 3;
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match LemonLdap::spawn().await {
                Ok(server) => return Some(server),
                Err(why) => last = why,
            }
        }
        panic!("LemonLDAP::NG did not start ({ATTEMPTS} attempts); last: {last}")
    }

    /// The issuer, which is the portal's URL: `http://127.0.0.1:<port>` (no path).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.issuer())
    }

    /// The authorization endpoint.
    pub fn authorization_url(&self) -> String {
        format!("{}/oauth2/authorize", self.issuer())
    }

    /// The one redirect URI registered for [`LL_NATIVE`], on a port chosen for this instance.
    pub fn native_redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.redirect_port)
    }

    /// The post-logout redirect URI registered for every client.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/logged-out", self.redirect_port)
    }

    /// The last lines of the portal's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.0.join("portal.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Logs in as `user` on the portal's HTML login form that `authorize_url` shows, and
    /// returns where the portal then redirects (the client's redirect URI with a code or an
    /// error). Consent is bypassed for the registered clients.
    pub async fn authorize(&self, user: (&str, &str), authorize_url: &Url) -> Url {
        let agent = UserAgent::new();
        let origin = format!("{}/", self.issuer());
        let page = match agent.follow(agent.get(authorize_url).await, &origin).await {
            Ok(page) => page,
            Err(redirect) => return redirect,
        };
        let mut all = forms(&page.url, &page.body);
        let form = all
            .iter_mut()
            .find(|f| f.has("password"))
            .unwrap_or_else(|| panic!("no login form on {}: {}", page.url, page.body));
        form.set("user", user.0).set("password", user.1);
        match agent.follow(agent.submit(form).await, &origin).await {
            Err(redirect) => redirect,
            Ok(page) => {
                // The error page shows a message number only; the log says what it means.
                let code = page
                    .body
                    .split("trmsg=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("?");
                let log = self.log_tail();
                let reason = log
                    .lines()
                    .rev()
                    .find(|line| line.contains("[error]") || line.contains("[warn]"))
                    .unwrap_or("no error in the log");
                panic!(
                    "the portal showed error page {code} instead of redirecting after the login: {reason}"
                )
            }
        }
    }

    /// Replaces the signing key: writes the next configuration (`lmConf-<n>.json`) with a
    /// new RSA key and key id `lemon-<n>`, which the portal loads within a second
    /// (`checkTime = 1`), and waits until its JWKS publishes the new key. Returns the key id.
    #[expect(
        clippy::disallowed_methods,
        reason = "the fixture's own JWKS probe, not a latchkey request"
    )]
    pub async fn rotate_key(&self) -> String {
        let kid = {
            let mut config = self.config.lock().expect("the configuration lock");
            let number = config.0 + 1;
            let kid = format!("lemon-{number}");
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("an RSA key");
            let conf = &mut config.1;
            conf["cfgNum"] = json!(number);
            conf["oidcServicePrivateKeySig"] = json!(key.serialize_pem());
            conf["oidcServicePublicKeySig"] = json!(key.public_key_pem());
            conf["oidcServiceKeyIdSig"] = json!(kid);
            let path = self.dir.0.join(format!("conf/lmConf-{number}.json"));
            write(&path, &conf.to_string()).expect("the next configuration");
            config.0 = number;
            kid
        };
        let jwks = format!("{}/oauth2/jwks", self.issuer());
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let published = match http.get(&jwks).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if published.contains(&format!("\"{kid}\"")) {
                return kid;
            }
            assert!(
                Instant::now() < deadline,
                "the portal did not load the new key {kid} within 15 s: {}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn spawn() -> Result<LemonLdap, String> {
        let port = free_port();
        let redirect_port = free_port();
        let dir = Scratch::new(port)?;
        let server_dir = dir.0.clone();
        let issuer = format!("http://127.0.0.1:{port}");
        let redirect = format!("http://127.0.0.1:{redirect_port}");
        let config = portal_config(&server_dir, &issuer, &redirect)?;
        write(&server_dir.join("conf/lmConf-1.json"), &config.to_string())?;
        // The configuration is kept for a key rotation (a later configuration number).
        write(&server_dir.join("lemonldap-ng.ini"), &ini_file(&server_dir))?;
        write(&server_dir.join("portal.psgi"), PSGI)?;
        let log = log_file(&server_dir.join("portal.log"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("the portal log: {e}"))?;
        let child = Command::new("/usr/bin/plackup")
            .args(["-s", "HTTP::Server::PSGI", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg(server_dir.join("portal.psgi"))
            .env("LLNG_DEFAULTCONFFILE", server_dir.join("lemonldap-ng.ini"))
            .current_dir(&server_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot start plackup: {e}"))?;
        let mut server = LemonLdap {
            child,
            port,
            redirect_port,
            dir,
            config: Mutex::new((1, config)),
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Waits for discovery to answer 200 (the portal loads its configuration and modules on
    /// the first request; a missing Perl module shows up as a 500 there).
    #[expect(
        clippy::disallowed_methods,
        reason = "the fixture's own readiness probe, not a latchkey request"
    )]
    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer());
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("plackup exited ({status}): {}", self.log_tail()));
            }
            if let Ok(response) = http.get(&discovery).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
                if response.status().is_server_error() {
                    return Err(format!(
                        "the portal answered {} (a Perl module missing? install {PACKAGES}): {}",
                        response.status(),
                        self.log_tail()
                    ));
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "discovery not answering within 30 s: {}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for LemonLdap {
    fn drop(&mut self) {
        // `Child::kill` signals this process's PID (plackup serves in-process, no workers).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The portal's configuration (`lmConf-1.json`): Demo users, file sessions in `dir`, the
/// OpenID Connect issuer with a signing key made for this instance, and the clients.
fn portal_config(dir: &Path, issuer: &str, redirect: &str) -> Result<Value, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .map_err(|e| format!("an RSA signing key: {e}"))?;
    let rp = |id: &str, secret: &str, public: bool| {
        json!({
            "oidcRPMetaDataOptionsClientID": id,
            "oidcRPMetaDataOptionsClientSecret": secret,
            "oidcRPMetaDataOptionsPublic": u8::from(public),
            "oidcRPMetaDataOptionsRequirePKCE": u8::from(public),
            "oidcRPMetaDataOptionsRedirectUris": format!("{redirect}/callback"),
            "oidcRPMetaDataOptionsPostLogoutRedirectUris": format!("{redirect}/logged-out"),
            "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
            "oidcRPMetaDataOptionsBypassConsent": 1,
            "oidcRPMetaDataOptionsAllowClientCredentialsGrant": u8::from(!public),
            "oidcRPMetaDataOptionsAllowPasswordGrant": u8::from(!public),
            "oidcRPMetaDataOptionsAllowOffline": 1,
            "oidcRPMetaDataOptionsRefreshToken": 1,
        })
    };
    let claims = json!({"email": "mail", "name": "cn"});
    let sessions = |name: &str| -> Result<Value, String> {
        let path = dir.join(name);
        std::fs::create_dir_all(path.join("lock")).map_err(|e| format!("{name}: {e}"))?;
        Ok(json!({
            "Directory": path.display().to_string(),
            "LockDirectory": path.join("lock").display().to_string(),
        }))
    };
    Ok(json!({
        "cfgNum": 1, "cfgVersion": "2.16.1", "cfgAuthor": "latchkey tests", "cfgDate": "1700000000",
        "authentication": "Demo", "userDB": "Same", "passwordDB": "Demo", "registerDB": "Null",
        "demoExportedVars": {"cn": "cn", "mail": "mail", "uid": "uid"},
        "domain": "127.0.0.1", "cookieName": "lemonldap", "securedCookie": 0, "https": 0,
        "portal": format!("{issuer}/"), "timeout": 72000, "whatToTrace": "uid",
        "globalStorage": "Apache::Session::File", "globalStorageOptions": sessions("sessions")?,
        "persistentStorage": "Apache::Session::File", "persistentStorageOptions": sessions("psessions")?,
        "notification": 0, "loginHistoryEnabled": 0,
        "locationRules": {"127.0.0.1": {"default": "accept"}},
        "issuerDBOpenIDConnectActivation": 1,
        "oidcServiceMetaDataIssuer": issuer,
        "oidcServicePrivateKeySig": key.serialize_pem(),
        "oidcServicePublicKeySig": key.public_key_pem(),
        "oidcServiceKeyIdSig": "lemon-1",
        "oidcServiceAllowAuthorizationCodeFlow": 1,
        "oidcRPMetaDataOptions": {
            "basic": rp(LL_BASIC.0, LL_BASIC.1, false),
            "post": rp(LL_POST.0, LL_POST.1, false),
            "native": rp(LL_NATIVE, "", true),
        },
        "oidcRPMetaDataExportedVars": {"basic": claims, "post": claims, "native": claims},
    }))
}

/// The portal's `lemonldap-ng.ini`: the configuration is read from `dir/conf`, without the
/// package's shared cache under `/var/lib` (instances must not see each other).
fn ini_file(dir: &Path) -> String {
    format!(
        "[all]\nlogLevel = info\ncheckTime = 1\n\n[configuration]\ntype = File\ndirName = {}\n\n\
         [portal]\nstaticPrefix = /static\ntemplateDir = /usr/share/lemonldap-ng/portal/templates\nlanguages = en\n",
        dir.join("conf").display()
    )
}

#[expect(
    clippy::disallowed_methods,
    reason = "the fixture's own throwaway configuration, not token state"
)]
fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the fixture's own throwaway log, not token state"
)]
fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("create {}: {e}", path.display()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The instance's directory (configuration, sessions, log), removed when it is dropped.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new(port: u16) -> Result<Scratch, String> {
        let dir =
            std::env::temp_dir().join(format!("latchkey-lemonldap-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf"))
            .map_err(|e| format!("a temp dir for the LemonLDAP::NG fixture: {e}"))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
