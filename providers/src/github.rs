//! The `github` provider: GitHub and GitHub Enterprise Server, through the OAuth web flow with PKCE.
//!
//! GitHub is not an OpenID Connect provider: there is no ID token, so who the user is comes from the REST API with
//! the access token (`GET /user`, and `GET /user/emails` for the verified primary email). An optional required
//! organisation and teams are checked through the API too; membership that cannot be confirmed is a refusal. The
//! access token is used for these calls only and then dropped.
//!
//! GitHub answers token errors with `200 OK` and an `error` field, so the exchange is written here over the seam
//! rather than through `oauth2`'s client, which would read that as a malformed success.

use serde::Deserialize;
use url::Url;

use crate::{
    check_callback, check_domain, email_domain, oauth_code, transport, CallbackParams, ClientId, HttpClient,
    HttpRequest, HttpResponse, Identity, IdentityProvider, ProviderError, Secret, SignInStart,
};
use skillport_http::percent_encode;

/// Plain settings for GitHub or a GitHub Enterprise Server.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// Where users sign in: `https://github.com`, or `https://HOST` for GHES.
    pub web_base: String,
    /// The REST API: `https://api.github.com`, or `https://HOST/api/v3` for GHES.
    pub api_base: String,
    pub client_id: ClientId,
    pub client_secret: Secret,
    /// Scopes to request; empty means `read:user user:email` (and `read:org` when an org is required, which is added
    /// in any case then).
    pub scopes: Vec<String>,
    /// The organisation (login) every user must be an active member of.
    pub org: Option<String>,
    /// Team slugs in `org`: when not empty, the user must be an active member of at least one.
    pub teams: Vec<String>,
    /// When not empty, only users whose verified primary email is in one of these domains may sign in.
    pub allowed_domains: Vec<String>,
}

impl GitHubSettings {
    /// github.com.
    pub fn github_com(client_id: ClientId, client_secret: Secret) -> Self {
        Self::with_bases("https://github.com", "https://api.github.com", client_id, client_secret)
    }

    /// A GitHub Enterprise Server at `host` (web `https://HOST`, API `https://HOST/api/v3`).
    pub fn enterprise(host: &str, client_id: ClientId, client_secret: Secret) -> Self {
        let host = host.trim().trim_start_matches("https://").trim_end_matches('/');
        Self::with_bases(&format!("https://{host}"), &format!("https://{host}/api/v3"), client_id, client_secret)
    }

    fn with_bases(web: &str, api: &str, client_id: ClientId, client_secret: Secret) -> Self {
        GitHubSettings {
            web_base: web.into(),
            api_base: api.into(),
            client_id,
            client_secret,
            scopes: Vec::new(),
            org: None,
            teams: Vec::new(),
            allowed_domains: Vec::new(),
        }
    }
}

pub struct GitHubProvider {
    settings: GitHubSettings,
    web: String,
    api: String,
    scopes: Vec<String>,
}

