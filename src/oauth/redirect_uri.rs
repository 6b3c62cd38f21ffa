//! [`RedirectUri`]: where a client asks for its codes to be sent, held as the exact string registered (what every
//! comparison reads) together with its parsed form (what questions about host, scheme and origin read), so that the
//! string is parsed once, when the value is made, and never again on the way to a redirect or a consent page.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A redirect URI: the exact string a client registered, held with its parsed form. Matching a request against a
/// registration compares the strings byte for byte (OAuth 2.1 exact matching, RFC 9700 4.1.3: no normalisation, so
/// equality, hashing and ordering read the string alone); questions about its host, scheme or origin read the parsed
/// form. Constructing one parses it, so every value held parses; what registration accepts beyond that is
/// [`super::registration::validate_redirect_uri`]. Serialized as the bare string, as stored records always held it.
#[derive(Clone)]
pub struct RedirectUri {
    raw: String,
    url: url::Url,
}

impl RedirectUri {
    /// Parses `raw` as an absolute URL, keeping the string exactly as given.
    pub fn parse(raw: impl Into<String>) -> Result<Self, url::ParseError> {
        let raw = raw.into();
        let url = url::Url::parse(&raw)?;
        Ok(RedirectUri { raw, url })
    }

    /// For tests' literals, which are known to parse. Panics on any other: code uses [`RedirectUri::parse`].
    #[cfg(test)]
    #[track_caller]
    pub fn new(value: impl Into<String>) -> Self {
        match Self::parse(value) {
            Ok(uri) => uri,
            Err(e) => panic!("RedirectUri::new on a string that does not parse as a URL: {e}"),
        }
    }

    /// The string as registered: what is compared, and what a code is sent to.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed form (the string may lack the root path's `/` that this one has).
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host shown to the user on the consent page (empty when there is none).
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_owned()
    }

    /// True on a loopback host: `localhost`, `127.0.0.1` or `[::1]` (where a native app listens; RFC 8252).
    pub fn is_loopback(&self) -> bool {
        match self.url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
            Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
            None => false,
        }
    }
}

impl PartialEq for RedirectUri {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for RedirectUri {}

impl std::hash::Hash for RedirectUri {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl PartialOrd for RedirectUri {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RedirectUri {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.raw).finish()
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = url::ParseError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl Serialize for RedirectUri {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(raw).map_err(|e| serde::de::Error::custom(format!("a redirect URI that does not parse: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_uri_that_does_not_parse_cannot_be_made() {
        assert!(RedirectUri::parse("not a url").is_err());
        assert!(RedirectUri::parse("/relative/cb").is_err());
        assert!(RedirectUri::try_from(String::new()).is_err());
        assert!(serde_json::from_str::<RedirectUri>(r#""://nothing""#).is_err());
    }

    #[test]
    fn the_string_is_kept_exactly_and_compared_exactly() {
        // The parsed form adds the root path's `/`; what is compared and sent is still the string as registered.
        let bare = RedirectUri::parse("https://app.example").unwrap();
        assert_eq!(bare.as_str(), "https://app.example");
        assert_eq!(bare.url().as_str(), "https://app.example/");
        assert_eq!(bare.to_string(), "https://app.example");
        // Two strings for the same URL are two redirect URIs: no normalisation.
        let slashed = RedirectUri::parse("https://app.example/").unwrap();
        assert_eq!(bare.url(), slashed.url());
        assert_ne!(bare, slashed);
        assert_ne!(RedirectUri::parse("HTTPS://APP.example/").unwrap(), slashed);
        assert_eq!(format!("{bare:?}"), r#"RedirectUri("https://app.example")"#);
    }

    #[test]
    fn serialized_as_the_bare_string() {
        let uri = RedirectUri::parse("http://127.0.0.1:33418").unwrap();
        let json = serde_json::to_string(&uri).unwrap();
        assert_eq!(json, r#""http://127.0.0.1:33418""#);
        let back: RedirectUri = serde_json::from_str(&json).unwrap();
        assert_eq!((back.as_str(), back.url().as_str()), ("http://127.0.0.1:33418", "http://127.0.0.1:33418/"));
    }

    #[test]
    fn host_and_loopback_read_the_parsed_form() {
        let uri = |s: &str| RedirectUri::parse(s).unwrap();
        assert_eq!(uri("https://claude.ai/api/mcp/auth_callback").host(), "claude.ai");
        assert_eq!(uri("cursor://anysphere.cursor-retrieval/oauth").host(), "anysphere.cursor-retrieval");
        assert_eq!(uri("urn:ietf:wg:oauth:2.0:oob").host(), "");
        for loopback in
            ["http://localhost:6274/cb", "http://LOCALHOST/", "http://127.0.0.1:33418/", "http://[::1]:1/cb"]
        {
            assert!(uri(loopback).is_loopback(), "{loopback}");
        }
        for other in ["https://claude.ai/cb", "http://localhost.evil.com/cb", "http://127.0.0.2/", "urn:x:y"] {
            assert!(!uri(other).is_loopback(), "{other}");
        }
    }
}
