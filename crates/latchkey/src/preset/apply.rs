//! A preset's quirks applied to the parts that act on them: the client, the authorization
//! request, the check before a login and the advice on errors. The profile layer and the
//! Python binding both go through these, so a quirk is handled in one place.

use super::{Preset, Quirk};
use crate::authorization::AuthorizationRequestBuilder;
use crate::client::OAuthClientBuilder;
use crate::client::RevocationMethod;
use crate::error::{Error, Result};
use crate::oidc::{DiscoveryOptions, OidcError, ProviderMetadata};

impl Preset {
    /// The client as this preset's quirks need it: the token endpoint's trailing-slash
    /// redirect followed ([`Quirk::TokenEndpointTrailingSlash`]), GitHub's revocation API
    /// ([`Quirk::RevokeViaDeleteApplicationToken`]).
    ///
    /// ```
    /// let dhis2 = latchkey::Preset::by_name("dhis2")?;
    /// let client = dhis2
    ///     .configure_client(latchkey::OAuthClient::builder("app"))
    ///     .token_url("https://dhis2.example/oauth2/token")
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), latchkey::Error>(())
    /// ```
    pub fn configure_client(&self, client: OAuthClientBuilder) -> OAuthClientBuilder {
        let mut client = client
            .follow_trailing_slash_redirect(self.has_quirk(Quirk::TokenEndpointTrailingSlash));
        if self.has_quirk(Quirk::RevokeViaDeleteApplicationToken) {
            client = client.revocation_method(RevocationMethod::GitHubAppToken);
        }
        client
    }

    /// The authorization request with this preset's
    /// [`extra_auth_params`](Preset::extra_auth_params) (Google's `access_type=offline` and
    /// `prompt=consent`).
    pub fn configure_authorization(
        &self,
        mut request: AuthorizationRequestBuilder,
    ) -> AuthorizationRequestBuilder {
        for (name, value) in self.extra_auth_params {
            request = request.param(*name, *value);
        }
        request
    }

    /// For a preset whose authorization server is optional
    /// ([`Quirk::OptionalAuthorizationServer`], DHIS2): fetches the discovery document at
    /// `issuer`, so that a server without an authorization server fails before a browser
    /// opens, with [`Preset::server_setup`] as the error's hint. `Ok(true)`: the document
    /// answered; `Ok(false)`: the preset needs no such check, and nothing was sent.
    pub async fn check_authorization_server(&self, issuer: &str) -> Result<bool> {
        if !self.has_quirk(Quirk::OptionalAuthorizationServer) {
            return Ok(false);
        }
        ProviderMetadata::discover(issuer, &DiscoveryOptions::default())
            .await
            .map_err(|e| self.advise(e))?;
        Ok(true)
    }

    /// `err` with what this preset knows added: a server without an authorization server
    /// gets [`Preset::server_setup`] as its hint (unless the error names steps already).
    pub fn advise(&self, err: Error) -> Error {
        match err {
            Error::Oidc(OidcError::NotAnAuthorizationServer {
                url,
                reason,
                server_setup,
            }) => Error::Oidc(OidcError::NotAnAuthorizationServer {
                url,
                reason,
                server_setup: if server_setup.is_empty() {
                    self.server_setup
                } else {
                    server_setup
                },
            }),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OAuthClient;
    use crate::authorization::AuthorizationRequest;
    use crate::redact::DisplayUrl;

    fn client(preset: &str) -> OAuthClient {
        Preset::by_name(preset)
            .unwrap()
            .configure_client(OAuthClient::builder("app"))
            .token_url("https://idp.example/token")
            .revocation_url("https://idp.example/revoke")
            .build()
            .unwrap()
    }

    #[test]
    fn github_revokes_through_its_own_api_and_others_by_rfc_7009() {
        assert_eq!(
            client("github").revocation_method(),
            RevocationMethod::GitHubAppToken
        );
        assert_eq!(
            client("google").revocation_method(),
            RevocationMethod::Rfc7009
        );
        assert_eq!(
            client("dhis2").revocation_method(),
            RevocationMethod::Rfc7009
        );
    }

    #[test]
    fn only_the_preset_with_the_redirect_quirk_follows_it() {
        // The switch has no getter: the client's Debug output shows it.
        let follows =
            |preset: &str| format!("{:?}", client(preset)).contains("follow_trailing_slash: true");
        assert!(follows("dhis2"));
        assert!(!follows("github"));
        assert!(!follows("oidc"));
    }

    #[test]
    fn google_asks_for_offline_access_and_consent() {
        // The builder has no getter for its parameters: its Debug output shows them.
        let params = |preset: &str| {
            let request = AuthorizationRequest::builder("https://idp.example/auth");
            let request = Preset::by_name(preset)
                .unwrap()
                .configure_authorization(request);
            format!("{request:?}")
        };
        let google = params("google");
        assert!(google.contains(r#"("access_type", "offline")"#), "{google}");
        assert!(google.contains(r#"("prompt", "consent")"#), "{google}");
        let github = params("github");
        assert!(!github.contains("access_type"), "{github}");
    }

    #[test]
    fn advice_adds_the_server_setup_once() {
        let dhis2 = Preset::by_name("dhis2").unwrap();
        let bare = || {
            Error::Oidc(OidcError::NotAnAuthorizationServer {
                url: DisplayUrl::new(&"https://dhis2.example".parse().unwrap()),
                reason: "HTTP 404".into(),
                server_setup: &[],
            })
        };
        let advised = dhis2.advise(bare());
        assert!(
            advised.to_string().contains("oauth2.server.enabled"),
            "{advised}"
        );
        // A preset that knows no setup leaves the error as it was.
        let google = Preset::by_name("google").unwrap().advise(bare());
        assert!(
            !google.to_string().contains("oauth2.server.enabled"),
            "{google}"
        );
        let other = dhis2.advise(Error::Config("x".into()));
        assert!(matches!(other, Error::Config(_)), "{other:?}");
    }

    #[tokio::test]
    async fn presets_without_the_quirk_send_nothing_before_a_login() {
        // An address nobody listens on: a request would fail.
        let checked = Preset::by_name("google")
            .unwrap()
            .check_authorization_server("http://127.0.0.1:9")
            .await
            .unwrap();
        assert!(!checked);
        let err = Preset::by_name("dhis2")
            .unwrap()
            .check_authorization_server("http://127.0.0.1:9")
            .await
            .unwrap_err();
        assert!(!matches!(err, Error::Config(_)), "{err:?}");
    }
}
