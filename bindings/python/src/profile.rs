//! `latchkey.profile("svc")`: the CLI's profiles (`profiles.toml`, the same token store), so
//! a Python process and `latchkey token` share tokens and refresh once between them.

use std::sync::Arc;

use pyo3::prelude::*;

use latchkey::ProfileError;
use latchkey::profile::{LoginOptions, Paths, ProfileAuth, ProfilesFile, select};

use crate::errors;
use crate::manager::{Factory, Manager};
use crate::runtime::block_on;
use crate::static_auth::StaticCredentials;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Resolves a profile the way the CLI does: `name`, else `LATCHKEY_PROFILE`, the env-only
/// profile, then the file's default.
async fn resolve(name: Option<String>) -> Result<ProfileAuth, ProfileError> {
    let paths = Paths::from_env(&env)?;
    let file = ProfilesFile::load_all(&paths)?;
    let selected = select(&file, name.as_deref(), &env)?;
    selected
        .authenticate(&paths, &env, &LoginOptions::default())
        .await
}

/// The credentials of a CLI profile: a `Manager` for OAuth kinds, `StaticCredentials` for
/// fixed ones.
#[pyfunction]
#[pyo3(signature = (name = None))]
pub(crate) fn _profile(py: Python<'_>, name: Option<String>) -> PyResult<Py<PyAny>> {
    let first = name.clone();
    let auth = block_on(py, resolve(first))?.map_err(|e| errors::profile(py, &e))?;
    match auth {
        ProfileAuth::Static(auth) => {
            Ok(Py::new(py, StaticCredentials::from_core(py, &auth)?)?.into_any())
        }
        ProfileAuth::Managed(_) => {
            let describe = format!("profile({:?})", name.as_deref().unwrap_or("<default>"));
            let factory: Factory = Arc::new(move || {
                let name = name.clone();
                Box::pin(async move {
                    match resolve(name).await? {
                        ProfileAuth::Managed(managed) => Ok(managed.manager.clone()),
                        _ => Err(latchkey::Error::Config(
                            "the profile changed from OAuth to fixed credentials; load it again"
                                .into(),
                        )
                        .into()),
                    }
                })
            });
            Ok(Py::new(py, Manager::create(py, factory, describe, true)?)?.into_any())
        }
        _ => Err(errors::core(
            py,
            &latchkey::Error::Config("this profile kind is not supported from Python".into()),
        )),
    }
}
