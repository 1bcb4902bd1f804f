//! git's credential helper request as `latchkey credential git` reads it from standard
//! input, and the host comparison it makes. The parser is the CLI's own file, included as
//! it is (the CLI is a binary crate with no library to link).
#![no_main]

#[path = "../../crates/latchkey-cli/src/wire.rs"]
#[allow(
    dead_code,
    reason = "the CLI's test module and unused parsers come along"
)]
mod wire;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = wire::git_request(data) else {
        return;
    };
    for (key, value) in &request {
        assert!(!key.contains(['=', '\n']) && !value.contains('\n'));
    }
    // The origin check the helper makes before it answers: whatever git sends must not make
    // it panic, and a request is never accepted for a profile without a `base_url`, nor for
    // another origin than the profile's.
    assert!(wire::git_origin_matches(&request, None).is_err());
    if wire::git_origin_matches(&request, Some("https://git.example.org")).is_ok() {
        let host = request.iter().find(|(k, _)| k == "host").map(|(_, v)| v.as_str());
        assert!(matches!(host, Some("git.example.org" | "git.example.org:443")), "{host:?}");
    }
});
