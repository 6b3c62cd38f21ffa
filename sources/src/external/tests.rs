use super::*;
use crate::archive::tests::{gzip, zip_of};
use crate::files::sha256_digest;
use crate::load::{load_marketplace, load_marketplace_with, PluginStatus};
use crate::tree::MARKETPLACE_FILE;
use serde_json::{json, Value};
use skillport_http::{block_on_ready, CannedClient, CountingClient, HttpResponse};

const SHA: &str = "30287f5e3f122a646d1ac5ca3ab96e130c52a3ad";
const OFFICIAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/real-marketplaces/claude-plugins-official.marketplace.json"
);

fn source(value: Value) -> PluginSource {
    serde_json::from_value(value).unwrap()
}

fn resolved(value: Value) -> Result<ExternalRef, String> {
    resolve(&source(value), &Hosts::default())
}

#[test]
fn every_git_form_resolves_against_the_default_hosts() {
    let github = resolved(json!({"source": "github", "repo": "owner/repo", "ref": "v1", "sha": SHA.to_uppercase(),
            "path": "./plugins/x/"}))
    .unwrap();
    assert_eq!(
        github,
        ExternalRef::Git {
            kind: GitKind::Github,
            api_base: "https://api.github.com".into(),
            project: "owner/repo".into(),
            git_ref: Some("v1".into()),
            sha: Some(SHA.into()),
            subdir: Some("plugins/x".into()),
        }
    );
    assert_eq!(github.key(), format!("github:owner/repo@{SHA}:plugins/x"));
    assert!(github.is_immutable());

    let url = resolved(json!({"source": "url", "url": "https://GitHub.com/owner/repo.git"})).unwrap();
    let ExternalRef::Git { kind, ref project, ref subdir, .. } = url else { panic!() };
    assert_eq!((kind, project.as_str(), subdir), (GitKind::Github, "owner/repo", &None));
    assert_eq!(url.key(), "github:owner/repo@HEAD:");
    assert!(!url.is_immutable());

    let lab = resolved(json!({"source": "git-subdir", "url": "https://gitlab.com/group/sub/project.git",
            "path": "plugins/x", "ref": "main"}))
    .unwrap();
    assert_eq!(
        lab,
        ExternalRef::Git {
            kind: GitKind::Gitlab,
            api_base: "https://gitlab.com/api/v4".into(),
            project: "group/sub/project".into(),
            git_ref: Some("main".into()),
            sha: None,
            subdir: Some("plugins/x".into()),
        }
    );
    assert_eq!(lab.key(), "gitlab:group/sub/project@main:plugins/x");
    assert_eq!(lab.to_string(), "GitLab project group/sub/project at main, folder plugins/x");
    // A path naming the repository root is no subdir at all.
    let root = resolved(json!({"source": "git-subdir", "url": "https://github.com/o/r", "path": "./"})).unwrap();
    assert!(matches!(root, ExternalRef::Git { subdir: None, .. }));
}

#[test]
fn configured_hosts_and_loopback_stand_ins() {
    let mut hosts = Hosts::default();
    hosts.add_github("GHE.corp.example", "https://ghe.corp.example/api/v3/").unwrap();
    hosts.add_gitlab("127.0.0.1:8080", "http://127.0.0.1:8080/api/v4").unwrap();
    let ghe = resolve(
        &source(json!({"source": "url", "url": "https://ghe.corp.example/team/tools.git", "sha": SHA})),
        &hosts,
    )
    .unwrap();
    assert_eq!(ghe.key(), format!("github:https://ghe.corp.example/api/v3|team/tools@{SHA}:"));
    let local =
        resolve(&source(json!({"source": "git-subdir", "url": "http://127.0.0.1:8080/g/p.git", "path": "x"})), &hosts)
            .unwrap();
    assert!(matches!(local, ExternalRef::Git { kind: GitKind::Gitlab, ref api_base, .. }
            if api_base == "http://127.0.0.1:8080/api/v4"));
    // Plain http is for loopback only, in configuration as in URLs.
    assert!(hosts.add_github("ghe2.example", "http://ghe2.example/api/v3").is_err());
    assert!(hosts.add_github("bad/host", "https://x").is_err());
    let err = resolve(&source(json!({"source": "url", "url": "http://ghe.corp.example/team/tools.git"})), &hosts)
        .unwrap_err();
    assert!(err.contains("plain http"), "{err}");
    // Without github.com, even `github` sources are refused.
    let err = resolve(&source(json!({"source": "github", "repo": "o/r"})), &Hosts::none()).unwrap_err();
    assert_eq!(err, "host github.com is not a GitHub or GitLab host this Skillport is configured to read");
}

