//! Compact JWTs as sign-in checks them: the ID token the token endpoint returns, and a userinfo answer that comes
//! signed. The claims are read into a plain JSON map plus the few registered claims the checks need.
//!
//! Why not `openidconnect`'s `IdToken` and `IdTokenVerifier`: its claims types (`IdTokenClaims`, `UserInfoClaims`)
//! read every standard claim through `#[serde(flatten)]`, `serde_path_to_error` and `chrono`, about 60 KB of the
//! Worker's gzipped wasm, for the six claims sign-in reads. The checks here are that verifier's, in its order, with
//! its outcomes (see [`Refusal`]): JOSE header (`typ` `JWT`/`application/jwt`/`application/jose` or absent, no `cty`,
//! no `crit`, no encryption), issuer, audience (ours, and no other), then the signature (not `none`, an allowed
//! algorithm, exactly one eligible key, verified by [`jws::verify`]), then expiry, issue time and nonce. What it no
//! longer checks: the types of standard claims no part of sign-in reads (a `locale` that is a number, an
//! `updated_at` that is not a date): a token malformed only there is now accepted.

use base64::Engine as _;
use openidconnect::core::{CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKeySet;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jws::{self, Jwk, BASE64URL};

/// Why a JWT is refused, one variant per outcome `openidconnect`'s `ClaimsVerificationError` had here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// An unsupported JOSE header (`typ`, `cty`, `crit`) or an encrypted token.
    Unsupported,
    Issuer,
    Audience,
    Unsigned,
    DisallowedAlg,
    NoMatchingKey,
    AmbiguousKey,
    BadSignature,
    /// Expired, or issued in the future.
    Expired,
    Nonce,
}

/// A JWT whose parts and JSON parsed; nothing in it is checked yet.
pub(super) struct Jwt {
    header: Header,
    /// `None` for `alg` `none`; `Err` for an encryption algorithm.
    alg: Option<Result<CoreJwsSigningAlgorithm, ()>>,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
    registered: Registered,
    signing_input: String,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    crit: Option<Vec<String>>,
    cty: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
}

/// The registered claims the checks read. Only `iss`, `aud` and `sub` are typed for every token (they are for
/// userinfo answers too); `exp`, `iat` and `nonce` are an ID token's, checked by [`read_claims`].
#[derive(Deserialize)]
pub(super) struct Registered {
    iss: Option<String>,
    aud: Option<Audiences>,
    sub: Option<String>,
    exp: Option<Value>,
    iat: Option<Value>,
    nonce: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

impl Audiences {
    fn as_slice(&self) -> &[String] {
        match self {
            Audiences::One(one) => std::slice::from_ref(one),
            Audiences::Many(many) => many,
        }
    }
}

/// Who must have issued the token, and for which client.
pub(super) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
}

impl Registered {
    /// The `sub` claim (present whenever [`read_claims`] returned these).
    pub(super) fn subject(&self) -> &str {
        self.sub.as_deref().unwrap_or_default()
    }
}

