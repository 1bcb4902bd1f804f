//! Userinfo response bodies (OIDC Core §5.3.2): `<content-type>\0<body>`, checked against
//! an expected subject (`alice`) and without one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (Some(String::from_utf8_lossy(&data[..i])), &data[i + 1..]),
        None => (None, data),
    };
    let content_type = content_type.as_deref();
    let _ = latchkey::fuzz::userinfo(body, content_type, Some("alice"));
    let _ = latchkey::fuzz::userinfo(body, content_type, None);
});
