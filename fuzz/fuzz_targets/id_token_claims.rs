//! ID token claim sets as serde reads them, with the error scrubbed the way every ID token
//! error shows it: no claim value may survive into the message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = latchkey::fuzz::id_token_claims(data);
});
