use super::*;
use crate::oauth::MemoryGrantStore;
use crate::testing::block_on;

const KEY: &str = "0123456789abcdef-hook";

fn cfg() -> Config {
    let env: BTreeMap<String, String> = [
        (
            "SKILLPORT_MARKETPLACES",
            r#"[{id="gh",kind="github",location="acme/plugins",webhook_secret="HOOK_KEY"},
                {id="plain",kind="github",location="acme/other"}]"#,
        ),
        ("HOOK_KEY", KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    crate::config::load_embedded(&env).unwrap_or_else(|e| panic!("{e}"))
}

fn hex_mac(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn github(path: &str, key: &str, event: &str, delivery: &str, body: &str) -> HttpRequest {
    HttpRequest::new("POST", path)
        .with_header("x-hub-signature-256", &format!("sha256={}", hex_mac(key, &[body.as_bytes()])))
        .with_header("x-github-event", event)
        .with_header("x-github-delivery", delivery)
        .with_body(body.as_bytes().to_vec())
}

fn generic(key: &str, ts: u64, delivery: &str, body: &str) -> HttpRequest {
    let t = ts.to_string();
    let sig = hex_mac(key, &[t.as_bytes(), b".", delivery.as_bytes(), b".", body.as_bytes()]);
    HttpRequest::new("POST", "/hooks/gh")
        .with_header("x-skillport-signature", &format!("sha256={sig}"))
        .with_header("x-skillport-timestamp", &t)
        .with_header("x-skillport-delivery", delivery)
        .with_body(body.as_bytes().to_vec())
}

#[test]
fn each_form_verifies_with_the_right_secret_only() {
    let key = Some(KEY.as_bytes());
    let d = verify(key, &github("/hooks/gh", KEY, "push", "d-1", "{}"), 1000).unwrap();
    assert_eq!((d.form, d.id.as_str(), d.event.clone()), (Form::Github, "d-1", Event::Push("push".into())));
    assert_eq!(verify(key, &github("/hooks/gh", KEY, "ping", "d-2", "{}"), 1000).unwrap().event, Event::Ping);
    // A wrong key, a changed body, no signature, no key at all: one refusal.
    assert_eq!(
        verify(key, &github("/hooks/gh", "wrong-key-wrong-key", "push", "d", "{}"), 1000),
        Err(Refusal::Unauthenticated)
    );
    let mut changed = github("/hooks/gh", KEY, "push", "d", "{}");
    changed.body = b"{ }".to_vec();
    assert_eq!(verify(key, &changed, 1000), Err(Refusal::Unauthenticated));
    assert_eq!(verify(key, &HttpRequest::new("POST", "/hooks/gh"), 1000), Err(Refusal::Unauthenticated));
    assert_eq!(verify(None, &github("/hooks/gh", KEY, "push", "d", "{}"), 1000), Err(Refusal::Unauthenticated));
    // Signed, but unusable.
    assert!(matches!(verify(key, &github("/hooks/gh", KEY, "push", "", "{}"), 1000), Err(Refusal::Malformed(_))));
    assert!(matches!(verify(key, &github("/hooks/gh", KEY, "push", "a b", "{}"), 1000), Err(Refusal::Malformed(_))));

    let gitlab = |token: &str, event: &str| {
        HttpRequest::new("POST", "/hooks/gh")
            .with_header("x-gitlab-token", token)
            .with_header("x-gitlab-event", event)
            .with_header("x-gitlab-event-uuid", "u-1")
    };
    let d = verify(key, &gitlab(KEY, "Tag Push Hook"), 1000).unwrap();
    assert_eq!((d.form, d.event), (Form::Gitlab, Event::Push("Tag Push Hook".into())));
    assert_eq!(
        verify(key, &gitlab(KEY, "Merge Request Hook"), 1000).unwrap().event,
        Event::Ignored("Merge Request Hook".into())
    );
    assert_eq!(verify(key, &gitlab("0123456789abcdef-hooK", "Push Hook"), 1000), Err(Refusal::Unauthenticated));
    assert_eq!(verify(key, &gitlab(THROWAWAY_STR, "Push Hook"), 1000).map(|d| d.form), Err(Refusal::Unauthenticated));
    let idem = gitlab(KEY, "Push Hook");
    let idem =
        HttpRequest { headers: idem.headers.into_iter().filter(|(k, _)| k != "x-gitlab-event-uuid").collect(), ..idem }
            .with_header("idempotency-key", "k-9");
    assert_eq!(verify(key, &idem, 1000).unwrap().id, "k-9");

    let d = verify(key, &generic(KEY, 1000, "ci-7", "x"), 1010).unwrap();
    assert_eq!((d.form, d.id.as_str()), (Form::Generic, "ci-7"));
    // The timestamp and delivery id are signed: changing either breaks the signature.
    let mut moved = generic(KEY, 1000, "ci-7", "x");
    moved.headers.retain(|(k, _)| k != "x-skillport-timestamp");
    assert_eq!(verify(key, &moved.with_header("x-skillport-timestamp", "1001"), 1010), Err(Refusal::Unauthenticated));
    let mut renamed = generic(KEY, 1000, "ci-7", "x");
    renamed.headers.retain(|(k, _)| k != "x-skillport-delivery");
    assert_eq!(verify(key, &renamed.with_header("x-skillport-delivery", "ci-8"), 1010), Err(Refusal::Unauthenticated));
    // Signed long ago (or far ahead): refused.
    assert!(matches!(verify(key, &generic(KEY, 1000, "ci-7", "x"), 1000 + 301), Err(Refusal::Malformed(_))));
    assert!(matches!(verify(key, &generic(KEY, 1400, "ci-7", "x"), 1000), Err(Refusal::Malformed(_))));
}

/// The throwaway key is not a way in: a GitLab token equal to it is refused for an unknown marketplace.
const THROWAWAY_STR: &str = "skillport: no webhook secret here";

#[test]
fn unknown_marketplace_and_bad_signature_get_the_same_answer_and_touch_nothing() {
    let cfg = cfg();
    let store = MemoryGrantStore::new();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let answers: Vec<HttpResponse> = [
        github("/hooks/gh", "wrong-key-wrong-key", "push", "a", body),
        github("/hooks/nope", KEY, "push", "b", body),
        github("/hooks/plain", KEY, "push", "c", body),
        HttpRequest::new("POST", "/hooks/nope").with_header("x-gitlab-token", THROWAWAY_STR),
    ]
    .iter()
    .map(|r| block_on(handle(&cfg, r, &store, 1000)).response)
    .collect();
    for a in &answers {
        assert_eq!((a.status, &a.body), (answers[0].status, &answers[0].body));
    }
    assert_eq!(answers[0].status, 401);
    // No count was taken: the next good delivery is the first of this minute.
    let ok = block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", "a", body), &store, 1000));
    assert_eq!((ok.response.status, ok.refresh.as_deref()), (202, Some("gh")));
    let count = block_on(store.bump(&TokenHash::of("hook-rate:gh:16"), 1020, 1000)).unwrap();
    assert_eq!(count, 2, "only the accepted delivery was counted");
    assert_eq!(last("gh").unwrap().outcome, "accepted; refresh scheduled");
    assert!(last("nope").is_none() && last("plain").is_none());
}

#[test]
fn replays_and_floods_are_refused() {
    let cfg = cfg();
    let store = MemoryGrantStore::new();
    let first = block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", "d-1", "{\"n\":1}"), &store, 5000));
    assert_eq!(first.response.status, 202);
    // The same delivery id again, or the same body under a new id: replays.
    for again in
        [github("/hooks/gh", KEY, "push", "d-1", "{\"n\":2}"), github("/hooks/gh", KEY, "push", "d-2", "{\"n\":1}")]
    {
        let r = block_on(handle(&cfg, &again, &store, 5001));
        assert_eq!((r.response.status, r.refresh), (409, None));
    }
    // The generic form signs its delivery id: one body under two ids is two deliveries.
    for id in ["ci-1", "ci-2"] {
        let r = block_on(handle(&cfg, &generic(KEY, 5001, id, "same"), &store, 5001));
        assert_eq!(r.response.status, 202, "{id}");
    }
    // Ping: accepted, nothing to refresh.
    let ping = block_on(handle(&cfg, &github("/hooks/gh", KEY, "ping", "p-1", "{\"zen\":1}"), &store, 5002));
    assert_eq!((ping.response.status, ping.refresh), (200, None));
    // Six deliveries counted this minute so far; the rest of the budget, then 429 with the wait.
    for n in 7..=HOOKS_PER_MINUTE {
        let r =
            block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", &format!("f-{n}"), &format!("{n}")), &store, 5003));
        assert_eq!(r.response.status, 202, "{n}");
    }
    let flood = block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", "f-x", "x"), &store, 5003));
    assert_eq!((flood.response.status, flood.refresh), (429, None));
    assert_eq!(flood.response.get_header("retry-after"), Some("37"));
    // The refused delivery was not consumed: sent again next minute, it is accepted.
    let later = block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", "f-x", "x"), &store, 5040));
    assert_eq!(later.response.status, 202);
    // Only POST.
    let get = block_on(handle(&cfg, &HttpRequest::new("GET", "/hooks/gh"), &store, 5040));
    assert_eq!(get.response.status, 405);
}

