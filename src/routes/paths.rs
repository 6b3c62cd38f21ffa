//! Every path the connector answers, spelled once: the routing table matches these, and whatever prints a URL (the
//! discovery documents, the sign-in redirects, download links, the status page) builds it from the same constant.
//!
//! The paths the discovery documents print (the OAuth endpoints, and `/mcp` and `/sse` as protected resources) are
//! defined beside those documents (`oauth::metadata`) and the sign-in pages' beside their flow (`oauth::flow`); they
//! are named here again so the table reads from one list.

use crate::oauth::{flow, metadata};

/// The landing page: a sentence saying what this is.
pub const ROOT: &str = "/";
/// The MCP endpoint (Streamable HTTP).
pub const MCP: &str = metadata::MCP_PATH;
/// The legacy SSE transport: `GET` opens a stream.
pub const SSE: &str = metadata::SSE_PATH;
/// The legacy SSE transport: `POST` delivers a message to a stream (`?sessionId=`).
pub const SSE_MESSAGE: &str = metadata::SSE_MESSAGE_PATH;

/// RFC 8414's metadata document.
pub const AUTHORIZATION_SERVER: &str = metadata::AUTHORIZATION_SERVER_PATHS[0];
/// OpenID Connect discovery's, which some MCP clients try instead (the same document).
pub const OPENID_CONFIGURATION: &str = metadata::AUTHORIZATION_SERVER_PATHS[1];
/// RFC 9728's protected resource metadata: bare, or followed by the resource's path (`/mcp`, `/sse`).
pub const PROTECTED_RESOURCE: &str = metadata::PROTECTED_RESOURCE_PATH;

/// RFC 7591 dynamic client registration.
pub const REGISTER: &str = metadata::REGISTER_PATH;
pub const AUTHORIZE: &str = metadata::AUTHORIZE_PATH;
/// Where the identity provider sends the browser back.
pub const CALLBACK: &str = flow::CALLBACK_PATH;
/// The consent form's target.
pub const CONSENT: &str = flow::CONSENT_PATH;
pub const TOKEN: &str = metadata::TOKEN_PATH;
/// RFC 7009 revocation.
pub const REVOKE: &str = metadata::REVOKE_PATH;

/// The admin status page, and the callback of its own sign-in.
pub const STATUS: &str = "/status";
pub const STATUS_CALLBACK: &str = "/status/callback";

/// Download links: `/download/<signed token>`.
pub const DOWNLOAD_PREFIX: &str = "/download/";
/// Webhooks: `/hooks/<marketplace id>`.
pub const HOOKS_PREFIX: &str = "/hooks/";
