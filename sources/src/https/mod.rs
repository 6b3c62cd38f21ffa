//! A marketplace on a plain HTTPS server, in one of two forms chosen by the URL:
//!
//! **An archive** (`.zip`, `.tar.gz`, `.tgz`, or [`HttpsConfig::format`] set): ONE request, conditional on refresh
//! (`If-None-Match` / `If-Modified-Since`), unpacked within [`Limits`], optionally inside one top-level folder. The
//! revision id is the archive's `sha256:` digest; an optional pin must match it or the fetch fails.
//!
//! **A `marketplace.json` URL**: a static server lists no folders, so the files to fetch are named by
//! - `skillport-index.json` at the marketplace root (beside `.claude-plugin/`), written by `skillport validate`: a JSON
//!   array of paths relative to the root, or of `{"path": ..., "sha256": "sha256:..."}` objects (or either inside
//!   `{"files": [...]}`); a listed sha256 is checked. Cold load: index + marketplace.json + one request per listed
//!   file (**2 + N**). Refresh: ONE conditional request for the index, whose digest is the revision id: list the
//!   sha256s so that any content change changes the index.
//! - without an index (404): marketplace.json, then per in-tree plugin `.claude-plugin/plugin.json` and the
//!   `SKILL.md` of every skill path its entry or plugin.json lists (conventional `skills/*/` folders and files beside
//!   SKILL.md cannot be discovered). Cold load: **2 + plugins + listed skills** (the first is the index's 404).
//!   Refresh: ONE conditional request for marketplace.json, whose digest is the revision id; changed skill files go
//!   unseen until it changes.
//!
//! Requests are sequential. Caller-given headers (an auth header from a secret) go on every request.

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use crate::archive::{self, ArchiveFormat, Limits, TopFolder};
use crate::files::{join, sha256_digest, FileSet};
use crate::model::{MarketplaceManifest, PluginEntry, PluginManifest};
use crate::placement::{place_source, Placement};
use crate::remote::{self, Conditional, Revision};
use crate::tree::{MARKETPLACE_FILE, PLUGIN_FILE, SKILL_FILE};
use crate::{Fetched, MarketplaceSource, Previous, SourceError};
use skillport_http::{percent_encode, HttpClient, HttpRequest, HttpResponse, Secret};

mod fill;
use fill::Fill;

/// The listing `skillport validate` writes beside `.claude-plugin/`.
pub const INDEX_FILE: &str = "skillport-index.json";

#[derive(Debug, Clone)]
pub struct HttpsConfig {
    pub url: String,
    /// Sent on every request, e.g. `("authorization", Secret::new("Bearer …"))`.
    pub headers: Vec<(String, Secret)>,
    /// `None`: an archive when the URL ends in `.zip`/`.tar.gz`/`.tgz`, else a marketplace.json.
    pub format: Option<ArchiveFormat>,
    /// Archive form only: the expected `sha256:<hex>` (or bare hex) of the archive bytes.
    pub sha256: Option<String>,
    pub limits: Limits,
}

impl HttpsConfig {
    /// `https://` only; `http://` is accepted for loopback hosts (tests and local stand-ins).
    pub fn new(url: impl Into<String>) -> Result<Self, SourceError> {
        let url = url.into();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| url.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/'])));
        if !url.starts_with("https://") && !loopback {
            return Err(SourceError::Invalid(format!("marketplace URL `{url}` must be https://")));
        }
        Ok(Self {
            format: ArchiveFormat::from_url(&url),
            url,
            headers: Vec::new(),
            sha256: None,
            limits: Limits::default(),
        })
    }

