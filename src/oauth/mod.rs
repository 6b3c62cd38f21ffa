//! The OAuth 2.1 authorization server Skillport runs toward MCP clients (Claude.ai, Claude Desktop, Claude Code), per
//! the MCP authorization specification (2025-11-25).
//!
//! Skillport is both the protected resource (`/mcp`, `/sse`) and its own authorization server: a client discovers
//! it through the well-known documents ([`metadata`]), registers ([`registration`], or brings a Client ID Metadata
//! Document), sends the user to `/authorize` ([`authorize`]), where the sign-in flow ([`flow`]) signs the user in upstream
//! through an `IdentityProvider` and asks for consent ([`consent`]), then redeems the code at `/token` ([`token`]).
//! Every MCP request then carries a bearer token checked by [`token::verify_access_token`].
//!
//! Everything here is plain Rust over [`store::GrantStore`] and [`crypto::Random`], tested natively; the Worker
//! supplies a Durable Object store and `crypto.getRandomValues`.
//!
//! Rules kept throughout:
//! - codes, access tokens, refresh tokens and client secrets are stored only as their SHA-256 ([`TokenHash`]);
//! - the user's identity is stored once per grant, sealed with AES-256-GCM ([`crypto`]);
//! - secrets are newtypes whose `Debug` prints `[redacted]`;
//! - errors are one enum, [`OAuthError`], turned into an HTTP response in one place ([`OAuthError::to_response`]).
//!
//! Client ID Metadata Documents are fetched by the sign-in flow ([`flow`], over the outbound HTTP seam) after
//! [`registration::cimd_fetch_allowed`]. Not here: the upstream sign-in itself (`skillport-providers`) and the routing
//! table (`crate::routes`). How many clients may be made,
//! and how fast, is [`limits`].

pub mod authorize;
pub mod consent;
pub mod crypto;
pub mod flow;
pub mod limits;
pub mod metadata;
pub mod pages;
mod redirect_uri;
pub mod registration;
pub mod remote;
pub mod store;
pub mod token;

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::http::HttpResponse;

pub use crypto::{OsRandom, Random, ServerKeys};
pub use redirect_uri::RedirectUri;
pub use store::{GrantStore, MemoryGrantStore};

// ---------------------------------------------------------------------------------------------------------------------
// Public identifiers
// ---------------------------------------------------------------------------------------------------------------------

macro_rules! public_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value already validated by the caller (parsing lives in the module that owns the rule).
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

public_string!(
    /// A client registered here (random) or a Client ID Metadata Document URL.
    ClientId
);
public_string!(
    /// The id of one grant: one user's authorization of one client for one resource, from which a code, and then
    /// every access and refresh token, descend. Revoking it kills them all.
    GrantId
);
public_string!(
    /// An RFC 8707 resource indicator this server protects: `<public_url>/mcp` or `<public_url>/sse`.
    ResourceUri
);
public_string!(
    /// A PKCE S256 code challenge: BASE64URL(SHA256(verifier)), 43 characters.
    PkceChallenge
);

// ---------------------------------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------------------------------

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The value itself: to send it to the client once, never to log it.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// What is stored in its place.
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_string!(
    /// A one-time authorization code.
    AuthorizationCode
);
secret_string!(
    /// An opaque bearer token for `/mcp` or `/sse`.
    AccessToken
);
secret_string!(
    /// A rotating refresh token.
    RefreshToken
);
secret_string!(
    /// The secret of a confidential client.
    ClientSecret
);
secret_string!(
    /// A PKCE code verifier, as sent to the token endpoint.
    PkceVerifier
);

/// The SHA-256 of a code, token or secret: the only form in which any of them is stored. Tokens are 256 random bits,
/// so an unsalted hash is enough: it cannot be reversed, and a leaked store grants nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        TokenHash(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality, for comparisons that decide authentication.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", URL_SAFE_NO_PAD.encode(&self.0[..6]))
    }
}

