//! The discovery documents: Protected Resource Metadata (RFC 9728) for `/mcp` and `/sse`, Authorization Server
//! Metadata (RFC 8414), and the `WWW-Authenticate` challenge that points a client at them.
//!
//! Skillport is its own authorization server, so the issuer is `server.public_url` itself (without a trailing slash)
//! and every endpoint hangs off it. The Worker is assumed to serve at the root of `public_url`'s origin (the routes
//! are `/mcp`, `/token`, ...), which is how the well-known paths below are formed.

use url::Url;

use super::{ResourceUri, SCOPES_SUPPORTED};
use crate::http::HttpResponse;

/// The protected resources: the Streamable HTTP transport and the legacy SSE one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Mcp,
    Sse,
}

/// The MCP endpoint (Streamable HTTP): the resource `Resource::Mcp` names.
pub const MCP_PATH: &str = "/mcp";
/// The legacy SSE transport (`GET` opens a stream): the resource `Resource::Sse` names.
pub const SSE_PATH: &str = "/sse";
/// Where the legacy SSE transport's messages are posted (`?sessionId=`); served under `Resource::Sse`.
pub const SSE_MESSAGE_PATH: &str = "/sse/message";

impl Resource {
    pub fn path(self) -> &'static str {
        match self {
            Resource::Mcp => MCP_PATH,
            Resource::Sse => SSE_PATH,
        }
    }

    /// The resource a request path is served under: `/mcp`, or `/sse` and `/sse/message`.
    pub fn of_path(path: &str) -> Option<Resource> {
        match path {
            MCP_PATH => Some(Resource::Mcp),
            SSE_PATH | SSE_MESSAGE_PATH => Some(Resource::Sse),
            _ => None,
        }
    }
}

pub const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";
/// RFC 8414's path, and OpenID Connect discovery's, which some MCP clients try instead.
pub const AUTHORIZATION_SERVER_PATHS: [&str; 2] =
    ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const REGISTER_PATH: &str = "/register";
pub const REVOKE_PATH: &str = "/revoke";

/// `public_url` without its trailing slash: the `iss` of every response.
pub fn issuer(public_url: &Url) -> String {
    public_url.as_str().trim_end_matches('/').to_owned()
}

/// The RFC 8707 resource indicator of `resource`.
pub fn resource_uri(public_url: &Url, resource: Resource) -> ResourceUri {
    ResourceUri::new(format!("{}{}", issuer(public_url), resource.path()))
}

/// The resource a resource indicator names, if it is one of ours.
pub fn resource_of_uri(public_url: &Url, uri: &str) -> Option<Resource> {
    [Resource::Mcp, Resource::Sse].into_iter().find(|r| resource_uri(public_url, *r).as_str() == uri)
}

/// Which resource's metadata a well-known path asks for: the bare path (for clients that do not append the
/// resource's path) and `/mcp` mean `/mcp`; `/sse` means `/sse`.
pub fn protected_resource_path_for(path: &str) -> Option<Resource> {
    match path.strip_prefix(PROTECTED_RESOURCE_PATH)? {
        "" | "/" | MCP_PATH => Some(Resource::Mcp),
        SSE_PATH => Some(Resource::Sse),
        _ => None,
    }
}

/// The metadata document's URL for `resource` (RFC 9728 section 3.1: the well-known prefix, then the resource path).
pub fn protected_resource_metadata_url(public_url: &Url, resource: Resource) -> String {
    format!("{}{PROTECTED_RESOURCE_PATH}{}", issuer(public_url), resource.path())
}

/// RFC 9728 Protected Resource Metadata for `resource`.
pub fn protected_resource_metadata(public_url: &Url, server_name: &str, resource: Resource) -> serde_json::Value {
    serde_json::json!({
        "resource": resource_uri(public_url, resource).as_str(),
        "authorization_servers": [issuer(public_url)],
        "bearer_methods_supported": ["header"],
        "scopes_supported": SCOPES_SUPPORTED,
        "resource_name": server_name,
    })
}

/// RFC 8414 Authorization Server Metadata.
pub fn authorization_server_metadata(public_url: &Url) -> serde_json::Value {
    let iss = issuer(public_url);
    serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{iss}{TOKEN_PATH}"),
        "registration_endpoint": format!("{iss}{REGISTER_PATH}"),
        "revocation_endpoint": format!("{iss}{REVOKE_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": SCOPES_SUPPORTED,
    })
}

/// The well-known documents as responses: `Some` for any of their paths, `None` for every other path.
pub fn well_known_response(public_url: &Url, server_name: &str, path: &str) -> Option<HttpResponse> {
    Documents::new(public_url, server_name).response(path)
}

/// The well-known documents of one configuration, rendered once (they depend on `server.public_url` and
/// `server.name` alone): serving one is a copy of its bytes.
#[derive(Debug, Clone)]
pub struct Documents {
    mcp: HttpResponse,
    sse: HttpResponse,
    server: HttpResponse,
}

impl Documents {
    pub fn new(public_url: &Url, server_name: &str) -> Self {
        // Public and the same for everyone: cacheable, and readable from any origin.
        let doc = |body: serde_json::Value| {
            HttpResponse::json(200, &body)
                .header("cache-control", "public, max-age=3600")
                .header("access-control-allow-origin", "*")
        };
        Documents {
            mcp: doc(protected_resource_metadata(public_url, server_name, Resource::Mcp)),
            sse: doc(protected_resource_metadata(public_url, server_name, Resource::Sse)),
            server: doc(authorization_server_metadata(public_url)),
        }
    }

