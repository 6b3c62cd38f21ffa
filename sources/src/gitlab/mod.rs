//! A marketplace in a GitLab project (gitlab.com or self-managed), read through the REST API v4.
//!
//! Requests:
//! - refresh: ONE `GET /projects/:id/repository/commits/:ref` (conditional with `If-None-Match` when GitLab sent an
//!   ETag); 304 or the same commit `id` is `NotModified`.
//! - cold load: that request plus `GET /projects/:id/repository/archive.tar.gz?sha=<sha>`: **2 requests**; **3** when
//!   no ref is configured and the default branch must first be read from `GET /projects/:id` (the branch is then kept
//!   in the revision, `r=<branch>`, so refreshes stay at one request; if that branch disappears it is looked up again).
//! - fallback when the archive is refused (403/404): `GET /projects/:id/repository/tree?recursive=true&per_page=100&
//!   pagination=keyset&ref=<sha>` following `Link: <...>; rel="next"` (one request per 100 entries), then
//!   `GET /projects/:id/repository/files/:path/raw?ref=<sha>` for `marketplace.json` and each file under the plugin
//!   folders: **2 + ceil(entries/100) + 1 + N**.
//!
//! Credentials: `PRIVATE-TOKEN` (personal, project or group access token) or `Authorization: Bearer` (OAuth), chosen
//! by [`GitlabAuth`]; never in a URL or an error.

use std::fmt;

use serde::Deserialize;

use crate::archive::{self, ArchiveFormat, Limits, TopFolder};
use crate::budget::Budget;
use crate::files::FileSet;
use crate::git::{is_sha, GitRef};
use crate::remote::{self, Conditional, Revision};
use crate::tree::MARKETPLACE_FILE;
use crate::{Fetched, MarketplaceSource, SourceError};
use skillport_http::{percent_encode, HttpClient, HttpRequest, HttpResponse, Secret};

pub const DEFAULT_API_BASE: &str = "https://gitlab.com/api/v4";

/// A project, by numeric id or by full path (`group/sub/project`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GitlabProject {
    Id(u64),
    Path(String),
}

impl GitlabProject {
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let text = text.trim().trim_matches('/');
        if let Ok(id) = text.parse::<u64>() {
            return Ok(Self::Id(id));
        }
        let ok = |s: &str| {
            !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if text.contains('/') && text.split('/').all(ok) {
            Ok(Self::Path(text.to_string()))
        } else {
            Err(SourceError::Invalid(format!("`{text}` is not a GitLab project id or `group/project` path")))
        }
    }

    /// The `:id` of API paths: the number, or the path with every `/` encoded.
    pub fn api_id(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Path(path) => percent_encode(path, false),
        }
    }
}

impl fmt::Display for GitlabProject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "#{id}"),
            Self::Path(path) => f.write_str(path),
        }
    }
}

/// How the token is sent.
#[derive(Debug, Clone)]
pub enum GitlabAuth {
    /// `PRIVATE-TOKEN: …`: personal, project or group access tokens.
    PrivateToken(Secret),
    /// `Authorization: Bearer …`: OAuth access tokens.
    Bearer(Secret),
}

#[derive(Debug, Clone)]
pub struct GitlabConfig {
    /// `https://gitlab.com/api/v4` or `https://HOST/api/v4`. No trailing `/`.
    pub api_base: String,
    pub project: GitlabProject,
    /// `None`: the project's default branch.
    pub git_ref: Option<GitRef>,
    pub auth: Option<GitlabAuth>,
    pub limits: Limits,
}

