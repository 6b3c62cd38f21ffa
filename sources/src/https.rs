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
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

use crate::archive::{self, ArchiveFormat, Limits, TopFolder};
use crate::budget::Budget;
use crate::files::{join, sha256_digest, FileSet};
use crate::http::{percent_encode, HttpClient, HttpRequest, HttpResponse, Secret};
use crate::model::{MarketplaceManifest, PluginEntry, PluginManifest};
use crate::placement::{place_source, Placement};
use crate::remote::{self, Conditional, Revision};
use crate::tree::{MARKETPLACE_FILE, PLUGIN_FILE, SKILL_FILE};
use crate::{Fetched, MarketplaceSource, Previous, SourceError};

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

/// A listed form's files as they arrive one by one, within the size [`Limits`] and the client's request budget: once
/// the budget is spent nothing more is asked for, and the result is [`Fetched::Partial`].
struct Fill<'p> {
    previous: Option<Previous<'p>>,
    /// Paths a partial copy of the same revision found absent.
    absent_before: BTreeSet<String>,
    files: FileSet,
    absent: BTreeSet<String>,
    size: Budget,
    /// The budget ran out: every further file is pending.
    stopped: bool,
    pending: usize,
}

impl<'p> Fill<'p> {
    fn new(limits: Limits, previous: Option<Previous<'p>>, same: bool) -> Self {
        let absent_before = previous
            .filter(|_| same)
            .and_then(|p| p.files.get(PARTIAL_FILE))
            .and_then(|b| serde_json::from_slice::<PartialNote>(b).ok())
            .map(|n| n.absent.into_iter().collect())
            .unwrap_or_default();
        Self {
            previous,
            absent_before,
            files: FileSet::new(),
            absent: BTreeSet::new(),
            size: Budget::new(limits),
            stopped: false,
            pending: 0,
        }
    }

    fn previous(&self, path: &str) -> Option<&'p [u8]> {
        self.previous.and_then(|p| p.files.get(path))
    }

    /// The file from the server; `None` when it has none (or the budget is spent, which counts it as pending).
    async fn fetch<C: HttpClient>(
        &mut self,
        source: &HttpsSource<C>,
        path: &str,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        if self.absent_before.contains(path) {
            self.absent.insert(path.to_string());
            return Ok(None);
        }
        if self.stopped {
            self.pending += 1;
            return Ok(None);
        }
        match source.file(path).await {
            Ok(Some(content)) => Ok(Some(content)),
            Ok(None) => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Err(e) if e.is_budget() => {
                self.stopped = true;
                self.pending += 1;
                Ok(None)
            }
            Err(SourceError::TooLarge(_)) => self.oversized(path),
            Err(e) => Err(e),
        }
    }

    /// A file over the single-file cap is skipped, as in an archive; but the manifest cannot be.
    fn oversized(&mut self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if path == MARKETPLACE_FILE {
            return Err(SourceError::TooLarge(format!(
                "`{MARKETPLACE_FILE}` is over the {}-byte file cap",
                self.size.limits().max_file_bytes
            )));
        }
        Ok(None)
    }

    /// A file fetched ahead (`None`: not asked for, as a partial copy of the same revision found it absent).
    fn take(
        &mut self,
        path: &str,
        fetched: Option<Result<Option<Vec<u8>>, SourceError>>,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        match fetched {
            None => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Some(Ok(Some(content))) => Ok(Some(content)),
            Some(Ok(None)) => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Some(Err(e)) if e.is_budget() => {
                self.stopped = true;
                self.pending += 1;
                Ok(None)
            }
            Some(Err(SourceError::TooLarge(_))) => self.oversized(path),
            Some(Err(e)) => Err(e),
        }
    }

    fn keep(&mut self, path: &str, content: Vec<u8>) -> Result<(), SourceError> {
        if self.size.admit(content.len() as u64)? {
            self.files.insert(path, content)?;
        }
        Ok(())
    }

    fn finish(mut self, revision: Revision) -> Result<Fetched, SourceError> {
        let revision = revision.to_string();
        if self.pending == 0 {
            return Ok(Fetched::Tree { revision, files: self.files });
        }
        let note = PartialNote { absent: self.absent.into_iter().collect() };
        self.files.insert(PARTIAL_FILE, serde_json::to_vec(&note).unwrap_or_default())?;
        Ok(Fetched::Partial { revision, files: self.files, pending: self.pending })
    }
}

#[derive(Serialize, Deserialize)]
struct PartialNote {
    absent: Vec<String>,
}

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
mod tests {
    use super::*;
    use crate::conformance::{self, Setup};
    use crate::http::{block_on_ready, CannedClient, CountingClient};
    use crate::testutil::{example_files, example_tarball, example_zip, same_marketplace};

