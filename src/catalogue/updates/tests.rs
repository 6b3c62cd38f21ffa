//! `check_updates` against the example catalogue and hand-made ones: every status and reason, and how names resolve.

use super::*;
use crate::catalogue::{Catalogue, MarketplaceEntry};
use serde_json::json;
use skillport_sources::{load_marketplace, FileSet};
use std::collections::BTreeMap;

fn example() -> Catalogue {
    crate::testing::block_on(crate::App::from_env(&BTreeMap::new())).catalogue
}

fn two_marketplaces() -> Catalogue {
    let env = BTreeMap::from([(
        "SKILLPORT_MARKETPLACES".to_string(),
        r#"[{id="a",kind="bundled",location="marketplace"},{id="b",kind="bundled",location="marketplace"}]"#
            .to_string(),
    )]);
    let app = crate::testing::block_on(crate::App::from_env(&env));
    assert!(app.config.is_ok(), "{:?}", app.config.err());
    app.catalogue
}

/// A one-marketplace catalogue `m` from a manifest and files, plus one marketplace `down` that failed to load.
fn custom(plugins: serde_json::Value, files: &[(&str, &str)]) -> Catalogue {
    let mut set = FileSet::new();
    set.insert(".claude-plugin/marketplace.json", json!({"name": "m", "plugins": plugins}).to_string().into_bytes())
        .unwrap();
    for (path, text) in files {
        set.insert(path, text.as_bytes().to_vec()).unwrap();
    }
    let loaded = load_marketplace(&set).map_err(|e| e.to_string());
    Catalogue {
        marketplaces: vec![
            MarketplaceEntry {
                id: "m".parse().unwrap(),
                kind: crate::config::SourceKind::Bundled.into(),
                revision: Some(set.digest()),
                loaded,
                files: set,
                external_failures: Default::default(),
                fetched_at: Some(0),
                error: None,
                refresh: Default::default(),
                cache: Default::default(),
            },
            MarketplaceEntry {
                id: "down".parse().unwrap(),
                kind: crate::config::SourceKind::Github.into(),
                revision: None,
                loaded: Err("HTTP 503".into()),
                files: FileSet::new(),
                external_failures: Default::default(),
                fetched_at: None,
                error: Some("HTTP 503".into()),
                refresh: Default::default(),
                cache: Default::default(),
            },
        ],
    }
}

fn item(name: &str, version: Option<&str>, digest: Option<&str>) -> Installed {
    Installed { name: name.into(), version: version.map(Into::into), digest: digest.map(Into::into) }
}

fn one(catalogue: &Catalogue, name: &str, version: Option<&str>, digest: Option<&str>) -> UpdateResult {
    check(catalogue.unfiltered(), &[item(name, version, digest)]).remove(0)
}

#[test]
fn semver_precedence() {
    assert_eq!(semver_newer("1.0.0-beta.2", "1.0.0"), Some(true));
    assert_eq!(semver_newer("1.0.0", "1.0.0-beta.2"), Some(false));
    assert_eq!(semver_newer("1.9.0", "1.10.0"), Some(true));
    assert_eq!(semver_newer("1.10.0", "1.9.0"), Some(false));
    assert_eq!(semver_newer("1.0.0-beta.2", "1.0.0-beta.11"), Some(true));
    assert_eq!(semver_newer("1.0.0-alpha", "1.0.0-beta"), Some(true));
    assert_eq!(semver_newer("1.2.0", "1.2.0"), Some(false));
    assert_eq!(semver_newer("1.2.0+build.1", "1.2.0+build.2"), Some(false), "build metadata is not precedence");
    assert_eq!(semver_newer("v1.2", "1.2.1"), Some(true));
    assert_eq!(semver_newer("2", "10.0.0"), Some(true));
    assert_eq!(semver_newer("nightly-42", "1.0.0"), None);
    assert_eq!(semver_newer("1.0.0", "2024-01-01"), None);
    assert_eq!(semver_newer("1.0.0.0", "1.0.1"), None);
    assert_eq!(version_change("nightly-42", "nightly-43"), Change::Different);
    assert_eq!(version_change("nightly-42", "nightly-42"), Change::Same);
    assert_eq!(version_change("v1.2.0", "1.2.0"), Change::Same);
    assert_eq!(version_change("abc1234", "abc1234def5678"), Change::Same);
}

