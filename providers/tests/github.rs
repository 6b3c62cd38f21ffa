//! GitHub and GitHub Enterprise Server against a stand-in API.

mod common;

use common::github::{github, API, WEB};
use common::*;
use serde_json::json;
use skillport_http::{CannedClient, HttpResponse};
use skillport_providers::github::{GitHubProvider, GitHubSettings};
use skillport_providers::{ClientId, Identity, IdentityProvider, ProviderError, Secret};

fn settings(org: Option<&str>, teams: &[&str]) -> GitHubSettings {
    let mut s = GitHubSettings::github_com(ClientId::new(CLIENT_ID.into()), Secret::new(CLIENT_SECRET));
    s.org = org.map(str::to_string);
    s.teams = teams.iter().map(|t| t.to_string()).collect();
    s
}

fn sign_in_github(provider: &GitHubProvider, http: &CannedClient) -> Result<Identity, ProviderError> {
    let kept = start(provider, http);
    let result = finish(provider, http, &callback(&kept), &kept);
    if let Err(error) = &result {
        assert_no_secret(error, &[kept.pkce_verifier.expose()]);
    }
    result
}

fn rejected(result: Result<Identity, ProviderError>) -> String {
    match result {
        Err(ProviderError::Rejected(why)) => why,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

/// The authorize URL, the exchange and the identity of a member of an org and a team are in the behaviour suite
/// (`tests/behaviour.rs`, kind `github`); here, what only GitHub asks of them: a JSON answer from the token endpoint,
/// and the access token on every API call, membership checks included.
#[test]
fn token_and_api_requests_carry_githubs_headers() {
    let http = github(WEB, API);
    http.on_get(
        &format!("{API}/user/memberships/orgs/acme"),
        json_response(200, &json!({"state": "active", "role": "member"})),
    );
    http.on_get(
        &format!("{API}/orgs/acme/teams/core/memberships/ada"),
        json_response(200, &json!({"state": "active", "role": "member"})),
    );
    let provider = GitHubProvider::new(settings(Some("acme"), &["platform", "core"])).unwrap();
    assert_eq!(provider.kind(), "github");
    let kept = start(&provider, &http);
    let identity = finish(&provider, &http, &callback(&kept), &kept).unwrap();
    assert_eq!(identity.teams, ["acme/core"]);

    let requests = http.requests();
    let token = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(token.header_value("accept"), Some("application/json"));
    assert_eq!(token.header_value("user-agent"), Some("skillport"));
    let fields = form(&token.body);
    assert!(fields.contains(&("code_verifier".into(), kept.pkce_verifier.expose().into())));
    assert!(fields.contains(&("redirect_uri".into(), REDIRECT_URI.into())));
    for api in requests.iter().filter(|r| r.method == "GET") {
        assert_eq!(api.header_value("user-agent"), Some("skillport"), "{}", api.url);
        assert_eq!(api.header_value("authorization"), Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
    }
}

#[test]
fn enterprise_server_uses_its_own_bases() {
    let (web, api) = ("https://ghe.example.com", "https://ghe.example.com/api/v3");
    let http = github(web, api);
    let s = GitHubSettings::enterprise("ghe.example.com", ClientId::new(CLIENT_ID.into()), Secret::new(CLIENT_SECRET));
    let provider = GitHubProvider::new(s).unwrap();
    let kept = start(&provider, &http);
    assert!(kept.authorize_url.starts_with("https://ghe.example.com/login/oauth/authorize?"));
    let identity = finish(&provider, &http, &callback(&kept), &kept).unwrap();
    assert_eq!(identity.subject, "1001");
    assert_eq!(
        http.urls(),
        [
            "https://ghe.example.com/login/oauth/access_token",
            "https://ghe.example.com/api/v3/user",
            "https://ghe.example.com/api/v3/user/emails"
        ]
    );
}

#[test]
fn not_in_required_org_is_rejected() {
    let http = github(WEB, API);
    // Both checks answer 404 (the CannedClient default): not a member.
    let provider = GitHubProvider::new(settings(Some("acme"), &[])).unwrap();
    let why = rejected(sign_in_github(&provider, &http));
    assert!(why.contains("acme"), "{why}");
    assert!(http.urls().contains(&format!("{API}/orgs/acme/members/ada")), "the fallback was asked");
}

#[test]
fn pending_org_membership_is_rejected() {
    let http = github(WEB, API);
    http.on_get(&format!("{API}/user/memberships/orgs/acme"), json_response(200, &json!({"state": "pending"})));
    let provider = GitHubProvider::new(settings(Some("acme"), &[])).unwrap();
    let why = rejected(sign_in_github(&provider, &http));
    assert!(why.contains("not accepted"), "{why}");
}

#[test]
fn org_membership_by_members_endpoint_is_accepted() {
    let http = github(WEB, API);
    http.on_get(&format!("{API}/orgs/acme/members/ada"), HttpResponse::new(204));
    let provider = GitHubProvider::new(settings(Some("acme"), &[])).unwrap();
    let identity = sign_in_github(&provider, &http).unwrap();
    assert_eq!(identity.orgs, ["acme"]);
}

#[test]
fn not_in_required_team_is_rejected() {
    let http = github(WEB, API);
    http.on_get(&format!("{API}/user/memberships/orgs/acme"), json_response(200, &json!({"state": "active"})));
    http.on_get(
        &format!("{API}/orgs/acme/teams/core/memberships/ada"),
        json_response(200, &json!({"state": "pending"})),
    );
    let provider = GitHubProvider::new(settings(Some("acme"), &["core", "platform"])).unwrap();
    let why = rejected(sign_in_github(&provider, &http));
    assert!(why.contains("teams"), "{why}");
}

#[test]
fn unverified_primary_email_is_rejected() {
    let http = github(WEB, API);
    http.on_get(
        &format!("{API}/user/emails"),
        json_response(
            200,
            &json!([
                {"email": "ada@example.com", "primary": true, "verified": false},
                {"email": "ada@example.org", "primary": false, "verified": true},
            ]),
        ),
    );
    let provider = GitHubProvider::new(settings(None, &[])).unwrap();
    let why = rejected(sign_in_github(&provider, &http));
    assert!(why.contains("not verified"), "{why}");
}

#[test]
fn domain_not_allowed_is_rejected() {
    let http = github(WEB, API);
    let mut s = settings(None, &[]);
    s.allowed_domains = vec!["example.org".into()];
    let why = rejected(sign_in_github(&GitHubProvider::new(s).unwrap(), &http));
    assert!(why.contains("example.com"), "{why}");
}

/// The identity-wide failures (5xx and 429 at the token endpoint and at `/user`, no answer at all) are in the
/// behaviour suite; this is GitHub's own step, the org check mid-way.
#[test]
fn org_check_503_is_unavailable() {
    let provider = GitHubProvider::new(settings(Some("acme"), &[])).unwrap();
    let http = github(WEB, API);
    http.on_get(&format!("{API}/user/memberships/orgs/acme"), HttpResponse::new(503));
    let result = sign_in_github(&provider, &http);
    assert!(matches!(&result, Err(ProviderError::Unavailable(why)) if why.contains("503")), "{result:?}");
}
