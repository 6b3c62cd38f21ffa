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
mod tests {
    use super::*;
    use crate::archive::tests::tar_gz;
    use crate::conformance::same_marketplace;
    use crate::conformance::{self, Setup};
    use crate::testutil::{example_files, example_tarball};
    use skillport_http::{block_on_ready, CannedClient, CountingClient, HttpResponse};
    use tar::EntryType as T;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";
    const API: &str = "https://api.github.com/repos/acme/market";

    fn source<'a>(client: &'a CannedClient, token: Option<&str>) -> GithubSource<&'a CannedClient> {
        let mut config = GithubConfig::new(GithubRepo::parse("acme/market").unwrap());
        if let Some(token) = token {
            config = config.with_token(Secret::new(token));
        }
        GithubSource::new(config, client)
    }

    /// The commits endpoint with GitHub's conditional behaviour.
    fn commits(client: &CannedClient, git_ref: &str, sha: &'static str, etag: &'static str) {
        client.route("GET", &format!("{API}/commits/{git_ref}"), move |req| {
            if req.header_value("if-none-match") == Some(etag) {
                return Ok(HttpResponse::new(304).with_header("etag", etag));
            }
            Ok(HttpResponse::new(200).with_header("etag", etag).with_body(sha))
        });
    }

    #[test]
    fn cold_load_is_two_requests_and_matches_the_folder() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        client.on_get(
            &format!("{API}/tarball/{SHA}"),
            HttpResponse::new(200).with_body(example_tarball("acme-market-0123456")),
        );
        let counting = CountingClient::new(&client);
        let github = GithubSource::new(GithubConfig::new(GithubRepo::parse("acme/market").unwrap()), &counting);
        let Fetched::Tree { revision, files } = block_on_ready(github.fetch(None)).unwrap() else { panic!() };
        assert_eq!(counting.count(), 2);
        assert_eq!(revision, format!("{SHA};e=\"e1\""));
        same_marketplace(&files, &example_files());
        let first = &client.requests()[0];
        assert_eq!(first.header_value("accept"), Some("application/vnd.github.sha"));
        assert_eq!(first.header_value("user-agent"), Some("skillport"));
        assert_eq!(first.header_value("authorization"), None);
        assert_eq!(first.header_value("if-none-match"), None);
    }

    #[test]
    fn behaves_as_every_source_must() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        client.on_get(
            &format!("{API}/tarball/{SHA}"),
            HttpResponse::new(200).with_body(example_tarball("acme-market-0123456")),
        );
        let setup = Setup::new(client, example_files(), Some("ghp_topsecret"), |client| {
            let config = GithubConfig::new(GithubRepo::parse("acme/market").unwrap());
            Box::new(GithubSource::new(config.with_token(Secret::new("ghp_topsecret")), client))
        });
        conformance::run_all(&setup, 2);
    }

    #[test]
    fn answers_are_read_within_their_caps() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        let tarball = example_tarball("acme-market-0123456");
        client.on_get(&format!("{API}/tarball/{SHA}"), HttpResponse::new(200).with_body(tarball.clone()));
        let limits = Limits { max_total_bytes: tarball.len() as u64 - 1, ..Limits::default() };
        let config = GithubConfig::new(GithubRepo::parse("acme/market").unwrap()).with_limits(limits);
        let err = block_on_ready(GithubSource::new(config, &client).fetch(None)).unwrap_err();
        assert!(matches!(&err, SourceError::TooLarge(m) if m.contains("larger than")), "{err:?}");
        let requests = client.requests();
        assert_eq!(requests[0].max_body, remote::API_ANSWER_MAX_BYTES);
        assert_eq!(requests[1].max_body, tarball.len() as u64 - 1);
    }

    #[test]
    fn unchanged_refresh_is_one_conditional_request() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        let github = source(&client, Some("ghp_secret"));
        let since = format!("{SHA};e=\"e1\"");
        assert_eq!(block_on_ready(github.fetch(Some(&since))).unwrap(), Fetched::NotModified);
        let requests = client.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].header_value("if-none-match"), Some("\"e1\""));
        assert_eq!(requests[0].header_value("authorization"), Some("Bearer ghp_secret"));
        // A moved ETag over the same sha is still not a change; nor is an old revision without an ETag.
        client.clear_requests();
        assert_eq!(block_on_ready(github.fetch(Some(SHA))).unwrap(), Fetched::NotModified);
        assert_eq!(client.requests().len(), 1);
    }

    #[test]
    fn new_commit_loads_again_with_the_configured_ref() {
        let client = CannedClient::new();
        commits(&client, "release/v1", SHA2, "\"e2\"");
        let tarball = tar_gz(&[("acme-market-89abcde/.claude-plugin/marketplace.json", T::Regular, b"{}")]);
        client.on_get(&format!("{API}/tarball/{SHA2}"), HttpResponse::new(200).with_body(tarball));
        let config = GithubConfig::new(GithubRepo::parse("acme/market").unwrap())
            .with_ref(GitRef::new("release/v1").unwrap())
            .with_api_base("https://api.github.com/");
        let github = GithubSource::new(config, &client);
        let Fetched::Tree { revision, files } = block_on_ready(github.fetch(Some(&format!("{SHA};e=\"e1\"")))).unwrap()
        else {
            panic!()
        };
        assert!(revision.starts_with(SHA2));
        assert!(files.contains(MARKETPLACE_FILE));
        assert_eq!(client.urls()[0], format!("{API}/commits/release/v1"));
    }

    #[test]
    fn enterprise_api_base() {
        let client = CannedClient::new();
        let config =
            GithubConfig::new(GithubRepo::parse("acme/market").unwrap()).with_api_base("https://ghe.example/api/v3");
        let err = block_on_ready(GithubSource::new(config, &client).fetch(None)).unwrap_err();
        assert_eq!(client.urls(), ["https://ghe.example/api/v3/repos/acme/market/commits/HEAD"]);
        assert_eq!(err.to_string(), "marketplace not found: GitHub repository acme/market at HEAD");
    }

    #[test]
    fn errors_map_and_never_show_the_token() {
        type Check = fn(&SourceError) -> bool;
        let cases: [(HttpResponse, Check); 5] = [
            (HttpResponse::new(403).with_header("x-ratelimit-remaining", "0").with_header("retry-after", "42"), |e| {
                matches!(e, SourceError::RateLimited { retry_after_seconds: Some(42) })
            }),
            (HttpResponse::new(429), |e| matches!(e, SourceError::RateLimited { .. })),
            (HttpResponse::new(503).with_body("upstream busy"), |e| {
                matches!(e, SourceError::Upstream { status: 503, .. })
            }),
            (HttpResponse::new(401).with_body(r#"{"message":"Bad credentials"}"#), |e| {
                matches!(e, SourceError::Denied { status: 401, .. })
            }),
            (HttpResponse::new(404), |e| matches!(e, SourceError::NotFound(m) if m.contains("acme/market at HEAD"))),
        ];
        for (response, check) in cases {
            let client = CannedClient::new();
            client.on_get(&format!("{API}/commits/HEAD"), response);
            let err = block_on_ready(source(&client, Some("ghp_topsecret")).fetch(None)).unwrap_err();
            assert!(check(&err), "{err:?}");
            assert!(!err.to_string().contains("topsecret") && !format!("{err:?}").contains("topsecret"));
        }
        let client = CannedClient::new();
        client.route("GET", &format!("{API}/commits/HEAD"), |_| Err(skillport_http::HttpError::Timeout));
        let err = block_on_ready(source(&client, None).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Transport(skillport_http::HttpError::Timeout)));
        let client = CannedClient::new();
        client.on_get(&format!("{API}/commits/HEAD"), HttpResponse::new(200).with_body("<html>"));
        assert!(matches!(block_on_ready(source(&client, None).fetch(None)), Err(SourceError::Invalid(_))));
    }

    #[test]
    fn malicious_tarball_is_refused() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        let evil = tar_gz(&[("acme-market-0123456/../../../etc/cron.d/x", T::Regular, b"evil")]);
        client.on_get(&format!("{API}/tarball/{SHA}"), HttpResponse::new(200).with_body(evil));
        let err = block_on_ready(source(&client, None).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Path(_)), "{err}");
    }

    #[test]
    fn tree_and_blob_fallback_fetches_only_plugin_files() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        client.on_get(&format!("{API}/tarball/{SHA}"), HttpResponse::new(403).with_body(r#"{"message":"Forbidden"}"#));
        let folder = example_files();
        let mut tree = vec![
            serde_json::json!({"path": "README.md", "mode": "100644", "type": "blob", "sha": "readme", "size": 5}),
        ];
        tree.push(serde_json::json!({"path": "plugins", "mode": "040000", "type": "tree", "sha": "t"}));
        tree.push(serde_json::json!({"path": "plugins/link", "mode": "120000", "type": "blob", "sha": "l", "size": 3}));
        for (i, (path, content)) in folder.iter().enumerate() {
            let sha = format!("blob{i}");
            tree.push(
                serde_json::json!({"path": path, "mode": "100644", "type": "blob", "sha": sha, "size": content.len()}),
            );
            let body = serde_json::json!({
                "sha": sha, "encoding": "base64", "size": content.len(),
                // GitHub wraps base64 at 60 columns.
                "content": base64::engine::general_purpose::STANDARD.encode(content).as_bytes().chunks(60)
                    .map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n"),
            });
            client.on_get(&format!("{API}/git/blobs/{sha}"), HttpResponse::new(200).with_body(body.to_string()));
        }
        let listing = serde_json::json!({"sha": SHA, "tree": tree, "truncated": false});
        client.on_get(
            &format!("{API}/git/trees/{SHA}?recursive=1"),
            HttpResponse::new(200).with_body(listing.to_string()),
        );
        let Fetched::Tree { files, .. } = block_on_ready(source(&client, None).fetch(None)).unwrap() else { panic!() };
        same_marketplace(&files, &folder);
        assert!(!files.contains("README.md"));
        // commits + tarball + tree + one blob per file: manifest first, then the plugin files.
        assert_eq!(client.requests().len(), 3 + folder.len());
        assert!(client.urls().iter().all(|u| !u.ends_with("/readme") && !u.ends_with("/l")));
    }

    #[test]
    fn truncated_tree_is_too_large() {
        let client = CannedClient::new();
        commits(&client, "HEAD", SHA, "\"e1\"");
        client.on_get(
            &format!("{API}/git/trees/{SHA}?recursive=1"),
            HttpResponse::new(200).with_body(r#"{"tree":[],"truncated":true}"#),
        );
        let err = block_on_ready(source(&client, None).fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(_)), "{err}");
    }

    #[test]
    fn repo_names() {
        assert_eq!(GithubRepo::parse("anthropics/skills").unwrap().to_string(), "anthropics/skills");
        assert_eq!(GithubRepo::parse("a/b.git").unwrap().name(), "b");
        for bad in ["nope", "a/b/c", "../x", "a/", "a b/c"] {
            assert!(GithubRepo::parse(bad).is_err(), "{bad}");
        }
    }
}
