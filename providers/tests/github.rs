//! GitHub and GitHub Enterprise Server against a stand-in API.

mod common;

use common::*;
use serde_json::json;
use skillport_providers::github::{GitHubProvider, GitHubSettings};
use skillport_providers::{CallbackParams, ClientId, Identity, IdentityProvider, ProviderError, Secret};
use skillport_http::{CannedClient, HttpError, HttpResponse};

const WEB: &str = "https://github.com";
const API: &str = "https://api.github.com";

fn settings(org: Option<&str>, teams: &[&str]) -> GitHubSettings {
    let mut s = GitHubSettings::github_com(ClientId::new(CLIENT_ID.into()), Secret::new(CLIENT_SECRET));
    s.org = org.map(str::to_string);
    s.teams = teams.iter().map(|t| t.to_string()).collect();
    s
}

/// A GitHub that accepts [`CODE`] and knows user `ada` (id 1001) with a verified primary email.
fn github(web: &str, api: &str) -> CannedClient {
    let http = CannedClient::new();
    http.route("POST", &format!("{web}/login/oauth/access_token"), |req| {
        let fields = form(&req.body);
        let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if field("code").as_deref() == Some(CODE) && field("client_secret").as_deref() == Some(CLIENT_SECRET) {
            Ok(json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:org,user:email"})))
        } else {
            // GitHub's way: 200 with an error field.
            Ok(json_response(200, &json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})))
        }
    });
    http.on_get(
        &format!("{api}/user"),
        json_response(200, &json!({"id": 1001, "login": "ada", "name": "Ada Lovelace", "email": null})),
    );
    http.on_get(
        &format!("{api}/user/emails"),
        json_response(
            200,
            &json!([
                {"email": "ada@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
                {"email": "ada@example.com", "primary": true, "verified": true, "visibility": "private"},
            ]),
        ),
    );
    http
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

#[test]
fn member_of_org_and_team_signs_in() {
    let http = github(WEB, API);
    http.on_get(
        &format!("{API}/user/memberships/orgs/acme"),
        json_response(200, &json!({"state": "active", "role": "member"})),
    );
    http.on_get(
        &format!("{API}/orgs/acme/teams/platform/memberships/ada"),
        json_response(404, &json!({"message": "Not Found"})),
    );
    http.on_get(
        &format!("{API}/orgs/acme/teams/core/memberships/ada"),
        json_response(200, &json!({"state": "active", "role": "member"})),
    );
    let provider = GitHubProvider::new(settings(Some("acme"), &["platform", "core"])).unwrap();
    assert_eq!(provider.kind(), "github");

    let kept = start(&provider, &http);
    let url = &kept.authorize_url;
    assert!(url.starts_with("https://github.com/login/oauth/authorize?"), "{url}");
    assert_eq!(param(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(url, "state").as_deref(), Some(STATE));
    assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT_URI));
    assert_eq!(param(url, "scope").as_deref(), Some("read:user user:email read:org"));
    assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(url, "code_challenge").is_some_and(|c| c.len() == 43));
    assert!(kept.nonce.is_none());

    let identity = finish(&provider, &http, &callback(&kept), &kept).unwrap();
    assert_eq!(
        identity,
        Identity {
            provider: "github".into(),
            subject: "1001".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
            domain: Some("example.com".into()),
            groups: vec![],
            orgs: vec!["acme".into()],
            teams: vec!["acme/core".into()],
        }
    );

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

#[test]
fn access_denied_is_denied() {
    let http = github(WEB, API);
    let provider = GitHubProvider::new(settings(None, &[])).unwrap();
    let kept = start(&provider, &http);
    let callback = CallbackParams::from_query(&format!(
        "error=access_denied&error_description=The+user+has+denied+your+application+access.&state={STATE}"
    ));
    assert_eq!(finish(&provider, &http, &callback, &kept), Err(ProviderError::Denied));
    assert!(http.requests().is_empty());
}

#[test]
fn bad_code_is_exchange_error() {
    let http = github(WEB, API);
    let provider = GitHubProvider::new(settings(None, &[])).unwrap();
    let kept = start(&provider, &http);
    let callback = CallbackParams { code: Some(Secret::new("stale-code")), ..callback(&kept) };
    let error = finish(&provider, &http, &callback, &kept).unwrap_err();
    assert_eq!(error, ProviderError::Exchange("bad_verification_code".into()));
    assert!(!format!("{error} {error:?}").contains("stale-code"));
}

#[test]
fn github_503_is_unavailable() {
    let provider = GitHubProvider::new(settings(Some("acme"), &[])).unwrap();
    // The token endpoint.
    let http = github(WEB, API);
    http.route("POST", &format!("{WEB}/login/oauth/access_token"), |_| Ok(HttpResponse::new(503)));
    let result = sign_in_github(&provider, &http);
    assert!(matches!(&result, Err(ProviderError::Unavailable(why)) if why.contains("503")), "{result:?}");
    // The API, mid-way.
    let http = github(WEB, API);
    http.on_get(&format!("{API}/user/memberships/orgs/acme"), HttpResponse::new(503));
    let result = sign_in_github(&provider, &http);
    assert!(matches!(&result, Err(ProviderError::Unavailable(why)) if why.contains("503")), "{result:?}");
    // No answer at all.
    let http = github(WEB, API);
    http.route("GET", &format!("{API}/user"), |_| Err(HttpError::Connect(format!("reset; token {ACCESS_TOKEN}"))));
    let result = sign_in_github(&provider, &http);
    assert!(matches!(result, Err(ProviderError::Unavailable(_))), "{result:?}");
}
