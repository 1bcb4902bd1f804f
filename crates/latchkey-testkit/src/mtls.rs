//! The certificates of the fixture's mutual-TLS listener (`tests/idp/mtls.mjs`), made fresh
//! for every fixture with rcgen and written to a private temporary directory that the
//! fixture reads (`IDP_MTLS_DIR`) and tests point profiles at.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{CertificateParams, KeyPair};

use crate::TestPki;

/// A test CA, the HTTPS listener's certificate, a client certificate the CA issued (DNS SAN
/// `latchkey-test-client`, registered by [`crate::clients::SVC_MTLS`]) and a self-signed one
/// (registered by [`crate::clients::SVC_MTLS_SELF`]), as PEM files in one directory that is
/// removed when this is dropped.
#[derive(Debug)]
pub struct MtlsFiles {
    dir: PathBuf,
    pki: TestPki,
}

impl MtlsFiles {
    /// Generates everything and writes the files.
    #[expect(
        clippy::disallowed_methods,
        reason = "the fixture's own throwaway certificate files, not token state"
    )]
    pub fn generate() -> MtlsFiles {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latchkey-idp-mtls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir for the fixture's certificates");
        let pki = TestPki::generate();
        let key = KeyPair::generate().expect("a key");
        let self_signed = CertificateParams::new(vec!["latchkey-self-signed".to_owned()])
            .expect("certificate params")
            .self_signed(&key)
            .expect("a self-signed certificate");
        for (name, text) in [
            ("ca.pem", pki.ca.as_str()),
            ("server.pem", &pki.server_cert),
            ("server.key", &pki.server_key),
            ("client.pem", &pki.client_cert),
            ("client.key", &pki.client_key),
            ("self-signed.pem", &self_signed.pem()),
            ("self-signed.key", &key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), text).expect("write a certificate file");
        }
        MtlsFiles { dir, pki }
    }

    /// The directory the fixture reads (`IDP_MTLS_DIR`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA that issued the listener's certificate: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca
    }

    /// The CA's file, e.g. for `SSL_CERT_FILE` in a CLI test.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA-issued client certificate and its key.
    pub fn client(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("client.pem"), self.dir.join("client.key"))
    }

    /// The self-signed client certificate and its key.
    pub fn self_signed(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.join("self-signed.pem"),
            self.dir.join("self-signed.key"),
        )
    }
}

impl Drop for MtlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
