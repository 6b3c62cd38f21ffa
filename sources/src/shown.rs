//! Locations as users may see them: every URL without its user name, password, query or fragment.
//!
//! A marketplace or plugin URL may carry a credential in its query (`?token=…`, a signed link) or, for URLs an
//! author wrote into marketplace.json, in its user part (`https://user:token@host/…`). Skillport needs the whole URL
//! to fetch, but a user only needs to know where something comes from. [`shown_locations`] is the one function every
//! place that shows a location calls (tool results, install steps, errors, the status page, the start-up log), so a
//! secret in a URL reaches none of them.
//!
//! Not for: deciding which URLs may be fetched (the sources and `external` check that).

use std::borrow::Cow;

/// `text` with every `scheme://…` URL in it cut to scheme, host (and port) and path: the user name and password,
/// the `?query` and the `#fragment` are left out. Works on a bare location (`https://h/m.json?sig=x` →
/// `https://h/m.json`) and on a sentence holding URLs (an error message); text without `://` is returned as it is.
/// A URL ends at whitespace, a quote or backtick, `<`, `>` or `)`, and does not take a sentence's closing punctuation.
pub fn shown_locations(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let ends_url = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '`' | '"' | '\'' | '<' | '>' | ')');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let before = &rest[..at];
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .map(char::len_utf8)
            .sum::<usize>();
        out.push_str(before);
        let after = &rest[at + 3..];
        let end = after.find(ends_url).unwrap_or(after.len());
        // Punctuation closing a sentence or clause (`…/m.json?sig=x: HTTP 404`) belongs to the text, not the URL.
        let end = after[..end].trim_end_matches(['.', ',', ':', ';', '!']).len();
        let url = &after[..end];
        if scheme_len > 0 {
            let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
            // The user part ends at the authority's last `@` (a password may itself hold an `@`, unescaped).
            let host = url[..authority_end].rsplit_once('@').map_or(&url[..authority_end], |(_, host)| host);
            let path_end = url.find(['?', '#']).unwrap_or(url.len()).max(authority_end);
            out.push_str("://");
            out.push_str(host);
            out.push_str(&url[authority_end..path_end]);
        } else {
            out.push_str("://");
            out.push_str(url);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::shown_locations;

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        for (given, shown) in [
            ("https://h.example/m.json?token=s3cret", "https://h.example/m.json"),
            ("https://user:s3cret@h.example:8443/a/b.git", "https://h.example:8443/a/b.git"),
            ("https://u:p@ss@h.example/x?sig=s3cret#frag", "https://h.example/x"),
            ("https://h.example?key=s3cret", "https://h.example"),
            ("https://h.example#s3cret", "https://h.example"),
            ("http://[::1]:8787/m.json?x=s3cret", "http://[::1]:8787/m.json"),
            ("HTTPS://tok:s3cret@H.example/p", "HTTPS://H.example/p"),
            // A fragment or query cannot hide the path, and a `/` in the query is not the path.
            ("https://h.example/p?next=/s3cret/x", "https://h.example/p"),
        ] {
            assert_eq!(shown_locations(given), shown, "{given}");
            assert!(!shown_locations(given).contains("s3cret"));
        }
    }

    #[test]
    fn urls_inside_sentences_are_cut_and_the_rest_kept() {
        assert_eq!(
            shown_locations("GET https://h.example/m.json?sig=s3cret failed: HTTP 503, then `git+https://t:s3cret@g.example/r.git` (https://a.example/x.zip?k=s3cret)"),
            "GET https://h.example/m.json failed: HTTP 503, then `git+https://g.example/r.git` (https://a.example/x.zip)"
        );
        assert_eq!(
            shown_locations("two: https://a.example/?a=1\nhttps://b.example/?b=2"),
            "two: https://a.example/\nhttps://b.example/"
        );
        assert_eq!(
            shown_locations(
                "could not fetch https://a.example/p.zip?sig=s3cret#f: HTTP 404, see https://b.example/x?k=1."
            ),
            "could not fetch https://a.example/p.zip: HTTP 404, see https://b.example/x."
        );
    }

    #[test]
    fn text_without_urls_is_untouched() {
        for text in
            ["acme/plugins@main", "", "user@example.com", "a ? b # c", "://", "x :// y?z", "é://ü?x", "marketplace"]
        {
            let shown = shown_locations(text);
            if text.contains("://") {
                // No scheme before `://`: nothing to cut, nothing lost.
                assert_eq!(shown, text, "{text}");
            } else {
                assert!(matches!(shown, std::borrow::Cow::Borrowed(_)), "{text}");
            }
        }
    }
}
