//! Git names as the forges use them: a configured ref, and a full commit sha. Shared by the GitHub and GitLab sources
//! and by external plugins, so none of them imports another for these.

use std::fmt;

use crate::SourceError;

/// A git ref (branch, tag or sha) as given in configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GitRef(String);

impl GitRef {
    pub fn new(name: impl Into<String>) -> Result<Self, SourceError> {
        let name = name.into();
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ' ' || c == ';') {
            return Err(SourceError::Invalid(format!("`{name}` is not a usable git ref")));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A full commit sha: 40 (SHA-1) or 64 (SHA-256) hex digits.
pub(crate) fn is_sha(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}
