//! Webhooks: `POST /hooks/<marketplace id>` tells Skillport that a marketplace's upstream changed, so the catalogue
//! is refreshed within seconds instead of at the next `catalogue.refresh_seconds`.
//!
//! Three forms, told apart by their headers, each checked against the Worker secret the marketplace's
//! `webhook_secret` names:
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, `X-GitHub-Event` (`push`, `ping`),
//!   `X-GitHub-Delivery`.
//! - GitLab: `X-Gitlab-Token` equal to the secret, `X-Gitlab-Event` (`Push Hook`, `Tag Push Hook`), delivery id from
//!   `X-Gitlab-Event-UUID` or `Idempotency-Key`.
//! - Generic (plain-HTTPS marketplaces, CI jobs): `X-Skillport-Timestamp` (unix seconds, within
//!   [`GENERIC_SKEW_SECONDS`] of ours), `X-Skillport-Delivery` (1-128 of `A-Za-z0-9._:-`) and
//!   `X-Skillport-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<delivery>." followed by the body>`;
//!   `X-Skillport-Event` is optional (`push` by default, or `ping`).
//!
//! Signatures are compared in constant time, and an unknown marketplace (or one without `webhook_secret`) is checked
//! against a throwaway key, so it gets the answer a bad signature gets, in the time one takes. Only a delivery whose
//! signature holds touches the grant store (the Durable Object, atomic across isolates): first a per-marketplace
//! count ([`HOOKS_PER_MINUTE`]), then single use of its delivery id and of its body's digest for
//! [`REPLAY_WINDOW_SECONDS`] (GitHub's and GitLab's delivery ids are not covered by their signature, so a replayed
//! body under a new id is refused too). An accepted push is answered at once; the platform then refreshes that
//! marketplace off the response (`waitUntil`), forced whatever its copy's age, but never before an upstream's
//! `Retry-After`. The last accepted delivery per marketplace, and what the refresh made of it, is kept for `/status`.

use crate::config::{Config, MarketplaceConfig};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::{GrantStore, TokenHash};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// The path prefix of webhooks, as the routing table matches it.
pub const PREFIX: &str = crate::routes::paths::HOOKS_PREFIX;
/// Accepted deliveries per marketplace per minute. A push is one delivery per configured hook; a burst of pushes
/// needs only its last refresh, so a flood beyond this is refused (429) rather than costing upstream requests.
pub const HOOKS_PER_MINUTE: u64 = 30;
/// How long a delivery id (and a body's digest) is remembered: a day, longer than GitHub's and GitLab's retries.
pub const REPLAY_WINDOW_SECONDS: u64 = 86_400;
/// How far the generic form's timestamp may be from our clock.
pub const GENERIC_SKEW_SECONDS: u64 = 300;
/// How long the time of a marketplace's last accepted push is kept in the grant store for other isolates
/// ([`newer_hooks`]): a week, far beyond any isolate's `refresh_seconds`.
pub const STAMP_SECONDS: u64 = 7 * 86_400;
/// How often an isolate asks the grant store whether another isolate took a push ([`newer_hooks`]).
pub const CHECK_SECONDS: u64 = 10;

type HmacSha256 = Hmac<Sha256>;

/// Which sender's conventions a delivery follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Github,
    Gitlab,
    Generic,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Github => "github",
            Form::Gitlab => "gitlab",
            Form::Generic => "generic",
        }
    }
}

/// What a verified delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The upstream changed (a push, a tag push, a generic `push`): refresh.
    Push(String),
    /// The sender checks the hook works: nothing to refresh.
    Ping,
    /// Anything else the sender may be set up to send (issues, merge requests): accepted and ignored.
    Ignored(String),
}

impl Event {
    pub fn name(&self) -> &str {
        match self {
            Event::Push(name) | Event::Ignored(name) => name,
            Event::Ping => "ping",
        }
    }
}

/// A delivery whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub form: Form,
    pub id: String,
    pub event: Event,
}

/// Why a delivery was refused. `Unauthenticated` and `Malformed` are decided before anything is stored; the others
/// after the store's count (and, for `Replayed`, the single-use marks) were taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such marketplace, no webhook secret, no signature, or a wrong one: one answer for all.
    Unauthenticated,
    /// The signature holds but the delivery is unusable (no delivery id, a stale timestamp).
    Malformed(&'static str),
    Replayed,
    Flooded {
        retry_after: u64,
    },
    /// The grant store could not be reached: refused so it can be sent again.
    Unavailable,
}

