//! Every identity provider kind runs the behaviour suite (`common/behaviour.rs`) against its in-process stand-in:
//! `github` against the stand-in GitHub, `oidc`, `google` and `auth0` against the stand-in OpenID Connect provider
//! with ID tokens signed here, and `local`, which has no upstream, the behaviours every kind shares.
//!
//! Adding a provider kind: give it a stand-in, describe it here as a [`SignIn`] and (with an upstream) an
//! [`Upstream`], and add it to the `suite!` lines at the end.

mod common;

use common::behaviour::{self, upstream_sign_in, SignIn, TokenNonce, Upstream};
use common::github::{github, API, WEB};
use common::*;
use serde_json::{json, Value};
use skillport_http::CannedClient;
use skillport_providers::auth0::{Auth0Provider, Auth0Settings};
use skillport_providers::github::{GitHubProvider, GitHubSettings};
use skillport_providers::google::{GoogleProvider, GoogleSettings};
use skillport_providers::local::{LocalProvider, LocalUser};
use skillport_providers::oidc::{ClientAuth, OidcProvider, OidcSettings};
use skillport_providers::{ClientId, Identity, IdentityProvider, ProviderError, Secret, SignInStart};

fn client_id() -> ClientId {
    ClientId::new(CLIENT_ID.into())
}

/// The stand-in's user, as every kind must map it (each kind then adds what it knows: groups, org, teams).
fn ada(provider: &str, subject: &str) -> Identity {
    Identity {
        provider: provider.into(),
        subject: subject.into(),
        email: Some("ada@example.com".into()),
        email_verified: true,
        name: Some("Ada Lovelace".into()),
        domain: Some("example.com".into()),
        groups: vec![],
        orgs: vec![],
        teams: vec![],
    }
}

// ---- github ----

/// github.com, with a required org and teams: ada is an active member of `acme` and of its team `core`, not of
/// `platform`.
struct GitHub {
    provider: GitHubProvider,
    refusing: GitHubProvider,
    http: CannedClient,
}

fn github_kind() -> GitHub {
    let settings = || {
        let mut s = GitHubSettings::github_com(client_id(), Secret::new(CLIENT_SECRET));
        s.org = Some("acme".into());
        s.teams = vec!["platform".into(), "core".into()];
        s
    };
    let http = github(WEB, API);
    http.on_get(&format!("{API}/user/memberships/orgs/acme"), json_response(200, &json!({"state": "active"})));
    http.on_get(&format!("{API}/orgs/acme/teams/platform/memberships/ada"), json_response(404, &json!({})));
    http.on_get(
        &format!("{API}/orgs/acme/teams/core/memberships/ada"),
        json_response(200, &json!({"state": "active"})),
    );
    let mut refusing = settings();
    refusing.allowed_domains = vec!["example.org".into()];
    GitHub {
        provider: GitHubProvider::new(settings()).unwrap(),
        refusing: GitHubProvider::new(refusing).unwrap(),
        http,
    }
}

impl SignIn for GitHub {
    fn kind(&self) -> &'static str {
        "github"
    }
    fn sign_in(&self) -> Result<Identity, ProviderError> {
        upstream_sign_in(self, &self.provider)
    }
    fn expected(&self) -> Identity {
        Identity { orgs: vec!["acme".into()], teams: vec!["acme/core".into()], ..ada("github", "1001") }
    }
    fn refused_sign_in(&self) -> Result<Identity, ProviderError> {
        upstream_sign_in(self, &self.refusing)
    }
}

impl Upstream for GitHub {
    fn provider(&self) -> &dyn IdentityProvider {
        &self.provider
    }
    fn http(&self) -> &CannedClient {
        &self.http
    }
    fn authorize_endpoint(&self) -> String {
        format!("{WEB}/login/oauth/authorize")
    }
    fn scope(&self) -> &'static str {
        "read:user user:email read:org"
    }
    fn uses_nonce(&self) -> bool {
        false
    }
    fn client_auth(&self) -> ClientAuth {
        ClientAuth::Post
    }
    fn token_endpoint(&self) -> String {
        format!("{WEB}/login/oauth/access_token")
    }
    fn user_endpoint(&self) -> String {
        format!("{API}/user")
    }
    /// The stand-in accepts [`CODE`] from the start.
    fn issue(&self, _kept: &SignInStart, _nonce: TokenNonce<'_>) {}
    fn refuse_token(&self, code: &str) {
        // GitHub's way: 200 with an error field.
        let answer = json_response(
            200,
            &json!({"error": code, "error_description": format!("{CODE} refused for {CLIENT_SECRET}")}),
        );
        self.http.route("POST", &self.token_endpoint(), move |_| Ok(answer.clone()));
    }
    fn bad_code_error(&self) -> &'static str {
        "bad_verification_code"
    }
    fn bad_client_error(&self) -> &'static str {
        "incorrect_client_credentials"
    }
}

