//! A throwaway `redis-server` for tests: plain, or over TLS with a CA made for the test
//! (optionally requiring client certificates), optionally with an ACL user and the
//! `default` user switched off.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A `redis-server` on a free loopback port, without persistence; killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    tls: Option<TestPki>,
    _dir: Option<TempDir>,
}

/// How to start a [`RedisServer`] (see [`RedisServer::builder`]).
#[derive(Debug, Default)]
pub struct RedisServerBuilder {
    tls: bool,
    client_certificates: bool,
    user: Option<(String, String)>,
}

impl RedisServerBuilder {
    /// Serve TLS only (`--port 0 --tls-port <free>`), with a certificate for 127.0.0.1
    /// issued by a CA made for this server.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Over TLS, refuse clients without a certificate from the test CA
    /// (`--tls-auth-clients yes`). Implies [`tls`](Self::tls).
    pub fn require_client_certificates(mut self) -> Self {
        self.tls = true;
        self.client_certificates = true;
        self
    }

    /// Add the ACL user `name` with `password` and every permission, and switch the
    /// passwordless `default` user off.
    pub fn acl_user(mut self, name: &str, password: &str) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    /// Starts the server and waits until it accepts connections. Panics as
    /// [`RedisServer::start`] does.
    #[expect(
        clippy::disallowed_methods,
        reason = "the fixture's own throwaway certificate files, not token state"
    )]
    pub fn start(self) -> RedisServer {
        let port = free_port();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        let (tls, dir) = if self.tls {
            let dir = TempDir::new(port);
            let pki = TestPki::generate();
            let write = |name: &str, text: &str| {
                let path = dir.0.join(name);
                std::fs::write(&path, text).expect("write a TLS file of the Redis fixture");
                path.to_str().expect("a UTF-8 temp path").to_owned()
            };
            command.args(["--port", "0", "--tls-port", &port.to_string()]);
            command.args(["--tls-cert-file", &write("server.pem", &pki.server_cert)]);
            command.args(["--tls-key-file", &write("server.key", &pki.server_key)]);
            command.args(["--tls-ca-cert-file", &write("ca.pem", &pki.ca)]);
            let auth_clients = if self.client_certificates {
                "yes"
            } else {
                "no"
            };
            command.args(["--tls-auth-clients", auth_clients]);
            (Some(pki), Some(dir))
        } else {
            command.args(["--port", &port.to_string()]);
            (None, None)
        };
        if let Some((name, password)) = &self.user {
            command.args([
                "--user",
                name,
                "on",
                &format!(">{password}"),
                "~*",
                "&*",
                "+@all",
            ]);
            command.args(["--user", "default", "off"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `redis-server`: {e}; install redis-server (scripts/test.sh does)"
                )
            });
        let mut server = RedisServer {
            child,
            port,
            tls,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server exited early ({status}); is port {port} taken?");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not accept connections within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl RedisServer {
    /// Starts `redis-server --bind 127.0.0.1 --port <free> --save '' --appendonly no` and
    /// waits until it accepts connections.
    ///
    /// Panics when `redis-server` is not installed (install redis-server (scripts/test.sh
    /// does)) or does not come up within 10 s.
    pub fn start() -> RedisServer {
        RedisServerBuilder::default().start()
    }

    /// A server with TLS, client certificates or an ACL user.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// `redis://127.0.0.1:<port>/`, or `rediss://` when the server speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The TLS material of a [`tls`](RedisServerBuilder::tls) server.
    pub fn pki(&self) -> Option<&TestPki> {
        self.tls.as_ref()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A CA made for one test, the server certificate it issued for `127.0.0.1`/`localhost`,
/// and a client certificate it issued (all PEM).
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate: what a client trusts.
    pub ca: String,
    /// The server's certificate.
    pub server_cert: String,
    /// The server's private key.
    pub server_key: String,
    /// A client certificate for mutual TLS.
    pub client_cert: String,
    /// The client certificate's private key.
    pub client_key: String,
}

impl TestPki {
    /// A fresh CA and two certificates it signs.
    pub fn generate() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "latchkey test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("the test CA");
        let issue = |names: Vec<String>| {
            let key = KeyPair::generate().expect("a key");
            let cert = CertificateParams::new(names)
                .expect("certificate params")
                .signed_by(&key, &ca)
                .expect("a certificate from the test CA");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = issue(vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_cert, client_key) = issue(vec!["latchkey-test-client".into()]);
        TestPki {
            ca: ca.pem(),
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }
}

/// A private directory for the server's TLS files, removed when the server is.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(port: u16) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("latchkey-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir for the Redis fixture");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