#[test]
fn refusals_name_the_reason() {
    for (value, expected) in [
        (
            json!({"source": "url", "url": "https://example.org/o/r.git"}),
            "host example.org is not a GitHub or GitLab host this Skillport is configured to read",
        ),
        (json!({"source": "url", "url": "git@github.com:o/r.git"}), "is an ssh URL"),
        (json!({"source": "url", "url": "ssh://git@github.com/o/r.git"}), "is an ssh URL"),
        (json!({"source": "url", "url": "git://github.com/o/r.git"}), "uses git://"),
        (json!({"source": "url", "url": "http://github.com/o/r.git"}), "plain http"),
        (json!({"source": "url", "url": "https://github.com/o/r/c.git"}), "not a GitHub `owner/repo`"),
        (json!({"source": "url", "url": "https://gitlab.com/g/p/-/tree/main"}), "not a GitLab `group/project`"),
        (json!({"source": "url", "url": "https://github.com/o/r.git", "sha": "abc"}), "not a full commit sha"),
        (json!({"source": "url", "url": "https://github.com/o/r.git", "ref": "../../x"}), "not a usable git ref"),
        (json!({"source": "git-subdir", "url": "https://github.com/o/r.git", "path": "../x"}), "climbs out"),
        (json!({"source": "git-subdir", "url": "https://github.com/o/r.git", "path": "a/../../x"}), "climbs out"),
        (json!({"source": "git-subdir", "url": "https://github.com/o/r.git", "path": "/etc"}), "absolute"),
        (json!({"source": "github", "repo": "o/r", "path": "p/../../.."}), "climbs out"),
        (json!({"source": "npm", "package": "@a/b"}), "npm packages cannot be fetched or run on Cloudflare Workers"),
        (json!({"source": "pip", "package": "x"}), "pip packages cannot be fetched or run on Cloudflare Workers"),
        (json!({"source": "archive", "url": "http://example.org/x.zip"}), "must be https://"),
        (json!({"source": "archive", "url": "https://example.org/x"}), "does not end in .zip"),
        (json!({"source": "archive", "url": "https://example.org/x.zip", "sha256": "nope"}), "not a sha256 digest"),
        (json!({"source": "svn", "url": "svn://x"}), "plugin source kind `svn` is not supported"),
        (json!("./plugins/x"), "is a folder of the marketplace"),
    ] {
        let err = resolved(value.clone()).unwrap_err();
        assert!(err.contains(expected), "{value}: {err}");
    }
    let err = resolved(json!({"source": "url", "url": "https://user:hunter2@github.com/o/r.git"})).unwrap_err();
    assert!(err.contains("credentials") && !err.contains("hunter2"), "{err}");
}

#[test]
fn archives_resolve_with_a_normalised_digest() {
    let hex = "AB".repeat(32);
    let pinned = resolved(json!({"source": "archive", "url": "https://example.org/p.tar.gz", "sha256": hex})).unwrap();
    let expected = format!("sha256:{}", "ab".repeat(32));
    assert_eq!(pinned, ExternalRef::Archive { url: "https://example.org/p.tar.gz".into(), sha256: Some(expected) });
    assert!(pinned.is_immutable());
    assert_eq!(pinned.key(), format!("archive:https://example.org/p.tar.gz#sha256:{}", "ab".repeat(32)));
    let loose = resolved(json!({"source": "archive", "url": "https://example.org/p.zip"})).unwrap();
    assert!(!loose.is_immutable());
    assert_eq!(loose.key(), "archive:https://example.org/p.zip");
}

