//! Pushed authorization requests (RFC 9126): the request's parameters go to the provider
//! in an authenticated POST, and the browser carries only `client_id` and the `request_uri`
//! the provider answered with. Nothing in the browser's URL can then be read or changed.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::OAuthClient;
use crate::error::{Error, Result};
use crate::redact::{DisplayUrl, scrub_serde_error};

/// Whether a login pushes its authorization request (a profile's `par = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ParMode {
    /// Push when the provider advertises a `pushed_authorization_request_endpoint` (the
    /// default); a provider that requires it must advertise one.
    #[default]
    Auto,
    /// Always push; a provider without the endpoint is a configuration error.
    Always,
    /// Never push; a provider that requires pushing is a configuration error.
    Never,
}

impl ParMode {
    /// The name as written in a profile.
    pub fn name(self) -> &'static str {
        match self {
            ParMode::Auto => "auto",
            ParMode::Always => "always",
            ParMode::Never => "never",
        }
    }
}

/// The PAR settings of one authorization request, checked by [`ParSettings::check`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ParSettings {
    pub(crate) mode: ParMode,
    pub(crate) endpoint: Option<Url>,
    /// The provider's `require_pushed_authorization_requests`.
    pub(crate) required: bool,
}

impl ParSettings {
    /// Refuses the combinations that cannot log in, with what to change.
    pub(crate) fn check(&self) -> Result<()> {
        match (self.mode, &self.endpoint, self.required) {
            (ParMode::Never, _, true) => Err(Error::Config(
                "the provider requires pushed authorization requests \
                 (`require_pushed_authorization_requests`), but `par` is `never`: \
                 use `par = \"auto\"` or `\"always\"`"
                    .into(),
            )),
            (ParMode::Always, None, _) => Err(Error::Config(
                "`par` is `always`, but the provider advertises no \
                 `pushed_authorization_request_endpoint`: set the endpoint, or use \
                 `par = \"auto\"`"
                    .into(),
            )),
            (_, None, true) => Err(Error::Config(
                "the provider requires pushed authorization requests but advertises no \
                 `pushed_authorization_request_endpoint`: set the endpoint"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// The endpoint to push to, when this request is pushed.
    pub(crate) fn target(&self) -> Option<&Url> {
        match self.mode {
            ParMode::Never => None,
            ParMode::Auto | ParMode::Always => self.endpoint.as_ref(),
        }
    }
}

#[derive(Deserialize)]
struct PushedResponse {
    request_uri: String,
}

/// Pushes `params` to `endpoint` with the client's authentication (RFC 9126 §2.1) and
/// returns the `request_uri` (§2.2). The POST goes through the client's one POST door.
/// `audience` is the issuer when it can be sent as it is: RFC 9126 §2 makes the provider
/// accept it as the `aud` of a client assertion, and the endpoint itself otherwise.
pub(crate) async fn push(
    client: &OAuthClient,
    endpoint: &Url,
    audience: Option<&Url>,
    params: Vec<(String, String)>,
) -> Result<String> {
    // The client authentication adds `client_id` where its method sends one; a second
    // copy would make the request ambiguous.
    let mut form: Vec<(String, String)> = params
        .into_iter()
        .filter(|(name, _)| name != "client_id")
        .collect();
    let basic = client
        .auth()
        .apply(client.client_id(), audience.unwrap_or(endpoint), &mut form)
        .await?;
    if !form.iter().any(|(name, _)| name == "client_id") {
        form.push(("client_id".into(), client.client_id().into()));
    }
    let response = client.post_form(endpoint, &form, basic).await?;
    if !response.status.is_success() {
        return Err(response.error(endpoint));
    }
    let parsed: PushedResponse =
        serde_json::from_slice(&response.body).map_err(|e| Error::InvalidResponse {
            url: DisplayUrl::new(endpoint),
            reason: format!(
                "the pushed authorization response is not the JSON RFC 9126 §2.2 describes ({})",
                scrub_serde_error(&e)
            ),
        })?;
    if parsed.request_uri.is_empty() {
        return Err(Error::InvalidResponse {
            url: DisplayUrl::new(endpoint),
            reason: "the pushed authorization response has an empty `request_uri`".into(),
        });
    }
    Ok(parsed.request_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: ParMode, endpoint: bool, required: bool) -> ParSettings {
        ParSettings {
            mode,
            endpoint: endpoint.then(|| Url::parse("https://idp.example/par").unwrap()),
            required,
        }
    }

    #[test]
    fn impossible_combinations_are_configuration_errors() {
        let never = settings(ParMode::Never, true, true).check().unwrap_err();
        assert!(never.to_string().contains("requires pushed"), "{never}");
        let always = settings(ParMode::Always, false, false).check().unwrap_err();
        assert!(
            always
                .to_string()
                .contains("pushed_authorization_request_endpoint"),
            "{always}"
        );
        assert!(settings(ParMode::Auto, false, true).check().is_err());
    }

    #[test]
    fn logs_show_neither_the_pushed_handle_nor_a_signed_request_or_response() {
        let url = Url::parse(
            "https://idp.example/auth?client_id=cli&request_uri=urn%3Ax%3Asecret1&request=eyJ.secret2&response=eyJ.secret3",
        )
        .unwrap();
        let shown = DisplayUrl::new(&url).to_string();
        assert!(shown.contains("client_id=cli"), "{shown}");
        for secret in ["secret1", "secret2", "secret3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn auto_pushes_only_when_an_endpoint_is_known() {
        assert!(settings(ParMode::Auto, false, false).target().is_none());
        assert!(settings(ParMode::Auto, true, false).target().is_some());
        assert!(settings(ParMode::Never, true, false).target().is_none());
        assert!(settings(ParMode::Always, true, false).target().is_some());
    }
}