#[test]
fn same_version_is_up_to_date_and_newer_is_an_update() {
    let cat = example();
    let r = one(&cat, "writing-tools@example", Some("1.2.0"), None);
    assert_eq!((r.status, r.reason), (Status::UpToDate, None));
    assert_eq!(r.latest_version.as_deref(), Some("1.2.0"));
    assert_eq!(r.qualified_name.as_deref(), Some("writing-tools@example"));

    for old in ["1.1.9", "1.2.0-rc.1", "0.9"] {
        let r = one(&cat, "writing-tools", Some(old), None);
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)), "{old}");
        assert_eq!(r.installed_version.as_deref(), Some(old));
        assert_eq!(r.latest_version.as_deref(), Some("1.2.0"));
    }
    // The catalogue went back: still a change the user should hear about.
    let r = one(&cat, "brand-kit@example", Some("0.4.0"), None);
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
    assert!(r.detail.contains("rolled back"), "{}", r.detail);
}

#[test]
fn digest_only_change_is_a_content_update() {
    let cat = example();
    let digest = cat.unfiltered().find("writing-tools@example").unwrap().plugin.digest();
    let r = one(&cat, "writing-tools@example", Some("1.2.0"), Some("sha256:0000"));
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
    assert_eq!(r.latest_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(r.installed_digest.as_deref(), Some("sha256:0000"));
    let r = one(&cat, "writing-tools@example", Some("1.2.0"), Some(&digest));
    assert_eq!(r.status, Status::UpToDate);
    // Digest alone, no version.
    assert_eq!(one(&cat, "writing-tools@example", None, Some(&digest)).status, Status::UpToDate);
    let r = one(&cat, "writing-tools@example", None, Some("sha256:0000"));
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
}

#[test]
fn without_a_declared_version_the_revision_and_digest_decide() {
    let cat = example();
    let p = cat.unfiltered().find("repo-tools@example").unwrap();
    let (revision, source) = catalogue_version(&p).unwrap();
    assert_eq!(source, VersionSource::Revision);
    assert_eq!(Some(revision), p.marketplace.revision.as_deref());
    let digest = p.plugin.digest();

    let r = one(&cat, "repo-tools@example", Some(revision), None);
    assert_eq!(r.status, Status::UpToDate);
    assert_eq!(r.latest_version.as_deref(), Some(revision));
    // Another revision, no digest: Claude Code's own view, the plugin moved with the marketplace.
    let r = one(&cat, "repo-tools@example", Some("0123456789abcdef0123456789abcdef01234567"), None);
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
    // Another revision, same digest: only other plugins changed.
    let r = one(&cat, "repo-tools@example", Some("0123456789abcdef0123456789abcdef01234567"), Some(&digest));
    assert_eq!(r.status, Status::UpToDate);
    // A version the catalogue does not declare: the digest decides, and without one nothing can be said.
    assert_eq!(one(&cat, "repo-tools@example", Some("1.0.0"), Some(&digest)).status, Status::UpToDate);
    let r = one(&cat, "repo-tools@example", Some("1.0.0"), Some("sha256:0000"));
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
    let r = one(&cat, "repo-tools@example", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::NothingToCompare)));
    let r = one(&cat, "repo-tools@example", None, None);
    assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::NothingToCompare)));
}

#[test]
fn non_semver_versions_compare_as_strings() {
    let cat = custom(
        json!([{"name": "p", "source": "./p", "version": "nightly-43"}]),
        &[("p/skills/s/SKILL.md", "---\nname: s\ndescription: d\n---\n")],
    );
    let r = one(&cat, "p@m", Some("nightly-42"), None);
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
    assert_eq!(one(&cat, "p@m", Some("nightly-43"), None).status, Status::UpToDate);
    let r = one(&cat, "p@m", Some("nightly-43"), Some("sha256:0000"));
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
}