// ---- oidc, google, auth0 ----

/// An OpenID Connect kind against the stand-in provider, with a userinfo endpoint.
struct Oidc<P> {
    kind: &'static str,
    provider: P,
    refusing: P,
    idp: Idp,
    key: Key,
    /// Claims this kind's ID tokens carry beyond [`Idp::claims`].
    extra_claims: Value,
    expected: Identity,
    scope: &'static str,
    client_auth: ClientAuth,
}

fn oidc_kind() -> Oidc<OidcProvider> {
    let key = Key::ec("ec1");
    let idp = Idp::new("https://idp.example.com", &[&key], Some(json!({"sub": "user-42", "groups": ["ops", "dev"]})));
    let settings = |allowed: &[&str]| {
        let mut s = OidcSettings::new(&idp.issuer, client_id(), Some(Secret::new(CLIENT_SECRET)));
        s.groups_claims = vec!["groups".into()];
        s.allowed_domains = allowed.iter().map(|d| d.to_string()).collect();
        OidcProvider::new(s).unwrap()
    };
    Oidc {
        kind: "oidc",
        provider: settings(&[]),
        refusing: settings(&["example.org"]),
        key,
        extra_claims: json!({}),
        expected: Identity { groups: vec!["ops".into(), "dev".into()], ..ada("oidc", "user-42") },
        scope: "openid email profile",
        client_auth: ClientAuth::Basic,
        idp,
    }
}

/// Google, with the Workspace domain rule: ada's account is in `example.com`.
fn google_kind() -> Oidc<GoogleProvider> {
    let key = Key::rsa_a("g1");
    let idp = Idp::new("https://accounts.google.com", &[&key], Some(json!({"sub": "user-42"})));
    let google = |allowed: &str| {
        GoogleProvider::new(GoogleSettings::new(client_id(), Secret::new(CLIENT_SECRET), vec![allowed.into()])).unwrap()
    };
    Oidc {
        kind: "google",
        provider: google("example.com"),
        refusing: google("example.org"),
        key,
        extra_claims: json!({"hd": "example.com"}),
        expected: ada("google", "user-42"),
        scope: "openid email profile",
        client_auth: ClientAuth::Basic,
        idp,
    }
}

/// An Auth0 tenant whose Action puts roles and groups under namespaced claims.
fn auth0_kind() -> Oidc<Auth0Provider> {
    let key = Key::rsa_b("a1");
    let idp = Idp::new("https://tenant.eu.auth0.com/", &[&key], Some(json!({"sub": "user-42"})));
    let auth0 = |allowed: &[&str]| {
        let mut s = Auth0Settings::new("tenant.eu.auth0.com", client_id(), Secret::new(CLIENT_SECRET));
        s.roles_claim = Some("https://skillport.example.com/roles".into());
        s.groups_claim = Some("https://skillport.example.com/groups".into());
        s.allowed_domains = allowed.iter().map(|d| d.to_string()).collect();
        Auth0Provider::new(s).unwrap()
    };
    Oidc {
        kind: "auth0",
        provider: auth0(&[]),
        refusing: auth0(&["example.org"]),
        key,
        extra_claims: json!({
            "https://skillport.example.com/roles": ["admin", "editor"],
            "https://skillport.example.com/groups": "engineering",
            "updated_at": "2025-01-01T00:00:00.000Z",
        }),
        expected: Identity {
            groups: vec!["admin".into(), "editor".into(), "engineering".into()],
            ..ada("auth0", "user-42")
        },
        scope: "openid email profile",
        client_auth: ClientAuth::Post,
        idp,
    }
}

impl<P: IdentityProvider> SignIn for Oidc<P> {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn sign_in(&self) -> Result<Identity, ProviderError> {
        upstream_sign_in(self, &self.provider)
    }
    fn expected(&self) -> Identity {
        self.expected.clone()
    }
    fn refused_sign_in(&self) -> Result<Identity, ProviderError> {
        upstream_sign_in(self, &self.refusing)
    }
}

