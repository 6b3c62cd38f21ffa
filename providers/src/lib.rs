//! Identity providers: who is signing in to Skillport.
//!
//! Every provider turns an upstream sign-in into one [`Identity`] that access rules can read. This crate knows
//! nothing about MCP, marketplaces or the OAuth server Skillport runs toward Claude; it only answers "who is this
//! user?" for one kind of upstream. Each kind lives in its own module.
//!
//! Today only [`local`] exists: the loopback-only development sign-in used by the embedded default.

pub mod local;

use serde::{Deserialize, Serialize};

/// The signed-in user, as every provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Provider kind that vouched for this identity (`local`, `github`, `oidc`, ...).
    pub provider: String,
    /// Stable subject at that provider.
    pub subject: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub name: Option<String>,
    /// Domain of the verified email (or Google's `hd`).
    pub domain: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
}

/// Why a provider refused or failed a sign-in.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The provider may not be used for this request (e.g. `local` on a public host).
    #[error("sign-in refused: {0}")]
    Refused(String),
}