impl Refusal {
    pub fn response(&self) -> HttpResponse {
        let (status, error, description) = match self {
            Refusal::Unauthenticated => {
                (401, "unauthorized", "the signature does not match a webhook secret of this address")
            }
            Refusal::Malformed(why) => (400, "invalid_request", *why),
            Refusal::Replayed => (409, "replayed", "this delivery was received already"),
            Refusal::Flooded { .. } => (429, "too_many_requests", "too many webhook deliveries; try again later"),
            Refusal::Unavailable => (503, "temporarily_unavailable", "the delivery store is unreachable; retry"),
        };
        let resp = HttpResponse::json(status, &serde_json::json!({"error": error, "error_description": description}))
            .header("cache-control", "no-store");
        match self {
            Refusal::Flooded { retry_after } => resp.header("retry-after", &retry_after.to_string()),
            _ => resp,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "bad signature or no such webhook",
            Refusal::Malformed(why) => why,
            Refusal::Replayed => "replayed delivery",
            Refusal::Flooded { .. } => "too many deliveries",
            Refusal::Unavailable => "store unreachable",
        }
    }
}

/// Hex digits to bytes; `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// The key unknown marketplaces are checked against, so that they take as long as a known one to refuse.
const THROWAWAY_KEY: &[u8] = b"skillport: no webhook secret here";

/// Constant-time check of `sha256=<hex>` against the HMAC of `parts` under `key`.
fn mac_matches(key: &[u8], parts: &[&[u8]], header: &str) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    let given = header.trim().strip_prefix("sha256=").and_then(unhex).unwrap_or_default();
    mac.verify_slice(&given).is_ok()
}

/// Constant-time equality of two secrets of any length (compared through their digests).
fn same_secret(a: &str, b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b));
    bool::from(a.ct_eq(&b))
}

/// Checks a delivery's signature with `key` (`None`: no marketplace takes webhooks here, and the check fails, taking
/// the time it would) and reads what it asks for. Pure: no side effect.
pub fn verify(key: Option<&[u8]>, req: &HttpRequest, now: u64) -> Result<Delivery, Refusal> {
    let used = key.unwrap_or(THROWAWAY_KEY);
    let header = |name: &str| req.header(name).map(str::trim).filter(|v| !v.is_empty());
    let (form, signed) = if let Some(sig) = req.header("x-hub-signature-256") {
        (Form::Github, mac_matches(used, &[&req.body], sig))
    } else if let Some(token) = req.header("x-gitlab-token") {
        (Form::Gitlab, same_secret(token, used))
    } else if let Some(sig) = req.header("x-skillport-signature") {
        let ts = req.header("x-skillport-timestamp").unwrap_or("");
        let id = req.header("x-skillport-delivery").unwrap_or("");
        (Form::Generic, mac_matches(used, &[ts.as_bytes(), b".", id.as_bytes(), b".", &req.body], sig))
    } else {
        (Form::Generic, false)
    };
    if !(signed && key.is_some()) {
        return Err(Refusal::Unauthenticated);
    }
    let id = match form {
        Form::Github => header("x-github-delivery"),
        Form::Gitlab => header("x-gitlab-event-uuid").or_else(|| header("idempotency-key")),
        Form::Generic => header("x-skillport-delivery"),
    };
    let id = id.filter(|id| valid_delivery_id(id)).ok_or(Refusal::Malformed(
        "a delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID or Idempotency-Key, X-Skillport-Delivery) of 1-128 \
         characters A-Z a-z 0-9 . _ : - is required",
    ))?;
    let event = match form {
        Form::Github => match header("x-github-event") {
            Some("push") => Event::Push("push".into()),
            Some("ping") => Event::Ping,
            Some(other) => Event::Ignored(short(other)),
            None => return Err(Refusal::Malformed("X-GitHub-Event is required")),
        },
        Form::Gitlab => match header("x-gitlab-event") {
            Some(e @ ("Push Hook" | "Tag Push Hook")) => Event::Push(e.into()),
            Some(other) => Event::Ignored(short(other)),
            None => return Err(Refusal::Malformed("X-Gitlab-Event is required")),
        },
        Form::Generic => {
            let ts = header("x-skillport-timestamp").and_then(|t| t.parse::<u64>().ok());
            if !ts.is_some_and(|t| t.abs_diff(now) <= GENERIC_SKEW_SECONDS) {
                return Err(Refusal::Malformed(
                    "X-Skillport-Timestamp must be the sending time in unix seconds, within 300 s of ours",
                ));
            }
            match header("x-skillport-event") {
                None | Some("push") => Event::Push("push".into()),
                Some("ping") => Event::Ping,
                Some(other) => Event::Ignored(short(other)),
            }
        }
    };
    Ok(Delivery { form, id: id.to_owned(), event })
}