impl<P: IdentityProvider> Upstream for Oidc<P> {
    fn provider(&self) -> &dyn IdentityProvider {
        &self.provider
    }
    fn http(&self) -> &CannedClient {
        &self.idp.http
    }
    fn authorize_endpoint(&self) -> String {
        format!("{}/authorize", self.idp.base)
    }
    fn scope(&self) -> &'static str {
        self.scope
    }
    fn uses_nonce(&self) -> bool {
        true
    }
    fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }
    fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.idp.base)
    }
    fn user_endpoint(&self) -> String {
        format!("{}/userinfo", self.idp.base)
    }
    fn issue(&self, kept: &SignInStart, nonce: TokenNonce<'_>) {
        let kept_nonce = kept.nonce.as_ref().expect("an OpenID Connect sign-in keeps a nonce").expose();
        let mut claims = self.idp.claims(match nonce {
            TokenNonce::Kept | TokenNonce::Absent => kept_nonce,
            TokenNonce::Other(other) => other,
        });
        if let TokenNonce::Absent = nonce {
            claims.as_object_mut().unwrap().remove("nonce");
        }
        for (name, value) in self.extra_claims.as_object().unwrap() {
            claims[name] = value.clone();
        }
        self.idp.answer_id_token(&self.key.sign(&claims));
    }
    fn refuse_token(&self, code: &str) {
        let status = if code == "invalid_client" { 401 } else { 400 };
        self.idp.answer_token(json_response(
            status,
            &json!({"error": code, "error_description": format!("{CODE} refused for {CLIENT_SECRET}")}),
        ));
    }
    fn bad_code_error(&self) -> &'static str {
        "invalid_grant"
    }
    fn bad_client_error(&self) -> &'static str {
        "invalid_client"
    }
}

// ---- local ----

/// The loopback-only development sign-in: no upstream, so only the behaviours every kind shares.
struct Local(LocalProvider);

fn local_kind() -> Local {
    Local(LocalProvider::new(LocalUser { groups: vec!["dev".into()], ..LocalUser::default() }))
}

impl SignIn for Local {
    fn kind(&self) -> &'static str {
        "local"
    }
    fn sign_in(&self) -> Result<Identity, ProviderError> {
        self.0.sign_in("localhost:8787")
    }
    fn expected(&self) -> Identity {
        Identity {
            provider: "local".into(),
            subject: "local-developer".into(),
            email: Some("developer@localhost".into()),
            email_verified: true,
            name: Some("Local Developer".into()),
            domain: Some("localhost".into()),
            groups: vec!["dev".into()],
            orgs: vec![],
            teams: vec![],
        }
    }
    fn refused_sign_in(&self) -> Result<Identity, ProviderError> {
        self.0.sign_in("skillport.example.com")
    }
}

// ---- the suite, for every kind ----

/// One test per behaviour, named `<kind>_<behaviour>`.
macro_rules! suite {
    ($kind:ident: $new:expr; $($behaviour:ident),+ $(,)?) => {
        mod $kind {
            use super::*;
            $(
                #[test]
                fn $behaviour() {
                    behaviour::$behaviour($new);
                }
            )+
        }
    };
}

suite!(local: local_kind; maps_the_identity, rules_refuse_with_a_typed_error);

macro_rules! upstream_suite {
    ($kind:ident: $new:expr $(; $($more:ident),+)?) => {
        suite!($kind: $new;
            maps_the_identity,
            rules_refuse_with_a_typed_error,
            start_builds_the_authorize_url,
            finish_exchanges_the_code_with_the_kept_verifier,
            wrong_state_is_refused_before_any_request,
            upstream_refusal_in_the_callback_is_typed,
            refused_exchange_is_typed,
            upstream_errors_are_unavailable,
            oversize_answers_are_refused,
            an_outage_is_an_error_and_is_not_remembered,
            $($($more),+)?
        );
    };
}

// GitHub is plain OAuth: no ID token, so no nonce.
upstream_suite!(github: github_kind);
upstream_suite!(oidc: oidc_kind; wrong_nonce_is_refused);
upstream_suite!(google: google_kind; wrong_nonce_is_refused);
upstream_suite!(auth0: auth0_kind; wrong_nonce_is_refused);
