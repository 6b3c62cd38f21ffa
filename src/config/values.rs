//! Checks on single values, each knowing nothing of keys or layers: URLs, source locations, domains, emails, secret
//! names. They return the message `validate` files under the key the value came from.

use skillport_providers::local::is_loopback_host;
use url::Url;

use super::names::SourceKind;
use super::Secret;

/// Shortest signing key accepted (the download-link key, the OAuth master key): HMAC-SHA256 wants at least 32 bytes
/// of key to be worth its tag.
pub(super) const MIN_SIGNING_KEY_LEN: usize = 32;

/// A signing key, found in the secret `name`, long enough to be worth its tag.
pub(super) fn check_signing_key(name: &str, key: &Secret) -> Result<(), String> {
    if key.expose().len() >= MIN_SIGNING_KEY_LEN {
        return Ok(());
    }
    Err(format!(
        "names the secret `{name}`, which is shorter than {MIN_SIGNING_KEY_LEN} characters; store a random key \
         instead: `openssl rand -base64 32 | wrangler secret put {name}`"
    ))
}

/// A size or count where 0 would refuse everything.
pub(super) fn check_positive(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("must be greater than 0".to_owned())
    } else {
        Ok(n)
    }
}

/// A positive number no larger than `max`; `why` follows the bound in the message and says why it is there.
pub(super) fn check_at_most(n: u64, max: u64, why: &str) -> Result<u64, String> {
    match check_positive(n)? {
        n if n > max => Err(format!("must be at most {max} {why}")),
        n => Ok(n),
    }
}

/// A number within `min..=max`; `unit` (such as `" seconds"`) follows the range in the message.
pub(super) fn check_between(n: u64, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between {min} and {max}{unit}"))
    }
}

/// The download-link key derived from the OAuth master key: HMAC-SHA256(master, purpose), hex. A separate purpose
/// string keeps it unrelated to the OAuth server's own derived keys.
pub(super) fn derive_download_key(master: &Secret) -> Secret {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(master.expose().as_bytes()).expect("any key length");
    mac.update(b"skillport download links v1");
    let bytes = mac.finalize().into_bytes();
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// An https URL, or http on a loopback host so tests and `wrangler dev` can use local stand-ins.
pub(super) fn check_web_url(text: &str, query_allowed: bool) -> Result<Url, String> {
    // A URL with `@` may carry a password; it is then not repeated in the message.
    let shown = if text.contains('@') { "this URL".to_owned() } else { format!("`{text}`") };
    let url = Url::parse(text).map_err(|e| format!("{shown} is not a valid URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password; name a Worker secret for credentials instead".into());
    }
    let Some(host) = url.host_str() else { return Err(format!("{shown} has no host")) };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(format!(
                "{shown} must use https; plain http is only accepted for a loopback host such as localhost"
            ))
        }
        other => return Err(format!("{shown} must be an https URL, not {other}:")),
    }
    if url.fragment().is_some() {
        return Err(format!("{shown} must not have a #fragment"));
    }
    if !query_allowed && url.query().is_some() {
        return Err(format!("{shown} must not have a ?query"));
    }
    Ok(url)
}

/// A path segment of a repository or folder name: what GitHub and GitLab allow, which also rules out `.` and `..`.
fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(super) fn check_location(kind: SourceKind, location: &str) -> Result<(), String> {
    match kind {
        SourceKind::Github => {
            let parts: Vec<&str> = location.split('/').collect();
            if parts.len() != 2 || !parts.iter().all(|p| is_path_segment(p)) {
                return Err(format!("`{location}` is not a GitHub repository; write it as owner/repo"));
            }
        }
        SourceKind::Gitlab => {
            let numeric = location.chars().all(|c| c.is_ascii_digit());
            let parts: Vec<&str> = location.split('/').collect();
            if !numeric && (parts.len() < 2 || !parts.iter().all(|p| is_path_segment(p))) {
                return Err(format!(
                    "`{location}` is not a GitLab project; write it as group/project (subgroups allowed) or the \
                     numeric project id"
                ));
            }
        }
        SourceKind::Https => {
            check_web_url(location, true)?;
        }
        SourceKind::Bundled => {
            if !location.split('/').all(is_path_segment) {
                return Err(format!(
                    "`{location}` is not a folder under examples/; write a relative folder name such as `marketplace`"
                ));
            }
        }
    }
    Ok(())
}

/// A bare domain, lower-cased: letters, digits, `-` and `.` (so `localhost`, the `local` user's domain, passes).
pub(super) fn check_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().to_ascii_lowercase();
    let valid = !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if valid {
        Ok(domain)
    } else {
        Err(format!("`{domain}` is not a domain; write it bare, as in example.com"))
    }
}

pub(super) fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_ascii_lowercase();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => Ok(email),
        _ => Err(format!("`{email}` is not an email address")),
    }
}

pub(super) fn check_auth0_domain(domain: &str) -> Result<String, String> {
    if domain.contains("://") || domain.contains('/') {
        return Err(format!(
            "`{domain}` must be the tenant's domain alone, such as acme.eu.auth0.com, without https:// or a path"
        ));
    }
    let domain = check_domain(domain)?;
    if !domain.contains('.') {
        return Err(format!("`{domain}` is not a tenant domain such as acme.eu.auth0.com"));
    }
    Ok(domain)
}

/// Whether `name` looks like a Worker binding: UPPER_SNAKE_CASE, as `wrangler secret put` is conventionally used.
pub(super) fn looks_like_binding_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The shortest webhook secret accepted: a guessable one would let anyone trigger refreshes.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// Why a named secret could not be used. The name is only repeated when it looks like a binding name: an admin who
/// pasted the token itself where its name belongs must not find it in the log.
pub(super) fn missing_secret_message(name: &str, empty: bool) -> String {
    if !looks_like_binding_name(name) {
        return "names a Worker secret that is not set. The name is not repeated here because it does not look like \
                one (UPPER_SNAKE_CASE) and may be the secret itself: store the secret with `wrangler secret put NAME` \
                and set this key to NAME"
            .into();
    }
    if empty {
        format!("names the secret `{name}`, which is empty; set it with `wrangler secret put {name}`")
    } else {
        format!("names the secret `{name}`, which is not set; add it with `wrangler secret put {name}`")
    }
}

/// Whether `name`, found where a secret's name belongs, looks like one (UPPER_SNAKE_CASE) rather than like a pasted
/// secret value, which must then not be printed.
pub fn looks_like_secret_name(name: &str) -> bool {
    looks_like_binding_name(name)
}
