//! Approves a device login as the fixture user `alice`, the way a person with a phone would:
//! `approve-device <verification_uri_complete>`. Used by `scripts/demo.sh`, so the demo
//! needs no manual step. Only for the bundled IdP fixture.

use latchkey_testkit::clients::ALICE;
use url::Url;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let Some(raw) = std::env::args().nth(1) else {
        eprintln!("usage: approve-device <verification_uri_complete>");
        return std::process::ExitCode::from(2);
    };
    let url = match Url::parse(&raw) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("error: `{raw}` is not a URL: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let origin = url.origin().ascii_serialization();
    latchkey_testkit::person::approve_device(&url, &origin, ALICE).await;
    eprintln!("approved the device login as `{}`", ALICE.0);
    std::process::ExitCode::SUCCESS
}
