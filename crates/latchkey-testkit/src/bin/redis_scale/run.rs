//! The measuring run: starts the IdP fixture, a Redis server, a Redis Cluster and the worker
//! processes, and prints one JSON line per store and measure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use latchkey::{SecretString, TokenSet, TokenStore};
use latchkey_testkit::worker_store::open_store;
use latchkey_testkit::{Idp, RedisCluster, RedisServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::stats::{self, Acquisition};

/// The figures' sizes. `--quick` shortens the timed parts only: the shapes stay the same.
struct Plan {
    /// Worker processes sharing a store.
    processes: usize,
    /// Token keys per process (the same keys in every process).
    keys: usize,
    /// Callers per key in each process, each with its own token manager.
    tasks_per_key: usize,
    /// How long the token callers run.
    token_seconds: u64,
    /// Access token lifetime at the IdP during the run.
    token_ttl_seconds: u64,
    /// The managers' refresh margin: a token is refreshed when this much of it is left.
    margin_ms: u64,
    /// How long the lock hand-over workers run.
    handover_seconds: u64,
    /// How long a lock holder keeps the lock (a refresh's stand-in).
    hold_ms: u64,
    /// How long a holder rests before asking again.
    rest_ms: u64,
    /// How long the `load` loop runs per store.
    read_seconds: u64,
    /// Tasks calling `load` at once in one process.
    read_tasks: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        Plan {
            processes: 8,
            keys: 100,
            tasks_per_key: 2,
            token_seconds: if quick { 7 } else { 16 },
            token_ttl_seconds: 4,
            margin_ms: 1_000,
            handover_seconds: if quick { 3 } else { 8 },
            hold_ms: 2,
            rest_ms: 10,
            read_seconds: if quick { 1 } else { 3 },
            read_tasks: 64,
        }
    }
}

/// A private scratch directory for the file and SQLite stores, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("latchkey-redis-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn emit(value: Value) {
    println!("{value}");
}

pub(crate) async fn main(quick: bool) -> ExitCode {
    let plan = Plan::new(quick);
    let scratch = Scratch::new();
    eprintln!("redis-scale: starting the IdP fixture, a Redis server and a Redis Cluster");
    let idp = Idp::start().await;
    idp.set_ttl(json!({ "AccessToken": plan.token_ttl_seconds }))
        .await;
    let redis = RedisServer::start();
    let cluster = RedisCluster::start();
    let stores = [
        (
            "file",
            format!("file:{}", scratch.0.join("files").display()),
        ),
        (
            "sqlite",
            format!("sqlite:{}", scratch.0.join("tokens.db").display()),
        ),
        ("redis", format!("redis:{}", redis.url())),
        ("redis-cluster", format!("redis-cluster:{}", cluster.url())),
    ];
    let mut ok = true;
    for (name, spec) in &stores {
        eprintln!("redis-scale: {name}: token callers");
        ok &= tokens(&plan, &idp, name, spec).await;
        eprintln!("redis-scale: {name}: lock hand-over");
        ok &= handover(&plan, name, spec).await;
    }
    for (name, spec) in [("memory", "memory".to_owned())]
        .into_iter()
        .chain(stores.iter().cloned())
    {
        eprintln!("redis-scale: {name}: load per second");
        reads(&plan, name, &spec).await;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("redis-scale: a check failed (see the JSON lines above)");
        ExitCode::FAILURE
    }
}