#[test]
fn skills_compare_their_own_digest() {
    let cat = example();
    let p = cat.unfiltered().find("brand-kit@example").unwrap();
    let skill_digest = p.plugin.skills[0].digest.clone();
    for name in ["brand-kit@example/brand-voice", "brand-kit/brand-voice", "brand-voice"] {
        let r = one(&cat, name, None, Some(&skill_digest));
        assert_eq!(r.status, Status::UpToDate, "{name}");
        assert_eq!(r.qualified_name.as_deref(), Some("brand-kit@example/brand-voice"));
        assert_eq!(r.latest_digest.as_deref(), Some(skill_digest.as_str()));
        assert_eq!(r.latest_version.as_deref(), Some("0.3.1"));
    }
    let r = one(&cat, "brand-kit@example/brand-voice", Some("0.3.1"), Some("sha256:0000"));
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
    let r = one(&cat, "brand-kit@example/gone", None, Some(&skill_digest));
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::SkillNotInPlugin)));
    assert_eq!(r.qualified_name.as_deref(), Some("brand-kit@example/gone"));
}

#[test]
fn removed_says_why() {
    let cat = custom(
        json!([
            {"name": "ok", "source": "./ok"},
            {"name": "remote", "source": {"source": "github", "repo": "x/y"}},
        ]),
        &[("ok/skills/s/SKILL.md", "---\nname: s\ndescription: d\n---\n")],
    );
    let r = one(&cat, "gone@m", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
    assert_eq!((r.latest_version, r.latest_digest), (None, None));
    let r = one(&cat, "ok@elsewhere", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::MarketplaceNotConfigured)));
    let r = one(&cat, "remote@m", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotServable)));
    assert!(r.detail.contains("outside this marketplace"), "{}", r.detail);
    // A marketplace that is down says nothing about removal.
    let r = one(&cat, "x@down", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::MarketplaceUnavailable)));
    let r = one(&cat, "gone", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::MarketplaceUnavailable)));

    let r = one(&example(), "gone", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
    let r = one(&example(), "gone@example", None, None);
    assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
}

#[test]
fn bare_names_in_two_marketplaces_are_ambiguous() {
    let cat = two_marketplaces();
    let r = one(&cat, "writing-tools", Some("1.0.0"), None);
    assert_eq!(r.status, Status::Ambiguous);
    assert_eq!(r.candidates, ["writing-tools@a", "writing-tools@b"]);
    let r = one(&cat, "brand-voice", None, Some("sha256:0000"));
    assert_eq!(r.status, Status::Ambiguous);
    assert_eq!(r.candidates, ["brand-kit@a/brand-voice", "brand-kit@b/brand-voice"]);
    let r = one(&cat, "brand-kit/brand-voice", None, None);
    assert_eq!(r.candidates, ["brand-kit@a", "brand-kit@b"]);
    // Qualified, the same names resolve.
    let r = one(&cat, "writing-tools@b", Some("1.0.0"), None);
    assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
}

#[test]
fn results_serialise_for_structured_content() {
    let cat = example();
    let results = check(
        cat.unfiltered(),
        &[
            item("writing-tools@example", Some("1.1.0"), None),
            item("gone@example", None, None),
            serde_json::from_value(json!({"name": "brand-kit", "version": "0.3.1"})).unwrap(),
        ],
    );
    let v = serde_json::to_value(&results).unwrap();
    assert_eq!(v[0]["name"], "writing-tools@example");
    assert_eq!(v[0]["status"], "update_available");
    assert_eq!(v[0]["reason"], "version");
    assert_eq!(v[0]["installedVersion"], "1.1.0");
    assert_eq!(v[0]["latestVersion"], "1.2.0");
    assert_eq!(v[0]["installedDigest"], serde_json::Value::Null);
    assert!(v[0]["latestDigest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v[0].get("candidates").is_none());
    assert_eq!(v[1]["status"], "removed");
    assert_eq!(v[1]["reason"], "not_in_catalogue");
    assert_eq!(v[2]["status"], "up_to_date");
    assert_eq!(v[2]["qualifiedName"], "brand-kit@example");
    assert!(v[2].get("reason").is_none());
}
