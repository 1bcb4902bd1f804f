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
    // The host git names goes through the same URL parsing as a profile's `base_url` when
    // the two are compared; whatever git sends must not make that panic.
    if let Some(asked) = wire::asked_host(&request) {
        let _ = wire::profile_host(&format!("https://{asked}/"));
    }
});