/// Runs `processes` copies of this program as `worker <args>` at once and collects every
/// JSON line they print; a worker that fails or outlives `limit` is an error.
async fn workers(count: usize, args: &[String], limit: Duration) -> Result<Vec<Value>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut children = Vec::new();
    for _ in 0..count {
        let child = Command::new(&exe)
            .arg("worker")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        children.push(child);
    }
    // Each worker's output is read as it comes, so none blocks on a full pipe.
    let readers: Vec<_> = children
        .into_iter()
        .enumerate()
        .map(|(process, mut child)| {
            tokio::spawn(async move {
                let stdout = child.stdout.take().expect("piped stdout");
                let mut reader = BufReader::new(stdout).lines();
                let mut lines = Vec::new();
                while let Some(line) = reader.next_line().await.map_err(|e| e.to_string())? {
                    let mut value: Value =
                        serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?;
                    value["process"] = json!(process);
                    lines.push(value);
                }
                let status = child.wait().await.map_err(|e| e.to_string())?;
                match status.success() {
                    true => Ok(lines),
                    false => Err(format!("worker {process} failed: {status}")),
                }
            })
        })
        .collect();
    let aborts: Vec<_> = readers.iter().map(|r| r.abort_handle()).collect();
    let collect = async {
        let mut lines = Vec::new();
        for reader in readers {
            lines.extend(reader.await.map_err(|e| e.to_string())??);
        }
        Ok(lines)
    };
    let outcome = tokio::time::timeout(limit, collect).await;
    // A reader dropped mid-way drops its child, which kills it: no worker outlives the run.
    aborts.iter().for_each(|a| a.abort());
    outcome.map_err(|_| format!("the workers did not finish within {limit:?}"))?
}

