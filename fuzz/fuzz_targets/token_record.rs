//! Stored token records as every backend reads them back (a file, a SQLite row, a Redis
//! value): an accepted record re-encodes stably, and no error quotes the record's values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = latchkey::fuzz::token_record(data);
});
