//! DPoP proofs (RFC 9449 §4): one signed JWT per HTTP request.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use jsonwebtoken::Header;
use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::key::DpopKey;
use crate::error::{Error, Result};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
const TYP: &str = "dpop+jwt";

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopKey {
    /// A proof for one request: `method` and `url` (its query and fragment are left out, as
    /// §4.2 says), `access_token` for a resource request (its hash becomes `ath`), and the
    /// server's latest `nonce` when it gave one. Every call has a fresh `jti`, so a proof
    /// is good for one request only.
    pub fn proof(
        &self,
        method: &http::Method,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let jti: [u8; 16] = rand::rng().random();
        // Proofs are checked against the server's clock, so they use the real one.
        let iat = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            jti: URL_SAFE_NO_PAD.encode(jti),
            htm: method.as_str(),
            htu: htu.as_str(),
            iat,
            ath: access_token.map(access_token_hash),
            nonce,
        };
        let mut header = Header::new(self.algorithm().jws());
        header.typ = Some(TYP.to_owned());
        header.jwk = Some(self.public_jwk().clone());
        jsonwebtoken::encode(&header, &claims, self.encoding_key())
            .map_err(|e| Error::Internal(format!("cannot sign a DPoP proof ({e})")))
    }

    /// [`proof`](Self::proof) as a `DPoP` header value.
    pub fn proof_header(
        &self,
        method: &http::Method,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<HeaderValue> {
        let proof = self.proof(method, url, access_token, nonce)?;
        // base64url segments and dots: always a valid header value.
        HeaderValue::from_str(&proof)
            .map_err(|_| Error::Internal("a DPoP proof is not a valid header value".into()))
    }
}

/// `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token's ASCII bytes.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::DpopAlgorithm;

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let raw = URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn proof_carries_what_rfc_9449_asks() {
        let key = DpopKey::generate(DpopAlgorithm::Es256).unwrap();
        let url = Url::parse("https://rs.example/api/x?q=1#frag").unwrap();
        let a = key
            .proof(&http::Method::GET, &url, Some("tok"), Some("n1"))
            .unwrap();
        let header = part(&a, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert!(
            header["jwk"].get("d").is_none(),
            "private part in the header"
        );
        let claims = part(&a, 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://rs.example/api/x");
        assert_eq!(claims["nonce"], "n1");
        // RFC 9449 §7.1's example: hash of "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(claims["ath"], access_token_hash("tok"));
        let b = key.proof(&http::Method::POST, &url, None, None).unwrap();
        assert_ne!(part(&b, 1)["jti"], claims["jti"]);
        assert!(part(&b, 1).get("ath").is_none() && part(&b, 1).get("nonce").is_none());
    }
}