#[test]
fn every_external_entry_of_the_official_marketplace_resolves() {
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(OFFICIAL)
            .unwrap_or_else(|e| panic!("{OFFICIAL}: {e} (the shared fixtures sit beside the repository)")),
    )
    .unwrap();
    let (mut urls, mut subdirs, mut other_hosts) = (0, 0, Vec::new());
    let (mut keys, mut distinct) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for entry in manifest["plugins"].as_array().unwrap() {
        let source: PluginSource = serde_json::from_value(entry["source"].clone()).unwrap();
        let url = match &source {
            PluginSource::Url { url, .. } => {
                urls += 1;
                url
            }
            PluginSource::GitSubdir { url, .. } => {
                subdirs += 1;
                url
            }
            _ => continue,
        };
        distinct.insert(entry["source"].to_string());
        let host = parse_git_url(url).unwrap().0;
        let result = resolve(&source, &Hosts::default());
        if host == "github.com" || host == "gitlab.com" {
            let r = result.unwrap_or_else(|e| panic!("{}: {e}", entry["name"]));
            assert!(r.is_immutable(), "{}: every official entry is pinned by sha", entry["name"]);
            if let (PluginSource::GitSubdir { .. }, ExternalRef::Git { subdir, .. }) = (&source, &r) {
                assert!(subdir.is_some(), "{}", entry["name"]);
            }
            keys.insert(r.key());
        } else {
            assert_eq!(result.unwrap_err(), unknown_host(&host));
            other_hosts.push(host);
        }
    }
    assert_eq!((urls, subdirs), (150, 83));
    // Today every external entry of the official marketplace is on github.com.
    assert_eq!(other_hosts, Vec::<String>::new());
    // Several plugins share one source (astronomer/agents backs three): one key, so one fetch, for each source.
    assert_eq!((keys.len(), distinct.len()), (228, 228));
}