impl GitlabConfig {
    pub fn new(project: GitlabProject) -> Self {
        Self { api_base: DEFAULT_API_BASE.to_string(), project, git_ref: None, auth: None, limits: Limits::default() }
    }

    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into().trim_end_matches('/').to_string();
        self
    }

    pub fn with_ref(mut self, git_ref: GitRef) -> Self {
        self.git_ref = Some(git_ref);
        self
    }

    pub fn with_auth(mut self, auth: GitlabAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

pub struct GitlabSource<C> {
    config: GitlabConfig,
    client: C,
}

#[derive(Deserialize)]
struct Project {
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    id: String,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    mode: String,
}

impl<C: HttpClient> GitlabSource<C> {
    pub fn new(config: GitlabConfig, client: C) -> Self {
        Self { config, client }
    }

    pub fn config(&self) -> &GitlabConfig {
        &self.config
    }

    fn describe(&self, git_ref: Option<&str>) -> String {
        match git_ref {
            Some(git_ref) => format!("GitLab project {} at {git_ref}", self.config.project),
            None => format!("GitLab project {}", self.config.project),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/projects/{}{tail}", self.config.api_base, self.config.project.api_id())
    }

    /// A request whose answer is capped at [`remote::API_ANSWER_MAX_BYTES`]; archives and files set their own cap.
    fn request(&self, url: String) -> HttpRequest {
        let req = HttpRequest::get(url)
            .header("accept", "application/json")
            .header("user-agent", "skillport")
            .limit(remote::API_ANSWER_MAX_BYTES);
        match &self.config.auth {
            Some(GitlabAuth::PrivateToken(token)) => req.header("private-token", token.expose()),
            Some(GitlabAuth::Bearer(token)) => req.header("authorization", format!("Bearer {}", token.expose())),
            None => req,
        }
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        req: HttpRequest,
        what: &str,
    ) -> Result<(T, HttpResponse), SourceError> {
        let response = remote::send(&self.client, req, what).await?;
        let value = serde_json::from_slice(&response.body)
            .map_err(|e| SourceError::Invalid(format!("{what}: unexpected answer: {e}")))?;
        Ok((value, response))
    }

    async fn default_branch(&self) -> Result<String, SourceError> {
        let what = self.describe(None);
        let (project, _): (Project, _) = self.json(self.request(self.url("")), &what).await?;
        project
            .default_branch
            .ok_or_else(|| SourceError::NotFound(format!("{what} has no default branch (empty repository?)")))
    }

    /// `(commit response, the ref used, whether the ref is remembered in the revision)`.
    async fn resolve(&self, since: Option<&Revision>) -> Result<(Conditional, String, bool), SourceError> {
        let (git_ref, looked_up, remembered) = match (&self.config.git_ref, since.and_then(|s| s.git_ref.clone())) {
            (Some(git_ref), _) => (git_ref.as_str().to_string(), false, false),
            (None, Some(remembered)) => (remembered, true, true),
            (None, None) => (self.default_branch().await?, true, false),
        };
        let req = self.request(self.url(&format!("/repository/commits/{}", percent_encode(&git_ref, false))));
        match remote::get_conditional(&self.client, req, since, &self.describe(Some(&git_ref))).await {
            // The remembered default branch is gone (renamed): look it up again, once.
            Err(SourceError::NotFound(_)) if remembered => {
                let git_ref = self.default_branch().await?;
                let req = self.request(self.url(&format!("/repository/commits/{}", percent_encode(&git_ref, false))));
                let response = remote::send(&self.client, req, &self.describe(Some(&git_ref))).await?;
                Ok((Conditional::Fresh(response), git_ref, true))
            }
            other => Ok((other?, git_ref, looked_up)),
        }
    }

    async fn archive(&self, sha: &str, what: &str) -> Result<FileSet, SourceError> {
        let response = remote::send(
            &self.client,
            self.request(self.url(&format!("/repository/archive.tar.gz?sha={sha}")))
                .limit(self.config.limits.max_total_bytes),
            what,
        )
        .await?;
        Ok(archive::extract(&response.body, ArchiveFormat::TarGz, TopFolder::Strip, &self.config.limits)?.files)
    }

    async fn tree_and_files(&self, sha: &str, what: &str) -> Result<FileSet, SourceError> {
        let mut paths = Vec::new();
        let mut next =
            Some(self.url(&format!("/repository/tree?recursive=true&per_page=100&pagination=keyset&ref={sha}")));
        let max_pages = self.config.limits.max_files / 50 + 10;
        let mut pages = 0;
        while let Some(url) = next {
            pages += 1;
            if pages > max_pages {
                return Err(SourceError::TooLarge(format!("{what}: the tree listing has more than {max_pages} pages")));
            }
            let (entries, response): (Vec<TreeEntry>, _) = self.json(self.request(url), what).await?;
            // Blobs only: trees are folders, commits are submodules, mode 120000 is a symbolic link.
            paths.extend(entries.into_iter().filter(|e| e.kind == "blob" && e.mode != "120000").map(|e| e.path));
            next = remote::next_link(&response);
        }
        if !paths.iter().any(|p| p == MARKETPLACE_FILE) {
            return Ok(FileSet::new());
        }
        let manifest = self.raw(MARKETPLACE_FILE, sha, what).await?;
        let folders = remote::marketplace_folders(&manifest);
        let mut files = FileSet::new();
        let mut budget = Budget::new(self.config.limits);
        budget.admit(manifest.len() as u64)?;
        files.insert(MARKETPLACE_FILE, manifest)?;
        for path in paths.iter().filter(|p| *p != MARKETPLACE_FILE && remote::is_wanted(p, folders.as_deref())) {
            let content = match self.raw(path, sha, what).await {
                Ok(content) => content,
                // One file over the single-file cap is skipped, as in an archive.
                Err(SourceError::TooLarge(_)) => continue,
                Err(e) => return Err(e),
            };
            if budget.admit(content.len() as u64)? {
                files.insert(path, content)?;
            }
        }
        Ok(files)
    }

    async fn raw(&self, path: &str, sha: &str, what: &str) -> Result<Vec<u8>, SourceError> {
        let url = self.url(&format!("/repository/files/{}/raw?ref={sha}", percent_encode(path, false)));
        Ok(remote::send(&self.client, self.request(url).limit(self.config.limits.max_file_bytes), what).await?.body)
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> MarketplaceSource for GitlabSource<C> {
    fn kind(&self) -> &'static str {
        "gitlab"
    }

    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError> {
        let since = since.and_then(Revision::parse);
        let (answer, git_ref, remember) = self.resolve(since.as_ref()).await?;
        let response = match answer {
            Conditional::NotModified => return Ok(Fetched::NotModified),
            Conditional::Fresh(response) => response,
        };
        let what = self.describe(Some(&git_ref));
        let commit: Commit = serde_json::from_slice(&response.body)
            .map_err(|e| SourceError::Invalid(format!("{what}: unexpected commit answer: {e}")))?;
        if !is_sha(&commit.id) {
            return Err(SourceError::Invalid(format!("{what}: the commit id is not a sha")));
        }
        if since.as_ref().is_some_and(|s| s.id == commit.id) {
            return Ok(Fetched::NotModified);
        }
        let mut revision = Revision::from_response(commit.id.clone(), &response);
        if remember {
            revision.git_ref = Some(git_ref);
        }
        let files = match self.archive(&commit.id, &what).await {
            Ok(files) => files,
            Err(SourceError::NotFound(_) | SourceError::Denied { .. }) => {
                self.tree_and_files(&commit.id, &what).await?
            }
            Err(e) => return Err(e),
        };
        Ok(Fetched::Tree { revision: revision.to_string(), files })
    }
}

#[cfg(test)]
mod tests;
