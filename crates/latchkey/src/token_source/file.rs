use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{TokenSource, refuse_expired_jwt};
use crate::error::{Error, Result};

/// A token read from a file that another system keeps current: a Kubernetes projected
/// service-account token (`/var/run/secrets/tokens/…`), a SPIFFE JWT-SVID written by the
/// SPIRE agent or `spiffe-helper`.
///
/// The file is read again for every token request. Those are rare (one per access-token
/// lifetime), and a cache keyed on the modification time could miss a rewrite within the
/// file system's time resolution; reading it costs less than being wrong once. Kubernetes
/// replaces the file through a symlink swap, so a read sees the old or the new token, never
/// half of one.
#[derive(Debug, Clone)]
pub struct FileToken {
    path: PathBuf,
}

/// A workload token is a JWT of a few kilobytes; anything much larger is not one.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

impl FileToken {
    /// Reads the token from `path` at each use.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl TokenSource for FileToken {
    async fn token(&self) -> Result<SecretString> {
        let from = self.describe();
        let fail = |reason: String| Error::TokenSource {
            from: from.clone(),
            reason,
        };
        let text = match crate::fs::read_text_capped(&self.path, MAX_TOKEN_FILE) {
            Ok(Some((text, _))) => text,
            Ok(None) => {
                return Err(fail(
                    "the file does not exist; check the path and that the volume holding it (a projected service-account token, the SPIFFE helper's output) is mounted".into(),
                ));
            }
            Err(e) => return Err(fail(format!("it cannot be read ({e})"))),
        };
        let token = text.trim();
        if token.is_empty() {
            return Err(fail(
                "the file is empty; whatever writes the token has not written one yet".into(),
            ));
        }
        refuse_expired_jwt(token, &from, SystemTime::now())?;
        Ok(SecretString::from(token.to_owned()))
    }

    fn describe(&self) -> String {
        format!("the file {}", self.path.display())
    }
}
