//! A marketplace in a GitHub (or GitHub Enterprise Server) repository, read through the REST API.
//!
//! Requests, whatever the size of the marketplace:
//! - refresh: ONE conditional `GET /repos/{o}/{r}/commits/{ref}` (`Accept: application/vnd.github.sha`, body is the
//!   bare sha, `If-None-Match` from the previous revision). 304, or the same sha, is `NotModified`. GitHub does not
//!   charge a 304 to the rate limit.
//! - cold load (or a new commit): that request plus `GET /repos/{o}/{r}/tarball/{sha}`, which GitHub answers with a
//!   302 to codeload that the [`HttpClient`] follows: **2 requests**, unpacked in memory within [`Limits`].
//! - fallback when the tarball is refused (403 without a spent quota, or 404, as some Enterprise proxies do):
//!   `GET /repos/{o}/{r}/git/trees/{sha}?recursive=1`, then one `GET /repos/{o}/{r}/git/blobs/{sha}` for
//!   `marketplace.json` and one per distinct blob under the marketplace's plugin folders: **4 + N** requests
//!   (N = distinct files of the plugins), bounded by `Limits::max_files`.
//!
//! With no ref configured the ref is `HEAD`, which GitHub resolves to the default branch: no extra request to look the
//! default branch up. The token goes in `Authorization: Bearer` and nowhere else; error messages name owner, repo and
//! ref only. Revisions are [`Revision`]s (`<sha>;e=<etag>`): see [`crate::remote`].

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use serde::Deserialize;

use crate::archive::{self, ArchiveFormat, Limits, TopFolder};
use crate::budget::Budget;
use crate::files::FileSet;
use crate::git::{is_sha, GitRef};
use crate::remote::{self, Conditional, Revision};
use crate::tree::MARKETPLACE_FILE;
use crate::{Fetched, MarketplaceSource, SourceError};
use skillport_http::{percent_encode, HttpClient, HttpRequest, Secret};

pub const DEFAULT_API_BASE: &str = "https://api.github.com";

/// `owner/repo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GithubRepo {
    owner: String,
    name: String,
}

impl GithubRepo {
    /// Parses `owner/repo`; both parts are GitHub names (letters, digits, `-`, `_`, `.`).
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let ok = |s: &str| {
            !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match text.trim().trim_end_matches(".git").split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => {
                Ok(Self { owner: owner.to_string(), name: name.to_string() })
            }
            _ => Err(SourceError::Invalid(format!("`{text}` is not a GitHub `owner/repo`"))),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for GithubRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where and how to read the repository.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server. No trailing `/`.
    pub api_base: String,
    pub repo: GithubRepo,
    /// Branch, tag or sha; `None` is the default branch.
    pub git_ref: Option<GitRef>,
    /// Sent as `Authorization: Bearer`; a fine-grained token needs only "Contents: read".
    pub token: Option<Secret>,
    pub limits: Limits,
}

impl GithubConfig {
    pub fn new(repo: GithubRepo) -> Self {
        Self { api_base: DEFAULT_API_BASE.to_string(), repo, git_ref: None, token: None, limits: Limits::default() }
    }

    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into().trim_end_matches('/').to_string();
        self
    }

    pub fn with_ref(mut self, git_ref: GitRef) -> Self {
        self.git_ref = Some(git_ref);
        self
    }

    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Reads a marketplace from a GitHub repository. See the module doc for the requests it makes.
pub struct GithubSource<C> {
    config: GithubConfig,
    client: C,
}

impl<C: HttpClient> GithubSource<C> {
    pub fn new(config: GithubConfig, client: C) -> Self {
        Self { config, client }
    }

    pub fn config(&self) -> &GithubConfig {
        &self.config
    }

    fn git_ref(&self) -> &str {
        self.config.git_ref.as_ref().map_or("HEAD", GitRef::as_str)
    }

    /// Names what was asked for in errors: never the token.
    fn describe(&self) -> String {
        format!("GitHub repository {} at {}", self.config.repo, self.git_ref())
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/repos/{}/{}/{tail}", self.config.api_base, self.config.repo.owner, self.config.repo.name)
    }

    fn request(&self, url: String, accept: &str) -> HttpRequest {
        let req = HttpRequest::get(url)
            .header("accept", accept)
            // GitHub refuses requests without a User-Agent; Workers' fetch sends none by default.
            .header("user-agent", "skillport")
            .header("x-github-api-version", "2022-11-28");
        match &self.config.token {
            Some(token) => req.header("authorization", format!("Bearer {}", token.expose())),
            None => req,
        }
    }

    async fn send(&self, req: HttpRequest) -> Result<skillport_http::HttpResponse, SourceError> {
        remote::send(&self.client, req, &self.describe()).await
    }

