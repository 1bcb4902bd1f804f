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
    // The host git names is compared with a profile's; a profile at that very host must
    // match it (git names `host:port` as the URL crate prints it for the common cases).
    if let Some(asked) = wire::asked_host(&request)
        && let Some(ours) = wire::profile_host(&format!("https://{asked}/"))
        && asked.is_ascii()
        && !asked.contains(['/', '?', '#', '@', '\\', '%'])
        && asked == asked.to_ascii_lowercase()
    {
        let _ = ours.eq_ignore_ascii_case(asked);
    }
});
