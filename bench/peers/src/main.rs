//! Measures latchkey next to its Rust peers in one process, against the IdP fixture, and
//! prints one JSON line per (row, system) for `bench/table.py`.
//!
//! ```text
//! latchkey-bench-peers [--quick]              all Rust rows
//! latchkey-bench-peers wrapper-once URL FILE  one process of the cross-process peer run
//! ```
//! `LATCHKEY_STORE_WORKER` names the `latchkey-store-worker` binary for the cross-process row.

mod util;
mod wrapper;
mod yup;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use latchkey::grant::Grant;
use latchkey::{
    ClientAuth, ClientCredentials, ExposeSecret, IdTokenClaims, ManualClock, MemoryStore,
    OAuthClient, Password, SecretString, TokenManager, TokenSet, TokenStore,
};
use latchkey_testkit::{Idp, clients};
use serde_json::json;
use util::emit;

struct Sizes {
    rounds: usize,
    n: u64,
    stampede: usize,
    processes: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("wrapper-once") {
        rt.block_on(wrapper::once(&args[2], &args[3]));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick {
        Sizes {
            rounds: 5,
            n: 2_000,
            stampede: 500,
            processes: 8,
        }
    } else {
        Sizes {
            rounds: 21,
            n: 20_000,
            stampede: 10_000,
            processes: 8,
        }
    };
    let idp = rt.block_on(Idp::start());
    let dir = tempfile::tempdir().expect("temp dir");
    // `--only NAME[,NAME]` runs a subset: fast, stampede, cross, id_token.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == name))
    };
    if wanted("fast") {
        fast_path(&rt, &idp, &sizes, dir.path());
    }
    if wanted("stampede") {
        stampede(&rt, &idp, &sizes, dir.path());
    }
    if wanted("cross") {
        cross_process(&rt, &idp, &sizes, dir.path());
    }
    if wanted("id_token") {
        id_token(&rt, &idp, &sizes);
        let jwks = rt.block_on(idp.counters()).endpoint("jwks");
        eprintln!("jwks requests during the run: {jwks}");
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A password-grant token set for `pw-client` (it carries a refresh token).
async fn alice_tokens(idp: &Idp) -> TokenSet {
    let client = OAuthClient::builder(clients::PW_CLIENT)
        .token_url(idp.token_url())
        .build()
        .expect("client");
    Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
        .scopes(["openid", "offline_access"])
        .obtain(&client)
        .await
        .expect("password grant")
}

fn fast_path(rt: &tokio::runtime::Runtime, idp: &Idp, s: &Sizes, dir: &std::path::Path) {
    // latchkey: primed from a memory store, as in crates/latchkey/benches/fast_path.rs.
    let manager = rt.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let tokens = TokenSet::new(SecretString::from("a".repeat(43)), SystemTime::now())
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
        store.save("bench", &tokens).await.expect("save");
        let client = OAuthClient::builder("bench")
            .token_url(idp.token_url())
            .build()
            .expect("client");
        let manager = TokenManager::builder(client, ClientCredentials::new())
            .key("bench")
            .store(store)
            .build()
            .expect("manager");
        manager.authorization_header().await.expect("primed");
        manager
    });
    let tokens = rt.block_on(alice_tokens(idp));
    let yup = rt.block_on(yup::authenticator(
        &idp.token_url(),
        clients::PW_CLIENT,
        tokens.access_token().expose_secret(),
        tokens
            .refresh_token()
            .expect("refresh token")
            .expose_secret(),
        time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        dir,
    ));
    let wrapper =
        wrapper::CachedToken::new(&idp.token_url(), clients::SVC_POST.0, clients::SVC_POST.1);
    rt.block_on(wrapper.header()).expect("wrapper primed");
    rt.block_on(yup.token(yup::SCOPES)).expect("yup primed");

    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let row = "fast path, 1 task";
    // Interleaved rounds (one round of each system in turn), medians: the machine is shared.
    let (mut ours, mut sync, mut theirs, mut wrapped) = (vec![], vec![], vec![], vec![]);
    for _ in 0..s.rounds {
        ours.push(ns_per_op!(single, 1, s.n, async {
            std::hint::black_box(manager.authorization_header().await.expect("header"));
        }));
        // The lock-free path completes on its first poll: no runtime needed at all.
        sync.push(ns_per_op!(single, 1, s.n, async {
            std::hint::black_box(manager.authorization_header().now_or_never());
        }));
        theirs.push(ns_per_op!(single, 1, s.n, async {
            std::hint::black_box(yup.token(yup::SCOPES).await.expect("yup token"));
        }));
        wrapped.push(ns_per_op!(single, 1, s.n, async {
            std::hint::black_box(wrapper.header().await.expect("wrapper"));
        }));
    }
    emit(
        row,
        "latchkey",
        json!({ "ns_per_op": util::median(&mut ours) }),
    );
    emit(
        "fast path, 1 task (polled once, no runtime)",
        "latchkey",
        json!({ "ns_per_op": util::median(&mut sync) }),
    );
    emit(
        row,
        "yup-oauth2",
        json!({ "ns_per_op": util::median(&mut theirs) }),
    );
    emit(
        row,
        "oauth2 wrapper",
        json!({ "ns_per_op": util::median(&mut wrapped) }),
    );

