//! The steps every upstream provider shares: the checks on a callback before anything is exchanged, the mapping of
//! the upstream's error codes, PKCE verifiers and nonces from the platform's random source, the allowed-domain rule,
//! and the mapping of a transport failure. Each provider module calls these; none of them knows a provider.

use crate::{CallbackParams, HttpError, ProviderError, Secret, SignInStart};

/// The checks every provider makes on a callback before exchanging anything: the state is ours, the upstream did
/// not report an error, and there is a code. Returns the code.
pub(crate) fn check_callback<'a>(
    callback: &'a CallbackParams,
    kept: &SignInStart,
) -> Result<&'a Secret, ProviderError> {
    match &callback.state {
        Some(state) if constant_time_eq(state.as_bytes(), kept.state.as_bytes()) => {}
        _ => return Err(ProviderError::BadState),
    }
    if let Some(error) = &callback.error {
        return Err(upstream_error(error));
    }
    callback.code.as_ref().filter(|c| !c.expose().is_empty()).ok_or_else(|| ProviderError::Exchange("no code".into()))
}

/// Maps an OAuth / OpenID Connect authorization error code (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) to an error.
fn upstream_error(error: &str) -> ProviderError {
    match error {
        "access_denied"
        | "consent_required"
        | "login_required"
        | "interaction_required"
        | "account_selection_required" => ProviderError::Denied,
        "temporarily_unavailable" | "server_error" => {
            ProviderError::Unavailable(format!("authorization {}", oauth_code(error)))
        }
        "invalid_request"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "invalid_scope"
        | "redirect_uri_mismatch"
        | "application_suspended"
        | "invalid_client" => ProviderError::Misconfigured(format!("authorization refused: {}", oauth_code(error))),
        other => ProviderError::Exchange(oauth_code(other)),
    }
}

/// An upstream error code, kept only if it looks like one (`[a-z0-9_]`, short): upstream text never reaches a page.
pub(crate) fn oauth_code(code: &str) -> String {
    if !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        code.to_string()
    } else {
        "unrecognised_error".to_string()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new PKCE S256 challenge and its verifier: 32 random bytes, base64url (43 characters), exactly as
/// `PkceCodeChallenge::new_random_sha256` makes them, but from the platform's CSPRNG (`getrandom`:
/// `crypto.getRandomValues` on Workers) rather than `rand`'s ChaCha `thread_rng`, which this crate would otherwise be
/// the only user of in the Worker.
pub(crate) fn new_pkce() -> (openidconnect::PkceCodeChallenge, openidconnect::PkceCodeVerifier) {
    let verifier = openidconnect::PkceCodeVerifier::new(random_base64url(32));
    (openidconnect::PkceCodeChallenge::from_code_verifier_sha256(&verifier), verifier)
}

/// `len` random bytes from the platform's CSPRNG, base64url without padding. Like `rand::thread_rng`, which it
/// replaces, it panics only when the platform has no random source at all.
pub(crate) fn random_base64url(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).expect("the platform's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The lower-cased domain of an email address.
pub(crate) fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty())
}

/// Refuses `domain` unless `allowed` is empty (no rule) or lists it (case-insensitive).
pub(crate) fn check_domain(domain: Option<&str>, allowed: &[String]) -> Result<(), ProviderError> {
    if allowed.is_empty() {
        return Ok(());
    }
    match domain {
        Some(d) if allowed.iter().any(|a| a.trim_end_matches('.').eq_ignore_ascii_case(d)) => Ok(()),
        Some(d) => Err(ProviderError::Rejected(format!("the domain `{d}` is not allowed to sign in"))),
        None => Err(ProviderError::Rejected("no verified email domain, and only some domains may sign in".into())),
    }
}

/// Maps a transport failure of the seam.
pub(crate) fn transport(step: &str, error: &HttpError) -> ProviderError {
    match error {
        HttpError::Timeout => ProviderError::Unavailable(format!("{step} timed out")),
        HttpError::TooLarge(_) => {
            ProviderError::Unavailable(format!("{step} sent an answer that is too large ({error})"))
        }
        HttpError::Connect(_) => ProviderError::Unavailable(format!("{step} could not be reached")),
        HttpError::Budget(_) => ProviderError::Unavailable(format!("{step} was not attempted: {error}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a started sign-in keeps, for tests of the steps that read it.
    pub(crate) fn kept() -> SignInStart {
        SignInStart {
            authorize_url: "https://idp/authorize".into(),
            state: "st".into(),
            pkce_verifier: Secret::new("v"),
            nonce: None,
        }
    }

    #[test]
    fn callback_checks_state_then_error_then_code() {
        let ok = CallbackParams::from_query("?code=c0de&state=st");
        assert_eq!(check_callback(&ok, &kept()).unwrap().expose(), "c0de");
        let wrong = CallbackParams::from_query("code=c0de&state=other");
        assert_eq!(check_callback(&wrong, &kept()), Err(ProviderError::BadState));
        let missing = CallbackParams::from_query("code=c0de");
        assert_eq!(check_callback(&missing, &kept()), Err(ProviderError::BadState));
        let denied = CallbackParams::from_query("error=access_denied&error_description=The+user+said+no&state=st");
        assert_eq!(check_callback(&denied, &kept()), Err(ProviderError::Denied));
        let odd = CallbackParams::from_query("error=%3Cscript%3E&state=st");
        assert_eq!(check_callback(&odd, &kept()), Err(ProviderError::Exchange("unrecognised_error".into())));
        let no_code = CallbackParams::from_query("state=st");
        assert!(matches!(check_callback(&no_code, &kept()), Err(ProviderError::Exchange(_))));
    }

    #[test]
    fn domains() {
        assert_eq!(email_domain("A@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_domain("nobody"), None);
        assert!(check_domain(None, &[]).is_ok());
        assert!(check_domain(Some("example.com"), &["EXAMPLE.com".into()]).is_ok());
        assert!(matches!(check_domain(Some("evil.com"), &["example.com".into()]), Err(ProviderError::Rejected(_))));
        assert!(matches!(check_domain(None, &["example.com".into()]), Err(ProviderError::Rejected(_))));
    }
}