impl Jwt {
    /// Parses a compact JWT: three base64url parts, a JSON header with a known `alg`, a JSON object of claims.
    /// `id_token` also requires the claims an ID token cannot lack (`iss`, `aud`, `sub`, `exp`, `iat`, as numbers
    /// where they are times). `None` when it is not such a token.
    pub(super) fn parse(token: &str, id_token: bool) -> Option<Jwt> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else { return None };
        let header_json = BASE64URL.decode(header).ok()?;
        let header_value: Header = serde_json::from_slice(&header_json).ok()?;
        let payload_json = BASE64URL.decode(payload).ok()?;
        let signature_bytes = BASE64URL.decode(signature).ok()?;
        let alg = if header_value.alg == "none" {
            None
        } else if serde_json::from_value::<CoreJweContentEncryptionAlgorithm>(Value::String(header_value.alg.clone()))
            .is_ok()
        {
            Some(Err(()))
        } else {
            Some(Ok(serde_json::from_value::<CoreJwsSigningAlgorithm>(Value::String(header_value.alg.clone())).ok()?))
        };
        let (claims, registered) = read_claims(&payload_json, id_token)?;
        Some(Jwt {
            header: header_value,
            alg,
            claims,
            registered,
            signing_input: format!("{header}.{payload}"),
            signature: signature_bytes,
        })
    }

    /// The `sub` claim (every token [`Jwt::parse`] returns has one).
    pub(super) fn subject(&self) -> &str {
        self.registered.subject()
    }

    /// The checks shared by ID tokens and signed userinfo answers, up to and including the signature.
    pub(super) async fn verify(
        &self,
        expected: &Expected<'_>,
        keys: &JsonWebKeySet<Jwk>,
        allowed: &[CoreJwsSigningAlgorithm],
    ) -> Result<(), Refusal> {
        if self.header.typ.as_deref().is_some_and(|typ| !allowed_type(typ))
            || self.header.cty.is_some()
            || self.header.crit.is_some()
            || matches!(self.alg, Some(Err(())))
        {
            return Err(Refusal::Unsupported);
        }
        if self.registered.iss.as_deref() != Some(expected.issuer) {
            return Err(Refusal::Issuer);
        }
        let Some(audiences) = &self.registered.aud else { return Err(Refusal::Audience) };
        // Ours, and no other audience: an ID token also issued to another client is not only ours to trust.
        if !audiences.as_slice().iter().all(|aud| aud == expected.client_id) || audiences.as_slice().is_empty() {
            return Err(Refusal::Audience);
        }
        let Some(Ok(alg)) = &self.alg else { return Err(Refusal::Unsigned) };
        if !allowed.contains(alg) {
            return Err(Refusal::DisallowedAlg);
        }
        let eligible: Vec<&Jwk> = keys
            .keys()
            .iter()
            .filter(|key| {
                self.header.kid.as_deref().is_none_or(|kid| jws::key_id(key) == Some(kid)) && jws::signs_with(key, alg)
            })
            .collect();
        let key = match eligible[..] {
            [] => return Err(Refusal::NoMatchingKey),
            [key] => key,
            _ => return Err(Refusal::AmbiguousKey),
        };
        if !jws::verify(key.core(), alg, self.signing_input.as_bytes(), &self.signature).await {
            return Err(Refusal::BadSignature);
        }
        Ok(())
    }

    /// The ID token's own checks after [`Jwt::verify`]: not expired at `now` (less `leeway`), not issued after `now`
    /// (plus `leeway`), and carrying `nonce`.
    pub(super) fn check_times_and_nonce(&self, now: u64, leeway: u64, nonce: &str) -> Result<(), Refusal> {
        let checked_at = now.saturating_sub(leeway) as f64;
        let latest_iat = now.saturating_add(leeway) as f64;
        let (Some(exp), Some(iat)) = (seconds(self.registered.exp.as_ref()), seconds(self.registered.iat.as_ref()))
        else {
            return Err(Refusal::Expired);
        };
        if checked_at >= exp || iat > latest_iat {
            return Err(Refusal::Expired);
        }
        // Compared as digests, so the comparison's time says nothing about the expected nonce.
        match self.registered.nonce.as_ref().and_then(Value::as_str) {
            Some(claimed) if Sha256::digest(claimed.as_bytes()) == Sha256::digest(nonce.as_bytes()) => Ok(()),
            _ => Err(Refusal::Nonce),
        }
    }
}

/// Reads a JSON object of claims: every claim as sent, and the registered ones typed. `None` (the token or answer
/// is malformed) when it is not an object, `sub` is missing or not a string, `iss` is not a URL, `aud` is not a
/// string or an array of strings, or, for an ID token (`id_token`), `iss`, `aud`, a numeric `exp` and `iat` are
/// missing or `nonce` is not a string: what `openidconnect`'s `IdTokenClaims` and `UserInfoClaims` required.
pub(super) fn read_claims(json: &[u8], id_token: bool) -> Option<(Map<String, Value>, Registered)> {
    let claims: Map<String, Value> = serde_json::from_slice(json).ok()?;
    let registered: Registered = serde_json::from_value(Value::Object(claims.clone())).ok()?;
    if registered.sub.is_none() || registered.iss.as_deref().is_some_and(|iss| url::Url::parse(iss).is_err()) {
        return None;
    }
    if id_token {
        let nonce_ok = registered.nonce.as_ref().is_none_or(|n| n.is_string() || n.is_null());
        let times_ok = seconds(registered.exp.as_ref()).is_some() && seconds(registered.iat.as_ref()).is_some();
        if registered.iss.is_none() || registered.aud.is_none() || !nonce_ok || !times_ok {
            return None;
        }
    }
    Some((claims, registered))
}

