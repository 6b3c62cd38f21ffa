//! The one place a configured marketplace becomes a [`MarketplaceSource`], as object_store's `parse.rs` turns a URL
//! into a store.
//!
//! This crate cannot see the Worker's configuration, so a configuration entry is first written as a [`SourceSpec`]
//! (kind, location, API base, ref, token, limits); the files of bundled marketplaces, embedded into the Worker at
//! build time, come in through a lookup. Adding a source kind is a [`SourceKind`] variant and one arm here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::archive::Limits;
use crate::bundled::BundledSource;
use crate::files::FileSet;
use crate::git::GitRef;
use crate::github::{GithubConfig, GithubRepo, GithubSource};
use crate::gitlab::{GitlabAuth, GitlabConfig, GitlabProject, GitlabSource};
use crate::https::{HttpsConfig, HttpsSource};
use crate::MarketplaceSource;
use skillport_http::{HttpClient, Secret};

/// Where a marketplace is read from: the configuration's `kind` (same serde form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Github,
    Gitlab,
    Https,
    /// Embedded into the Worker at build time from `examples/<location>`.
    Bundled,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [SourceKind::Github, SourceKind::Gitlab, SourceKind::Https, SourceKind::Bundled];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Github => "github",
            SourceKind::Gitlab => "gitlab",
            SourceKind::Https => "https",
            SourceKind::Bundled => "bundled",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Git hosts have refs, tokens and self-hosted API bases; the other kinds have none of these.
    pub fn is_git_host(self) -> bool {
        matches!(self, SourceKind::Github | SourceKind::Gitlab)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configured marketplace, as much of it as choosing and building its source needs.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub kind: SourceKind,
    /// `owner/repo` (github), `group/project` or a numeric id (gitlab), a URL (https), a folder name (bundled).
    pub location: String,
    /// GitHub Enterprise Server or self-managed GitLab API base; github and gitlab only.
    pub api_base: Option<String>,
    /// Branch, tag or commit; github and gitlab only.
    pub git_ref: Option<String>,
    /// GitHub: `Authorization: Bearer`; GitLab: `PRIVATE-TOKEN`; HTTPS: `Authorization: Bearer` on every request.
    pub token: Option<Secret>,
    pub limits: Limits,
}

/// The source for `spec`. `bundled` finds the embedded files of a bundled marketplace by its location. The error is
/// meant for a status page as is (it names the location, never a credential).
pub fn source_for<'c>(
    spec: &SourceSpec,
    client: &'c dyn HttpClient,
    bundled: &dyn Fn(&str) -> Option<FileSet>,
) -> Result<Box<dyn MarketplaceSource + 'c>, String> {
    let limits = spec.limits;
    let git_ref = spec.git_ref.as_ref().map(|r| GitRef::new(r.clone())).transpose().map_err(|e| e.to_string());
    let token = spec.token.clone();
    Ok(match spec.kind {
        SourceKind::Bundled => {
            let files = bundled(&spec.location)
                .ok_or_else(|| format!("no bundled marketplace `{}` is embedded in this build", spec.location))?;
            Box::new(BundledSource::new(files))
        }
        SourceKind::Github => {
            let mut c =
                GithubConfig::new(GithubRepo::parse(&spec.location).map_err(|e| e.to_string())?).with_limits(limits);
            if let Some(base) = &spec.api_base {
                c = c.with_api_base(base);
            }
            if let Some(r) = git_ref? {
                c = c.with_ref(r);
            }
            if let Some(t) = token {
                c = c.with_token(t);
            }
            Box::new(GithubSource::new(c, client))
        }
        SourceKind::Gitlab => {
            let mut c =
                GitlabConfig::new(GitlabProject::parse(&spec.location).map_err(|e| e.to_string())?).with_limits(limits);
            if let Some(base) = &spec.api_base {
                c = c.with_api_base(base);
            }
            if let Some(r) = git_ref? {
                c = c.with_ref(r);
            }
            if let Some(t) = token {
                c = c.with_auth(GitlabAuth::PrivateToken(t));
            }
            Box::new(GitlabSource::new(c, client))
        }
        SourceKind::Https => {
            let mut c = HttpsConfig::new(spec.location.clone()).map_err(|e| e.to_string())?.with_limits(limits);
            if let Some(t) = token {
                c = c.with_header("authorization", Secret::new(format!("Bearer {}", t.expose())));
            }
            Box::new(HttpsSource::new(c, client))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillport_http::CannedClient;

    fn spec(kind: SourceKind, location: &str) -> SourceSpec {
        SourceSpec {
            kind,
            location: location.to_string(),
            api_base: None,
            git_ref: None,
            token: None,
            limits: Limits::default(),
        }
    }

    #[test]
    fn kinds_are_written_as_in_the_configuration() {
        for kind in SourceKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(serde_json::from_value::<SourceKind>(kind.as_str().into()).unwrap(), kind);
            assert_eq!(SourceKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(SourceKind::parse("svn"), None);
        assert!(SourceKind::Github.is_git_host() && SourceKind::Gitlab.is_git_host());
        assert!(!SourceKind::Https.is_git_host() && !SourceKind::Bundled.is_git_host());
    }

    #[test]
    fn each_kind_gets_its_source() {
        let client = CannedClient::new();
        let none = |_: &str| None;
        for (kind, location) in [
            (SourceKind::Github, "acme/market"),
            (SourceKind::Gitlab, "group/market"),
            (SourceKind::Https, "https://cdn.example/m.zip"),
        ] {
            assert_eq!(source_for(&spec(kind, location), &client, &none).unwrap().kind(), kind.as_str());
        }
        let bundled = |name: &str| (name == "marketplace").then(FileSet::new);
        let source = source_for(&spec(SourceKind::Bundled, "marketplace"), &client, &bundled).unwrap();
        assert_eq!(source.kind(), "bundled");
    }

    #[test]
    fn a_spec_that_names_no_source_says_why() {
        let client = CannedClient::new();
        let none = |_: &str| None;
        let error = |spec: SourceSpec| source_for(&spec, &client, &none).err().unwrap();
        assert_eq!(error(spec(SourceKind::Bundled, "gone")), "no bundled marketplace `gone` is embedded in this build");
        assert!(error(spec(SourceKind::Github, "not a repo")).contains("not a repo"));
        let bad_ref = SourceSpec { git_ref: Some("a b".into()), ..spec(SourceKind::Github, "acme/market") };
        assert!(error(bad_ref).contains("is not a usable git ref"));
        assert!(error(spec(SourceKind::Https, "ftp://x")).contains("ftp://x"));
    }
}
