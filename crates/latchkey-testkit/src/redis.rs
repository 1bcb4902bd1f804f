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

/// A Redis Cluster of three masters (no replicas) on free loopback ports, created with
/// `redis-cli --cluster create`; every node is killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts three `redis-server --cluster-enabled yes` nodes, joins them into one cluster
    /// with all 16384 slots assigned, and waits until every node reports `cluster_state:ok`.
    ///
    /// Panics when `redis-server` or `redis-cli` is missing (install redis-server and
    /// redis-tools; scripts/test.sh does) or the cluster does not form within 20 s.
    pub fn start() -> RedisCluster {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let dir = TempDir::new(ports[0]);
        let nodes = ports
            .iter()
            .map(|port| {
                let config = dir.0.join(format!("nodes-{port}.conf"));
                Command::new("redis-server")
                    .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--save", "", "--appendonly", "no"])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .arg("--cluster-config-file")
                    .arg(&config)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start `redis-server`: {e}"))
            })
            .collect();
        let cluster = RedisCluster {
            nodes,
            ports,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &cluster.ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "cluster node {port} did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `redis-cli`: {e}; install redis-tools (scripts/test.sh does)")
            });
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        for port in &cluster.ports {
            while !cluster
                .cli(*port, &["cluster", "info"])
                .contains("cluster_state:ok")
            {
                assert!(Instant::now() < deadline, "the cluster did not become ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// `redis://127.0.0.1:<port>/` of the first node: a seed the client learns the rest from.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.ports[0])
    }

    /// The ports of the three masters.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Runs `redis-cli -p <port> <args>` and returns its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// Moves hash slot `slot`, with its keys, to the master on `to` (the steps of a live
    /// resharding: IMPORTING/MIGRATING, MIGRATE, then NODE on every master). Clients that
    /// cached the old owner get `MOVED` and must follow.
    pub fn move_slot(&self, slot: u16, to: u16) {
        let migration = self.start_moving_slot(slot, to);
        self.finish_moving_slot(migration);
    }

    /// The first half of [`move_slot`](Self::move_slot): the slot is MIGRATING on its owner
    /// and IMPORTING on `to`, and its keys are already on `to`. Until
    /// [`finish_moving_slot`](Self::finish_moving_slot), the old owner answers a command for
    /// one of those keys with `ASK`: the client must send `ASKING` and the command to `to`.
    pub fn start_moving_slot(&self, slot: u16, to: u16) -> SlotMigration {
        let from = self
            .ports
            .iter()
            .copied()
            .find(|p| {
                self.cli(*p, &["cluster", "countkeysinslot", &slot.to_string()])
                    .trim()
                    .parse::<u64>()
                    .is_ok_and(|n| n > 0)
            })
            .expect("a node holding keys in the slot");
        assert_ne!(from, to, "the slot is already on {to}");
        let id = |port: u16| self.cli(port, &["cluster", "myid"]).trim().to_owned();
        let (from_id, to_id) = (id(from), id(to));
        let slot_text = slot.to_string();
        self.cli(
            to,
            &["cluster", "setslot", &slot_text, "importing", &from_id],
        );
        self.cli(
            from,
            &["cluster", "setslot", &slot_text, "migrating", &to_id],
        );
        loop {
            let keys = self.cli(from, &["cluster", "getkeysinslot", &slot_text, "100"]);
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let mut args = vec!["migrate", "127.0.0.1"];
            let to_text = to.to_string();
            args.extend([to_text.as_str(), "", "0", "5000", "keys"]);
            args.extend(keys);
            let answer = self.cli(from, &args);
            assert!(answer.contains("OK"), "MIGRATE failed: {answer}");
        }
        SlotMigration { slot, to_id }
    }

    /// The second half of [`move_slot`](Self::move_slot): every master learns the slot's
    /// new owner.
    pub fn finish_moving_slot(&self, migration: SlotMigration) {
        let slot_text = migration.slot.to_string();
        for port in &self.ports {
            self.cli(
                *port,
                &["cluster", "setslot", &slot_text, "node", &migration.to_id],
            );
        }
    }
}

/// A slot halfway through [`RedisCluster::start_moving_slot`].
#[derive(Debug)]
pub struct SlotMigration {
    slot: u16,
    to_id: String,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

/// A Redis master, two replicas and three sentinels watching them (service `mymaster`,
/// quorum 2, the master declared down after 1 s), on free loopback ports; every process is
/// killed when dropped.
#[derive(Debug)]
pub struct RedisSentinels {
    master: Option<Child>,
    replicas: Vec<Child>,
    sentinels: Vec<Child>,
    master_port: u16,
    replica_ports: Vec<u16>,
    sentinel_ports: Vec<u16>,
    _dir: TempDir,
}

/// The service name the sentinels watch.
pub const SENTINEL_SERVICE: &str = "mymaster";

impl RedisSentinels {
    /// Starts the master, the replicas (waiting until they are in sync) and the sentinels
    /// (waiting until each knows the master and its replicas).
    ///
    /// Panics when `redis-server` is missing or the group does not form within 20 s.
    #[expect(
        clippy::disallowed_methods,
        reason = "the sentinels' throwaway configuration files, not token state"
    )]
    pub fn start() -> RedisSentinels {
        let master_port = free_port();
        let replica_ports = vec![free_port(), free_port()];
        let sentinel_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let dir = TempDir::new(master_port);
        let server = |port: u16, extra: &[&str]| {
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start `redis-server`: {e}"))
        };
        let master = server(master_port, &[]);
        let replicas = replica_ports
            .iter()
            .map(|port| {
                server(
                    *port,
                    &["--replicaof", "127.0.0.1", &master_port.to_string()],
                )
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &replica_ports {
            while !cli(*port, &["info", "replication"]).contains("master_link_status:up") {
                assert!(Instant::now() < deadline, "a replica did not sync");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let sentinels = sentinel_ports
            .iter()
            .map(|port| {
                // Sentinels rewrite their configuration file: one each, in the temp dir.
                let config = dir.0.join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "port {port}\nbind 127.0.0.1\n\
                         sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n\
                         sentinel failover-timeout {SENTINEL_SERVICE} 5000\n\
                         sentinel parallel-syncs {SENTINEL_SERVICE} 1\n"
                    ),
                )
                .expect("write a sentinel configuration");
                Command::new("redis-server")
                    .arg(&config)
                    .arg("--sentinel")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start a sentinel: {e}"))
            })
            .collect();
        let group = RedisSentinels {
            master: Some(master),
            replicas,
            sentinels,
            master_port,
            replica_ports: replica_ports.clone(),
            sentinel_ports,
            _dir: dir,
        };
        for port in &group.sentinel_ports {
            loop {
                let known = cli(*port, &["sentinel", "replicas", SENTINEL_SERVICE]);
                let others = cli(*port, &["sentinel", "sentinels", SENTINEL_SERVICE]);
                let all_known = replica_ports.iter().all(|p| known.contains(&p.to_string()));
                if all_known && others.matches("name").count() >= 2 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "sentinel {port} did not see the group"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        group
    }

    /// `redis+sentinel://127.0.0.1:<first sentinel>/mymaster`.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{SENTINEL_SERVICE}",
            self.sentinel_ports[0]
        )
    }

    /// The other two sentinels, `127.0.0.1:<port>`.
    pub fn more_sentinels(&self) -> Vec<String> {
        self.sentinel_ports[1..]
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// The port of the server the sentinels name as master now.
    pub fn master_port(&self) -> u16 {
        let answer = cli(
            self.sentinel_ports[0],
            &["sentinel", "get-master-addr-by-name", SENTINEL_SERVICE],
        );
        answer
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .expect("the sentinels name a master")
    }

    /// The original replicas' ports.
    pub fn replica_ports(&self) -> &[u16] {
        &self.replica_ports
    }

    /// Runs `redis-cli -p <port> <args>` and returns its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// Kills the original master (SIGKILL: no goodbye to anyone).
    pub fn kill_master(&mut self) {
        if let Some(mut master) = self.master.take() {
            let _ = master.kill();
            let _ = master.wait();
        }
    }

    /// Waits until the sentinels have promoted a replica (within 20 s).
    pub fn wait_for_failover(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.master_port() == self.master_port {
            assert!(Instant::now() < deadline, "no failover within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port of the master the group started with.
    pub fn original_master_port(&self) -> u16 {
        self.master_port
    }
}

impl Drop for RedisSentinels {
    fn drop(&mut self) {
        let children = self
            .master
            .iter_mut()
            .chain(self.replicas.iter_mut())
            .chain(self.sentinels.iter_mut());
        for child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `redis-cli -h 127.0.0.1 -p <port> <args>`, its stdout.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `redis-cli`: {e}; install redis-tools (scripts/test.sh does)")
        });
    String::from_utf8_lossy(&out.stdout).into_owned()
}
