//! What every network source shares: the revision string and its validators, sending a request and turning an
//! error status into a [`SourceError`], and choosing which files of a repository a marketplace needs.
//!
//! ## Revisions
//! A network source's revision is [`Revision`] in text form: the id that names the tree (a commit sha, a content
//! digest) followed by the HTTP validators of the answer that produced it, `<id>;e=<etag>;m=<last-modified>;r=<ref>`
//! (each part optional, `%` and `;` percent-escaped). Keeping the ETag *in* the revision rather than in the source
//! object means a refresh stays one conditional request (a 304, free of GitHub's rate limit) even when the caller
//! rebuilt the source, which on Workers happens with every new isolate: the caller persists the revision anyway.
//! Callers still compare revisions for equality only; a source answers `NotModified` when the id is unchanged even
//! if a validator moved.

use std::fmt;

use serde_json::Value;

use crate::files::join;
use crate::model::{MarketplaceManifest, PluginEntry};
use crate::placement::{place_source, Placement};
use crate::tree::MARKETPLACE_FILE;
use crate::SourceError;
use skillport_http::{HttpClient, HttpRequest, HttpResponse};

/// A tree id and the validators to revalidate it with. See the module doc for the text form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revision {
    /// Names the tree: equal ids, equal trees.
    pub id: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The ref the id was resolved from when the source had to look it up (GitLab's default branch), so a refresh
    /// need not look it up again.
    pub git_ref: Option<String>,
}

impl Revision {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), ..Self::default() }
    }

    /// The id plus the validators of `response`.
    pub fn from_response(id: impl Into<String>, response: &HttpResponse) -> Self {
        Self {
            id: id.into(),
            etag: response.header("etag").map(str::to_string),
            last_modified: response.header("last-modified").map(str::to_string),
            git_ref: None,
        }
    }

    /// Parses the text form. `None` for an empty string.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(';');
        let id = unescape(parts.next()?);
        if id.is_empty() {
            return None;
        }
        let mut revision = Self::new(id);
        for part in parts {
            match part.split_once('=') {
                Some(("e", v)) => revision.etag = Some(unescape(v)),
                Some(("m", v)) => revision.last_modified = Some(unescape(v)),
                Some(("r", v)) => revision.git_ref = Some(unescape(v)),
                _ => {}
            }
        }
        Some(revision)
    }

    /// Adds `If-None-Match` (preferred) or `If-Modified-Since` to `req`.
    pub fn conditional(&self, req: HttpRequest) -> HttpRequest {
        match (&self.etag, &self.last_modified) {
            (Some(etag), _) => req.header("if-none-match", etag.clone()),
            (None, Some(date)) => req.header("if-modified-since", date.clone()),
            (None, None) => req,
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(&self.id))?;
        for (key, value) in [("e", &self.etag), ("m", &self.last_modified), ("r", &self.git_ref)] {
            if let Some(value) = value {
                write!(f, ";{key}={}", escape(value))?;
            }
        }
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('%', "%25").replace(';', "%3B")
}

fn unescape(s: &str) -> String {
    s.replace("%3B", ";").replace("%25", "%")
}