impl From<TokenHash> for String {
    fn from(h: TokenHash) -> String {
        URL_SAFE_NO_PAD.encode(h.0)
    }
}

impl TryFrom<String> for TokenHash {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD.decode(s.as_bytes()).map_err(|e| e.to_string())?;
        bytes.try_into().map(TokenHash).map_err(|_| "a token hash is 32 bytes".to_owned())
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------------

/// Every way an OAuth request fails, each carrying its RFC error code. The strings are ours and never hold a token,
/// code or secret. Mapped to HTTP once, in [`OAuthError::to_response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed, or the client is unknown (401, so that Claude registers again).
    #[error("{0}")]
    InvalidClient(String),
    /// The code, refresh token or PKCE verifier is wrong, expired, used or revoked.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("grant_type `{0}` is not supported; use authorization_code or refresh_token")]
    UnsupportedGrantType(String),
    #[error("response_type must be `code`")]
    UnsupportedResponseType,
    /// RFC 8707: the resource is not one this server protects.
    #[error("{0}")]
    InvalidTarget(String),
    #[error("the user denied the request")]
    AccessDenied,
    /// RFC 7591.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// RFC 6750: the bearer token is missing, unknown, expired, revoked or for another resource.
    #[error("{0}")]
    InvalidToken(String),
    /// The grant store failed; the request may be retried.
    #[error("the authorization store is unavailable: {0}")]
    Storage(String),
}

impl OAuthError {
    /// The error code of the RFC that defines it.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::Storage(_) => "temporarily_unavailable",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient(_) | OAuthError::InvalidToken(_) => 401,
            OAuthError::AccessDenied => 403,
            OAuthError::Storage(_) => 503,
            _ => 400,
        }
    }

    /// The JSON error response of the token, registration and revocation endpoints (RFC 6749 5.2, RFC 7591 3.2.2).
    /// A bearer-token failure on `/mcp` wants [`metadata::unauthorized_response`] instead, for its challenge.
    pub fn to_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::json(
            self.status(),
            &serde_json::json!({"error": self.code(), "error_description": self.to_string()}),
        )
        .header("cache-control", "no-store")
        .header("pragma", "no-cache");
        if matches!(self, OAuthError::InvalidClient(_)) {
            resp = resp.header("www-authenticate", "Basic realm=\"skillport\"");
        }
        resp
    }
}

impl From<store::StoreError> for OAuthError {
    fn from(e: store::StoreError) -> Self {
        OAuthError::Storage(e.to_string())
    }
}

/// Everything the OAuth endpoints work with, for one request: the routing table builds one and calls its handlers
/// ([`OAuthServer::complete_authorization`], [`OAuthServer::handle_token`], [`OAuthServer::handle_revoke`],
/// [`OAuthServer::handle_register`], [`OAuthServer::verify`]).
pub struct OAuthServer<'a> {
    pub store: &'a dyn GrantStore,
    pub keys: &'a ServerKeys,
    pub rng: &'a dyn Random,
    /// `server.public_url`: the issuer, and the base of the resource URIs.
    pub public_url: &'a url::Url,
    pub settings: TokenSettings,
}

/// How long what the server hands out lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// Authorization codes: short, they are redeemed at once.
    pub code_ttl_seconds: u64,
    pub access_ttl_seconds: u64,
    /// Each refresh token, and so a grant left unused this long, dies.
    pub refresh_ttl_seconds: u64,
    /// How many clients may exist, and how fast new ones may be made.
    pub clients: limits::ClientLimits,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            code_ttl_seconds: 60,
            access_ttl_seconds: 3600,
            refresh_ttl_seconds: 30 * 86_400,
            clients: limits::ClientLimits::default(),
        }
    }
}

/// The scopes this server grants. Skillport has one: using the connector. A request's other scopes are dropped, not
/// refused (RFC 6749 3.3 lets the server grant less), so clients that send `openid profile` still work.
pub const SCOPES_SUPPORTED: [&str; 1] = ["mcp"];