    let t = threads();
    let row = format!("fast path, all cores ({t} threads)");
    // Ten times the single-task count: each thread's run must be long next to the skew in
    // the moment threads start, or that skew dominates the wall time.
    let n_all = s.n * 10;
    let ours = ns_per_op_all_cores!(t, s.rounds, n_all, manager, |m| async {
        std::hint::black_box(m.authorization_header().await.expect("header"));
    });
    emit(&row, "latchkey", json!({ "ns_per_op": ours }));
    let theirs = ns_per_op_all_cores!(t, s.rounds, n_all, yup, |y| async {
        std::hint::black_box(y.token(yup::SCOPES).await.expect("yup token"));
    });
    emit(&row, "yup-oauth2", json!({ "ns_per_op": theirs }));
    let wrapped = ns_per_op_all_cores!(t, s.rounds, n_all, wrapper, |w| async {
        std::hint::black_box(w.header().await.expect("wrapper"));
    });
    emit(&row, "oauth2 wrapper", json!({ "ns_per_op": wrapped }));
}

/// Spawns `tasks` tasks that wait at a gate, opens it, and returns (wall ms from the
/// opening until all are served, failed callers): every caller arrives at the same moment,
/// not just those spawned before the first response came back.
async fn storm<F, Fut>(tasks: usize, call: F) -> (f64, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let closed = gate.clone().write_owned().await;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let gate = gate.clone();
            let ready = ready_tx.clone();
            let call = call();
            tokio::spawn(async move {
                let wait = gate.read_owned();
                let _ = ready.send(());
                drop(wait.await);
                call.await
            })
        })
        .collect();
    for _ in 0..tasks {
        ready_rx.recv().await;
    }
    let start = Instant::now();
    drop(closed);
    let mut errors = 0;
    for handle in handles {
        if !handle.await.unwrap_or(false) {
            errors += 1;
        }
    }
    (start.elapsed().as_secs_f64() * 1e3, errors)
}

/// One stampede row: `tasks` callers at once through `storm`, with the IdP's token
/// requests counted from zero.
async fn stampede_row<F, Fut>(idp: &Idp, row: &str, system: &str, note: &str, tasks: usize, call: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    idp.reset_counters().await;
    let (ms, errors) = storm(tasks, call).await;
    let requests = idp.counters().await.token_total();
    emit(
        row,
        system,
        json!({ "ms": ms, "requests": requests, "errors": errors, "note": note }),
    );
}

fn stampede(rt: &tokio::runtime::Runtime, idp: &Idp, s: &Sizes, dir: &std::path::Path) {
    let row = format!("stampede, {} tasks at expiry", s.stampede);
    rt.block_on(async {
        // latchkey: client credentials, the clock moved past expiry.
        let clock = Arc::new(ManualClock::new());
        let client = OAuthClient::builder(clients::SVC_BASIC.0)
            .auth(ClientAuth::SecretBasic(SecretString::from(
                clients::SVC_BASIC.1,
            )))
            .token_url(idp.token_url())
            .clock(clock.clone())
            .build()
            .expect("client");
        let manager = TokenManager::builder(client, ClientCredentials::new())
            .build()
            .expect("manager");
        manager.authorization_header().await.expect("first token");
        clock.advance(Duration::from_secs(3601));
        stampede_row(
            idp,
            &row,
            "latchkey",
            "client_credentials",
            s.stampede,
            || {
                let m = manager.clone();
                async move { m.authorization_header().await.is_ok() }
            },
        )
        .await;

        // yup-oauth2: an expired cached token with a refresh token.
        let tokens = alice_tokens(idp).await;
        let yup = yup::authenticator(
            &idp.token_url(),
            clients::PW_CLIENT,
            tokens.access_token().expose_secret(),
            tokens
                .refresh_token()
                .expect("refresh token")
                .expose_secret(),
            time::OffsetDateTime::now_utc() - time::Duration::minutes(5),
            dir,
        )
        .await;
        stampede_row(
            idp,
            &row,
            "yup-oauth2",
            "refresh_token; reused rotated refresh tokens fail",
            s.stampede,
            || {
                let y = yup.clone();
                async move { y.token(yup::SCOPES).await.is_ok() }
            },
        )
        .await;

        // The oauth2-crate wrapper: client credentials, cache marked expired.
        let wrapper =
            wrapper::CachedToken::new(&idp.token_url(), clients::SVC_POST.0, clients::SVC_POST.1);
        wrapper.header().await.expect("first token");
        wrapper.expire();
        stampede_row(
            idp,
            &row,
            "oauth2 wrapper",
            "client_credentials",
            s.stampede,
            || {
                let w = wrapper.clone();
                async move { w.header().await.is_ok() }
            },
        )
        .await;
    });
}