/// `processes` × `keys` keys with short-lived tokens: how many token requests the IdP saw
/// for each key's expiry.
async fn tokens(plan: &Plan, idp: &Idp, name: &str, spec: &str) -> bool {
    idp.reset_counters().await;
    let args: Vec<String> = [
        "tokens",
        spec,
        &idp.token_url(),
        &format!("scale-{name}"),
        &plan.keys.to_string(),
        &plan.tasks_per_key.to_string(),
        &plan.token_seconds.to_string(),
        &plan.margin_ms.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let limit = Duration::from_secs(plan.token_seconds + 120);
    let lines = match workers(plan.processes, &args, limit).await {
        Ok(lines) => lines,
        Err(error) => {
            emit(json!({ "store": name, "measure": "tokens", "error": error }));
            return false;
        }
    };
    let counters = idp.counters().await;
    let mut per_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut calls = 0;
    for line in lines.iter().filter(|l| l["event"] == "done") {
        calls += line["calls"].as_u64().unwrap_or(0);
        for (key, tokens) in line["tokens"].as_object().into_iter().flatten() {
            let tokens = tokens.as_array().into_iter().flatten();
            per_key
                .entry(key.clone())
                .or_default()
                .extend(tokens.filter_map(|t| t.as_str().map(str::to_owned)));
        }
    }
    let errors: Vec<&Value> = lines.iter().filter(|l| l["event"] == "error").collect();
    let tally = stats::tally(&per_key);
    let (password, refresh) = (counters.token("password"), counters.token("refresh_token"));
    // One refresh per key per expiry and one password grant per key: the IdP's counts
    // equal the token lifetimes the callers saw. A refresh whose token nobody used, or a
    // second password grant after a failed refresh, makes them differ.
    let ok = errors.is_empty()
        && tally.keys == plan.keys
        && password == plan.keys as u64
        && refresh == tally.expiries
        && tally.expiries > 0;
    emit(json!({
        "store": name,
        "measure": "tokens",
        "processes": plan.processes,
        "keys": plan.keys,
        "tasks_per_key": plan.tasks_per_key,
        "seconds": plan.token_seconds,
        "token_ttl_s": plan.token_ttl_seconds,
        "margin_ms": plan.margin_ms,
        "calls": calls,
        "idp_password": password,
        "idp_refresh": refresh,
        "idp_total": counters.token_total(),
        "keys_served": tally.keys,
        "token_lifetimes": tally.lifetimes,
        "expiries": tally.expiries,
        "expiries_per_key": [tally.expiries_per_key.0, tally.expiries_per_key.1],
        "errors": errors.len(),
        "first_error": errors.first().map(|e| e["message"].clone()),
        "ok": ok,
    }));
    ok
}

/// `processes` workers taking one lock in turn: the release-to-acquire latency.
async fn handover(plan: &Plan, name: &str, spec: &str) -> bool {
    let args: Vec<String> = [
        "handover",
        spec,
        "handover",
        &plan.handover_seconds.to_string(),
        &plan.hold_ms.to_string(),
        &plan.rest_ms.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let limit = Duration::from_secs(plan.handover_seconds + 60);
    let lines = match workers(plan.processes, &args, limit).await {
        Ok(lines) => lines,
        Err(error) => {
            emit(json!({ "store": name, "measure": "handover", "error": error }));
            return false;
        }
    };
    let mut all = Vec::new();
    for line in lines.iter().filter(|l| l["event"] == "done") {
        let process = line["process"].as_u64().unwrap_or(0) as usize;
        for held in line["acquisitions"].as_array().into_iter().flatten() {
            let time = |i: usize| held[i].as_u64().unwrap_or(0);
            all.push(Acquisition {
                process,
                asked: time(0),
                got: time(1),
                released: time(2),
            });
        }
    }
    let errors = lines.iter().filter(|l| l["event"] == "error").count();
    let found = stats::handovers(all);
    let ms = |p: f64| stats::percentile(&found.latencies, p).map(|ns| ns as f64 / 1e6);
    let ok = errors == 0 && found.overlaps == 0 && !found.latencies.is_empty();
    emit(json!({
        "store": name,
        "measure": "handover",
        "processes": plan.processes,
        "seconds": plan.handover_seconds,
        "hold_ms": plan.hold_ms,
        "rest_ms": plan.rest_ms,
        "acquisitions": found.acquisitions,
        "handovers": found.latencies.len(),
        "p50_ms": ms(50.0),
        "p99_ms": ms(99.0),
        "max_ms": ms(100.0),
        "overlaps": found.overlaps,
        "errors": errors,
        "ok": ok,
    }));
    ok
}

/// A token set as a login leaves it, valid for an hour (Redis keeps an entry as long as
/// its refresh token lives: one that had already expired would vanish mid-run).
fn live_tokens(key: &str) -> TokenSet {
    let now = SystemTime::now();
    TokenSet::new(SecretString::from(format!("access-{key}")), now)
        .with_refresh_token(Some(SecretString::from(format!("refresh-{key}"))))
        .with_scopes(vec!["openid".into(), "offline_access".into()])
        .with_expires_at(Some(now + Duration::from_secs(3600)))
        .with_refresh_expires_at(Some(now + Duration::from_secs(86_400)))
}

/// One process, `read_tasks` tasks calling `load` on 100 stored keys: loads per second.
async fn reads(plan: &Plan, name: &str, spec: &str) {
    let store = open_store(spec, None).await;
    let keys: Arc<Vec<String>> = Arc::new((0..100).map(|i| format!("read-{i}")).collect());
    for key in keys.iter() {
        store
            .save(key, &live_tokens(key))
            .await
            .expect("seed a key");
    }
    let loads = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(plan.read_seconds);
    let tasks: Vec<_> = (0..plan.read_tasks)
        .map(|t| {
            let (store, keys, loads, failures): (Arc<dyn TokenStore>, _, _, _) =
                (store.clone(), keys.clone(), loads.clone(), failures.clone());
            tokio::spawn(async move {
                let mut i = t;
                while Instant::now() < deadline {
                    match store.load(&keys[i % keys.len()]).await {
                        Ok(Some(_)) => loads.fetch_add(1, Ordering::Relaxed),
                        _ => failures.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a load task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let loads = loads.load(Ordering::Relaxed);
    emit(json!({
        "store": name,
        "measure": "load",
        "tasks": plan.read_tasks,
        "seconds": elapsed,
        "loads": loads,
        "per_second": loads as f64 / elapsed,
        "failures": failures.load(Ordering::Relaxed),
    }));
}
