//! What the loopback redirect receiver reads from a connection: the request head
//! (`httparse`), the request target, and the authorization response in its query
//! (`state`, `code`, `error`, `iss`). The answer must be one of the receiver's statuses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let status = latchkey::loopback::fuzz_request(data, "st4te");
    assert!(
        matches!(status, 0 | 200 | 400 | 404 | 405),
        "unexpected status {status}"
    );
});
