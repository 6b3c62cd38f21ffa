//! `GET /download/<token>`: one skill as a `.skill` ZIP, through a signed, short-lived link that `fetch_skill` hands
//! out, so a user of Claude.ai or Claude Desktop can upload it in Settings > Capabilities > Skills.
//!
//! Downloads are deliberately NOT behind the MCP sign-in: the browser that follows the link carries no bearer token.
//! The signed token is the capability. It names one skill at one content digest, is signed with this deployment's
//! key (HMAC-SHA256, `server.download_key_secret`) and expires after `server.download_ttl_seconds` (15 minutes by
//! default), so a leaked link gives access to that one skill's bytes, as they were when the link was issued, for
//! minutes. A link whose skill has changed since is refused rather than serving other bytes than it promised. Every
//! refused link gets the same answer (403, [`REFUSED`]), whatever the reason (forged, expired, changed, gone, hidden),
//! so a link reveals nothing about what exists; the reason is in the audit log.
//!
//! Access rules (`crate::access`) are checked when the link is issued: `fetch_skill` resolves the skill through the
//! caller's view of the catalogue and signs a link only for a skill that view shows. The download itself does not
//! re-check them, because it has no one to check: the browser carries no sign-in, and the token names a skill, not a
//! user. So a link stays usable by whoever holds it until it expires, even if the rules change meanwhile; a rule change
//! takes effect for every new link at once, and for links already issued within `server.download_ttl_seconds`. An
//! admin who needs a revocation to bite sooner shortens that time.
//!
//! Not for: deciding who may fetch which skill (the MCP tool call that issues the link does), or the ZIP format
//! (`catalogue::package`).

mod link;

pub use link::{link, signing_key, Link};

use crate::catalogue::package::{self, DownloadError};
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::http::HttpResponse;

/// The path prefix of download links, as the routing table matches it.
pub const PREFIX: &str = crate::routes::paths::DOWNLOAD_PREFIX;

/// Largest `.skill` served: the largest file this deployment serves at all (`catalogue.max_file_bytes`).
pub fn max_bytes(cfg: &Config) -> u64 {
    cfg.catalogue.max_file_bytes
}

/// Answers `GET /download/<token>` (`path` is the request path) for the routing table.
pub fn serve(cfg: &Config, catalogue: &Catalogue, path: &str) -> HttpResponse {
    let token = path.strip_prefix(PREFIX).unwrap_or("");
    let key = signing_key(cfg).unwrap_or_default();
    let now = crate::clock::now_unix();
    let outcome = decide(catalogue, &key, token, now, max_bytes(cfg));
    // The link names its skill; a forged one names nothing worth a line beyond the refusal. Why a link was refused
    // goes to the log (for the admin), never to the caller.
    let claim = package::verify_download(&key, token, now).ok();
    let plugin = claim.as_ref().map(|c| c.plugin.clone());
    crate::audit::record(
        now,
        &crate::audit::Event {
            plugin: plugin.as_deref(),
            skill: claim.as_ref().map(|c| c.skill.as_str()),
            detail: outcome.as_ref().err().map(Refused::detail),
            ..crate::audit::Event::new(
                crate::audit::Action::Download,
                if outcome.is_ok() { crate::audit::Outcome::Ok } else { crate::audit::Outcome::Refused },
            )
        },
    );
    answer(outcome)
}

/// Why a link was not served. Only the log tells these apart: every one but a packaging failure gets the same
/// answer ([`REFUSED`]), so a link cannot be used to learn whether a plugin or skill exists, is hidden, or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A bad signature, another key's link, or garbage.
    Invalid,
    Expired,
    /// The plugin or skill is no longer in the catalogue (or no longer servable).
    Gone,
    /// The skill's content changed since the link was issued.
    Changed,
    /// A valid link to a present, unchanged skill that could not be packaged (too large, no usable name).
    Packaging(String),
}

impl Refused {
    fn detail(&self) -> &str {
        match self {
            Refused::Invalid => "invalid link",
            Refused::Expired => "expired link",
            Refused::Gone => "the skill is no longer served",
            Refused::Changed => "the skill changed since the link was issued",
            Refused::Packaging(_) => "the skill could not be packaged",
        }
    }
}

