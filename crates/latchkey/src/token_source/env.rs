use async_trait::async_trait;
use secrecy::SecretString;

use super::TokenSource;
use crate::error::{Error, Result};

/// A token in an environment variable, read at each use (a CI job's `CI_JOB_JWT_V2`-style
/// variable, a token a wrapper script exports).
#[derive(Debug, Clone)]
pub struct EnvToken {
    name: String,
}

impl EnvToken {
    /// Reads the variable `name` at each use.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

#[async_trait]
impl TokenSource for EnvToken {
    async fn token(&self) -> Result<SecretString> {
        match std::env::var(&self.name) {
            Ok(value) if !value.trim().is_empty() => {
                Ok(SecretString::from(value.trim().to_owned()))
            }
            _ => Err(Error::TokenSource {
                from: self.describe(),
                reason: "it is not set or empty; export the token in it first".into(),
            }),
        }
    }

    fn describe(&self) -> String {
        format!("the environment variable {}", self.name)
    }
}
