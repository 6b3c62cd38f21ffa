//! The HTML pages the authorization server and the status page render: one look, one set of security headers, and
//! error pages. A leaf: it knows nothing of authorizations, consent or clients.

use crate::http::HttpResponse;

/// Security headers of every page this server renders: nothing loads but inline style, forms post only to us, and
/// no one may frame it (clickjacking an Approve button).
pub fn page_headers(resp: HttpResponse) -> HttpResponse {
    resp.header(
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .header("x-frame-options", "DENY")
    .header("cache-control", "no-store")
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}\
    h1{font-size:1.3rem}.who{color:#555}code{background:#f3f3f3;padding:0 .2rem}.identity code{word-break:break-all}\
    form{display:flex;gap:.75rem;margin-top:1.5rem}button{font-size:1rem;padding:.5rem 1.2rem;cursor:pointer}\
    .approve{background:#1a56db;color:#fff;border:0;border-radius:4px}";

pub(crate) fn html_page(status: u16, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}\
         </body></html>",
        html_escape(title)
    );
    page_headers(HttpResponse::new(status).header("content-type", "text/html; charset=utf-8").body(html.into_bytes()))
}

/// An error page (never a redirect): for authorization requests whose client or redirect URI cannot be trusted.
pub fn error_page(status: u16, title: &str, message: &str) -> HttpResponse {
    let body = format!("<h1>{}</h1><p>{}</p>", html_escape(title), html_escape(message));
    html_page(status, title, &body)
}