/// Body cap of a small API answer (a commit, a project, one page of a tree listing).
pub const API_ANSWER_MAX_BYTES: u64 = 1024 * 1024;
/// Body cap of a whole recursive tree listing (GitHub lists up to 100,000 entries before truncating it).
pub const LISTING_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Body cap of a JSON answer that carries one file base64-encoded (GitHub's blobs): the file's cap, encoded, plus room.
pub fn encoded_file_cap(max_file_bytes: u64) -> u64 {
    max_file_bytes.saturating_mul(3) / 2 + 64 * 1024
}

/// What a revalidating GET found.
#[derive(Debug)]
pub enum Conditional {
    /// 304: the copy the validators name is still current.
    NotModified,
    /// A 2xx answer: new content (or the same content re-sent; the caller compares ids).
    Fresh(HttpResponse),
}

/// The one conditional GET of every network source: `req` carries `since`'s validator (`If-None-Match`, else
/// `If-Modified-Since`), goes through [`send`] (so a 304 that answers no validator is refused as malformed, and an
/// error status is the matching [`SourceError`]), and a 304 comes back as [`Conditional::NotModified`]. Without
/// `since` the request is plain and a 304 is always refused.
pub async fn get_conditional(
    client: &dyn HttpClient,
    req: HttpRequest,
    since: Option<&Revision>,
    what: &str,
) -> Result<Conditional, SourceError> {
    let req = match since {
        Some(since) => since.conditional(req),
        None => req,
    };
    let response = send(client, req, what).await?;
    Ok(if response.status == 304 { Conditional::NotModified } else { Conditional::Fresh(response) })
}

/// Sends `req`; a 2xx, or a 304 to a conditional request, comes back as is; anything else becomes the matching
/// [`SourceError`]. A 304 to a request that named no validator is malformed (there is no copy it could confirm), and
/// an answer over the request's body cap is [`SourceError::TooLarge`]. `what` names the thing asked for in error
/// messages (`owner/repo at ref`): it must never carry a credential.
pub async fn send(client: &dyn HttpClient, req: HttpRequest, what: &str) -> Result<HttpResponse, SourceError> {
    let conditional = req.header_value("if-none-match").is_some() || req.header_value("if-modified-since").is_some();
    let response = match client.send(req).await {
        Ok(response) => response,
        Err(skillport_http::HttpError::TooLarge(cap)) => {
            return Err(SourceError::TooLarge(format!("{what}: an answer is larger than {cap} bytes")))
        }
        Err(e) => return Err(e.into()),
    };
    if response.status == 304 && !conditional {
        return Err(SourceError::Upstream {
            status: 304,
            message: format!("{what}: answered 304 Not Modified to a request that was not conditional"),
        });
    }
    if response.is_success() || response.status == 304 {
        Ok(response)
    } else {
        Err(status_error(&response, what))
    }
}

/// The one mapping from an error status to a [`SourceError`].
///
/// GitHub signals a spent quota with 403 or 429 and `x-ratelimit-remaining: 0` (primary limit) or `retry-after`
/// (secondary limit); GitLab and most servers with 429 and `retry-after`.
pub fn status_error(response: &HttpResponse, what: &str) -> SourceError {
    let status = response.status;
    let remaining_zero = response.header("x-ratelimit-remaining").map(str::trim) == Some("0");
    let retry_after = response.header("retry-after");
    if status == 429 || (status == 403 && (remaining_zero || retry_after.is_some())) {
        return SourceError::RateLimited { retry_after_seconds: retry_after_seconds(response) };
    }
    let message = upstream_message(&response.body);
    match status {
        404 | 410 => SourceError::NotFound(what.to_string()),
        401 | 403 => SourceError::Denied {
            status,
            message: if message.is_empty() { format!("{what}: no access") } else { format!("{what}: {message}") },
        },
        _ => SourceError::Upstream {
            status,
            message: if message.is_empty() { what.to_string() } else { format!("{what}: {message}") },
        },
    }
}

/// `retry-after` in seconds (or as an HTTP date), else `x-ratelimit-reset` (epoch seconds) measured against the
/// response's own `date`, so no clock is needed.
fn retry_after_seconds(response: &HttpResponse) -> Option<u64> {
    let now = response.header("date").and_then(parse_http_date);
    if let Some(value) = response.header("retry-after").map(str::trim) {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(seconds);
        }
        if let (Some(at), Some(now)) = (parse_http_date(value), now) {
            return Some(at.saturating_sub(now));
        }
    }
    let reset = response.header("x-ratelimit-reset")?.trim().parse::<u64>().ok()?;
    Some(reset.saturating_sub(now?))
}

/// The upstream's own words: JSON `message` or `error` (GitHub, GitLab), else the start of a text body.
fn upstream_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        for key in ["message", "error"] {
            match value.get(key) {
                Some(Value::String(s)) => return truncate(s),
                Some(other @ (Value::Object(_) | Value::Array(_))) => return truncate(&other.to_string()),
                _ => {}
            }
        }
        return String::new();
    }
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim_start().starts_with('<') => truncate(text.trim()),
        _ => String::new(),
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.iter().position(|m| *m == month_name)? as u64 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + (h * 3600 + m * 60 + s) as i64).ok()
}

/// The folders of a repository that a marketplace needs, when the source must fetch files one by one (the tree-API
/// fallbacks, the HTTPS manifest form): each in-tree plugin folder and each skills folder its entry lists. `None`
/// means "everything": the manifest did not parse, or a plugin is the marketplace root itself.
pub fn marketplace_folders(marketplace_json: &[u8]) -> Option<Vec<String>> {
    let manifest: MarketplaceManifest = serde_json::from_slice(marketplace_json).ok()?;
    let mut folders = Vec::new();
    for raw in &manifest.plugins {
        let Ok(entry) = serde_json::from_value::<PluginEntry>(raw.clone()) else { continue };
        let Placement::InTree(root) = place_source(&entry.source, manifest.metadata.as_ref()) else { continue };
        if root.is_empty() {
            return None;
        }
        for path in entry.skills.as_ref().map(|s| s.paths()).unwrap_or_default() {
            if let Ok(dir) = join(&root, path) {
                if dir.is_empty() {
                    return None;
                }
                folders.push(dir);
            }
        }
        folders.push(root);
    }
    folders.sort();
    folders.dedup();
    Some(folders)
}