fn cross_process(rt: &tokio::runtime::Runtime, idp: &Idp, s: &Sizes, dir: &std::path::Path) {
    let row = format!("cross-process stampede, {} processes", s.processes);
    let spawn_all = |program: &str, args: &dyn Fn(usize) -> Vec<String>| {
        let program = program.to_owned();
        let argv: Vec<Vec<String>> = (0..s.processes).map(args).collect();
        async move {
            let start = Instant::now();
            let children: Vec<_> = argv
                .into_iter()
                .map(|a| {
                    tokio::process::Command::new(&program)
                        .args(a)
                        .stdout(std::process::Stdio::null())
                        .kill_on_drop(true)
                        .spawn()
                        .expect("spawn")
                })
                .collect();
            let mut failed = 0;
            for mut child in children {
                if !child.wait().await.is_ok_and(|st| st.success()) {
                    failed += 1;
                }
            }
            (start.elapsed().as_secs_f64() * 1e3, failed)
        }
    };
    rt.block_on(async {
        match std::env::var("LATCHKEY_STORE_WORKER") {
            Ok(worker) if std::path::Path::new(&worker).exists() => {
                let store = format!("file:{}", dir.join("xp-latchkey").display());
                let url = idp.token_url();
                idp.reset_counters().await;
                let (ms, errors) = spawn_all(&worker, &|_| {
                    vec![
                        "once".into(),
                        store.clone(),
                        url.clone(),
                        "xp".into(),
                        "--managers".into(),
                        "1".into(),
                    ]
                })
                .await;
                let requests = idp.counters().await.token_total();
                emit(
                    &row,
                    "latchkey",
                    json!({ "ms": ms, "requests": requests, "errors": errors,
                    "note": "file store, flock" }),
                );
            }
            _ => emit(
                &row,
                "latchkey",
                json!({ "skipped": "LATCHKEY_STORE_WORKER not built" }),
            ),
        }
        let me = std::env::current_exe().expect("own path");
        let file = dir.join("xp-wrapper.txt").display().to_string();
        let url = idp.token_url();
        idp.reset_counters().await;
        let (ms, errors) = spawn_all(&me.display().to_string(), &|_| {
            vec!["wrapper-once".into(), url.clone(), file.clone()]
        })
        .await;
        let requests = idp.counters().await.token_total();
        emit(
            &row,
            "oauth2 wrapper",
            json!({ "ms": ms, "requests": requests, "errors": errors,
            "note": "shared cache file, no lock" }),
        );
    });
}

fn id_token(rt: &tokio::runtime::Runtime, idp: &Idp, s: &Sizes) {
    let row = "ID token validation, warm JWKS";
    let (validator, token) = rt.block_on(async {
        let provider = latchkey::oidc::OidcProvider::discover(idp.issuer())
            .await
            .expect("discovery");
        let tokens = alice_tokens(idp).await;
        let validator = provider
            .id_token_validator(clients::PW_CLIENT)
            .expect("jwks_uri")
            .build()
            .expect("validator");
        let token = tokens.id_token().expect("id_token").clone();
        validator.validate(&token, None).await.expect("valid");
        (validator, token)
    });
    let header = jsonwebtoken::decode_header(token.expose_secret()).expect("header");
    let jwks: jsonwebtoken::jwk::JwkSet = rt.block_on(async {
        let body = latchkey::http_client()
            .expect("http")
            .get(idp.url("/jwks"))
            .send()
            .await
            .expect("jwks")
            .bytes()
            .await
            .expect("jwks body");
        serde_json::from_slice(&body).expect("jwks json")
    });
    let key = jsonwebtoken::DecodingKey::from_jwk(
        jwks.find(header.kid.as_deref().expect("kid")).expect("key"),
    )
    .expect("decoding key");
    let validation = validator
        .validation(header.alg)
        .expect("validation")
        .clone();
    let raw = token.expose_secret().to_owned();
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    // Many short interleaved rounds, median per side: the machine is shared.
    let n = (s.n / 100).max(20);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds * 3 {
        ours.push(ns_per_op!(single, 1, n, async {
            std::hint::black_box(validator.validate(&token, None).await.expect("valid"));
        }));
        theirs.push(ns_per_op!(single, 1, n, async {
            std::hint::black_box(
                jsonwebtoken::decode::<IdTokenClaims>(&raw, &key, &validation).expect("valid"),
            );
        }));
    }
    emit(
        row,
        "latchkey",
        json!({ "ns_per_op": util::median(&mut ours) }),
    );
    emit(
        row,
        "raw jsonwebtoken",
        json!({ "ns_per_op": util::median(&mut theirs) }),
    );
}
