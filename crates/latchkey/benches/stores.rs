//! Store backends: one load, one save, one lock + release, per backend.
//!
//! `cargo bench -p latchkey --features sqlite,redis --bench stores`. Redis is measured when
//! `redis-server` can be started here (skipped with a message otherwise); the OS keyring
//! through `bench/stores.sh`, which provides a Secret Service.
#![allow(missing_docs, reason = "criterion generates the entry point")]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::{FileStore, MemoryStore, RedisStore, SqliteStore, TokenStore};
use latchkey_testkit::{RedisServer, conformance::sample_tokens};

fn bench_store(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn TokenStore>,
) {
    let tokens = sample_tokens("bench");
    rt.block_on(store.save("bench", &tokens)).expect("seed");
    let mut group = c.benchmark_group(name);
    group.bench_function("load", |b| {
        b.to_async(rt)
            .iter(|| async { store.load("bench").await.unwrap() })
    });
    group.bench_function("save", |b| {
        b.to_async(rt)
            .iter(|| async { store.save("bench", &tokens).await.unwrap() })
    });
    group.bench_function("lock", |b| {
        b.to_async(rt).iter(|| async {
            drop(
                store
                    .lock("bench-lock", Duration::from_secs(5))
                    .await
                    .unwrap(),
            );
        })
    });
    group.finish();
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    bench_store(c, &rt, "memory", Arc::new(MemoryStore::new()));
    bench_store(
        c,
        &rt,
        "file",
        Arc::new(FileStore::new(dir.path().join("files"))),
    );
    let sqlite = SqliteStore::open(dir.path().join("tokens.db")).expect("sqlite");
    bench_store(c, &rt, "sqlite", Arc::new(sqlite));
    let redis_installed = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if redis_installed {
        let server = RedisServer::start();
        let redis = rt
            .block_on(RedisStore::connect(&server.url()))
            .expect("redis");
        bench_store(c, &rt, "redis", Arc::new(redis));
    } else {
        eprintln!("redis-server is not installed: skipping the redis store");
    }
    keyring(c, &rt, dir.path());
}

/// The OS keyring needs a Secret Service on the session bus: `bench/stores.sh` starts GNOME
/// Keyring in a private D-Bus session and sets `LATCHKEY_BENCH_KEYRING`.
#[cfg(feature = "keyring")]
fn keyring(c: &mut Criterion, rt: &tokio::runtime::Runtime, dir: &std::path::Path) {
    use latchkey::{KeyringFallback, KeyringStore};
    if std::env::var_os("LATCHKEY_BENCH_KEYRING").is_none() {
        eprintln!(
            "LATCHKEY_BENCH_KEYRING is not set: skipping the keyring store (bench/stores.sh)"
        );
        return;
    }
    let store = rt
        .block_on(KeyringStore::open(
            "latchkey-bench",
            dir.join("keyring"),
            KeyringFallback::Fail,
        ))
        .expect("a Secret Service on the session bus");
    bench_store(c, rt, "keyring", Arc::new(store));
}

#[cfg(not(feature = "keyring"))]
fn keyring(_: &mut Criterion, _: &tokio::runtime::Runtime, _: &std::path::Path) {
    eprintln!("built without the `keyring` feature: skipping the keyring store");
}

criterion_group!(benches, stores);
criterion_main!(benches);