fn valid_delivery_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
}

/// An event name as shown back (status page, answer): printable ASCII, cut short.
fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(64).collect()
}

/// The marketplace a `/hooks/<id>` path names, if it takes webhooks.
fn target<'c>(cfg: &'c Config, path: &str) -> Option<&'c MarketplaceConfig> {
    let id = path.strip_prefix(PREFIX)?;
    cfg.marketplaces.iter().find(|m| m.id.as_str() == id && m.webhook_key.is_some())
}

/// What the route hands the platform: the answer, and the marketplace to refresh after it (accepted pushes only).
#[derive(Debug)]
pub struct Handled {
    pub response: HttpResponse,
    pub refresh: Option<String>,
}

/// `POST /hooks/<id>`: verify, then the store's checks in order (flood, then replay), then the answer.
pub async fn handle(cfg: &Config, req: &HttpRequest, store: &dyn GrantStore, now: u64) -> Handled {
    if req.method != "POST" {
        return Handled { response: HttpResponse::new(405).header("allow", "POST"), refresh: None };
    }
    let m = target(cfg, &req.path);
    let key = m.and_then(|m| m.webhook_key.as_ref()).map(|k| k.expose().as_bytes());
    let checked = match verify(key, req, now) {
        Ok(d) => admit(m.map(|m| m.id.as_str()).unwrap_or_default(), &d, &req.body, store, now).await.map(|_| d),
        Err(e) => Err(e),
    };
    let shown: String = req.path.trim_start_matches(PREFIX).chars().take(64).collect();
    let delivery = match checked {
        Ok(d) => d,
        Err(refusal) => {
            let detail = format!("webhook for `{shown}` refused: {}", refusal.reason());
            audit(crate::audit::Outcome::Refused, &detail, now);
            return Handled { response: refusal.response(), refresh: None };
        }
    };
    let id = m.map(|m| m.id.to_string()).unwrap_or_default();
    if let Event::Push(_) = delivery.event {
        // For the other isolates (best effort: this one refreshes either way, the others at their next refresh).
        if store.bump(&stamp_key(&id), now + STAMP_SECONDS, now).await.is_ok() {
            SEEN.with(|s| s.borrow_mut().insert(id.clone(), now));
        }
    }
    let (status, refresh, outcome) = match &delivery.event {
        Event::Push(_) => (202, Some(id.clone()), "accepted; refresh scheduled"),
        Event::Ping => (200, None, "ping received; nothing to refresh"),
        Event::Ignored(_) => (200, None, "event ignored: it does not change the marketplace"),
    };
    record(
        &id,
        Record { at: now, form: delivery.form, event: delivery.event.name().to_owned(), outcome: outcome.into() },
    );
    audit(
        crate::audit::Outcome::Ok,
        &format!("webhook {} `{}` for {id}: {outcome}", delivery.form.as_str(), delivery.event.name()),
        now,
    );
    let body = serde_json::json!({
        "marketplace": id,
        "event": delivery.event.name(),
        "delivery": delivery.id,
        "outcome": outcome,
    });
    Handled { response: HttpResponse::json(status, &body).header("cache-control", "no-store"), refresh }
}

/// The store's side of accepting a verified delivery: the marketplace's count this minute, then single use of the
/// delivery id (and of a GitHub body). Counted first, so a burst of replays is a flood too.
async fn admit(id: &str, d: &Delivery, body: &[u8], store: &dyn GrantStore, now: u64) -> Result<(), Refusal> {
    let minute = now / 60;
    let window_end = (minute + 1) * 60;
    let count = store.bump(&TokenHash::of(&format!("hook-rate:{id}:{minute}")), window_end, now).await;
    match count {
        Ok(n) if n > HOOKS_PER_MINUTE => {
            return Err(Refusal::Flooded { retry_after: window_end.saturating_sub(now).max(1) })
        }
        Ok(_) => {}
        Err(_) => return Err(Refusal::Unavailable),
    }
    let mut once = vec![format!("hook-delivery:{id}:{}", d.id)];
    // GitHub signs the body but not the delivery id: the same signed body under a new id is a replay too. The
    // generic form signs its id (a CI job may well send one body twice); GitLab's token signs nothing.
    if d.form == Form::Github {
        let digest: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        once.push(format!("hook-body:{id}:{digest}"));
    }
    for key in once {
        match store.bump(&TokenHash::of(&key), now + REPLAY_WINDOW_SECONDS, now).await {
            Ok(1) => {}
            Ok(_) => return Err(Refusal::Replayed),
            Err(_) => return Err(Refusal::Unavailable),
        }
    }
    Ok(())
}