/// The one answer to every refused link, whatever the reason.
pub const REFUSED: &str = "this download link is not valid: it may have expired, or what it named may have changed; \
                           ask Claude to fetch the skill again for a new link";

/// Verifies `token`, finds its skill and answers with the skill's `.skill` ZIP, or the one refusal (403, [`REFUSED`])
/// for a bad signature, garbage, an expired link, or a skill that changed or left the catalogue since the link was
/// issued. Pure, and never panics, whatever the token.
pub fn handle(catalogue: &Catalogue, key: &[u8], token: &str, now: u64, max_bytes: u64) -> HttpResponse {
    answer(decide(catalogue, key, token, now, max_bytes))
}

fn answer(outcome: Result<HttpResponse, Refused>) -> HttpResponse {
    match outcome {
        Ok(resp) => resp,
        Err(Refused::Packaging(why)) => refuse(500, &format!("the skill could not be packaged: {why}")),
        Err(_) => refuse(403, REFUSED),
    }
}

fn decide(catalogue: &Catalogue, key: &[u8], token: &str, now: u64, max_bytes: u64) -> Result<HttpResponse, Refused> {
    let claim = match package::verify_download(key, token, now) {
        Ok(claim) => claim,
        Err(DownloadError::Expired) => return Err(Refused::Expired),
        Err(_) => return Err(Refused::Invalid),
    };
    // The unfiltered catalogue: the signature proves the access check passed when the link was issued (module doc).
    let plugin = catalogue.unfiltered().find(&claim.plugin).map_err(|_| Refused::Gone)?;
    if !plugin.plugin.status.is_servable() {
        return Err(Refused::Gone);
    }
    let skill = plugin.plugin.skills.iter().find(|s| s.name == claim.skill).ok_or(Refused::Gone)?;
    if skill.digest != claim.digest {
        return Err(Refused::Changed);
    }
    let (zip, file_name) = match (
        package::build_skill_zip(&plugin.marketplace.files, skill, max_bytes),
        package::package_file_name(skill),
    ) {
        (Ok(zip), Some(name)) => (zip, name),
        (Err(e), _) => return Err(Refused::Packaging(e.to_string())),
        (_, None) => return Err(Refused::Packaging("the skill has no usable name to package it under".into())),
    };
    Ok(HttpResponse::new(200)
        .header("content-type", "application/zip")
        // `file_name` is a valid skill name or a folder name from the tree: no quote, slash or control character.
        .header("content-disposition", &format!("attachment; filename=\"{}\"", file_name.replace(['"', '\\'], "_")))
        .header("cache-control", "private, max-age=0")
        .header("x-content-type-options", "nosniff")
        .body(zip))
}

