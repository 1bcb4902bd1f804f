//! The clients and users registered in the fixture (`tests/idp/README.md`).

/// client_secret_basic client for client_credentials. Its secret needs RFC 6749 §2.3.1
/// form-encoding in the Basic header.
pub const SVC_BASIC: (&str, &str) = ("svc-basic", "s3cr:t+/ %&=é~");
/// client_secret_post client for client_credentials.
pub const SVC_POST: (&str, &str) = ("svc-post", "post-secret-123");
/// private_key_jwt client for client_credentials.
pub const SVC_JWT: &str = "svc-jwt";
/// The RSA key id registered for [`SVC_JWT`].
pub const SVC_JWT_RSA_KID: &str = "svc-jwt-1";
/// The EC key id registered for [`SVC_JWT`].
pub const SVC_JWT_EC_KID: &str = "svc-jwt-ec-1";
/// client_secret_jwt client for client_credentials (HS256 assertions over this secret).
pub const SVC_SECRET_JWT: (&str, &str) = (
    "svc-secret-jwt",
    "secret-jwt-0123456789abcdef0123456789abcdef",
);
/// tls_client_auth client (RFC 8705 §2.1): the CA-issued certificate of
/// [`crate::MtlsFiles::client`]; its tokens are certificate-bound.
pub const SVC_MTLS: &str = "svc-mtls";
/// self_signed_tls_client_auth client (RFC 8705 §2.2): the certificate of
/// [`crate::MtlsFiles::self_signed`]; its tokens are certificate-bound.
pub const SVC_MTLS_SELF: &str = "svc-mtls-self";
/// Public native client: authorization code + PKCE, refresh, device code.
pub const NATIVE_APP: &str = "native-app";
/// Confidential web client (client_secret_basic).
pub const WEB_APP: (&str, &str) = ("web-app", "web-app-secret");
/// Public client for the password grant (Keycloak / CDSE style).
pub const PW_CLIENT: &str = "pw-client";
/// Confidential client for password, refresh and client credentials grants.
pub const PW_CONFIDENTIAL: (&str, &str) = ("pw-confidential", "pw-confidential-secret");
/// A user without a second factor.
pub const ALICE: (&str, &str) = ("alice", "alice-password");
/// A user that needs a TOTP code (ask [`crate::Idp::totp`] for the current one).
pub const CAROL: (&str, &str) = ("carol", "carol-password");

/// A public native client that must push its authorization requests (PAR, RFC 9126).
pub const PAR_APP: &str = "par-app";
/// A native client with `private_key_jwt` ([`SVC_JWT`]'s keys) that must sign its
/// authorization requests (JAR, RFC 9101).
pub const JAR_APP: &str = "jar-app";
/// A second public native client for JWT-secured responses (JARM): a response addressed
/// to it is another client's.
pub const JARM_APP: &str = "jarm-app";

/// The PEM of [`SVC_JWT`]'s RSA private key.
pub fn svc_jwt_rsa_pem() -> String {
    read_key("svc-jwt.private.pem")
}

/// The PEM of [`SVC_JWT`]'s EC P-256 private key.
pub fn svc_jwt_ec_pem() -> String {
    read_key("svc-jwt-ec.private.pem")
}

fn read_key(name: &str) -> String {
    let path = crate::idp::fixture_dir().join("keys").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test key {}: {e}", path.display()))
}
