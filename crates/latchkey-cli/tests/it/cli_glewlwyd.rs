//! The CLI against glewlwyd, the second identity provider (`latchkey_testkit::Glewlwyd`): a
//! secret with reserved characters refused with the fix named, then accepted with
//! `basic_credentials = "raw"`. The commands every provider shares (`token`, `login`,
//! `status`, `logout --revoke`, `doctor`) are rows of the scenario matrix (`cli_matrix::`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests write their profiles files directly"
)]

use latchkey_testkit::Glewlwyd;
use latchkey_testkit::glewlwyd::{GW_RESERVED, GW_SCOPE};

use crate::support::{World, text};

/// Writes one client-credentials profile `gw` for `client_id`, its secret from `GW_SECRET`.
fn write_profile(world: &World, gw: &Glewlwyd, client_id: &str, extra: &str) {
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "default = \"gw\"\n[profiles.gw]\nauth = \"client-credentials\"\nissuer = \"{}\"\n\
             client_id = \"{client_id}\"\nclient_secret = {{ env = \"GW_SECRET\" }}\n\
             scopes = [\"{GW_SCOPE}\"]\n{extra}",
            gw.issuer()
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_secret_with_reserved_characters_is_refused_with_the_fix_named() {
    let Some(gw) = Glewlwyd::start().await else {
        return;
    };
    let world = World::new();
    let env = [("GW_SECRET", GW_RESERVED.1)];
    write_profile(&world, &gw, GW_RESERVED.0, "");
    let refused = world.run(&["token"], &env).await;
    assert_eq!(
        refused.status.code(),
        Some(4),
        "an identity provider's refusal"
    );
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("empty HTTP 403"), "{stderr}");
    assert!(
        stderr.contains("1) the client secret has characters"),
        "{stderr}"
    );
    assert!(stderr.contains("basic_credentials = \"raw\""), "{stderr}");
    assert!(stderr.contains("client_secret_post"), "{stderr}");
    assert!(
        !stderr.contains(GW_RESERVED.1),
        "the secret stays secret: {stderr}"
    );

    write_profile(&world, &gw, GW_RESERVED.0, "basic_credentials = \"raw\"\n");
    let accepted = world.run(&["token"], &env).await;
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
}