/// The scope granted for a requested one: the supported part, or all supported scopes when nothing usable was asked.
pub fn granted_scope(requested: Option<&str>) -> String {
    let wanted: Vec<&str> =
        requested.unwrap_or("").split(' ').filter(|s| SCOPES_SUPPORTED.contains(s)).fold(Vec::new(), |mut acc, s| {
            if !acc.contains(&s) {
                acc.push(s);
            }
            acc
        });
    if wanted.is_empty() {
        SCOPES_SUPPORTED.join(" ")
    } else {
        wanted.join(" ")
    }
}

/// Parses an `application/x-www-form-urlencoded` string (a query or a form body). A parameter given twice is an
/// error (RFC 6749 3.1, 3.2): a second `redirect_uri` or `client_id` must not be able to slip past the first.
pub(crate) fn parse_form(input: &[u8]) -> Result<std::collections::BTreeMap<String, String>, OAuthError> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(input) {
        if out.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(OAuthError::InvalidRequest(format!("parameter `{k}` is given more than once")));
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! What the tests of every module share: a deterministic `Random`, keys, an identity and a registered client.

    use super::*;
    use skillport_providers::Identity;
    use std::cell::Cell;

    /// Distinct bytes on every call, from a counter: deterministic, and never the same token twice.
    pub struct CountingRandom(pub Cell<u64>);

    impl Default for CountingRandom {
        fn default() -> Self {
            CountingRandom(Cell::new(1))
        }
    }

    impl Random for CountingRandom {
        fn fill(&self, buf: &mut [u8]) {
            let n = self.0.get();
            self.0.set(n + 1);
            let seed = Sha256::digest(n.to_be_bytes());
            for (i, b) in buf.iter_mut().enumerate() {
                *b = seed[i % 32] ^ (i / 32) as u8;
            }
        }
    }

    pub const PUBLIC_URL: &str = "https://skills.example.com";
    pub const CLAUDE_CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

    pub fn public_url() -> url::Url {
        url::Url::parse(PUBLIC_URL).unwrap()
    }

    pub fn keys() -> ServerKeys {
        ServerKeys::derive(b"a test master secret of at least 32 bytes!")
    }

    pub fn identity() -> Identity {
        Identity {
            provider: "github".into(),
            subject: "12345".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada".into()),
            domain: Some("example.com".into()),
            groups: vec!["eng".into()],
            orgs: vec!["acme".into()],
            teams: vec![],
        }
    }

    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        crate::testing::block_on(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let t = AccessToken::new("very-secret-value");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert!(!format!("{:?}", RefreshToken::new("very-secret-value")).contains("very"));
        assert!(!format!("{:?}", t.hash()).contains("very"));
    }

    #[test]
    fn token_hash_round_trips_through_serde() {
        let h = TokenHash::of("x");
        let s = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&s).unwrap(), h);
        assert!(serde_json::from_str::<TokenHash>("\"abc\"").is_err());
    }

    #[test]
    fn scope_is_narrowed_to_what_is_supported() {
        assert_eq!(granted_scope(None), "mcp");
        assert_eq!(granted_scope(Some("openid profile")), "mcp");
        assert_eq!(granted_scope(Some("mcp mcp")), "mcp");
    }

    #[test]
    fn duplicate_parameters_are_refused() {
        assert!(parse_form(b"a=1&b=2").is_ok());
        assert!(matches!(parse_form(b"a=1&a=2"), Err(OAuthError::InvalidRequest(_))));
    }

    #[test]
    fn invalid_client_is_401_with_a_challenge() {
        let r = OAuthError::InvalidClient("unknown client".into()).to_response();
        assert_eq!(r.status, 401);
        assert_eq!(r.json_body()["error"], "invalid_client");
        assert!(r.get_header("www-authenticate").is_some());
        assert_eq!(OAuthError::InvalidGrant("x".into()).to_response().status, 400);
    }
}