fn audit(outcome: crate::audit::Outcome, detail: &str, now: u64) {
    crate::audit::record(
        now,
        &crate::audit::Event {
            detail: Some(detail),
            ..crate::audit::Event::new(crate::audit::Action::Webhook, outcome)
        },
    );
}

/// The last accepted delivery of a marketplace, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: u64,
    pub form: Form,
    pub event: String,
    /// What came of it: scheduled, then what the refresh did.
    pub outcome: String,
}

thread_local! {
    /// Per isolate: the isolate that took the delivery ran its refresh.
    static LAST: RefCell<BTreeMap<String, Record>> = const { RefCell::new(BTreeMap::new()) };
    /// The push times (from the grant store's stamps) this isolate has refreshed for already, per marketplace.
    static SEEN: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Where the time of a marketplace's last accepted push is kept: a count whose window ends [`STAMP_SECONDS`] after
/// it, so the window's end says when (a Durable Object read is strongly consistent, unlike KV).
fn stamp_key(id: &str) -> TokenHash {
    TokenHash::of(&format!("hook-stamp:{id}"))
}

/// The marketplaces a push newer than this isolate's copy was accepted for, by any isolate: to refresh now. Asked
/// every [`CHECK_SECONDS`] per isolate, one grant store read per marketplace that takes webhooks; each push is acted on
/// once. Without it, an isolate that did not take the delivery would serve its copy until its `refresh_seconds`
/// came (and a new isolate starts from the KV copy, which other locations may see up to a minute late).
pub async fn newer_hooks(
    cfg: &Config,
    catalogue: &crate::catalogue::Catalogue,
    store: &dyn GrantStore,
    now: u64,
) -> Vec<String> {
    let mut stamps = Vec::new();
    for m in cfg.marketplaces.iter().filter(|m| m.webhook_key.is_some()) {
        if let Ok(Some((_, end))) = store.peek(&stamp_key(m.id.as_str()), now).await {
            stamps.push((m.id.to_string(), end.saturating_sub(STAMP_SECONDS)));
        }
    }
    SEEN.with(|seen| to_refresh(catalogue, &stamps, &mut seen.borrow_mut()))
}

/// [`newer_hooks`]' decision: a push at or after the copy's fetch time (seconds: a fetch in the same second may
/// have read the commit before it), not acted on yet.
fn to_refresh(
    catalogue: &crate::catalogue::Catalogue,
    stamps: &[(String, u64)],
    seen: &mut BTreeMap<String, u64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, pushed_at) in stamps {
        let Some(entry) = catalogue.marketplaces.iter().find(|m| &m.id == id) else { continue };
        if *pushed_at >= entry.fetched_at.unwrap_or(0) && seen.get(id) != Some(pushed_at) {
            seen.insert(id.clone(), *pushed_at);
            out.push(id.clone());
        }
    }
    out
}

/// Whether it is time for this isolate's next [`newer_hooks`] (and notes that it is being done).
pub fn check_due(cfg: &Config, now: u64) -> bool {
    thread_local! {
        static LAST_CHECK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    if !cfg.marketplaces.iter().any(|m| m.webhook_key.is_some()) {
        return false;
    }
    LAST_CHECK.with(|c| {
        let due = now >= c.get().saturating_add(CHECK_SECONDS);
        if due {
            c.set(now);
        }
        due
    })
}

fn record(id: &str, r: Record) {
    LAST.with(|l| l.borrow_mut().insert(id.to_owned(), r));
}

/// The last accepted delivery for marketplace `id` this isolate took.
pub fn last(id: &str) -> Option<Record> {
    LAST.with(|l| l.borrow().get(id).cloned())
}

/// Notes what the refresh a delivery asked for made of marketplace `entry`.
pub fn refreshed(entry: &crate::catalogue::MarketplaceEntry, before: Option<&str>) {
    let outcome = if entry.refresh.forced {
        match entry.refresh.retry_at {
            Some(t) => format!("refresh waits for the upstream's Retry-After (until {t})"),
            None => "refresh still pending".into(),
        }
    } else if let Some(e) = &entry.error {
        format!("refresh failed: {}", e.chars().take(200).collect::<String>())
    } else {
        match entry.revision.as_deref() {
            Some(rev) if Some(rev) != before => {
                format!("refreshed to revision {}", rev.chars().take(12).collect::<String>())
            }
            _ => "refreshed; the upstream had not changed".into(),
        }
    };
    LAST.with(|l| {
        if let Some(r) = l.borrow_mut().get_mut(entry.id.as_str()) {
            r.outcome = outcome;
        }
    });
}

#[cfg(test)]
mod tests;