/// A repository tarball as GitHub and GitLab lay it out, built with the `tar` crate (long names included).
fn plugin_tarball(prefix: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in [
        ("README.md", "repo readme"),
        ("plugins/x/.claude-plugin/plugin.json", r#"{"name": "x"}"#),
        ("plugins/x/skills/s/SKILL.md", "---\nname: s\ndescription: S.\n---\n"),
        ("plugins/xy/skills/t/SKILL.md", "---\nname: t\ndescription: T.\n---\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, format!("{prefix}/{path}"), content.as_bytes()).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

#[test]
fn github_subdir_is_two_requests_and_re_rooted() {
    let api = "https://api.github.com/repos/owner/repo";
    let client = CannedClient::new();
    client.on_get(&format!("{api}/commits/{SHA}"), HttpResponse::new(200).with_body(SHA));
    client.on_get(
        &format!("{api}/tarball/{SHA}"),
        HttpResponse::new(200).with_body(plugin_tarball(&format!("owner-repo-{}", &SHA[..7]))),
    );
    let counting = CountingClient::new(&client);
    let r = resolved(json!({"source": "git-subdir", "url": "https://github.com/owner/repo.git",
            "path": "plugins/x", "ref": "v1", "sha": SHA}))
    .unwrap();
    let token_for = |api_base: &str| (api_base == "https://api.github.com").then(|| Secret::new("ghp_t"));
    let files = block_on_ready(fetch(&r, &counting, &token_for, &Limits::default())).unwrap();
    assert_eq!(counting.count(), 2);
    let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(paths, [".claude-plugin/plugin.json", "skills/s/SKILL.md"]);
    assert!(client.requests().iter().all(|r| r.header_value("authorization") == Some("Bearer ghp_t")));

    // The same repository without a subdir is the whole tree; a missing folder is NotFound.
    let whole = resolved(json!({"source": "url", "url": "https://github.com/owner/repo.git", "sha": SHA})).unwrap();
    let files = block_on_ready(fetch(&whole, &client, &|_| None, &Limits::default())).unwrap();
    assert!(files.contains("README.md") && files.contains("plugins/xy/skills/t/SKILL.md"));
    let gone = resolved(json!({"source": "git-subdir", "url": "https://github.com/owner/repo.git",
            "path": "plugins/nope", "sha": SHA}))
    .unwrap();
    let err = block_on_ready(fetch(&gone, &client, &|_| None, &Limits::default())).unwrap_err();
    assert!(matches!(err, SourceError::NotFound(ref m) if m.contains("folder plugins/nope")), "{err}");
}

#[test]
fn gitlab_subdir_by_ref() {
    let api = "https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject";
    let client = CannedClient::new();
    client.on_get(
        &format!("{api}/repository/commits/main"),
        HttpResponse::new(200).with_body(format!(r#"{{"id":"{SHA}"}}"#)),
    );
    client.on_get(
        &format!("{api}/repository/archive.tar.gz?sha={SHA}"),
        HttpResponse::new(200).with_body(plugin_tarball(&format!("project-{SHA}-{SHA}"))),
    );
    let r = resolved(json!({"source": "git-subdir", "url": "https://gitlab.com/group/sub/project.git",
            "path": "plugins/x", "ref": "main"}))
    .unwrap();
    let files = block_on_ready(fetch(&r, &client, &|_| Some(Secret::new("glpat")), &Limits::default())).unwrap();
    assert_eq!(files.len(), 2);
    assert!(files.contains("skills/s/SKILL.md"));
    assert_eq!(client.requests().len(), 2);
    assert_eq!(client.requests()[0].header_value("authorization"), Some("Bearer glpat"));
}

#[test]
fn archives_are_checked_against_their_sha256() {
    let zip = zip_of(&[
        ("x/.claude-plugin/plugin.json", &br#"{"name": "x"}"#[..]),
        ("x/skills/s/SKILL.md", &b"---\nname: s\ndescription: S.\n---\n"[..]),
    ]);
    let client = CannedClient::new();
    client.on_get("https://example.org/x.zip", HttpResponse::new(200).with_body(zip.clone()));
    let pinned = json!({"source": "archive", "url": "https://example.org/x.zip", "sha256": sha256_digest(&zip)});
    let files = block_on_ready(fetch(&resolved(pinned).unwrap(), &client, &|_| None, &Limits::default())).unwrap();
    let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(paths, [".claude-plugin/plugin.json", "skills/s/SKILL.md"]);
    let wrong = json!({"source": "archive", "url": "https://example.org/x.zip", "sha256": "0".repeat(64)});
    let err = block_on_ready(fetch(&resolved(wrong).unwrap(), &client, &|_| None, &Limits::default()));
    assert!(matches!(err, Err(SourceError::Integrity { .. })), "{err:?}");
}

#[test]
fn fetched_plugin_placed_in_the_tree_is_servable() {
    let r = resolved(json!({"source": "git-subdir", "url": "https://github.com/owner/repo.git",
            "path": "plugins/x", "sha": SHA}))
    .unwrap();
    let client = CannedClient::new();
    client.on_get(
        &format!("https://api.github.com/repos/owner/repo/commits/{SHA}"),
        HttpResponse::new(200).with_body(SHA),
    );
    client.on_get(
        &format!("https://api.github.com/repos/owner/repo/tarball/{SHA}"),
        HttpResponse::new(200).with_body(plugin_tarball("owner-repo-3028")),
    );
    let plugin = block_on_ready(fetch(&r, &client, &|_| None, &Limits::default())).unwrap();
    let marketplace = json!({"name": "m", "plugins": [
        {"name": "x", "source": {"source": "git-subdir", "url": "https://github.com/owner/repo.git",
            "path": "plugins/x", "sha": SHA}},
        {"name": "elsewhere", "source": {"source": "url", "url": "https://example.org/o/r.git"}},
    ]});
    let mut files = FileSet::new();
    files.insert(MARKETPLACE_FILE, serde_json::to_vec(&marketplace).unwrap()).unwrap();
    let before = load_marketplace(&files).unwrap();
    assert!(before.plugins[0].status.reason().unwrap().contains("has not been fetched yet"));
    place(&mut files, "x", &plugin).unwrap();
    assert!(place(&mut files, "../x", &plugin).is_err());
    let loaded = load_marketplace_with(&files, &Hosts::default()).unwrap();
    let x = &loaded.plugins[0];
    assert_eq!(x.status, PluginStatus::Servable);
    assert_eq!(x.skills[0].dir, ".skillport-external/x/skills/s");
    assert!(loaded.plugins[1].status.reason().unwrap().contains("host example.org is not a GitHub or GitLab"));
}
