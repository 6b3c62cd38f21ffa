//! Claude Code plugin marketplaces: where they are read from and what is in them.
//!
//! A marketplace is a tree of files with `.claude-plugin/marketplace.json` at its root. This crate
//! - reads such a tree from a [`MarketplaceSource`] into an in-memory [`FileSet`] (one module per source kind:
//!   [`bundled`] today),
//! - describes the JSON formats Claude Code uses ([`model`]), keeping every field it does not know so nothing is lost,
//! - parses `SKILL.md` files ([`skill`]),
//! - and resolves plugins and skills the way Claude Code does ([`load`]), judging each plugin on its own: one bad
//!   entry never fails the marketplace.
//!
//! It is not the catalogue: it does not merge marketplaces, apply access rules, choose versions or speak MCP. It does
//! no I/O of its own beyond what a source does, so everything here runs the same natively and on Workers (wasm32).

pub mod bundled;
pub mod files;
pub mod load;
pub mod model;
pub mod skill;

pub use bundled::BundledSource;
pub use files::{join, sha256_digest, FileSet, PathError};
pub use load::{load_marketplace, LoadError, LoadedMarketplace, LoadedPlugin, PluginStatus, Skill, SkillFile};
pub use model::{
    MarketplaceManifest, MarketplaceMetadata, PathList, Person, PluginEntry, PluginManifest, PluginSource,
};
pub use skill::{parse_skill_md, SkillError, SkillMarkdown};

/// One place a marketplace can be read from (GitHub, GitLab, HTTPS, bundled...). One file per kind.
///
/// `?Send` because on Workers every future is single-threaded and the platform's fetch futures are not `Send`.
#[async_trait::async_trait(?Send)]
pub trait MarketplaceSource {
    /// Short kind name: "bundled", "github", ...
    fn kind(&self) -> &'static str;

    /// Reads the whole marketplace tree. If `since` equals the current revision, may answer `Fetched::NotModified`.
    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError>;
}

/// What a [`MarketplaceSource::fetch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The tree is still at the revision the caller already has.
    NotModified,
    /// The whole tree at `revision` (a commit sha, an ETag, a content digest: opaque to callers, compared only for
    /// equality).
    Tree { revision: String, files: FileSet },
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
}
