//! ID token validation with a warm JWKS, next to a raw `jsonwebtoken::decode` of the same
//! token with the same key and the same `Validation`. The difference is latchkey's own work:
//! header decode, allow-list, key lookup in the cache, key/alg check, issuer, `iat`, `azp`.
//!
//! Needs Node for the IdP fixture (a real RS256 ID token). Run:
//! `cargo bench -p latchkey --bench id_token`. The overhead line at the end compares the
//! criterion means.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use latchkey::grant::Grant;
use latchkey::oidc::OidcProvider;
use latchkey::{ExposeSecret, IdTokenClaims, OAuthClient, Password, SecretString};
use latchkey_testkit::{Idp, clients};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (idp, provider, token) = rt.block_on(async {
        let idp = Idp::start().await;
        let provider = OidcProvider::discover(idp.issuer())
            .await
            .expect("discovery");
        let client = OAuthClient::builder(clients::PW_CLIENT)
            .token_url(idp.token_url())
            .build()
            .expect("client");
        let tokens = Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
            .scopes(["openid", "profile", "email"])
            .obtain(&client)
            .await
            .expect("password grant");
        let token = tokens.id_token().expect("id_token").clone();
        (idp, provider, token)
    });
    let validator = provider
        .id_token_validator(clients::PW_CLIENT)
        .expect("jwks_uri")
        .build()
        .expect("validator");
    // Warm the cache.
    rt.block_on(validator.validate(&token, None))
        .expect("valid");

    let header = jsonwebtoken::decode_header(token.expose_secret()).expect("header");
    let jwks: JwkSet = rt.block_on(async {
        reqwest::get(idp.url("/jwks"))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    });
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("key");
    let key = DecodingKey::from_jwk(jwk).expect("decoding key");
    let validation = validator
        .validation(header.alg)
        .expect("validation")
        .clone();
    let raw_token = token.expose_secret().to_owned();

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("id_token");
    group.bench_function("latchkey_validate_warm_jwks", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                validator
                    .validate(black_box(&token), None)
                    .await
                    .expect("valid"),
            )
        })
    });
    group.bench_function("raw_jsonwebtoken_decode", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken::decode::<IdTokenClaims>(black_box(&raw_token), &key, &validation)
                    .expect("valid"),
            )
        })
    });
    group.finish();
    c.final_summary();

    // Interleaved rounds, median per side: the machine is shared, so a single long loop per
    // side would mostly measure whoever else was busy at the time.
    let (rounds, n) = (31, 300);
    let mut ours = Vec::with_capacity(rounds);
    let mut raw = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        ours.push(rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                black_box(validator.validate(&token, None).await.expect("valid"));
            }
            start.elapsed().as_nanos() as f64 / n as f64
        }));
        let start = Instant::now();
        for _ in 0..n {
            black_box(
                jsonwebtoken::decode::<IdTokenClaims>(&raw_token, &key, &validation)
                    .expect("valid"),
            );
        }
        raw.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, raw) = (median(&mut ours), median(&mut raw));
    eprintln!(
        "id_token: latchkey {ours:.0} ns/op, raw jsonwebtoken {raw:.0} ns/op, overhead {:+.1} % (median of {rounds} interleaved rounds)",
        (ours - raw) / raw * 100.0
    );
    drop(idp);
}
