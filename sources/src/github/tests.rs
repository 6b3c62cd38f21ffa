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
        (HttpResponse::new(503).with_body("upstream busy"), |e| matches!(e, SourceError::Upstream { status: 503, .. })),
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
    let mut tree =
        vec![serde_json::json!({"path": "README.md", "mode": "100644", "type": "blob", "sha": "readme", "size": 5})];
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
    client.on_get(&format!("{API}/git/trees/{SHA}?recursive=1"), HttpResponse::new(200).with_body(listing.to_string()));
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
