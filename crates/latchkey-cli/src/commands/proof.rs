//! `proof`: the two headers of one request with a DPoP-bound token (RFC 9449), for scripts
//! that send the request themselves.

use http::Method;
use latchkey::profile::LoginOptions;
use url::Url;

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;

pub(super) async fn run(ctx: &Ctx, method: &Method, url: &Url, json: bool) -> Result<(), CliError> {
    let selected = ctx.select()?;
    let name = selected.name.clone();
    if selected.profile.auth.is_static() {
        return Err(CliError::usage(format!(
            "profile `{name}` (auth `{}`) has fixed credentials: there is no DPoP key to sign with",
            selected.profile.auth
        ))
        .with_hint("use `latchkey header`"));
    }
    let managed = selected
        .managed(&ctx.paths, ENV, &LoginOptions::default())
        .await?;
    let tokens = managed.manager.tokens().await?;
    if !tokens.is_dpop() {
        return Err(CliError::usage(format!(
            "profile `{name}` holds a {} token, not a DPoP-bound one: it needs no proof",
            tokens.token_type()
        ))
        .with_hint(format!(
            "use `latchkey header -p {name}`; for DPoP, set `dpop = true` in the profile and log in again"
        )));
    }
    let (authorization, proof) = managed.manager.dpop_headers(method, url).await?;
    let authorization = authorization.to_str().unwrap_or_default();
    let proof = proof.to_str().unwrap_or_default();
    if json {
        let value = serde_json::json!({ "authorization": authorization, "dpop": proof });
        return output::print(&format!("{value}\n"));
    }
    output::print(&format!("Authorization: {authorization}\nDPoP: {proof}\n"))
}
