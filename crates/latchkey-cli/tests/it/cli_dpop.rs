//! DPoP profiles (`dpop = true`) against the fixture's resource route that checks proofs:
//! `proof` prints both headers, `request` signs each request, `header` refuses.

use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_POST;
use serde_json::Value;

use crate::support::{World, text};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

async fn call(url: &str, authorization: &str, proof: &str) -> u16 {
    latchkey::http_client()
        .unwrap()
        .get(url)
        .header("authorization", authorization)
        .header("dpop", proof)
        .send()
        .await
        .expect("resource request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn proof_prints_both_headers_request_signs_and_header_refuses() {
    let idp = Idp::start().await;
    let world = World::new();
    let env = [("SVC_SECRET", SVC_POST.1)];
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "svc",
                "--auth",
                "client-credentials",
                "--issuer",
                idp.issuer(),
                "--client-id",
                SVC_POST.0,
                "--client-secret-env",
                "SVC_SECRET",
                "--client-auth",
                "client_secret_post",
                "--base-url",
                idp.issuer(),
                "--default",
            ],
            &[],
        )
        .await);
    ok(&world
        .run(&["profile", "set", "svc", "dpop", "true"], &[])
        .await);
    let url = idp.url("/__resource/dpop");

    let out = ok(&world
        .run(&["proof", "--method", "GET", "--url", &url], &env)
        .await);
    let mut lines = out.lines();
    let authorization = lines
        .next()
        .unwrap()
        .strip_prefix("Authorization: ")
        .unwrap()
        .to_owned();
    let proof = lines
        .next()
        .unwrap()
        .strip_prefix("DPoP: ")
        .unwrap()
        .to_owned();
    assert!(authorization.starts_with("DPoP "), "{out}");
    assert_eq!(call(&url, &authorization, &proof).await, 200);
    assert_eq!(
        call(&url, &authorization, &proof).await,
        401,
        "a proof is good once"
    );

    let out = ok(&world
        .run(
            &["proof", "-p", "svc", "-X", "get", "--url", &url, "--json"],
            &env,
        )
        .await);
    let both: Value = serde_json::from_str(&out).unwrap();
    let (authorization, proof) = (
        both["authorization"].as_str().unwrap(),
        both["dpop"].as_str().unwrap(),
    );
    assert_eq!(call(&url, authorization, proof).await, 200);
    // A proof for another URL is refused there.
    let out = ok(&world
        .run(
            &["proof", "--method", "GET", "--url", &idp.url("/elsewhere")],
            &env,
        )
        .await);
    let other: Vec<&str> = out.lines().map(|l| l.split_once(": ").unwrap().1).collect();
    assert_eq!(call(&url, other[0], other[1]).await, 401);

    let out = ok(&world
        .run(&["request", "GET", "/__resource/dpop"], &env)
        .await);
    assert!(out.contains("\"ok\":true"), "{out}");

    let out = world.run(&["header"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("DPoP-bound") && stderr.contains("latchkey proof"),
        "{stderr}"
    );

    let stats = idp.dpop_stats().await;
    assert_eq!(stats["ok"], 3, "{stats}");
    assert_eq!(stats["refused"]["replay"], 1, "{stats}");
    assert_eq!(stats["refused"]["htu"], 1, "{stats}");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "one token for every process"
    );
}
