//! The `local` provider: signs everyone in as one configured development user.
//!
//! It exists so that `wrangler dev` on a laptop exercises the whole product without an identity provider. It must
//! never serve a real deployment, so it is refused twice: configuration validation rejects it for a public URL that
//! is not loopback, and [`LocalProvider::sign_in`] rejects any request whose host is not loopback.

use crate::{Identity, ProviderError};
use serde::{Deserialize, Serialize};

/// The development user `local` signs everyone in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUser {
    #[serde(default = "default_subject")]
    pub subject: String,
    #[serde(default = "default_email")]
    pub email: String,
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

fn default_subject() -> String {
    "local-developer".into()
}
fn default_email() -> String {
    "developer@localhost".into()
}
fn default_name() -> String {
    "Local Developer".into()
}

impl Default for LocalUser {
    fn default() -> Self {
        LocalUser { subject: default_subject(), email: default_email(), name: default_name(), groups: Vec::new() }
    }
}

#[derive(Debug, Clone)]
pub struct LocalProvider {
    user: LocalUser,
}

impl LocalProvider {
    pub fn new(user: LocalUser) -> Self {
        LocalProvider { user }
    }

    /// Signs the request in as the development user, if and only if `host` (the request's `Host`, with or without
    /// port) is a loopback name or address.
    pub fn sign_in(&self, host: &str) -> Result<Identity, ProviderError> {
        if !is_loopback_host(host) {
            return Err(ProviderError::Refused(format!(
                "the local provider only answers on a loopback host, not `{host}`"
            )));
        }
        let domain = self.user.email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        Ok(Identity {
            provider: "local".into(),
            subject: self.user.subject.clone(),
            email: Some(self.user.email.clone()),
            email_verified: true,
            name: Some(self.user.name.clone()),
            domain,
            groups: self.user.groups.clone(),
            orgs: Vec::new(),
            teams: Vec::new(),
        })
    }
}

/// True for `localhost`, `*.localhost`, `127.0.0.0/8` and `[::1]`, with an optional `:port`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    // Strip the port, minding IPv6 brackets.
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, tail)) if tail.is_empty() || valid_port(tail) => inner,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) if !n.contains(':') => {
                if !valid_port(&format!(":{p}")) {
                    return false;
                }
                n
            }
            Some(_) => host, // bare IPv6 without brackets
            None => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    false
}

fn valid_port(tail: &str) -> bool {
    match tail.strip_prefix(':') {
        Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:8787",
            "127.0.0.1",
            "127.3.4.5:80",
            "[::1]",
            "[::1]:8787",
            "::1",
            "app.localhost:1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in
            ["example.com", "localhost.example.com", "10.0.0.1", "[::2]:80", "127.0.0.1:abc", "", "0.0.0.0", "[::1]x"]
        {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn signs_in_only_on_loopback() {
        let p = LocalProvider::new(LocalUser::default());
        let id = p.sign_in("localhost:8787").unwrap();
        assert_eq!(id.provider, "local");
        assert_eq!(id.email.as_deref(), Some("developer@localhost"));
        assert_eq!(id.domain.as_deref(), Some("localhost"));
        assert!(matches!(p.sign_in("skillport.example.com"), Err(ProviderError::Refused(_))));
    }
}