fn refuse(status: u16, reason: &str) -> HttpResponse {
    HttpResponse::text(status, &format!("{reason}\n")).header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;
    use crate::App;
    use std::collections::BTreeMap;
    use std::io::{Cursor, Read};

    const LOGO: &[u8] =
        include_bytes!("../../examples/marketplace/plugins/brand-kit/skills/brand-voice/assets/logo.png");
    const SKILL_MD: &[u8] = include_bytes!("../../examples/marketplace/plugins/brand-kit/skills/brand-voice/SKILL.md");
    const NOW: u64 = 1_800_000_000;

    fn app() -> App {
        block_on(App::from_env(&BTreeMap::new()))
    }

    fn key(app: &App) -> Vec<u8> {
        signing_key(app.config.as_ref().unwrap()).unwrap()
    }

    fn brand_voice_digest(app: &App) -> String {
        let p = app.catalogue.unfiltered().find("brand-kit@example").unwrap();
        p.plugin.skills.iter().find(|s| s.name == "brand-voice").unwrap().digest.clone()
    }

    fn text(r: &HttpResponse) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    #[test]
    fn a_valid_link_serves_the_skill_zip() {
        let app = app();
        let cfg = app.config.as_ref().unwrap();
        let p = app.catalogue.unfiltered().find("brand-kit@example").unwrap();
        let skill = p.plugin.skills.iter().find(|s| s.name == "brand-voice").unwrap();
        let l = link(cfg, &p, skill, NOW).unwrap();
        assert_eq!(l.expires, NOW + 900);
        assert_eq!(l.file_name, "brand-voice.skill");
        let token = l.url.strip_prefix("http://localhost:8787/download/").expect(&l.url);

        let r = handle(&app.catalogue, &key(&app), token, NOW + 899, max_bytes(cfg));
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.get_header("content-type"), Some("application/zip"));
        assert_eq!(r.get_header("content-disposition"), Some("attachment; filename=\"brand-voice.skill\""));
        assert_eq!(r.get_header("cache-control"), Some("private, max-age=0"));
        assert_eq!(skillport_sources::sha256_digest(&r.body), l.sha256);

        let mut archive = zip::ZipArchive::new(Cursor::new(&r.body[..])).unwrap();
        let mut files = BTreeMap::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            assert!(entry.name().starts_with("brand-voice/"), "{}", entry.name());
            if !entry.is_dir() {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                files.insert(entry.name().to_string(), data);
            }
        }
        assert_eq!(files["brand-voice/SKILL.md"], SKILL_MD);
        assert_eq!(files["brand-voice/assets/logo.png"], LOGO);
        assert_eq!(files.len(), 2);

        // Through the routing table, without any sign-in.
        let req =
            crate::http::HttpRequest::new("GET", &format!("{PREFIX}{token}")).with_header("host", "localhost:8787");
        let routed = app.handle(&req);
        assert_eq!(routed.status, 200, "{}", text(&routed));
        assert_eq!(routed.body, r.body);
    }

    #[test]
    fn every_refused_link_gets_the_same_answer() {
        let app = app();
        let (k, digest) = (key(&app), brand_voice_digest(&app));
        let max = 10 << 20;
        let good = package::sign_download(&k, "brand-kit@example", "brand-voice", &digest, NOW + 60);
        assert_eq!(handle(&app.catalogue, &k, &good, NOW, max).status, 200);

        let mut refused: Vec<(String, HttpResponse)> = Vec::new();
        let mut try_one = |what: &str, key: &[u8], token: &str, now: u64| {
            refused.push((what.to_owned(), handle(&app.catalogue, key, token, now, max)));
        };
        // Tampered: one character of the signature changed.
        let mut tampered = good.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        try_one("tampered", &k, &String::from_utf8(tampered).unwrap(), NOW);
        // Signed with another key.
        let other = package::sign_download(
            b"another key, also 32 bytes long!",
            "brand-kit@example",
            "brand-voice",
            &digest,
            NOW + 60,
        );
        try_one("another key", &k, &other, NOW);
        try_one("expired", &k, &good, NOW + 60);
        // Content changed since the link was issued: a correctly signed token for an older digest.
        let stale = package::sign_download(&k, "brand-kit@example", "brand-voice", "sha256:00", NOW + 60);
        try_one("changed", &k, &stale, NOW);
        // Gone from the catalogue, or never in it.
        for (plugin, skill) in
            [("brand-kit@example", "nope"), ("nope@example", "brand-voice"), ("brand-kit@x", "brand-voice")]
        {
            let t = package::sign_download(&k, plugin, skill, &digest, NOW + 60);
            try_one(&format!("gone {plugin}/{skill}"), &k, &t, NOW);
        }
        for g in ["", "x", ".", "a.b", "%00", &"A".repeat(5000), "é.ü"] {
            try_one(&format!("garbage {g:.10?}"), &k, g, NOW);
        }
        try_one("no key", b"", &good, NOW);
        // One answer: same status, same headers, same body, whatever the reason.
        let (_, first) = &refused[0];
        assert_eq!(first.status, 403);
        assert_eq!(text(first), format!("{REFUSED}\n"));
        assert!(text(first).contains("not valid") && text(first).contains("fetch the skill again"));
        assert_eq!(first.get_header("content-type"), Some("text/plain; charset=utf-8"));
        for (what, r) in &refused {
            assert_eq!(r, first, "{what}");
        }
        // Through the routing table too.
        let req = crate::http::HttpRequest::new("GET", "/download/garbage").with_header("host", "localhost:8787");
        let routed = app.handle(&req);
        assert_eq!((routed.status, routed.body.clone()), (403, first.body.clone()));
        let req =
            crate::http::HttpRequest::new("GET", &format!("{PREFIX}{stale}")).with_header("host", "localhost:8787");
        assert_eq!(app.handle(&req).body, first.body);

        // Too large to package: a valid link to a present skill, refused, not truncated.
        assert_eq!(handle(&app.catalogue, &k, &good, NOW, 10).status, 500);
    }

    #[test]
    fn a_hidden_skill_is_refused_like_one_that_never_existed() {
        use crate::access::fixtures;
        // `local`'s development key can be derived by anyone, so a prober can sign a link to any name; one naming a
        // skill that exists (hidden by the access rules or not) with a wrong digest answers exactly as one naming
        // nothing at all.
        let app = fixtures::app_with(&[("SKILLPORT_AUTH__OPEN", "true")]);
        let cfg = app.config.as_ref().unwrap();
        let k = signing_key(cfg).unwrap();
        let now = crate::clock::now_unix();
        let refused = |plugin: &str, skill: &str| {
            let t = package::sign_download(&k, plugin, skill, "sha256:00", now + 60);
            let r = app.handle(
                &crate::http::HttpRequest::new("GET", &format!("{PREFIX}{t}")).with_header("host", "localhost:8787"),
            );
            (r.status, r.body)
        };
        let nothing = refused("never-existed@one", "nope");
        assert_eq!(nothing.0, 403);
        for (plugin, skill) in [("brand-kit@two", "brand-voice"), ("writing-tools@one", "release-notes")] {
            assert_eq!(refused(plugin, skill), nothing, "{plugin}/{skill}");
        }
    }

    #[test]
    fn the_configured_key_is_used_and_local_falls_back_to_the_development_key() {
        let app = app();
        let dev = key(&app);
        assert_eq!(dev.len(), 32);
        let env: BTreeMap<String, String> = [
            ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DOWNLOAD_KEY"),
            ("DOWNLOAD_KEY", "k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = crate::config::load_embedded(&env).unwrap();
        assert_eq!(signing_key(&cfg).unwrap(), b"k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y");
    }

    #[test]
    fn access_links_are_minted_only_for_what_the_user_may_see_and_then_serve_without_sign_in() {
        use crate::access::fixtures::{self, cases, tool};
        use serde_json::json;
        let app = fixtures::app_with(&[("SKILLPORT_AUTH__OPEN", "true")]);
        for case in cases() {
            for (name, visible) in [
                ("brand-kit@two/brand-voice", !matches!(case.who, "group" | "org" | "email")),
                ("writing-tools@one/release-notes", case.who != "domain"),
                ("repo-tools@one/repo-map", case.who != "team"),
                ("writing-tools@one/conventional-commits", true),
            ] {
                let r = tool(&app, &case.identity, "fetch_skill", json!({"name": name}));
                let url = r["structuredContent"]["download"]["url"].as_str();
                if !visible {
                    // The check comes first: no link, no token, nothing that names the skill's download.
                    assert_eq!((r["isError"].clone(), url), (json!(true), None), "{} {name}: {r:#}", case.who);
                    assert!(!r.to_string().contains(PREFIX), "{} {name}", case.who);
                    continue;
                }
                // A link the check let through is the capability: it serves the skill with no sign-in at all.
                let url = url.unwrap_or_else(|| panic!("{} {name}: {r:#}", case.who));
                let path = url.strip_prefix("http://localhost:8787").unwrap();
                let got = app.handle(&crate::http::HttpRequest::new("GET", path).with_header("host", "localhost:8787"));
                assert_eq!(got.status, 200, "{} {name}: {}", case.who, text(&got));
                assert_eq!(skillport_sources::sha256_digest(&got.body), r["structuredContent"]["download"]["sha256"]);
            }
        }
    }
}
