//! Plugins whose files live outside the marketplace repository: `github`, `url`, `git-subdir` and `archive` sources.
//!
//! Two steps, kept apart so the caller decides what to cache and when to go to the network:
//! - [`resolve`] turns a [`PluginSource`] into an [`ExternalRef`] (which API to ask, which project, pinned how) or
//!   into the reason it cannot be served: an ssh URL, a host this Skillport is not configured to read, a package
//!   registry. No I/O.
//! - [`fetch`] reads the plugin's files through the sources that already exist (a [`GithubSource`] or
//!   [`GitlabSource`] pinned to the sha, an [`HttpsSource`] for archives), so an external plugin costs what a
//!   marketplace cold load costs (2 requests on GitHub) and passes the same archive limits, path checks and
//!   error mapping. Nothing about tarballs or extraction is repeated here.
//!
//! The loader finds the fetched files where the caller puts them with [`place`]: under
//! [`EXTERNAL_ROOT`](crate::tree::EXTERNAL_ROOT)`/<plugin name>/` of the marketplace's [`FileSet`].
//!
//! Not here: caching (key it on [`ExternalRef::key`]; [`ExternalRef::is_immutable`] says when an entry may be kept
//! forever), deciding which plugins to fetch, and git itself (ssh, the smart HTTP protocol): Workers cannot run git,
//! so only forges with a REST API that hands out archives are readable.

use std::fmt;

use crate::archive::Limits;
use crate::files::{join, FileSet};
use crate::git::{is_sha, GitRef};
use crate::github::{self, GithubConfig, GithubRepo, GithubSource};
use crate::gitlab::{self, GitlabAuth, GitlabConfig, GitlabProject, GitlabSource};
use crate::https::{HttpsConfig, HttpsSource};
use crate::model::PluginSource;
use crate::tree::external_folder;
use crate::{Fetched, MarketplaceSource, SourceError};
use skillport_http::{HttpClient, Secret};

/// Which forge API a host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GitKind {
    Github,
    Gitlab,
}

impl GitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GitKind::Github => "github",
            GitKind::Gitlab => "gitlab",
        }
    }

    fn default_api_base(self) -> &'static str {
        match self {
            GitKind::Github => github::DEFAULT_API_BASE,
            GitKind::Gitlab => gitlab::DEFAULT_API_BASE,
        }
    }
}

/// The forges this Skillport may read external plugins from: web host (as it appears in git URLs) to API base.
///
/// [`Hosts::default`] knows github.com and gitlab.com. GitHub Enterprise Server and self-managed GitLab hosts come
/// from configuration through [`add_github`](Self::add_github) and [`add_gitlab`](Self::add_gitlab); a test stand-in
/// on `http://127.0.0.1:PORT` is added the same way (plain http is accepted for loopback hosts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    github: Vec<(String, String)>,
    gitlab: Vec<(String, String)>,
}

impl Default for Hosts {
    fn default() -> Self {
        Self {
            github: vec![("github.com".to_string(), github::DEFAULT_API_BASE.to_string())],
            gitlab: vec![("gitlab.com".to_string(), gitlab::DEFAULT_API_BASE.to_string())],
        }
    }
}

impl Hosts {
    /// No host at all: every git source is refused.
    pub fn none() -> Self {
        Self { github: Vec::new(), gitlab: Vec::new() }
    }

    /// `web_host` as in git URLs (`github.example.com`, `127.0.0.1:8080`); `api_base` as
    /// [`GithubConfig::api_base`] (`https://github.example.com/api/v3`). Replaces any earlier entry for the host.
    pub fn add_github(&mut self, web_host: &str, api_base: &str) -> Result<&mut Self, String> {
        self.add(GitKind::Github, web_host, api_base)
    }

    /// `api_base` as [`GitlabConfig::api_base`] (`https://gitlab.example.com/api/v4`).
    pub fn add_gitlab(&mut self, web_host: &str, api_base: &str) -> Result<&mut Self, String> {
        self.add(GitKind::Gitlab, web_host, api_base)
    }

    fn add(&mut self, kind: GitKind, web_host: &str, api_base: &str) -> Result<&mut Self, String> {
        let host = web_host.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
        let host = host.to_ascii_lowercase();
        let host_ok = !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            && !host.starts_with(['.', '-', ':']);
        if !host_ok {
            return Err(format!("`{web_host}` is not a host name such as github.example.com"));
        }
        let api_base = api_base.trim().trim_end_matches('/');
        if !is_readable_url(api_base) {
            return Err(format!("API base `{api_base}` for {host} must be https:// (or http:// to a loopback host)"));
        }
        self.github.retain(|(h, _)| *h != host);
        self.gitlab.retain(|(h, _)| *h != host);
        let list = match kind {
            GitKind::Github => &mut self.github,
            GitKind::Gitlab => &mut self.gitlab,
        };
        list.push((host, api_base.to_string()));
        Ok(self)
    }

