//! One revocation outside any manager (pywry's `await provider.revoke_token(token)`): RFC 7009,
//! or the preset's own API (GitHub's), with the provider's client registration.

use pyo3::prelude::*;
use secrecy::SecretString;

use latchkey::OAuthClient;

use crate::errors;
use crate::manager::client_auth_of;
use crate::preset;
use crate::runtime::into_future;

/// Revokes `token` at `revocation_url` and returns an asyncio future of the running loop
/// that completes when the provider has answered (`None`) or raises its refusal.
#[pyfunction]
#[pyo3(signature = (event_loop, token, *, token_url, revocation_url, client_id, client_secret = None, client_auth = None, preset = None, token_type_hint = "access_token"))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
pub(crate) fn _revoke_future<'py>(
    event_loop: Bound<'py, PyAny>,
    token: String,
    token_url: String,
    revocation_url: String,
    client_id: String,
    client_secret: Option<String>,
    client_auth: Option<&str>,
    preset: Option<&str>,
    token_type_hint: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let py = event_loop.py();
    let preset = preset::lookup(preset).map_err(|e| errors::core(py, &e))?;
    let method = client_auth.unwrap_or(preset::default_client_auth(preset));
    let auth = client_auth_of(py, method, client_secret.map(SecretString::from))?;
    let mut client = OAuthClient::builder(client_id)
        .auth(auth)
        .token_url(token_url)
        .revocation_url(revocation_url);
    if let Some(preset) = preset {
        client = preset.configure_client(client);
    }
    let client = client.build().map_err(|e| errors::core(py, &e))?;
    let (token, hint) = (SecretString::from(token), token_type_hint.to_owned());
    into_future(
        event_loop,
        async move { client.revoke(&token, &hint).await },
        |py, outcome| match outcome {
            Ok(()) => Ok(py.None()),
            Err(err) => Err(errors::core(py, &err)),
        },
    )
}