impl GitHubProvider {
    pub fn new(settings: GitHubSettings) -> Result<Self, ProviderError> {
        let base = |what: &str, raw: &str| -> Result<String, ProviderError> {
            let url = Url::parse(raw)
                .map_err(|_| ProviderError::Misconfigured(format!("the GitHub {what} base `{raw}` is not a URL")))?;
            let loopback = url.host_str().is_some_and(crate::local::is_loopback_host);
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(ProviderError::Misconfigured(format!("the GitHub {what} base `{raw}` must be https")));
            }
            Ok(raw.trim_end_matches('/').to_string())
        };
        let web = base("web", &settings.web_base)?;
        let api = base("API", &settings.api_base)?;
        if settings.client_id.is_empty() {
            return Err(ProviderError::Misconfigured("the GitHub client id is empty".into()));
        }
        if !settings.teams.is_empty() && settings.org.is_none() {
            return Err(ProviderError::Misconfigured("GitHub teams are required but no org names them".into()));
        }
        let mut scopes = if settings.scopes.is_empty() {
            vec!["read:user".to_string(), "user:email".to_string()]
        } else {
            settings.scopes.clone()
        };
        if settings.org.is_some() && !scopes.iter().any(|s| s == "read:org" || s == "admin:org") {
            scopes.push("read:org".into());
        }
        Ok(GitHubProvider { settings, web, api, scopes })
    }

    /// `GET <api><path>` with the user's token.
    async fn api_get(
        &self,
        client: &dyn HttpClient,
        path: &str,
        token: &Secret,
    ) -> Result<HttpResponse, ProviderError> {
        let request = HttpRequest::get(format!("{}{}", self.api, path))
            .header("accept", "application/vnd.github+json")
            .header("authorization", format!("Bearer {}", token.expose()))
            .header("user-agent", "skillport")
            .header("x-github-api-version", "2022-11-28")
            .limit(crate::ANSWER_MAX_BYTES);
        let response = client.send(request).await.map_err(|e| transport("the GitHub API", &e))?;
        if response.status >= 500 || response.status == 429 {
            return Err(ProviderError::Unavailable(format!("the GitHub API answered {}", response.status)));
        }
        if response.status == 401 {
            return Err(ProviderError::Exchange("bad_credentials".into()));
        }
        Ok(response)
    }

    async fn exchange(
        &self,
        client: &dyn HttpClient,
        code: &Secret,
        verifier: &Secret,
        redirect_uri: &str,
    ) -> Result<Secret, ProviderError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("client_secret", self.settings.client_secret.expose())
            .append_pair("code", code.expose())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier.expose())
            .finish();
        let mut request = HttpRequest::get(format!("{}/login/oauth/access_token", self.web))
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", "skillport")
            .limit(crate::ANSWER_MAX_BYTES);
        request.method = "POST".into();
        request.body = body.into_bytes();
        let response = client.send(request).await.map_err(|e| transport("GitHub's token endpoint", &e))?;
        if response.status >= 500 || response.status == 429 {
            return Err(ProviderError::Unavailable(format!("GitHub's token endpoint answered {}", response.status)));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: Option<String>,
            error: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|_| ProviderError::Unavailable("GitHub's token endpoint sent an unreadable answer".into()))?;
        match (answer.access_token, answer.error) {
            (Some(token), None) if !token.is_empty() => Ok(Secret::new(token)),
            (_, Some(error)) => Err(match error.as_str() {
                "incorrect_client_credentials" | "redirect_uri_mismatch" | "unverified_user_email" => {
                    ProviderError::Misconfigured(format!("GitHub refused the exchange: {}", oauth_code(&error)))
                }
                _ => ProviderError::Exchange(oauth_code(&error)),
            }),
            _ => Err(ProviderError::Exchange(format!("answered_{}", response.status))),
        }
    }

    /// Active membership of `org`: `GET /user/memberships/orgs/<org>` (needs `read:org`), falling back to the
    /// public-or-visible check `GET /orgs/<org>/members/<login>` (204) when the first is not answered.
    async fn check_org(
        &self,
        client: &dyn HttpClient,
        token: &Secret,
        org: &str,
        login: &str,
    ) -> Result<(), ProviderError> {
        let response =
            self.api_get(client, &format!("/user/memberships/orgs/{}", percent_encode(org, false)), token).await?;
        if response.status == 200 {
            return match membership_state(&response).as_deref() {
                Some("active") => Ok(()),
                Some("pending") => Err(ProviderError::Rejected(format!(
                    "your invitation to the GitHub organisation `{org}` is not accepted yet"
                ))),
                _ => Err(not_in_org(org)),
            };
        }
        let path = format!("/orgs/{}/members/{}", percent_encode(org, false), percent_encode(login, false));
        let response = self.api_get(client, &path, token).await?;
        match response.status {
            204 => Ok(()),
            _ => Err(not_in_org(org)),
        }
    }

    /// The required teams the user is an active member of, as `org/team`.
    async fn check_teams(
        &self,
        client: &dyn HttpClient,
        token: &Secret,
        org: &str,
        login: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let mut teams = Vec::new();
        for team in &self.settings.teams {
            let path = format!(
                "/orgs/{}/teams/{}/memberships/{}",
                percent_encode(org, false),
                percent_encode(team, false),
                percent_encode(login, false)
            );
            let response = self.api_get(client, &path, token).await?;
            if response.status == 200 && membership_state(&response).as_deref() == Some("active") {
                teams.push(format!("{org}/{team}"));
            }
        }
        if teams.is_empty() {
            return Err(ProviderError::Rejected(format!(
                "you are not an active member of any of the required teams of `{org}`: {}",
                self.settings.teams.join(", ")
            )));
        }
        Ok(teams)
    }
}

