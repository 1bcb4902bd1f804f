//! DHIS2 route auth schemes (dhis2w's `AuthScheme`): a route's `auth` JSON parsed by the
//! core and turned into the credentials it describes, the way the CLI builds a profile.

use std::sync::Arc;

use pyo3::prelude::*;

use latchkey::profile::{LoginOptions, ProfileAuth, Selected};
use latchkey::{AuthScheme, MemoryStore, ProfileError, TokenStore};

use crate::errors;
use crate::manager::{Factory, Manager};
use crate::runtime::block_on;
use crate::static_auth::StaticCredentials;

fn no_env(_: &str) -> Option<String> {
    None
}

async fn resolve(
    scheme: AuthScheme,
    store: Arc<dyn TokenStore>,
) -> Result<ProfileAuth, ProfileError> {
    Selected::new("route", scheme.to_profile())
        .authenticate_with_store(store, &no_env, &LoginOptions::default())
        .await
}

/// The credentials of one route auth scheme (`{"type": "http-basic", …}` and the other
/// four kinds): `StaticCredentials`, or a `Manager` for `oauth2-client-credentials`.
#[pyfunction]
pub(crate) fn _scheme(py: Python<'_>, json: &str) -> PyResult<Py<PyAny>> {
    let scheme = AuthScheme::from_json(json).map_err(|e| {
        errors::config(
            py,
            format!("invalid route auth scheme: {e}"),
            Some(e.hint()),
        )
    })?;
    if let Some(field) = scheme.missing_field() {
        return Err(errors::config(
            py,
            format!("the `{}` scheme has no `{field}`", scheme.type_name()),
            Some(format!("add `{field}` to the route's auth")),
        ));
    }
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let first = (scheme.clone(), store.clone());
    let auth = block_on(py, resolve(first.0, first.1))?.map_err(|e| errors::profile(py, &e))?;
    match auth {
        ProfileAuth::Static(auth) => {
            Ok(Py::new(py, StaticCredentials::from_core(py, &auth)?)?.into_any())
        }
        _ => {
            let describe = format!("route scheme {:?}", scheme.type_name());
            let factory: Factory = Arc::new(move || {
                let (scheme, store) = (scheme.clone(), store.clone());
                Box::pin(async move {
                    match resolve(scheme, store).await? {
                        ProfileAuth::Managed(managed) => Ok(managed.manager.clone()),
                        _ => Err(latchkey::Error::Config(
                            "the scheme has no tokens to manage".into(),
                        )
                        .into()),
                    }
                })
            });
            Ok(Py::new(py, Manager::create(py, factory, describe, false)?)?.into_any())
        }
    }
}