/// The claims `openidconnect` typed as standard (`StandardClaims`, and an ID token's optional ones): it left them
/// out of the claims it handed back when they were `null`, so a `null` there never hides the same claim from
/// userinfo. [`without_null_standard_claims`] keeps that.
const STANDARD_CLAIMS: [&str; 26] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
];

/// `claims` without the standard claims that are `null` (see [`STANDARD_CLAIMS`]).
pub(super) fn without_null_standard_claims(mut claims: Map<String, Value>) -> Map<String, Value> {
    claims.retain(|name, value| !(value.is_null() && STANDARD_CLAIMS.contains(&name.as_str())));
    claims
}

/// A time claim as seconds, fractions kept: a NumericDate, or (as `openidconnect` also read them) an RFC 3339
/// string. `None` when it is neither, or not a time chrono (which `openidconnect` read it with) can hold: from
/// -262143-01-01T00:00:00Z to the end of 262142.
fn seconds(value: Option<&Value>) -> Option<f64> {
    const EARLIEST: f64 = -8_334_601_315_200.0;
    const LATEST: f64 = 8_210_266_876_800.0;
    let secs = match value? {
        Value::String(text) => rfc3339(text)?,
        other => other.as_f64()?,
    };
    (EARLIEST..LATEST).contains(&secs).then_some(secs)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (`T` may be `t` or a space, `Z` may be `z`) as seconds since
/// the epoch, as chrono reads it (a leap second `:60` is the next minute's first second).
fn rfc3339(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[16] != b':' {
        return None;
    }
    let leap_year = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap_year { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(digits.len());
        if end == 0 {
            return None;
        }
        fraction = format!("0.{}", &digits[..end]).parse::<f64>().ok()?;
        rest = &digits[end..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let field = |a: &u8, b: &u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (field(h1, h2)?, field(m1, m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64 + fraction)
}

/// Whether a JOSE `typ` is one an ID token may carry: `JWT` (short for `application/jwt`) or `application/jose`,
/// compared case-insensitively; a type with parameters never matches.
fn allowed_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let full = if typ.contains('/') { typ } else { format!("application/{typ}") };
    full == "application/jwt" || full == "application/jose"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_openidconnect_read_them() {
        assert_eq!(seconds(Some(&json!(1_750_000_000))), Some(1_750_000_000.0));
        assert_eq!(seconds(Some(&json!(1.5))), Some(1.5));
        assert_eq!(seconds(Some(&json!("2025-01-01T00:00:00Z"))), Some(1_735_689_600.0));
        assert_eq!(seconds(Some(&json!("2025-01-01t01:00:00.250+01:00"))), Some(1_735_689_600.25));
        assert_eq!(seconds(Some(&json!("2024-02-29 23:59:60z"))), Some(1_709_251_200.0));
        assert_eq!(seconds(Some(&json!("1969-12-31T23:59:59-00:30"))), Some(1_799.0));
        for bad in [
            "2025-02-29T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00+0100",
            "2025-1-01T00:00:00Z",
            "yesterday",
        ] {
            assert_eq!(seconds(Some(&json!(bad))), None, "{bad}");
        }
        assert_eq!(seconds(Some(&json!(9e15))), None);
        assert_eq!(seconds(Some(&json!(true))), None);
        assert_eq!(seconds(None), None);
    }

    #[test]
    fn jose_types() {
        for ok in ["JWT", "jwt", "application/jwt", "Application/JOSE", "jose"] {
            assert!(allowed_type(ok), "{ok}");
        }
        for refused in ["at+jwt", "application/jwt; charset=utf-8", "JWS", ""] {
            assert!(!allowed_type(refused), "{refused}");
        }
    }
}