    /// The forge behind `web_host` (lower case, port included when not the default), if this Skillport reads it.
    pub fn lookup(&self, web_host: &str) -> Option<(GitKind, &str)> {
        fn find<'a>(list: &'a [(String, String)], web_host: &str) -> Option<&'a str> {
            list.iter().find(|(h, _)| h.eq_ignore_ascii_case(web_host)).map(|(_, api)| api.as_str())
        }
        find(&self.github, web_host)
            .map(|api| (GitKind::Github, api))
            .or_else(|| find(&self.gitlab, web_host).map(|api| (GitKind::Gitlab, api)))
    }
}

/// Where an external plugin's files are, in the terms of the source that will read them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExternalRef {
    Git {
        kind: GitKind,
        /// No trailing `/`.
        api_base: String,
        /// `owner/repo` (GitHub) or `group/sub/project` (GitLab).
        project: String,
        git_ref: Option<String>,
        /// A full commit sha, lower case. When set it is what is fetched; `git_ref` is then only informative.
        sha: Option<String>,
        /// The plugin's folder inside the repository, normalised; `None` is the repository root.
        subdir: Option<String>,
    },
    Archive {
        url: String,
        /// `sha256:<lowercase hex>`.
        sha256: Option<String>,
    },
}

impl ExternalRef {
    /// A stable cache key: `github:owner/repo@<sha, else ref, else HEAD>:<subdir>` for the default API bases,
    /// `github:<api base>|owner/repo@...` for others, `archive:<url>` plus `#sha256:<hex>` when pinned. Equal keys
    /// name equal content whenever [`is_immutable`](Self::is_immutable) holds.
    pub fn key(&self) -> String {
        match self {
            ExternalRef::Git { kind, api_base, project, git_ref, sha, subdir } => {
                let base = if api_base == kind.default_api_base() { String::new() } else { format!("{api_base}|") };
                let pin = sha.as_deref().or(git_ref.as_deref()).unwrap_or("HEAD");
                format!("{}:{base}{project}@{pin}:{}", kind.as_str(), subdir.as_deref().unwrap_or(""))
            }
            ExternalRef::Archive { url, sha256 } => match sha256 {
                Some(digest) => format!("archive:{url}#{digest}"),
                None => format!("archive:{url}"),
            },
        }
    }

    /// Pinned by a commit sha or an archive sha256: what [`fetch`] returns can be cached forever.
    pub fn is_immutable(&self) -> bool {
        match self {
            ExternalRef::Git { sha, .. } => sha.is_some(),
            ExternalRef::Archive { sha256, .. } => sha256.is_some(),
        }
    }
}

/// For messages: `GitHub repository owner/repo at <pin>, folder plugins/x`, or the archive URL. Never a credential.
impl fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalRef::Git { kind, project, git_ref, sha, subdir, .. } => {
                let forge = match kind {
                    GitKind::Github => "GitHub repository",
                    GitKind::Gitlab => "GitLab project",
                };
                write!(f, "{forge} {project} at {}", sha.as_deref().or(git_ref.as_deref()).unwrap_or("HEAD"))?;
                match subdir {
                    Some(dir) => write!(f, ", folder {dir}"),
                    None => Ok(()),
                }
            }
            ExternalRef::Archive { url, .. } => write!(f, "archive {}", url.split(['?', '#']).next().unwrap_or(url)),
        }
    }
}

