//! latchkey-axum's signed-cookie read path. The first byte picks the mode:
//! even: the rest is `Cookie` header fields (split at newlines) as a browser or an attacker
//! sends them; odd: `<position><flip><value>`, a value signed, read back, then read again
//! with one byte of the cookie changed, which must never yield another value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let fields: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
        let _ = latchkey_axum::fuzz::read_cookies(&fields);
    } else if let [position, flip, value @ ..] = rest
        && let Ok(value) = std::str::from_utf8(value)
    {
        latchkey_axum::fuzz::signed_round_trip(value, usize::from(*position), *flip);
    }
});
