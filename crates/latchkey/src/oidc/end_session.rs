//! The RP-Initiated Logout URL (OpenID Connect RP-Initiated Logout 1.0 §2).

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Builds the URL that ends the user's session at the provider. Open it in the browser.
///
/// The URL may carry the ID token (`id_token_hint`): show it only through
/// [`crate::DisplayUrl`], which hides that value.
#[derive(Debug, Clone)]
pub struct EndSessionUrl {
    endpoint: Url,
    id_token_hint: Option<SecretString>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

impl EndSessionUrl {
    /// Starts from the provider's `end_session_endpoint`.
    pub fn new(endpoint: Url) -> Self {
        Self {
            endpoint,
            id_token_hint: None,
            post_logout_redirect_uri: None,
            state: None,
            client_id: None,
        }
    }

    /// The ID token last issued, so the provider knows whose session ends (§2: RECOMMENDED).
    pub fn id_token_hint(mut self, id_token: &SecretString) -> Self {
        self.id_token_hint = Some(id_token.clone());
        self
    }

    /// Where the provider sends the browser afterwards (must be registered).
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// Opaque state echoed back to the post-logout redirect.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The client id; needed with `post_logout_redirect_uri` when there is no `id_token_hint`.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The URL, with parameters appended to any the endpoint already has.
    pub fn build(&self) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = &self.id_token_hint {
                query.append_pair("id_token_hint", hint.expose_secret());
            }
            if let Some(client_id) = &self.client_id {
                query.append_pair("client_id", client_id);
            }
            if let Some(uri) = &self.post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_parameters_and_keeps_existing_query() {
        let url = EndSessionUrl::new(Url::parse("https://idp.example/logout?x=1").unwrap())
            .id_token_hint(&SecretString::from("a.b.c"))
            .post_logout_redirect_uri("http://127.0.0.1:8080/bye?a=b")
            .state("s 1")
            .build();
        assert_eq!(
            url.as_str(),
            "https://idp.example/logout?x=1&id_token_hint=a.b.c&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fbye%3Fa%3Db&state=s+1"
        );
        assert!(!crate::DisplayUrl::new(&url).to_string().contains("a.b.c"));
    }
}