fn not_in_org(org: &str) -> ProviderError {
    ProviderError::Rejected(format!(
        "you are not an active member of the GitHub organisation `{org}` (or it has not approved Skillport's access)"
    ))
}

fn membership_state(response: &HttpResponse) -> Option<String> {
    #[derive(Deserialize)]
    struct Membership {
        state: String,
    }
    serde_json::from_slice::<Membership>(&response.body).ok().map(|m| m.state)
}

#[async_trait::async_trait(?Send)]
impl IdentityProvider for GitHubProvider {
    fn kind(&self) -> &'static str {
        "github"
    }

    async fn start(
        &self,
        _client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        let (challenge, verifier) = crate::new_pkce();
        let mut url = Url::parse(&format!("{}/login/oauth/authorize", self.web))
            .map_err(|_| ProviderError::Misconfigured("the GitHub web base is not a URL".into()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        Ok(SignInStart {
            authorize_url: url.into(),
            state: state.to_string(),
            pkce_verifier: Secret::new(verifier.secret().clone()),
            nonce: None,
        })
    }

    async fn finish(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        _now: u64,
    ) -> Result<Identity, ProviderError> {
        let code = check_callback(callback, kept)?;
        let token = self.exchange(client, code, &kept.pkce_verifier, redirect_uri).await?;

        #[derive(Deserialize)]
        struct User {
            id: u64,
            login: String,
            name: Option<String>,
        }
        let response = self.api_get(client, "/user", &token).await?;
        if response.status != 200 {
            return Err(ProviderError::Unavailable(format!("GitHub's /user answered {}", response.status)));
        }
        let user: User = serde_json::from_slice(&response.body)
            .map_err(|_| ProviderError::Unavailable("GitHub's /user sent an unreadable answer".into()))?;

        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let response = self.api_get(client, "/user/emails", &token).await?;
        if response.status != 200 {
            return Err(ProviderError::Misconfigured(format!(
                "GitHub's /user/emails answered {} (the user:email scope is needed)",
                response.status
            )));
        }
        let emails: Vec<Email> = serde_json::from_slice(&response.body)
            .map_err(|_| ProviderError::Unavailable("GitHub's /user/emails sent an unreadable answer".into()))?;
        let primary = emails
            .into_iter()
            .find(|e| e.primary)
            .ok_or_else(|| ProviderError::Rejected("your GitHub account has no primary email address".into()))?;
        if !primary.verified {
            return Err(ProviderError::Rejected("your primary GitHub email address is not verified".into()));
        }
        let domain = email_domain(&primary.email);
        check_domain(domain.as_deref(), &self.settings.allowed_domains)?;

        let (mut orgs, mut teams) = (Vec::new(), Vec::new());
        if let Some(org) = &self.settings.org {
            self.check_org(client, &token, org, &user.login).await?;
            orgs.push(org.clone());
            if !self.settings.teams.is_empty() {
                teams = self.check_teams(client, &token, org, &user.login).await?;
            }
        }

        Ok(Identity {
            provider: "github".into(),
            // The numeric id: logins can be renamed and then taken by someone else.
            subject: user.id.to_string(),
            email: Some(primary.email),
            email_verified: true,
            name: user.name.filter(|n| !n.is_empty()).or(Some(user.login)),
            domain,
            groups: Vec::new(),
            orgs,
            teams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_bases_and_scopes() {
        let mut s =
            GitHubSettings::enterprise("https://ghe.example.com/", ClientId::new("id".into()), Secret::new("s"));
        assert_eq!(s.web_base, "https://ghe.example.com");
        assert_eq!(s.api_base, "https://ghe.example.com/api/v3");
        s.org = Some("acme".into());
        let p = GitHubProvider::new(s.clone()).unwrap();
        assert_eq!(p.scopes, ["read:user", "user:email", "read:org"]);
        s.org = None;
        s.teams = vec!["core".into()];
        assert!(matches!(GitHubProvider::new(s), Err(ProviderError::Misconfigured(_))));
        let mut s = GitHubSettings::github_com(ClientId::new("id".into()), Secret::new("s"));
        s.api_base = "http://api.github.com".into();
        assert!(matches!(GitHubProvider::new(s), Err(ProviderError::Misconfigured(_))));
    }
}