    const ROOT: &str = "https://cdn.example/market/";

    fn serve_folder(client: &CannedClient, files: &FileSet) {
        for (path, content) in files.iter() {
            let etag = format!("\"{}\"", &sha256_digest(content)[7..19]);
            let content = content.to_vec();
            client.route("GET", &format!("{ROOT}{path}"), move |req| {
                if req.header_value("if-none-match") == Some(etag.as_str()) {
                    return Ok(HttpResponse::new(304));
                }
                Ok(HttpResponse::new(200).with_header("etag", etag.clone()).with_body(content.clone()))
            });
        }
    }

    fn source<'a>(client: &'a CannedClient, url: &str) -> HttpsSource<&'a CannedClient> {
        HttpsSource::new(
            HttpsConfig::new(url).unwrap().with_header("Authorization", Secret::new("Bearer s3cret")),
            client,
        )
    }

    /// An HTTPS source for `url` carrying the suite's credential on every request.
    fn secret_source<'c>(client: &'c dyn HttpClient, url: &str) -> Box<dyn MarketplaceSource + 'c> {
        let config = HttpsConfig::new(url).unwrap().with_header("Authorization", Secret::new("Bearer https-topsecret"));
        Box::new(HttpsSource::new(config, client))
    }

    #[test]
    fn behaves_as_every_source_must_as_an_archive() {
        for (url, body) in [
            ("https://cdn.example/m.zip", example_zip("marketplace-main")),
            ("https://cdn.example/m.tar.gz?sig=abc", example_tarball("marketplace")),
        ] {
            let client = CannedClient::new();
            client.route("GET", url, move |req| {
                if req.header_value("if-none-match") == Some("\"a1\"") {
                    return Ok(HttpResponse::new(304));
                }
                Ok(HttpResponse::new(200).with_header("etag", "\"a1\"").with_body(body.clone()))
            });
            let setup = Setup::new(client, example_files(), Some("https-topsecret"), move |c| secret_source(c, url));
            conformance::run_all(&setup, 1);
        }
    }

    #[test]
    fn behaves_as_every_source_must_with_an_index() {
        let client = CannedClient::new();
        let folder = example_files();
        serve_folder(&client, &folder);
        let listed: Vec<Value> =
            folder.iter().map(|(path, b)| serde_json::json!({"path": path, "sha256": sha256_digest(b)})).collect();
        let mut index = FileSet::new();
        index.insert(INDEX_FILE, serde_json::to_vec(&listed).unwrap()).unwrap();
        serve_folder(&client, &index);
        let manifest = format!("{ROOT}{MARKETPLACE_FILE}");
        let setup = Setup::new(client, folder, Some("https-topsecret"), move |c| secret_source(c, &manifest));
        // Three requests a run: the index's 304 and two files, so the load takes several runs.
        assert!(conformance::a_partial_load_carries_on(&setup, 3) > 2);
        conformance::run_all(&setup, 3);
    }

    #[test]
    fn behaves_as_every_source_must_without_an_index() {
        let client = CannedClient::new();
        let mut folder = FileSet::new();
        let manifest = r#"{"name":"m","plugins":[{"name":"p","source":"./p","skills":["./skills/alpha"]},
            {"name":"q","source":"./q"}]}"#;
        folder.insert(MARKETPLACE_FILE, manifest.as_bytes().to_vec()).unwrap();
        folder.insert("p/skills/alpha/SKILL.md", b"---\nname: alpha\ndescription: A.\n---\n".to_vec()).unwrap();
        folder.insert("q/.claude-plugin/plugin.json", br#"{"name":"q","skills":["./s/beta"]}"#.to_vec()).unwrap();
        folder.insert("q/s/beta/SKILL.md", b"---\nname: beta\ndescription: B.\n---\n".to_vec()).unwrap();
        serve_folder(&client, &folder);
        let manifest = format!("{ROOT}{MARKETPLACE_FILE}");
        let setup = Setup::new(client, folder, Some("https-topsecret"), move |c| secret_source(c, &manifest));
        conformance::run_all(&setup, 2);
    }

    #[test]
    fn a_file_over_its_cap_is_not_read_and_is_skipped_but_the_manifest_is_not() {
        let client = CannedClient::new();
        let mut folder = example_files();
        let manifest = folder.get(MARKETPLACE_FILE).unwrap().len();
        // One skill grown to 10 KB more; the cap is the largest of the index and the manifest, below it.
        let big = "plugins/writing-tools/skills/conventional-commits/SKILL.md";
        let mut grown = folder.get(big).unwrap().to_vec();
        grown.extend(std::iter::repeat_n(b'\n', 10_000));
        folder.insert(big, grown).unwrap();
        let index = index_for(&folder);
        let cap = index.len().max(manifest) as u64;
        folder.insert(INDEX_FILE, index).unwrap();
        serve_folder(&client, &folder);
        let url = format!("{ROOT}.claude-plugin/marketplace.json");
        let limited = |max_file_bytes: u64| {
            HttpsSource::new(
                HttpsConfig::new(&url).unwrap().with_limits(Limits { max_file_bytes, ..Limits::default() }),
                &client,
            )
        };
        let Fetched::Tree { files, .. } = block_on_ready(limited(cap).fetch(None)).unwrap() else { panic!() };
        assert!(files.len() > 1 && files.iter().all(|(_, c)| c.len() as u64 <= cap));
        assert!(files.get(big).is_none() && client.urls().contains(&format!("{ROOT}{big}")), "asked for, skipped");
        assert!(client.requests().iter().all(|r| r.max_body == cap));
        let err = block_on_ready(limited(manifest as u64 - 1).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(_)), "{err:?}");
    }

    #[test]
    fn indexed_marketplace_loads_and_refreshes_with_one_request() {
        let client = CannedClient::new();
        let mut folder = example_files();
        let index = index_for(&folder);
        folder.insert(INDEX_FILE, index).unwrap();
        serve_folder(&client, &folder);
        let counting = CountingClient::new(&client);
        let https =
            HttpsSource::new(HttpsConfig::new(format!("{ROOT}.claude-plugin/marketplace.json")).unwrap(), &counting);
        let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
        assert_eq!(counting.reset(), folder.len());
        same_marketplace(&files, &example_files());
        assert!(revision.starts_with("index:sha256:") && revision.contains(";e="));
        assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
        assert_eq!(counting.count(), 1);
        let req = &client.requests()[client.requests().len() - 1];
        assert_eq!(req.url, format!("{ROOT}{INDEX_FILE}"));
        assert!(req.header_value("if-none-match").is_some());
    }

    #[test]
    fn index_digest_mismatch_is_an_integrity_error() {
        let client = CannedClient::new();
        let folder = example_files();
        serve_folder(&client, &folder);
        let index = serde_json::json!({"files": [{"path": ".claude-plugin/marketplace.json", "sha256": "sha256:00"}]});
        client.on_get(&format!("{ROOT}{INDEX_FILE}"), HttpResponse::new(200).with_body(index.to_string()));
        let err =
            block_on_ready(source(&client, &format!("{ROOT}.claude-plugin/marketplace.json")).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Integrity { .. }), "{err}");
        let traversal = serde_json::json!(["../../etc/passwd"]);
        client.on_get(&format!("{ROOT}{INDEX_FILE}"), HttpResponse::new(200).with_body(traversal.to_string()));
        let err =
            block_on_ready(source(&client, &format!("{ROOT}.claude-plugin/marketplace.json")).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Path(_)), "{err}");
    }

    #[test]
    fn without_an_index_listed_skills_are_fetched() {
        let client = CannedClient::new();
        let mut folder = FileSet::new();
        folder
            .insert(
                MARKETPLACE_FILE,
                br#"{"name":"m","plugins":[{"name":"p","source":"./p","skills":["./skills/alpha"]},{"name":"q","source":"./q"}]}"#.to_vec(),
            )
            .unwrap();
        folder.insert("p/skills/alpha/SKILL.md", b"---\nname: alpha\ndescription: A.\n---\n".to_vec()).unwrap();
        folder
            .insert("q/.claude-plugin/plugin.json", br#"{"name":"q","skills":["./s/beta/SKILL.md"]}"#.to_vec())
            .unwrap();
        folder.insert("q/s/beta/SKILL.md", b"---\nname: beta\ndescription: B.\n---\n".to_vec()).unwrap();
        serve_folder(&client, &folder);
        let https = source(&client, &format!("{ROOT}.claude-plugin/marketplace.json"));
        let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
        assert_eq!(files, folder);
        // index 404, manifest, p's plugin.json (404), alpha, q's plugin.json, beta.
        assert_eq!(client.requests().len(), 6);
        assert!(client.requests().iter().all(|r| r.header_value("authorization") == Some("Bearer s3cret")));
        assert!(revision.starts_with("manifest:"));
        client.clear_requests();
        assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
        assert_eq!(client.urls(), [format!("{ROOT}.claude-plugin/marketplace.json")]);
    }

    #[test]
    fn archives_zip_and_tar_gz_with_pin() {
        for (url, body) in [
            ("https://cdn.example/m.zip", example_zip("marketplace-main")),
            ("https://cdn.example/m-flat.zip", example_zip("")),
            ("https://cdn.example/m.tar.gz?sig=abc", example_tarball("marketplace")),
        ] {
            let client = CannedClient::new();
            let etag = "\"a1\"";
            let served = body.clone();
            client.route("GET", url, move |req| {
                if req.header_value("if-none-match") == Some(etag) {
                    return Ok(HttpResponse::new(304));
                }
                Ok(HttpResponse::new(200).with_header("etag", etag).with_body(served.clone()))
            });
            let digest = sha256_digest(&body);
            let https = HttpsSource::new(HttpsConfig::new(url).unwrap().with_sha256(&digest[7..]), &client);
            let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
            same_marketplace(&files, &example_files());
            assert_eq!(revision, format!("{digest};e=\"a1\""));
            assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
            assert_eq!(client.requests().len(), 2);
            let pinned = HttpsSource::new(HttpsConfig::new(url).unwrap().with_sha256("sha256:beef"), &client);
            let err = block_on_ready(pinned.fetch(None)).unwrap_err();
            assert!(matches!(err, SourceError::Integrity { .. }));
            assert!(!err.to_string().contains("sig=abc"));
        }
    }

    /// A marketplace of `n` in-tree plugins, each with a plugin.json and one skill.
    fn big_marketplace(n: usize) -> FileSet {
        let mut files = FileSet::new();
        let entries: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"name": format!("p{i:03}"), "source": format!("./plugins/p{i:03}")}))
            .collect();
        files
            .insert(MARKETPLACE_FILE, serde_json::json!({"name": "big", "plugins": entries}).to_string().into_bytes())
            .unwrap();
        for i in 0..n {
            let root = format!("plugins/p{i:03}");
            files
                .insert(
                    &format!("{root}/{PLUGIN_FILE}"),
                    format!(r#"{{"name":"p{i:03}","skills":["./skills/s{i:03}"]}}"#).into_bytes(),
                )
                .unwrap();
            files
                .insert(
                    &format!("{root}/skills/s{i:03}/SKILL.md"),
                    format!("---\nname: s{i:03}\ndescription: Skill {i}.\n---\nBody {i}.\n").into_bytes(),
                )
                .unwrap();
        }
        files
    }

    /// Runs `fetch_from` through a budget of `per_run` requests until the tree is whole; the requests of each run.
    fn load_in_runs(
        client: &CannedClient,
        url: &str,
        per_run: usize,
        mut last: Option<(String, FileSet, bool)>,
    ) -> (Vec<usize>, String, FileSet) {
        let mut runs = Vec::new();
        for _ in 0..100 {
            let budget = crate::http::BudgetClient::new(client, per_run);
            let https = HttpsSource::new(HttpsConfig::new(url).unwrap(), &budget);
            let previous =
                last.as_ref().map(|(revision, files, complete)| Previous { revision, files, complete: *complete });
            let fetched = block_on_ready(https.fetch_from(previous)).unwrap();
            runs.push(budget.used());
            match fetched {
                Fetched::Tree { revision, files } => return (runs, revision, files),
                Fetched::Partial { revision, files, pending } => {
                    assert!(pending > 0);
                    assert!(!files.is_empty());
                    last = Some((revision, files, false));
                }
                Fetched::NotModified => panic!("not modified while loading"),
            }
        }
        panic!("never completed: {runs:?}")
    }

    #[test]
    fn a_large_indexed_marketplace_loads_within_the_budget_over_several_runs() {
        let client = CannedClient::new();
        let mut folder = big_marketplace(286);
        let index = index_for(&folder);
        folder.insert(INDEX_FILE, index).unwrap();
        serve_folder(&client, &folder);
        let url = format!("{ROOT}.claude-plugin/marketplace.json");
        let (runs, revision, files) = load_in_runs(&client, &url, 40, None);
        // 1 index + 1 manifest + 572 plugin files, 40 a run (each carrying-on run spends one on the index's 304).
        assert!(runs.iter().all(|&n| n <= 40), "{runs:?}");
        assert_eq!(runs.len(), 575usize.div_ceil(39), "{runs:?}");
        assert_eq!(client.requests().len(), runs.iter().sum::<usize>());
        let mut expected = big_marketplace(286);
        expected.insert(INDEX_FILE, folder.get(INDEX_FILE).unwrap().to_vec()).unwrap();
        assert_eq!(files, expected, "the whole tree, and no partial note left in it");
        let loaded = crate::load::load_marketplace(&files).unwrap();
        assert_eq!(loaded.plugins.len(), 286);
        assert!(loaded.plugins.iter().all(|p| p.skills.len() == 1));

        // Unchanged: one conditional request.
        client.clear_requests();
        let https = HttpsSource::new(HttpsConfig::new(&url).unwrap(), &client);
        let previous = Previous { revision: &revision, files: &files, complete: true };
        assert_eq!(block_on_ready(https.fetch_from(Some(previous))).unwrap(), Fetched::NotModified);
        assert_eq!(client.requests().len(), 1);

        // Two skills change: the new index plus those two files, not the whole marketplace again.
        let mut changed = folder.clone();
        for i in [7, 200] {
            changed
                .insert(
                    &format!("plugins/p{i:03}/skills/s{i:03}/SKILL.md"),
                    format!("---\nname: s{i:03}\ndescription: New {i}.\n---\n").into_bytes(),
                )
                .unwrap();
        }
        let mut without_index = changed.clone();
        without_index = {
            let mut f = FileSet::new();
            for (p, b) in without_index.iter().filter(|(p, _)| *p != INDEX_FILE) {
                f.insert(p, b.to_vec()).unwrap();
            }
            f
        };
        changed.insert(INDEX_FILE, index_for(&without_index)).unwrap();
        let client = CannedClient::new();
        serve_folder(&client, &changed);
        let (runs, _, files) = load_in_runs(&client, &url, 40, Some((revision, files, true)));
        assert_eq!(runs, [3]);
        assert_eq!(files.get("plugins/p200/skills/s200/SKILL.md"), changed.get("plugins/p200/skills/s200/SKILL.md"));
    }

    #[test]
    fn a_large_manifest_marketplace_loads_within_the_budget_and_remembers_absent_files() {
        let client = CannedClient::new();
        let mut folder = big_marketplace(120);
        // Half the plugins have no plugin.json (their skills listed in the entry instead): the server answers 404.
        let mut manifest: Value = serde_json::from_slice(folder.get(MARKETPLACE_FILE).unwrap()).unwrap();
        for (i, entry) in manifest["plugins"].as_array_mut().unwrap().iter_mut().enumerate() {
            if i % 2 == 0 {
                entry["skills"] = serde_json::json!([format!("./skills/s{i:03}")]);
            }
        }
        folder.insert(MARKETPLACE_FILE, manifest.to_string().into_bytes()).unwrap();
        let mut served = FileSet::new();
        for (p, b) in folder
            .iter()
            .filter(|(p, _)| !(p.ends_with(PLUGIN_FILE) && p[9..12].parse::<usize>().is_ok_and(|i| i % 2 == 0)))
        {
            served.insert(p, b.to_vec()).unwrap();
        }
        serve_folder(&client, &served);
        let url = format!("{ROOT}.claude-plugin/marketplace.json");
        let (runs, revision, files) = load_in_runs(&client, &url, 25, None);
        assert!(runs.iter().all(|&n| n <= 25), "{runs:?}");
        // index 404 + manifest once, then 120 plugin.json (60 absent) + 120 skills, each asked for once; every
        // carrying-on run spends one on the manifest's 304 (its index is not asked for again).
        let urls = client.urls();
        let mut unique = urls.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(urls.len() - unique.len(), runs.len() - 1, "only the manifest is asked again");
        assert_eq!(unique.len(), 2 + 240);
        assert_eq!(files, served);
        assert!(revision.starts_with("manifest:"));
        let loaded = crate::load::load_marketplace(&files).unwrap();
        assert!(
            loaded.plugins.iter().all(|p| p.skills.len() == 1),
            "{:?}",
            loaded.plugins.iter().map(|p| (&p.name, p.skills.len())).collect::<Vec<_>>()
        );
    }

    #[test]
    fn errors_do_not_leak_headers_or_query() {
        let client = CannedClient::new();
        client.on_get("https://cdn.example/m.zip?token=hunter2", HttpResponse::new(401).with_body("denied"));
        let https = source(&client, "https://cdn.example/m.zip?token=hunter2");
        let err = block_on_ready(https.fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Denied { status: 401, .. }));
        assert!(!format!("{err} {err:?}").contains("hunter2") && !format!("{err:?}").contains("s3cret"));
        assert!(HttpsConfig::new("http://evil.example/m.zip").is_err());
        assert!(HttpsConfig::new("http://127.0.0.1:8080/m.zip").is_ok());
        assert!(HttpsConfig::new("http://localhost.evil.example/m.zip").is_err());
    }
}
