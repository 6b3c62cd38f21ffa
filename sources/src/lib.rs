//! Claude Code plugin marketplaces: where they are read from and what is in them.
//!
//! A marketplace is a tree of files with `.claude-plugin/marketplace.json` at its root. This crate
//! - reads such a tree from a [`MarketplaceSource`] into an in-memory [`FileSet`] (one module per source kind:
//!   [`bundled`], [`github`], [`gitlab`], [`https`]; the network kinds talk through the [`skillport_http::HttpClient`] seam, so
//!   this crate depends on no HTTP library and the Workers build plugs in `worker::Fetch`),
//! - describes the JSON formats Claude Code uses ([`model`]), keeping every field it does not know so nothing is lost,
//! - parses `SKILL.md` files ([`skill`]), and states the authoring rules loading does not enforce ([`rules`]),
//! - serves a single plugin or a bare collection of skills as a marketplace ([`layout`]),
//! - resolves plugins and skills the way Claude Code does ([`load`]), judging each plugin on its own: one bad
//!   entry never fails the marketplace,
//! - and reads plugins that live outside their marketplace's repository from the forges it knows ([`external`]).
//!
//! It is not the catalogue: it does not merge marketplaces, apply access rules, choose versions or speak MCP. It does
//! no I/O of its own beyond what a source does, so everything here runs the same natively and on Workers (wasm32).

pub mod archive;
mod budget;
pub mod bundled;
#[doc(hidden)]
pub mod conformance;
pub mod external;
pub mod files;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod https;
pub mod layout;
pub mod load;
pub mod model;
pub mod placement;
pub mod remote;
pub mod rules;
pub mod select;
pub mod shown;
pub mod skill;
#[cfg(test)]
mod testutil;
pub mod tree;

pub use archive::{ArchiveFormat, Limits};
pub use bundled::BundledSource;
pub use external::{ExternalRef, GitKind, Hosts};
pub use files::{join, sha256_digest, FileSet, PathError};
pub use git::GitRef;
pub use github::{GithubConfig, GithubRepo, GithubSource};
pub use gitlab::{GitlabAuth, GitlabConfig, GitlabProject, GitlabSource};
pub use https::{index_for, HttpsConfig, HttpsSource, INDEX_FILE};
pub use layout::{Layout, LayoutError};
pub use load::{
    load_marketplace, load_marketplace_lean, load_marketplace_with, plugin_entries, LoadError, LoadedMarketplace,
    LoadedPlugin, PluginStatus, Skill, SkillFile,
};
pub use model::{
    MarketplaceManifest, MarketplaceMetadata, PathList, Person, PluginEntry, PluginManifest, PluginSource,
};
pub use remote::Revision;
pub use rules::{marketplace_rules, skill_rules, RuleViolation, Severity};
pub use select::{source_for, SourceKind, SourceSpec};
pub use shown::shown_locations;
pub use skill::{parse_skill_md, SkillError, SkillMarkdown};
pub use tree::{external_folder, EXTERNAL_ROOT};

/// One place a marketplace can be read from (GitHub, GitLab, HTTPS, bundled...). One file per kind.
///
/// `?Send` because on Workers every future is single-threaded and the platform's fetch futures are not `Send`.
#[async_trait::async_trait(?Send)]
pub trait MarketplaceSource {
    /// Short kind name: "bundled", "github", ...
    fn kind(&self) -> &'static str;

    /// Reads the whole marketplace tree. If `since` equals the current revision, may answer `Fetched::NotModified`.
    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError>;

    /// Like [`fetch`](Self::fetch), given the caller's whole last copy. A source that reads a marketplace file by
    /// file overrides this to reuse the files it can prove unchanged, and to carry on a load that an earlier run
    /// left [`Fetched::Partial`]. Every other source reads an incomplete copy's tree afresh.
    async fn fetch_from(&self, previous: Option<Previous<'_>>) -> Result<Fetched, SourceError> {
        self.fetch(previous.filter(|p| p.complete).map(|p| p.revision)).await
    }
}

/// The caller's last copy of a marketplace, as [`MarketplaceSource::fetch_from`] is given it.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    pub revision: &'a str,
    pub files: &'a FileSet,
    /// False when the copy is what a [`Fetched::Partial`] gave.
    pub complete: bool,
}

/// What a [`MarketplaceSource::fetch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The tree is still at the revision the caller already has.
    NotModified,
    /// The whole tree at `revision` (a commit sha, an ETag, a content digest: opaque to callers, compared only for
    /// equality).
    Tree { revision: String, files: FileSet },
    /// Part of the tree at `revision`: the client's request budget ran out first (see [`skillport_http::BudgetClient`]).
    /// `pending` files are still to fetch; given back through [`MarketplaceSource::fetch_from`], the next run
    /// carries on from `files`.
    Partial { revision: String, files: FileSet, pending: usize },
}

/// Why a source could not produce a tree.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The repository, ref or URL does not exist (or is hidden from our credentials).
    #[error("marketplace not found: {0}")]
    NotFound(String),
    /// The upstream answered with an error status.
    #[error("upstream answered {status}: {message}")]
    Upstream { status: u16, message: String },
    /// The upstream answered, but with something that is not a usable tree.
    #[error("invalid marketplace tree: {0}")]
    Invalid(String),
    /// A path in the tree is unsafe (`..`, absolute, ...); the whole tree is refused rather than silently trimmed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The upstream refused our credentials (401), or forbade the resource without being out of quota (403).
    #[error("access denied ({status}): {message}")]
    Denied { status: u16, message: String },
    /// The upstream's rate limit is spent: retry no sooner than `retry_after_seconds` (when the upstream said).
    #[error("upstream rate limit reached{}", match retry_after_seconds { Some(s) => format!("; retry in {s}s"), None => String::new() })]
    RateLimited { retry_after_seconds: Option<u64> },
    /// The request never got an answer (timeout, connection refused or reset).
    #[error("could not reach the upstream: {0}")]
    Transport(#[from] skillport_http::HttpError),
    /// The tree is over a configured cap (total size, file count); see [`archive::Limits`].
    #[error("marketplace too large: {0}")]
    TooLarge(String),
    /// The downloaded bytes are not the pinned ones.
    #[error("integrity check failed: expected {expected}, got {actual}")]
    Integrity { expected: String, actual: String },
}

impl SourceError {
    /// The request that failed was never sent: the run's request budget was spent (not a fault of the upstream).
    pub fn is_budget(&self) -> bool {
        matches!(self, SourceError::Transport(skillport_http::HttpError::Budget(_)))
    }
}