/// Where `source`'s files can be read from, or why they cannot be: the reason names the host or the kind, and is
/// meant for a status page as is.
pub fn resolve(source: &PluginSource, hosts: &Hosts) -> Result<ExternalRef, String> {
    match source {
        PluginSource::Github { repo, git_ref, sha, path, .. } => {
            let Some((GitKind::Github, api_base)) = hosts.lookup("github.com") else {
                return Err(unknown_host("github.com"));
            };
            git(GitKind::Github, api_base, repo.trim().trim_end_matches(".git"), git_ref, sha, path.as_deref())
        }
        PluginSource::Url { url, git_ref, sha, .. } => {
            let (host, project) = parse_git_url(url)?;
            let (kind, api_base) = hosts.lookup(&host).ok_or_else(|| unknown_host(&host))?;
            git(kind, api_base, &project, git_ref, sha, None)
        }
        PluginSource::GitSubdir { url, path, git_ref, sha, .. } => {
            let (host, project) = parse_git_url(url)?;
            let (kind, api_base) = hosts.lookup(&host).ok_or_else(|| unknown_host(&host))?;
            git(kind, api_base, &project, git_ref, sha, Some(path))
        }
        PluginSource::Archive { url, sha256, .. } => archive(url, sha256.as_deref()),
        PluginSource::Npm { .. } | PluginSource::Pip { .. } => {
            Err(format!("{} packages cannot be fetched or run on Cloudflare Workers", source.kind()))
        }
        PluginSource::Relative(path) => Err(format!("`{path}` is a folder of the marketplace, not an external source")),
        PluginSource::Other { kind, .. } => Err(format!("plugin source kind `{kind}` is not supported")),
    }
}

fn unknown_host(host: &str) -> String {
    format!("host {host} is not a GitHub or GitLab host this Skillport is configured to read")
}

fn git(
    kind: GitKind,
    api_base: &str,
    project: &str,
    git_ref: &Option<String>,
    sha: &Option<String>,
    path: Option<&str>,
) -> Result<ExternalRef, String> {
    let project = match kind {
        GitKind::Github => {
            GithubRepo::parse(project).map_err(|_| format!("`{project}` is not a GitHub `owner/repo`"))?.to_string()
        }
        GitKind::Gitlab => match GitlabProject::parse(project) {
            // GitLab web URLs put `/-/` before tree, blob and archive paths: never part of a project path.
            Ok(GitlabProject::Path(path)) if !path.split('/').any(|s| s == "-") => path,
            _ => return Err(format!("`{project}` is not a GitLab `group/project` path")),
        },
    };
    let git_ref = git_ref.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(check_ref).transpose()?;
    let sha = match sha.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(sha) if is_sha(sha) => Some(sha.to_ascii_lowercase()),
        Some(sha) => return Err(format!("`sha` `{sha}` is not a full commit sha")),
        None => None,
    };
    let subdir = match path {
        None => None,
        Some(path) => {
            if path.split('/').any(|s| s == "..") {
                return Err(format!("path `{path}` climbs out of the repository with `..`"));
            }
            let dir = join("", path).map_err(|e| format!("path `{path}` is not usable: {e}"))?;
            (!dir.is_empty()).then_some(dir)
        }
    };
    Ok(ExternalRef::Git { kind, api_base: api_base.to_string(), project, git_ref, sha, subdir })
}

/// The ref goes into API paths: refuse what `git check-ref-format` refuses, so it can never climb an API path.
fn check_ref(git_ref: &str) -> Result<String, String> {
    let bad = git_ref.contains("..")
        || git_ref.contains("//")
        || git_ref.contains("@{")
        || git_ref.starts_with('/')
        || git_ref.ends_with(['/', '.'])
        || git_ref.chars().any(|c| c.is_control() || " ~^:?*[\\;#%".contains(c));
    if bad {
        return Err(format!("`ref` `{git_ref}` is not a usable git ref"));
    }
    Ok(git_ref.to_string())
}

/// `https://host[:port]/path[.git]` (or `http://` to a loopback host) into `(host, path without .git)`.
fn parse_git_url(url: &str) -> Result<(String, String), String> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.contains('@') && url.contains(':') {
            return Err(format!("`{url}` is an ssh URL; Skillport reads repositories over HTTPS only"));
        }
        return Err(format!("`{url}` is not an https:// git URL"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme.contains("ssh") {
        return Err(format!("`{url}` is an ssh URL; Skillport reads repositories over HTTPS only"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // Never echo the URL here: it holds a password or token.
    if authority.contains('@') {
        return Err("a git URL with credentials in it is refused; configure a token for the host instead".to_string());
    }
    let host = authority.to_ascii_lowercase();
    match scheme.as_str() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(format!("`{url}` is plain http; only https:// is read (http:// for loopback hosts)")),
        other => return Err(format!("`{url}` uses {other}://; Skillport reads repositories over https:// only")),
    }
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if path.contains(['?', '#']) {
        return Err(format!("`{url}` has a query or fragment; a git URL names a repository only"));
    }
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).trim_end_matches('/');
    Ok((host, path.to_string()))
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default().to_string(),
    };
    matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

fn is_readable_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    url.strip_prefix("http://").is_some_and(|rest| is_loopback(rest.split('/').next().unwrap_or_default()))
}

fn archive(url: &str, sha256: Option<&str>) -> Result<ExternalRef, String> {
    let url = url.trim();
    let authority = url.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
    if authority.contains('@') {
        return Err("an archive URL with credentials in it is refused".to_string());
    }
    let config = HttpsConfig::new(url)
        .map_err(|_| format!("archive URL `{url}` must be https:// (http:// only for loopback hosts)"))?;
    if config.format.is_none() {
        return Err(format!("archive URL `{url}` does not end in .zip, .tar.gz or .tgz"));
    }
    let sha256 = match sha256.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(digest) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest).to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("`sha256` `{digest}` is not a sha256 digest"));
            }
            Some(format!("sha256:{hex}"))
        }
    };
    Ok(ExternalRef::Archive { url: url.to_string(), sha256 })
}