    pub fn with_header(mut self, name: &str, value: Secret) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value));
        self
    }

    pub fn with_format(mut self, format: ArchiveFormat) -> Self {
        self.format = Some(format);
        self
    }

    pub fn with_sha256(mut self, digest: impl Into<String>) -> Self {
        let digest = digest.into().to_ascii_lowercase();
        self.sha256 = Some(if digest.starts_with("sha256:") { digest } else { format!("sha256:{digest}") });
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

pub struct HttpsSource<C> {
    config: HttpsConfig,
    /// Marketplace root URL, ending in `/` (manifest form).
    root: String,
    client: C,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Index {
    List(Vec<IndexEntry>),
    Object { files: Vec<IndexEntry> },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IndexEntry {
    Path(String),
    File { path: String, sha256: Option<String> },
}

impl<C: HttpClient> HttpsSource<C> {
    pub fn new(config: HttpsConfig, client: C) -> Self {
        let path_end = config.url.find(['?', '#']).unwrap_or(config.url.len());
        let path = &config.url[..path_end];
        let root = match path.strip_suffix(MARKETPLACE_FILE) {
            Some(root) if root.ends_with('/') => root.to_string(),
            _ => path[..path.rfind('/').map_or(path.len(), |i| i + 1)].to_string(),
        };
        Self { config, root, client }
    }

    fn request(&self, url: String) -> HttpRequest {
        let mut req = HttpRequest::get(url).header("user-agent", "skillport");
        for (name, value) in &self.config.headers {
            req = req.header(name, value.expose());
        }
        req
    }

    /// Never the URL's query (it may hold a signature or token): scheme, host and path only.
    fn describe(&self, url: &str) -> String {
        url.split(['?', '#']).next().unwrap_or(url).to_string()
    }

    /// `GET url`, its answer capped at `cap` bytes.
    async fn get(&self, url: String, cap: u64) -> Result<HttpResponse, SourceError> {
        let what = self.describe(&url);
        remote::send(&self.client, self.request(url).limit(cap), &what).await
    }

    /// `GET url` revalidating `since` (see [`remote::get_conditional`]), its answer capped at `cap` bytes.
    async fn revalidate(&self, url: String, since: Option<&Revision>, cap: u64) -> Result<Conditional, SourceError> {
        let what = self.describe(&url);
        remote::get_conditional(&self.client, self.request(url).limit(cap), since, &what).await
    }

    /// A file of the marketplace, `None` when the server has no such file; [`SourceError::TooLarge`] when it is over
    /// the single-file cap.
    async fn file(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let url = format!("{}{}", self.root, percent_encode(path, true));
        match self.get(url, self.config.limits.max_file_bytes).await {
            Ok(response) => Ok(Some(response.body)),
            Err(SourceError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fetch_archive(&self, format: ArchiveFormat, since: Option<Revision>) -> Result<Fetched, SourceError> {
        let cap = self.config.limits.max_total_bytes;
        let response = match self.revalidate(self.config.url.clone(), since.as_ref(), cap).await? {
            Conditional::NotModified => return Ok(Fetched::NotModified),
            Conditional::Fresh(response) => response,
        };
        let digest = sha256_digest(&response.body);
        if let Some(expected) = &self.config.sha256 {
            if *expected != digest {
                return Err(SourceError::Integrity { expected: expected.clone(), actual: digest });
            }
        }
        if since.as_ref().is_some_and(|s| s.id == digest) {
            return Ok(Fetched::NotModified);
        }
        if response.body.len() as u64 > self.config.limits.max_total_bytes {
            return Err(SourceError::TooLarge(format!("the archive is {} bytes", response.body.len())));
        }
        let files = archive::extract(&response.body, format, TopFolder::StripIfSingle, &self.config.limits)?.files;
        Ok(Fetched::Tree { revision: Revision::from_response(digest, &response).to_string(), files })
    }

    /// The listed forms: `skillport-index.json` when the server has one, else the manifest and what it names.
    async fn fetch_listed(&self, previous: Option<Previous<'_>>) -> Result<Fetched, SourceError> {
        let last = previous.and_then(|p| Revision::parse(p.revision).map(|r| (p, r)));
        let manifest_mode = last.as_ref().is_some_and(|(_, r)| r.id.starts_with("manifest:"));
        if !manifest_mode {
            let since = last.as_ref().filter(|(_, r)| r.id.starts_with("index:"));
            let cap = self.config.limits.max_file_bytes;
            match self.revalidate(format!("{}{INDEX_FILE}", self.root), since.map(|(_, r)| r), cap).await {
                // `remote::get_conditional` lets a 304 through only to a conditional request, so `since` is there.
                Ok(Conditional::NotModified) => {
                    let Some((p, revision)) = since else { return Err(unasked_not_modified(INDEX_FILE)) };
                    if p.complete {
                        return Ok(Fetched::NotModified);
                    }
                    // Carrying on a partial load of this same index, which the partial copy holds.
                    if let Some(index) = p.files.get(INDEX_FILE) {
                        return self.load_indexed(index.to_vec(), revision.clone(), Some(*p), true).await;
                    }
                    return self.load_indexed_afresh(previous).await;
                }
                Ok(Conditional::Fresh(response)) => {
                    let revision =
                        Revision::from_response(format!("index:{}", sha256_digest(&response.body)), &response);
                    let same = since.filter(|(_, r)| r.id == revision.id);
                    if same.is_some_and(|(p, _)| p.complete) {
                        return Ok(Fetched::NotModified);
                    }
                    return self.load_indexed(response.body, revision, previous, same.is_some()).await;
                }
                Err(SourceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let since = last.as_ref().filter(|(_, r)| r.id.starts_with("manifest:"));
        let answer =
            self.revalidate(self.config.url.clone(), since.map(|(_, r)| r), self.config.limits.max_file_bytes).await?;
        let (manifest, revision, carry_on) = match answer {
            Conditional::NotModified => {
                let Some((p, revision)) = since else { return Err(unasked_not_modified(MARKETPLACE_FILE)) };
                match p.files.get(MARKETPLACE_FILE) {
                    _ if p.complete => return Ok(Fetched::NotModified),
                    Some(manifest) => (manifest.to_vec(), revision.clone(), Some(p)),
                    None => return Box::pin(self.fetch_listed(None)).await,
                }
            }
            Conditional::Fresh(response) => {
                let revision =
                    Revision::from_response(format!("manifest:{}", sha256_digest(&response.body)), &response);
                let same = since.filter(|(_, r)| r.id == revision.id).map(|(p, _)| p);
                if same.is_some_and(|p| p.complete) {
                    return Ok(Fetched::NotModified);
                }
                (response.body, revision, same)
            }
        };
        self.load_by_manifest(manifest, revision, carry_on.copied()).await
    }

    /// The index again, unconditionally (a partial copy that lost its index cannot carry on).
    async fn load_indexed_afresh(&self, previous: Option<Previous<'_>>) -> Result<Fetched, SourceError> {
        let response = self.get(format!("{}{INDEX_FILE}", self.root), self.config.limits.max_file_bytes).await?;
        let revision = Revision::from_response(format!("index:{}", sha256_digest(&response.body)), &response);
        self.load_indexed(response.body, revision, previous, false).await
    }

    /// Every file the index lists. A file of `previous` is reused without a request when the index gives its sha256
    /// and it matches, or when `same` (carrying on a partial load of this very index); so after the first load a
    /// changed marketplace costs the index plus the changed files.
    async fn load_indexed(
        &self,
        index_bytes: Vec<u8>,
        revision: Revision,
        previous: Option<Previous<'_>>,
        same: bool,
    ) -> Result<Fetched, SourceError> {
        let index: Index = serde_json::from_slice(&index_bytes)
            .map_err(|e| SourceError::Invalid(format!("`{INDEX_FILE}` is not a list of paths: {e}")))?;
        let entries = match index {
            Index::List(entries) | Index::Object { files: entries } => entries,
        };
        let mut listed: Vec<(String, Option<String>)> = Vec::new();
        for entry in entries {
            let (path, sha256) = match entry {
                IndexEntry::Path(path) => (path, None),
                IndexEntry::File { path, sha256 } => (path, sha256),
            };
            let path = join("", &path)?;
            if !path.is_empty() && path != INDEX_FILE && path != PARTIAL_FILE {
                let sha256 = sha256.map(|d| {
                    let d = d.to_ascii_lowercase();
                    if d.starts_with("sha256:") {
                        d
                    } else {
                        format!("sha256:{d}")
                    }
                });
                listed.push((path, sha256));
            }
        }
        if !listed.iter().any(|(p, _)| p == MARKETPLACE_FILE) {
            listed.insert(0, (MARKETPLACE_FILE.to_string(), None));
        }
        if listed.len() > self.config.limits.max_files {
            return Err(SourceError::TooLarge(format!(
                "`{INDEX_FILE}` lists more than {} files",
                self.config.limits.max_files
            )));
        }
        let mut fill = Fill::new(self.config.limits, previous, same);
        let reused: Vec<Option<&[u8]>> = listed
            .iter()
            .map(|(path, sha256)| {
                fill.previous(path).filter(|old| same || sha256.as_ref() == Some(&sha256_digest(old)))
            })
            .collect();
        // What must come from the server, CONCURRENT requests at a time, in the index's order.
        let wanted: Vec<&str> = listed
            .iter()
            .zip(&reused)
            .filter(|((path, _), old)| old.is_none() && !fill.absent_before.contains(path))
            .map(|((path, _), _)| path.as_str())
            .collect();
        let mut fetched: std::collections::HashMap<&str, Result<Option<Vec<u8>>, SourceError>> =
            futures_util::stream::iter(wanted.iter().map(|path| async move { (*path, self.file(path).await) }))
                .buffered(CONCURRENT)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect();
        for ((path, sha256), reused) in listed.iter().zip(reused) {
            let content = match reused {
                Some(old) => Some(old.to_vec()),
                None => fill.take(path, fetched.remove(path.as_str()))?,
            };
            let Some(content) = content else {
                if path == MARKETPLACE_FILE && !fill.stopped {
                    return Err(SourceError::NotFound(self.describe(&self.config.url)));
                }
                continue;
            };
            if let Some(expected) = sha256 {
                let actual = sha256_digest(&content);
                if *expected != actual {
                    return Err(SourceError::Integrity { expected: format!("{expected} for `{path}`"), actual });
                }
            }
            fill.keep(path, content)?;
        }
        fill.keep(INDEX_FILE, index_bytes)?;
        fill.finish(revision)
    }

    /// The manifest form: per in-tree plugin its `plugin.json` and the `SKILL.md` of every skill path its entry or
    /// plugin.json lists. `carry_on`: a partial copy of this same manifest, whose files are reused.
    async fn load_by_manifest(
        &self,
        manifest_bytes: Vec<u8>,
        revision: Revision,
        carry_on: Option<Previous<'_>>,
    ) -> Result<Fetched, SourceError> {
        let mut fill = Fill::new(self.config.limits, carry_on, true);
        let manifest: Option<MarketplaceManifest> = serde_json::from_slice(&manifest_bytes).ok();
        fill.keep(MARKETPLACE_FILE, manifest_bytes)?;
        // An unreadable manifest is the loader's to report; there is nothing more to fetch.
        let Some(manifest) = manifest else { return fill.finish(revision) };
        for raw in &manifest.plugins {
            let Ok(entry) = serde_json::from_value::<PluginEntry>(raw.clone()) else { continue };
            let Placement::InTree(root) = place_source(&entry.source, manifest.metadata.as_ref()) else { continue };
            let mut skill_paths: Vec<String> =
                entry.skills.as_ref().map(|s| s.paths().into_iter().map(str::to_string).collect()).unwrap_or_default();
            let plugin_json = join(&root, PLUGIN_FILE)?;
            let content = match fill.previous(&plugin_json) {
                Some(old) => Some(old.to_vec()),
                None => fill.fetch(self, &plugin_json).await?,
            };
            if let Some(content) = content {
                if let Ok(plugin) = serde_json::from_slice::<PluginManifest>(&content) {
                    skill_paths.extend(
                        plugin.skills.as_ref().map(|s| s.paths().into_iter().map(str::to_string)).into_iter().flatten(),
                    );
                }
                fill.keep(&plugin_json, content)?;
            }
            for path in skill_paths {
                let Ok(target) = join(&root, &path) else { continue };
                let skill_md = if target.ends_with(SKILL_FILE) { target } else { join(&target, SKILL_FILE)? };
                if fill.files.contains(&skill_md) {
                    continue;
                }
                let content = match fill.previous(&skill_md) {
                    Some(old) => Some(old.to_vec()),
                    None => fill.fetch(self, &skill_md).await?,
                };
                if let Some(content) = content {
                    fill.keep(&skill_md, content)?;
                }
            }
        }
        fill.finish(revision)
    }
}

/// The error for a 304 that answered a request with no validator (`remote::get_conditional` already refuses one; this keeps a
/// change there from turning into a crash here).
fn unasked_not_modified(file: &str) -> SourceError {
    SourceError::Upstream {
        status: 304,
        message: format!("`{file}`: 304 Not Modified to a request that was not conditional"),
    }
}

/// Where a partial load of a listed form notes what it learnt that is not a file of the marketplace: the paths the
/// server has no file for, so that carrying on does not ask for them again. Only ever in a partial tree.
pub const PARTIAL_FILE: &str = ".skillport-partial.json";

/// Requests of a listed marketplace in flight at once: a Worker may keep 6 connections open.
const CONCURRENT: usize = 6;

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> MarketplaceSource for HttpsSource<C> {
    fn kind(&self) -> &'static str {
        "https"
    }

    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError> {
        let none = FileSet::new();
        self.fetch_from(since.map(|revision| Previous { revision, files: &none, complete: true })).await
    }

    async fn fetch_from(&self, previous: Option<Previous<'_>>) -> Result<Fetched, SourceError> {
        match self.config.format {
            Some(format) => {
                let since = previous.filter(|p| p.complete).and_then(|p| Revision::parse(p.revision));
                self.fetch_archive(format, since).await
            }
            None => self.fetch_listed(previous).await,
        }
    }
}

/// The `skillport-index.json` for `files`: every path with its sha256, so that the index changes whenever any file
/// does. What `skillport validate` should write.
pub fn index_for(files: &FileSet) -> Vec<u8> {
    let entries: Vec<Value> = files
        .iter()
        .map(|(path, content)| serde_json::json!({"path": path, "sha256": sha256_digest(content)}))
        .collect();
    serde_json::to_vec_pretty(&Value::Array(entries)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
