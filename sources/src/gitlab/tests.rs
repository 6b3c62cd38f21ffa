use super::*;
use crate::conformance::same_marketplace;
use crate::conformance::{self, Setup};
use crate::testutil::{example_files, example_tarball};
use skillport_http::{block_on_ready, CannedClient, CountingClient};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const API: &str = "https://gitlab.com/api/v4/projects/group%2Fsub%2Fmarket";

fn config() -> GitlabConfig {
    GitlabConfig::new(GitlabProject::parse("group/sub/market").unwrap())
}

fn commits(client: &CannedClient, git_ref: &str, etag: &'static str) {
    client.route("GET", &format!("{API}/repository/commits/{git_ref}"), move |req| {
        if req.header_value("if-none-match") == Some(etag) {
            return Ok(HttpResponse::new(304));
        }
        Ok(HttpResponse::new(200)
            .with_header("etag", etag)
            .with_body(format!(r#"{{"id":"{SHA}","short_id":"0123456"}}"#)))
    });
}

#[test]
fn behaves_as_every_source_must() {
    let client = CannedClient::new();
    client.on_get(API, HttpResponse::new(200).with_body(r#"{"id":7,"default_branch":"trunk"}"#));
    commits(&client, "trunk", "W/\"c1\"");
    client.on_get(
        &format!("{API}/repository/archive.tar.gz?sha={SHA}"),
        HttpResponse::new(200).with_body(example_tarball(&format!("market-{SHA}-{SHA}"))),
    );
    let setup = Setup::new(client, example_files(), Some("glpat-topsecret"), |client| {
        let auth = GitlabAuth::PrivateToken(Secret::new("glpat-topsecret"));
        Box::new(GitlabSource::new(config().with_auth(auth), client))
    });
    conformance::run_all(&setup, 3);
}

#[test]
fn default_branch_cold_load_then_one_request_refresh() {
    let client = CannedClient::new();
    client.on_get(API, HttpResponse::new(200).with_body(r#"{"id":7,"default_branch":"trunk"}"#));
    commits(&client, "trunk", "W/\"c1\"");
    client.on_get(
        &format!("{API}/repository/archive.tar.gz?sha={SHA}"),
        HttpResponse::new(200).with_body(example_tarball(&format!("market-{SHA}-{SHA}"))),
    );
    let counting = CountingClient::new(&client);
    let gitlab =
        GitlabSource::new(config().with_auth(GitlabAuth::PrivateToken(Secret::new("glpat-secret"))), &counting);
    let Fetched::Tree { revision, files } = block_on_ready(gitlab.fetch(None)).unwrap() else { panic!() };
    assert_eq!(counting.reset(), 3);
    assert_eq!(revision, format!("{SHA};e=W/\"c1\";r=trunk"));
    same_marketplace(&files, &example_files());
    assert!(client.requests().iter().all(|r| r.header_value("private-token") == Some("glpat-secret")));
    assert!(client.requests().iter().all(|r| r.header_value("authorization").is_none()));

    client.clear_requests();
    assert_eq!(block_on_ready(gitlab.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
    assert_eq!(counting.count(), 1);
    assert_eq!(client.requests()[0].header_value("if-none-match"), Some("W/\"c1\""));
    assert_eq!(client.urls(), [format!("{API}/repository/commits/trunk")]);
}

#[test]
fn renamed_default_branch_is_looked_up_again() {
    let client = CannedClient::new();
    client.on_get(API, HttpResponse::new(200).with_body(r#"{"default_branch":"main"}"#));
    commits(&client, "main", "\"c\"");
    let gitlab = GitlabSource::new(config(), &client);
    let since = format!("{SHA};r=master");
    assert_eq!(block_on_ready(gitlab.fetch(Some(&since))).unwrap(), Fetched::NotModified);
    assert_eq!(
        client.urls(),
        [format!("{API}/repository/commits/master"), API.to_string(), format!("{API}/repository/commits/main")]
    );
}

#[test]
fn tree_pagination_and_raw_files_fallback() {
    let client = CannedClient::new();
    commits(&client, "v1.0", "\"c\"");
    client.on_get(
        &format!("{API}/repository/archive.tar.gz?sha={SHA}"),
        HttpResponse::new(404).with_body(r#"{"message":"404 Not Found"}"#),
    );
    let folder = example_files();
    let mut entries: Vec<serde_json::Value> = folder
        .iter()
        .map(|(path, _)| serde_json::json!({"id": "x", "name": path.rsplit('/').next(), "type": "blob", "path": path, "mode": "100644"}))
        .collect();
    entries.push(serde_json::json!({"type": "tree", "path": "plugins", "mode": "040000"}));
    entries.push(serde_json::json!({"type": "blob", "path": "plugins/evil-link", "mode": "120000"}));
    entries.push(serde_json::json!({"type": "blob", "path": "docs/big.bin", "mode": "100644"}));
    let first = format!("{API}/repository/tree?recursive=true&per_page=100&pagination=keyset&ref={SHA}");
    let second = format!("{first}&page_token=abc");
    let (page1, page2) = entries.split_at(4);
    client.on_get(
        &first,
        HttpResponse::new(200)
            .with_header("link", format!(r#"<{second}>; rel="next", <{first}>; rel="first""#))
            .with_body(serde_json::to_string(page1).unwrap()),
    );
    client.on_get(
        &second,
        HttpResponse::new(200)
            .with_header("link", format!(r#"<{first}>; rel="first""#))
            .with_body(serde_json::to_string(page2).unwrap()),
    );
    for (path, content) in folder.iter() {
        client.on_get(
            &format!("{API}/repository/files/{}/raw?ref={SHA}", percent_encode(path, false)),
            HttpResponse::new(200).with_body(content.to_vec()),
        );
    }
    let gitlab = GitlabSource::new(
        config().with_ref(GitRef::new("v1.0").unwrap()).with_auth(GitlabAuth::Bearer(Secret::new("oauth"))),
        &client,
    );
    let Fetched::Tree { revision, files } = block_on_ready(gitlab.fetch(None)).unwrap() else { panic!() };
    assert!(!revision.contains(";r="), "a configured ref is not remembered");
    same_marketplace(&files, &folder);
    assert_eq!(client.requests().len(), 2 + 2 + folder.len());
    assert!(client.urls().iter().all(|u| !u.contains("evil-link") && !u.contains("big.bin")));
    assert_eq!(client.requests()[0].header_value("authorization"), Some("Bearer oauth"));
    assert!(client.urls().contains(&format!("{API}/repository/files/.claude-plugin%2Fmarketplace.json/raw?ref={SHA}")));
}

#[test]
fn errors_name_the_project_and_not_the_token() {
    let client = CannedClient::new();
    client.on_get(
        &format!("{API}/repository/commits/main"),
        HttpResponse::new(404).with_body(r#"{"message":"404 Commit Not Found"}"#),
    );
    let gitlab = GitlabSource::new(
        config()
            .with_ref(GitRef::new("main").unwrap())
            .with_auth(GitlabAuth::PrivateToken(Secret::new("glpat-topsecret"))),
        &client,
    );
    let err = block_on_ready(gitlab.fetch(None)).unwrap_err();
    assert_eq!(err.to_string(), "marketplace not found: GitLab project group/sub/market at main");
    client.on_get(&format!("{API}/repository/commits/main"), HttpResponse::new(429).with_header("retry-after", "7"));
    let err = block_on_ready(gitlab.fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::RateLimited { retry_after_seconds: Some(7) }));
    client.on_get(
        &format!("{API}/repository/commits/main"),
        HttpResponse::new(500).with_body(r#"{"message":"500 Internal Server Error"}"#),
    );
    let err = block_on_ready(gitlab.fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::Upstream { status: 500, .. }));
    assert!(!format!("{err} {err:?}").contains("topsecret"));
}

#[test]
fn project_ids() {
    assert_eq!(GitlabProject::parse("42").unwrap().api_id(), "42");
    assert_eq!(GitlabProject::parse("group/sub/project").unwrap().api_id(), "group%2Fsub%2Fproject");
    assert!(GitlabProject::parse("justname").is_err());
    assert!(GitlabProject::parse("a/../b").is_err());
}