/// Reads the plugin's files, re-rooted so that its `.claude-plugin/`, `skills/`, ... sit at the top of the result.
///
/// `token_for` gets the API base and may return a credential for it: GitHub gets it as `Authorization: Bearer`,
/// GitLab too (GitLab accepts personal, project and group access tokens as Bearer tokens). Archives are fetched
/// without credentials. Requests: those of a cold marketplace load, see [`github`] and [`gitlab`]; one for an
/// archive. The tree-API fallbacks of those sources fetch only what a marketplace at the repository root needs, so
/// when a forge refuses the archive a plugin folder is usually reported missing rather than fetched file by file.
pub async fn fetch(
    r: &ExternalRef,
    client: &dyn HttpClient,
    token_for: &dyn Fn(&str) -> Option<Secret>,
    limits: &Limits,
) -> Result<FileSet, SourceError> {
    let (fetched, subdir) = match r {
        ExternalRef::Git { kind, api_base, project, git_ref, sha, subdir } => {
            let pin = sha.as_deref().or(git_ref.as_deref()).map(GitRef::new).transpose()?;
            let token = token_for(api_base);
            let fetched = match kind {
                GitKind::Github => {
                    let mut config =
                        GithubConfig::new(GithubRepo::parse(project)?).with_api_base(api_base).with_limits(*limits);
                    config.git_ref = pin;
                    config.token = token;
                    GithubSource::new(config, client).fetch(None).await?
                }
                GitKind::Gitlab => {
                    let mut config =
                        GitlabConfig::new(GitlabProject::parse(project)?).with_api_base(api_base).with_limits(*limits);
                    config.git_ref = pin;
                    config.auth = token.map(GitlabAuth::Bearer);
                    GitlabSource::new(config, client).fetch(None).await?
                }
            };
            (fetched, subdir.as_deref())
        }
        ExternalRef::Archive { url, sha256 } => {
            let mut config = HttpsConfig::new(url.clone())?.with_limits(*limits);
            if let Some(digest) = sha256 {
                config = config.with_sha256(digest.clone());
            }
            (HttpsSource::new(config, client).fetch(None).await?, None)
        }
    };
    let Fetched::Tree { files, .. } = fetched else {
        return Err(SourceError::Invalid(format!("{r}: answered `not modified` to an unconditional request")));
    };
    match subdir {
        None if files.is_empty() => Err(SourceError::NotFound(format!("{r}: no files"))),
        None => Ok(files),
        Some(dir) => {
            let mut plugin = FileSet::new();
            for (path, bytes) in files.files_under(dir) {
                plugin.insert(&path[dir.len() + 1..], bytes.to_vec())?;
            }
            if plugin.is_empty() {
                return Err(SourceError::NotFound(format!("{r}: no such folder in the repository")));
            }
            Ok(plugin)
        }
    }
}

/// Puts a fetched plugin's files where the loader looks for them: `.skillport-external/<plugin name>/...` of the
/// marketplace tree. Files already there (from an earlier fetch, or shipped by the marketplace itself) are not
/// removed; place into a fresh copy of the upstream tree.
pub fn place(marketplace: &mut FileSet, plugin_name: &str, plugin: &FileSet) -> Result<(), SourceError> {
    let folder = external_folder(plugin_name)
        .ok_or_else(|| SourceError::Invalid(format!("plugin name `{plugin_name}` cannot name a folder")))?;
    for (path, bytes) in plugin.iter() {
        marketplace.insert(&format!("{folder}/{path}"), bytes.to_vec())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