    /// The document served at `path`, if it is one of the well-known paths.
    pub fn response(&self, path: &str) -> Option<HttpResponse> {
        let doc = match protected_resource_path_for(path) {
            Some(Resource::Mcp) => &self.mcp,
            Some(Resource::Sse) => &self.sse,
            None if AUTHORIZATION_SERVER_PATHS.contains(&path) => &self.server,
            None => return None,
        };
        Some(doc.clone())
    }
}

/// The challenge of a 401 on `path` (`/mcp`, `/sse`): `Bearer resource_metadata="<url>"` (MCP authorization,
/// RFC 9728 section 5.1).
pub fn www_authenticate(public_url: &Url, path: &str) -> String {
    let resource = Resource::of_path(path).unwrap_or(Resource::Mcp);
    format!(r#"Bearer resource_metadata="{}""#, protected_resource_metadata_url(public_url, resource))
}

/// The challenge for a token that was presented but is not good (RFC 6750 section 3.1): the client should refresh
/// or sign in again.
pub fn www_authenticate_invalid_token(public_url: &Url, path: &str) -> String {
    format!(r#"{}, error="invalid_token""#, www_authenticate(public_url, path))
}

/// The 401 of an MCP request without a usable bearer token: with no token at all, the bare challenge; with a bad
/// one, `error="invalid_token"`.
pub fn unauthorized_response(public_url: &Url, path: &str, token_presented: bool) -> HttpResponse {
    let challenge = if token_presented {
        www_authenticate_invalid_token(public_url, path)
    } else {
        www_authenticate(public_url, path)
    };
    let description = if token_presented {
        "the access token is invalid, expired or revoked"
    } else {
        "sign-in required: this server uses OAuth (see the WWW-Authenticate header)"
    };
    HttpResponse::json(401, &serde_json::json!({"error": "invalid_token", "error_description": description}))
        .header("www-authenticate", &challenge)
        .header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testutil::public_url;

    #[test]
    fn protected_resource_paths() {
        assert_eq!(protected_resource_path_for("/.well-known/oauth-protected-resource"), Some(Resource::Mcp));
        assert_eq!(protected_resource_path_for("/.well-known/oauth-protected-resource/mcp"), Some(Resource::Mcp));
        assert_eq!(protected_resource_path_for("/.well-known/oauth-protected-resource/sse"), Some(Resource::Sse));
        assert_eq!(protected_resource_path_for("/.well-known/oauth-protected-resource/other"), None);
        assert_eq!(protected_resource_path_for("/.well-known/oauth-protected-resourcex"), None);
        assert_eq!(protected_resource_path_for("/mcp"), None);
    }

    #[test]
    fn protected_resource_document() {
        let doc = protected_resource_metadata(&public_url(), "Skillport", Resource::Sse);
        assert_eq!(doc["resource"], "https://skills.example.com/sse");
        assert_eq!(doc["authorization_servers"][0], "https://skills.example.com");
        assert_eq!(doc["bearer_methods_supported"][0], "header");
        assert_eq!(doc["resource_name"], "Skillport");
    }

    #[test]
    fn authorization_server_document() {
        let doc = authorization_server_metadata(&Url::parse("https://skills.example.com/").unwrap());
        assert_eq!(doc["issuer"], "https://skills.example.com");
        assert_eq!(doc["authorization_endpoint"], "https://skills.example.com/authorize");
        assert_eq!(doc["token_endpoint"], "https://skills.example.com/token");
        assert_eq!(doc["registration_endpoint"], "https://skills.example.com/register");
        assert_eq!(doc["revocation_endpoint"], "https://skills.example.com/revoke");
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["grant_types_supported"], serde_json::json!(["authorization_code", "refresh_token"]));
        assert_eq!(doc["client_id_metadata_document_supported"], true);
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert!(well_known_response(&public_url(), "S", "/.well-known/oauth-authorization-server").is_some());
        assert!(well_known_response(&public_url(), "S", "/.well-known/other").is_none());
    }

    #[test]
    fn challenge_points_at_the_metadata() {
        assert_eq!(
            www_authenticate(&public_url(), "/mcp"),
            r#"Bearer resource_metadata="https://skills.example.com/.well-known/oauth-protected-resource/mcp""#
        );
        assert!(www_authenticate(&public_url(), "/sse/message").ends_with(r#"oauth-protected-resource/sse""#));
        assert!(www_authenticate_invalid_token(&public_url(), "/mcp").ends_with(r#", error="invalid_token""#));
        let r = unauthorized_response(&public_url(), "/mcp", false);
        assert_eq!(r.status, 401);
        assert!(!r.get_header("www-authenticate").unwrap().contains("error="));
    }

    #[test]
    fn resource_uris() {
        assert_eq!(resource_of_uri(&public_url(), "https://skills.example.com/mcp"), Some(Resource::Mcp));
        assert_eq!(resource_of_uri(&public_url(), "https://skills.example.com/sse"), Some(Resource::Sse));
        assert_eq!(resource_of_uri(&public_url(), "https://skills.example.com/mcp/"), None);
        assert_eq!(resource_of_uri(&public_url(), "https://other.example.com/mcp"), None);
    }
}