#[test]
fn a_refused_store_refuses_the_delivery_so_it_can_be_sent_again() {
    struct Down;
    #[async_trait::async_trait(?Send)]
    impl crate::oauth::remote::StoreTransport for Down {
        async fn call(
            &self,
            _: &crate::oauth::remote::StoreOp,
        ) -> Result<crate::oauth::remote::StoreReply, crate::oauth::store::StoreError> {
            Err(crate::oauth::store::StoreError("down".into()))
        }
    }
    let store = crate::oauth::remote::RemoteGrantStore(Down);
    let r = block_on(handle(&cfg(), &github("/hooks/gh", KEY, "push", "d", "{}"), &store, 1));
    assert_eq!(r.response.status, 503);
}

/// Another isolate's push reaches this one through the store: once, and only when newer than its copy.
#[test]
fn a_push_taken_elsewhere_is_refreshed_here_once() {
    let cfg = cfg();
    let store = MemoryGrantStore::new();
    let app = block_on(crate::App::from_env(&BTreeMap::new()));
    let mut catalogue = crate::catalogue::Catalogue::default();
    let mut entry = app.catalogue.marketplaces[0].clone();
    entry.id = "gh".parse().unwrap();
    entry.fetched_at = Some(1000);
    catalogue.marketplaces.push(entry);
    // Nothing pushed yet.
    assert!(block_on(newer_hooks(&cfg, &catalogue, &store, 1005)).is_empty());
    // Another isolate (the same store, its own memory) takes a push at 1003.
    block_on(store.bump(&stamp_key("gh"), 1003 + STAMP_SECONDS, 1003)).unwrap();
    assert_eq!(block_on(newer_hooks(&cfg, &catalogue, &store, 1010)), vec!["gh".to_string()]);
    assert!(block_on(newer_hooks(&cfg, &catalogue, &store, 1020)).is_empty(), "acted on once");
    // A copy fetched after the push needs nothing; one fetched the same second might predate it.
    let mut seen = BTreeMap::new();
    assert!(to_refresh(&catalogue, &[("gh".into(), 999)], &mut seen).is_empty());
    assert_eq!(to_refresh(&catalogue, &[("gh".into(), 1000)], &mut seen), vec!["gh".to_string()]);
    // The isolate that took the delivery refreshes it itself: its own stamp is already seen.
    let store = MemoryGrantStore::new();
    let r = block_on(handle(&cfg, &github("/hooks/gh", KEY, "push", "s-1", "{\"s\":1}"), &store, 2000));
    assert_eq!(r.response.status, 202);
    catalogue.marketplaces[0].fetched_at = Some(1990);
    assert!(block_on(newer_hooks(&cfg, &catalogue, &store, 2001)).is_empty());
    // Checked every CHECK_SECONDS per isolate, only where some marketplace takes webhooks.
    assert!(check_due(&cfg, 5000) && !check_due(&cfg, 5009) && check_due(&cfg, 5010));
    assert!(!check_due(&app.config.as_ref().unwrap().clone(), 9000));
}