/// True when `path` is the marketplace manifest or lies in one of `folders` (`None`: every path is wanted).
pub fn is_wanted(path: &str, folders: Option<&[String]>) -> bool {
    match folders {
        None => true,
        Some(folders) => {
            path == MARKETPLACE_FILE
                || folders.iter().any(|dir| {
                    path.len() > dir.len() && path.starts_with(dir.as_str()) && path.as_bytes()[dir.len()] == b'/'
                })
        }
    }
}

/// The `rel="next"` target of a `Link` header (`<https://...>; rel="next", <...>; rel="last"`), as GitLab's keyset
/// pagination sends it.
pub fn next_link(response: &HttpResponse) -> Option<String> {
    let header = response.header("link")?;
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_round_trips_with_awkward_validators() {
        let revision = Revision {
            id: "abc".into(),
            etag: Some("W/\"x;y%z\"".into()),
            last_modified: None,
            git_ref: Some("main".into()),
        };
        let text = revision.to_string();
        assert_eq!(text, "abc;e=W/\"x%3By%25z\";r=main");
        assert_eq!(Revision::parse(&text), Some(revision));
        assert_eq!(Revision::parse("abc"), Some(Revision::new("abc")));
        assert_eq!(Revision::parse(""), None);
    }

    #[test]
    fn conditional_prefers_etag() {
        let mut revision = Revision::new("a");
        revision.last_modified = Some("Sun, 06 Nov 1994 08:49:37 GMT".into());
        let req = revision.conditional(HttpRequest::get("u"));
        assert_eq!(req.header_value("if-modified-since"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        revision.etag = Some("\"e\"".into());
        let req = revision.conditional(HttpRequest::get("u"));
        assert_eq!(req.header_value("if-none-match"), Some("\"e\""));
        assert_eq!(req.header_value("if-modified-since"), None);
    }

    #[test]
    fn link_headers() {
        let response = HttpResponse::new(200).with_header(
            "link",
            r#"<https://g/api/v4/projects/1/repository/tree?page_token=x&per_page=100>; rel="next", <https://g/first>; rel="first""#,
        );
        assert_eq!(
            next_link(&response).as_deref(),
            Some("https://g/api/v4/projects/1/repository/tree?page_token=x&per_page=100")
        );
        assert_eq!(next_link(&HttpResponse::new(200).with_header("link", r#"<https://g/first>; rel="first""#)), None);
        assert_eq!(next_link(&HttpResponse::new(200)), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("nonsense"), None);
    }

    #[test]
    fn status_mapping() {
        let limited = HttpResponse::new(403)
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-reset", "784111837")
            .with_header("date", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(matches!(status_error(&limited, "o/r"), SourceError::RateLimited { retry_after_seconds: Some(60) }));
        let secondary = HttpResponse::new(403).with_header("retry-after", "30");
        assert!(matches!(status_error(&secondary, "o/r"), SourceError::RateLimited { retry_after_seconds: Some(30) }));
        assert!(matches!(
            status_error(&HttpResponse::new(429), "o/r"),
            SourceError::RateLimited { retry_after_seconds: None }
        ));
        let denied = HttpResponse::new(403).with_body(r#"{"message":"Resource not accessible"}"#);
        let SourceError::Denied { status: 403, message } = status_error(&denied, "o/r") else { panic!() };
        assert_eq!(message, "o/r: Resource not accessible");
        assert!(
            matches!(status_error(&HttpResponse::new(404), "o/r at main"), SourceError::NotFound(m) if m == "o/r at main")
        );
        let upstream = status_error(&HttpResponse::new(502).with_body("<html>bad gateway</html>"), "o/r");
        assert!(matches!(upstream, SourceError::Upstream { status: 502, ref message } if message == "o/r"));
    }

    #[test]
    fn folders_of_the_example_marketplace() {
        let json = br#"{"name":"m","metadata":{"pluginRoot":"./plugins"},"plugins":[
            {"name":"a","source":"./plugins/a"},{"name":"b","source":"b","skills":["./extra"]},
            {"name":"c","source":{"source":"github","repo":"x/y"}}]}"#;
        let folders = marketplace_folders(json).unwrap();
        assert_eq!(folders, ["plugins/a", "plugins/b", "plugins/b/extra"]);
        assert!(is_wanted(".claude-plugin/marketplace.json", Some(&folders)));
        assert!(is_wanted("plugins/a/SKILL.md", Some(&folders)));
        assert!(!is_wanted("plugins/ab/SKILL.md", Some(&folders)));
        assert!(!is_wanted("README.md", Some(&folders)));
        assert_eq!(marketplace_folders(br#"{"name":"m","plugins":[{"name":"r","source":"./"}]}"#), None);
    }
}
