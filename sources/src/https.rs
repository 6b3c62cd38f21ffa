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

use serde::Deserialize;
use serde_json::Value;

use crate::archive::{self, ArchiveFormat, Limits, TopFolder};
use crate::files::{join, sha256_digest, FileSet};
use crate::github::Budget;
use crate::http::{percent_encode, HttpClient, HttpRequest, HttpResponse, Secret};
use crate::load::{place_source, Placement, MARKETPLACE_FILE, PLUGIN_FILE};
use crate::model::{MarketplaceManifest, PluginEntry, PluginManifest};
use crate::remote::{self, Revision};
use crate::{Fetched, MarketplaceSource, SourceError};

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

    async fn get(&self, url: String, since: Option<&Revision>) -> Result<HttpResponse, SourceError> {
        let what = self.describe(&url);
        let mut req = self.request(url);
        if let Some(since) = since {
            req = since.conditional(req);
        }
        remote::send(&self.client, req, &what).await
    }

    /// A file of the marketplace, `None` when the server has no such file.
    async fn file(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self.get(format!("{}{}", self.root, percent_encode(path, true)), None).await {
            Ok(response) => Ok(Some(response.body)),
            Err(SourceError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fetch_archive(&self, format: ArchiveFormat, since: Option<Revision>) -> Result<Fetched, SourceError> {
        let response = self.get(self.config.url.clone(), since.as_ref()).await?;
        if response.status == 304 {
            return Ok(Fetched::NotModified);
        }
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

    async fn fetch_listed(&self, since: Option<Revision>) -> Result<Fetched, SourceError> {
        let index_url = format!("{}{INDEX_FILE}", self.root);
        let manifest_mode = since.as_ref().is_some_and(|s| s.id.starts_with("manifest:"));
        if !manifest_mode {
            let index_since = since.as_ref().filter(|s| s.id.starts_with("index:"));
            match self.get(index_url, index_since).await {
                Ok(response) if response.status == 304 => return Ok(Fetched::NotModified),
                Ok(response) => {
                    let id = format!("index:{}", sha256_digest(&response.body));
                    if index_since.is_some_and(|s| s.id == id) {
                        return Ok(Fetched::NotModified);
                    }
                    let files = self.load_indexed(&response.body).await?;
                    return Ok(Fetched::Tree { revision: Revision::from_response(id, &response).to_string(), files });
                }
                Err(SourceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let manifest_since = since.as_ref().filter(|s| s.id.starts_with("manifest:"));
        let response = self.get(self.config.url.clone(), manifest_since).await?;
        if response.status == 304 {
            return Ok(Fetched::NotModified);
        }
        let id = format!("manifest:{}", sha256_digest(&response.body));
        if manifest_since.is_some_and(|s| s.id == id) {
            return Ok(Fetched::NotModified);
        }
        let files = self.load_by_manifest(response.body.clone()).await?;
        Ok(Fetched::Tree { revision: Revision::from_response(id, &response).to_string(), files })
    }

    async fn load_indexed(&self, index: &[u8]) -> Result<FileSet, SourceError> {
        let index: Index = serde_json::from_slice(index)
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
            if !path.is_empty() {
                listed.push((path, sha256));
            }
        }
        if !listed.iter().any(|(p, _)| p == MARKETPLACE_FILE) {
            listed.insert(0, (MARKETPLACE_FILE.to_string(), None));
        }
        let mut files = FileSet::new();
        let mut budget = Budget::new(self.config.limits);
        if listed.len() > self.config.limits.max_files {
            return Err(SourceError::TooLarge(format!(
                "`{INDEX_FILE}` lists more than {} files",
                self.config.limits.max_files
            )));
        }
        for (path, sha256) in listed {
            let Some(content) = self.file(&path).await? else {
                if path == MARKETPLACE_FILE {
                    return Err(SourceError::NotFound(self.describe(&self.config.url)));
                }
                continue;
            };
            if let Some(expected) = sha256 {
                let actual = sha256_digest(&content);
                let expected = if expected.starts_with("sha256:") { expected } else { format!("sha256:{expected}") };
                if expected.to_ascii_lowercase() != actual {
                    return Err(SourceError::Integrity { expected: format!("{expected} for `{path}`"), actual });
                }
            }
            if budget.admit(content.len() as u64)? {
                files.insert(&path, content)?;
            }
        }
        Ok(files)
    }

    async fn load_by_manifest(&self, manifest_bytes: Vec<u8>) -> Result<FileSet, SourceError> {
        let mut files = FileSet::new();
        let manifest: Option<MarketplaceManifest> = serde_json::from_slice(&manifest_bytes).ok();
        files.insert(MARKETPLACE_FILE, manifest_bytes)?;
        // An unreadable manifest is the loader's to report; there is nothing more to fetch.
        let Some(manifest) = manifest else { return Ok(files) };
        let mut budget = Budget::new(self.config.limits);
        for raw in &manifest.plugins {
            let Ok(entry) = serde_json::from_value::<PluginEntry>(raw.clone()) else { continue };
            let Placement::InTree(root) = place_source(&entry.source, manifest.metadata.as_ref()) else { continue };
            let mut skill_paths: Vec<String> =
                entry.skills.as_ref().map(|s| s.paths().into_iter().map(str::to_string).collect()).unwrap_or_default();
            let plugin_json = join(&root, PLUGIN_FILE)?;
            if let Some(content) = self.file(&plugin_json).await? {
                if let Ok(plugin) = serde_json::from_slice::<PluginManifest>(&content) {
                    skill_paths.extend(
                        plugin.skills.as_ref().map(|s| s.paths().into_iter().map(str::to_string)).into_iter().flatten(),
                    );
                }
                if budget.admit(content.len() as u64)? {
                    files.insert(&plugin_json, content)?;
                }
            }
            for path in skill_paths {
                let Ok(target) = join(&root, &path) else { continue };
                let skill_md = if target.ends_with("SKILL.md") { target } else { join(&target, "SKILL.md")? };
                if files.contains(&skill_md) {
                    continue;
                }
                if let Some(content) = self.file(&skill_md).await? {
                    if budget.admit(content.len() as u64)? {
                        files.insert(&skill_md, content)?;
                    }
                }
            }
        }
        Ok(files)
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> MarketplaceSource for HttpsSource<C> {
    fn kind(&self) -> &'static str {
        "https"
    }

    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError> {
        let since = since.and_then(Revision::parse);
        match self.config.format {
            Some(format) => self.fetch_archive(format, since).await,
            None => self.fetch_listed(since).await,
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
