//! Mutual TLS (RFC 8705) from a profile: `client_cert` and `client_key` authenticate the
//! client at the fixture's mutual-TLS listener (found through `mtls_endpoint_aliases`), and
//! `latchkey request` presents the same certificate, so the certificate-bound token works.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write the profiles file they run with, bypassing the private-file helper"
)]

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{SVC_MTLS, SVC_MTLS_SELF};

use crate::support::{World, text};

fn write_profiles(world: &World, text: &str) {
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(&world.config, text).unwrap();
}

#[tokio::test]
async fn a_certificate_profile_gets_a_bound_token_and_request_presents_the_certificate() {
    let idp = Idp::start().await;
    let world = World::new();
    let (cert, key) = idp.mtls().client();
    let (self_cert, self_key) = idp.mtls().self_signed();
    write_profiles(
        &world,
        &format!(
            "default = \"mtls\"\n\
             [profiles.mtls]\nauth = \"client-credentials\"\nissuer = \"{issuer}\"\n\
             client_id = \"{SVC_MTLS}\"\nclient_cert = \"{cert}\"\nclient_key = \"{key}\"\n\
             scopes = [\"api:read\"]\nbase_url = \"{base}\"\nstore = \"memory\"\n\
             [profiles.self]\nauth = \"client-credentials\"\nissuer = \"{issuer}\"\n\
             client_id = \"{SVC_MTLS_SELF}\"\nclient_auth = \"self_signed_tls_client_auth\"\n\
             client_cert = \"{self_cert}\"\nclient_key = \"{self_key}\"\n\
             scopes = [\"api:read\"]\nbase_url = \"{base}\"\nstore = \"memory\"\n",
            issuer = idp.issuer(),
            base = idp.mtls_url(""),
            cert = cert.display(),
            key = key.display(),
            self_cert = self_cert.display(),
            self_key = self_key.display(),
        ),
    );
    // The fixture's HTTPS listener has a certificate from its own test CA.
    let ca = idp.mtls().ca_path();
    let env = [("SSL_CERT_FILE", ca.to_str().unwrap())];
    for (profile, client_id) in [("mtls", SVC_MTLS), ("self", SVC_MTLS_SELF)] {
        let out = world
            .run(&["-p", profile, "request", "GET", "/__resource/mtls"], &env)
            .await;
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{profile}: exit {:?}\n{stdout}\n{}",
            out.status.code(),
            text(&out.stderr)
        );
        assert!(stdout.contains("\"ok\":true"), "{stdout}");
        assert!(stdout.contains(client_id), "{stdout}");
        assert_eq!(idp.counters().await.by_client(client_id), 1, "{profile}");
    }
    // Introspection goes to the aliased endpoint over the certificate too, and shows the
    // binding. (A file store keeps the token for it.)
    let profiles = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("store = \"memory\"", "store = \"file\"");
    write_profiles(&world, &profiles);
    let out = world
        .run(&["-p", "mtls", "introspect", "--json"], &env)
        .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("x5t#S256"), "{stdout}");
    assert!(idp.counters().await.endpoint("introspection") >= 1);
}

#[tokio::test]
async fn a_missing_certificate_file_is_named_with_what_to_do() {
    let idp = Idp::start().await;
    let world = World::new();
    write_profiles(
        &world,
        &format!(
            "default = \"mtls\"\n[profiles.mtls]\nauth = \"client-credentials\"\n\
             issuer = \"{}\"\nclient_id = \"{SVC_MTLS}\"\n\
             client_cert = \"/nonexistent/latchkey/client.pem\"\n\
             client_key = \"/nonexistent/latchkey/client.key\"\nstore = \"memory\"\n",
            idp.issuer()
        ),
    );
    let out = world.run(&["token"], &[]).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`client_cert`") && stderr.contains("/nonexistent/latchkey/client.pem"),
        "{stderr}"
    );
    assert_eq!(idp.counters().await.token_total(), 0);
}
