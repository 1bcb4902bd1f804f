//! The `dpop` option of a profile: which key algorithm the provider accepts.

use super::ProfileError;
use crate::dpop::DpopAlgorithm;
use crate::error::Error;
use crate::oidc::ProviderMetadata;

/// The DPoP key algorithm for profile `name`, from the provider's
/// `dpop_signing_alg_values_supported` (ES256 when it is not published).
pub(super) fn algorithm(
    name: &str,
    metadata: &ProviderMetadata,
) -> Result<DpopAlgorithm, ProfileError> {
    let listed: Vec<String> = metadata
        .extra
        .get("dpop_signing_alg_values_supported")
        .and_then(|v| v.as_array())
        .map(|values| {
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    DpopAlgorithm::for_provider(&listed).ok_or_else(|| {
        Error::Config(format!(
            "profile `{name}` sets `dpop = true`, but the provider's \
             dpop_signing_alg_values_supported ({}) lists neither ES256 nor Ed25519, the \
             algorithms latchkey signs DPoP proofs with",
            listed.join(", ")
        ))
        .into()
    })
}