    async fn tarball(&self, sha: &str) -> Result<FileSet, SourceError> {
        let req = self.request(self.url(&format!("tarball/{sha}")), "application/vnd.github+json");
        let response = self.send(req.limit(self.config.limits.max_total_bytes)).await?;
        Ok(archive::extract(&response.body, ArchiveFormat::TarGz, TopFolder::Strip, &self.config.limits)?.files)
    }

    /// The Git Data API path: one tree listing, then the blobs the marketplace needs.
    async fn tree_and_blobs(&self, sha: &str) -> Result<FileSet, SourceError> {
        let req = self.request(self.url(&format!("git/trees/{sha}?recursive=1")), "application/vnd.github+json");
        let response = self.send(req.limit(remote::LISTING_MAX_BYTES)).await?;
        let tree: Tree = serde_json::from_slice(&response.body)
            .map_err(|e| SourceError::Invalid(format!("{}: unreadable tree listing: {e}", self.describe())))?;
        if tree.truncated {
            return Err(SourceError::TooLarge(format!(
                "{}: the tree listing is truncated (over 100,000 entries) and the tarball was refused",
                self.describe()
            )));
        }
        let blobs: Vec<&TreeEntry> = tree.tree.iter().filter(|e| e.kind == "blob" && e.mode != "120000").collect();
        let Some(manifest) = blobs.iter().find(|e| e.path == MARKETPLACE_FILE) else {
            return Ok(FileSet::new());
        };
        let mut cache: HashMap<String, Vec<u8>> = HashMap::new();
        let manifest_bytes = self.blob(&manifest.sha).await?;
        let folders = remote::marketplace_folders(&manifest_bytes);
        cache.insert(manifest.sha.clone(), manifest_bytes);
        let mut files = FileSet::new();
        let mut budget = Budget::new(self.config.limits);
        for entry in blobs.into_iter().filter(|e| remote::is_wanted(&e.path, folders.as_deref())) {
            if !budget.admit(entry.size.unwrap_or(0))? {
                continue;
            }
            let content = match cache.get(&entry.sha) {
                Some(content) => content.clone(),
                None => {
                    let content = self.blob(&entry.sha).await?;
                    cache.insert(entry.sha.clone(), content.clone());
                    content
                }
            };
            files.insert(&entry.path, content)?;
        }
        Ok(files)
    }

    async fn blob(&self, sha: &str) -> Result<Vec<u8>, SourceError> {
        let req = self.request(self.url(&format!("git/blobs/{sha}")), "application/vnd.github+json");
        let response = self.send(req.limit(remote::encoded_file_cap(self.config.limits.max_file_bytes))).await?;
        let blob: Blob = serde_json::from_slice(&response.body)
            .map_err(|e| SourceError::Invalid(format!("{}: unreadable blob {sha}: {e}", self.describe())))?;
        if blob.encoding != "base64" {
            return Err(SourceError::Invalid(format!(
                "{}: blob {sha} has encoding `{}`",
                self.describe(),
                blob.encoding
            )));
        }
        let compact: String = blob.content.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| SourceError::Invalid(format!("{}: blob {sha} is not base64: {e}", self.describe())))
    }
}

#[derive(Deserialize)]
struct Tree {
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct Blob {
    content: String,
    encoding: String,
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> MarketplaceSource for GithubSource<C> {
    fn kind(&self) -> &'static str {
        "github"
    }

    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError> {
        let since = since.and_then(Revision::parse);
        let req = self
            .request(
                self.url(&format!("commits/{}", percent_encode(self.git_ref(), true))),
                "application/vnd.github.sha",
            )
            .limit(remote::API_ANSWER_MAX_BYTES);
        let response = match remote::get_conditional(&self.client, req, since.as_ref(), &self.describe()).await? {
            Conditional::NotModified => return Ok(Fetched::NotModified),
            Conditional::Fresh(response) => response,
        };
        let sha = String::from_utf8_lossy(&response.body).trim().to_ascii_lowercase();
        if !is_sha(&sha) {
            return Err(SourceError::Invalid(format!("{}: the commit answer is not a sha", self.describe())));
        }
        if since.as_ref().is_some_and(|s| s.id == sha) {
            return Ok(Fetched::NotModified);
        }
        let revision = Revision::from_response(sha.clone(), &response).to_string();
        let files = match self.tarball(&sha).await {
            Ok(files) => files,
            Err(SourceError::NotFound(_) | SourceError::Denied { .. }) => self.tree_and_blobs(&sha).await?,
            Err(e) => return Err(e),
        };
        Ok(Fetched::Tree { revision, files })
    }
}

#[cfg(test)]
mod tests;
