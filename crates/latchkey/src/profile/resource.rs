//! A profile's `resource` (RFC 8707): one URI or a list, checked when the profile is used.

use serde::{Deserialize, Deserializer};

use super::Selected;
use crate::error::{Error, Result};
use crate::resource::Resource;

/// `resource = "https://api.example"` or `resource = ["https://a", "https://b"]`.
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

impl Selected {
    /// The profile's resources, validated. A `--resource` is not among them: its tokens are
    /// another manager's ([`crate::TokenManager::for_resource`]), kept under another key,
    /// while the profile's own token keeps the profile's name as its key.
    pub(super) fn resources(&self) -> Result<Vec<Resource>> {
        self.profile
            .resource
            .iter()
            .map(|uri| {
                Resource::parse(uri)
                    .map_err(|e| Error::Config(format!("profile `{}`: {e}", self.name)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::profile::Profile;

    fn parse(toml: &str) -> Result<Profile, toml::de::Error> {
        toml::from_str(toml)
    }

    #[test]
    fn resource_is_a_string_or_a_list() {
        let one = parse("auth = \"client-credentials\"\nresource = \"https://a\"").unwrap();
        assert_eq!(one.resource, ["https://a"]);
        let two =
            parse("auth = \"client-credentials\"\nresource = [\"https://a\", \"urn:b\"]").unwrap();
        assert_eq!(two.resource, ["https://a", "urn:b"]);
        let none = parse("auth = \"client-credentials\"").unwrap();
        assert!(none.resource.is_empty());
        assert!(parse("auth = \"client-credentials\"\nresource = 3").is_err());
    }
}
