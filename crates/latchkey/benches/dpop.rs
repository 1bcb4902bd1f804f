//! A DPoP proof (RFC 9449) next to a raw ES256 signature of the same bytes with the same
//! crypto library and key form (jsonwebtoken over aws-lc-rs, PKCS#8). The difference is the
//! proof's own work: a fresh `jti`, the `ath` hash, the claims and header (with the `jwk`)
//! serialized and base64url-encoded. A signature with an already-parsed aws-lc-rs key pair
//! is shown too, for what parsing the PKCS#8 key costs on every signature.
//!
//! Needs nothing but the crate. Run: `cargo bench -p latchkey --bench dpop`. The overhead
//! line at the end compares medians of interleaved rounds.

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use criterion::Criterion;
use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey};
use latchkey::{DpopAlgorithm, DpopKey};
use url::Url;

fn main() {
    let rng = SystemRandom::new();
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("key")
        .as_ref()
        .to_vec();
    let key = DpopKey::from_pkcs8(DpopAlgorithm::Es256, der.clone()).expect("dpop key");
    let raw_key = EncodingKey::from_ec_der(&der);
    let parsed = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).expect("pair");
    let url = Url::parse("https://api.example.org/v1/items?page=2").expect("url");
    let token = "eyJhbGciOiJFUzI1NiJ9.a-typical-access-token-of-some-length.c2lnbmF0dXJl";
    let nonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v";
    let proof = || {
        key.proof(&Method::GET, &url, Some(token), Some(nonce))
            .expect("proof")
    };
    // The raw side signs exactly what a proof signs.
    let sample = proof();
    let message = sample.as_bytes()[..sample.rfind('.').expect("jws")].to_vec();
    let raw = || jsonwebtoken::crypto::sign(&message, &raw_key, Algorithm::ES256).expect("sign");

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("dpop");
    group.bench_function("latchkey_proof_es256", |b| b.iter(|| black_box(proof())));
    group.bench_function("raw_jsonwebtoken_sign_es256", |b| {
        b.iter(|| black_box(raw()))
    });
    group.bench_function("raw_aws_lc_sign_parsed_key", |b| {
        b.iter(|| black_box(parsed.sign(&rng, black_box(&message)).expect("sign")))
    });
    group.finish();
    c.final_summary();

    // Interleaved rounds, median per side: the machine is shared, so a single long loop per
    // side would mostly measure whoever else was busy at the time.
    let (rounds, n) = (31, 300);
    let mut ours = Vec::with_capacity(rounds);
    let mut theirs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..n {
            black_box(proof());
        }
        ours.push(start.elapsed().as_nanos() as f64 / n as f64);
        let start = Instant::now();
        for _ in 0..n {
            black_box(raw());
        }
        theirs.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    eprintln!(
        "dpop: proof {ours:.0} ns/op, raw ES256 signature {theirs:.0} ns/op, ratio {:.3}x (median of {rounds} interleaved rounds)",
        ours / theirs
    );
}
