//! The grant store's rules, run through [`MemoryGrantStore`] (the same `KvGrantStore` the Durable Object runs):
//! single use, rotation and replay, revocation, and what the sweep deletes and keeps.

use std::collections::BTreeMap;

use super::kv::{hkey, key_kind};
use super::*;
use crate::oauth::{PkceChallenge, RedirectUri, ResourceUri};
use crate::testing::block_on;

fn grant_named(id: &str) -> GrantRecord {
    let keys = crate::oauth::testutil::keys();
    let rng = crate::oauth::testutil::CountingRandom::default();
    let id = GrantId::new(id);
    GrantRecord {
        identity: keys.seal_identity(&rng, &id, &crate::oauth::testutil::identity()),
        grant_id: id,
        client_id: ClientId::new("c"),
        resource: ResourceUri::new("https://x/mcp"),
        scope: "mcp".into(),
        created_at: 0,
        revoked: false,
        refresh_current: None,
        refresh_previous: None,
        refresh_expires_at: 0,
        access_current: None,
        access_previous: None,
        tokens_expire_at: 60,
    }
}

fn grant() -> GrantRecord {
    grant_named("g")
}

/// An access token named `name` for grant `g`, expiring at `expires_at`.
fn access(name: &str, expires_at: u64) -> IssuedAccess {
    IssuedAccess {
        token: TokenHash::of(name),
        record: AccessRecord {
            grant_id: GrantId::new("g"),
            client_id: ClientId::new("c"),
            resource: ResourceUri::new("https://x/mcp"),
            scope: "mcp".into(),
            expires_at,
        },
    }
}

fn code_record(grant: &str, expires_at: u64) -> CodeRecord {
    CodeRecord {
        grant_id: GrantId::new(grant),
        client_id: ClientId::new("c"),
        redirect_uri: RedirectUri::new("https://a/cb"),
        code_challenge: PkceChallenge::new("x"),
        resource: ResourceUri::new("https://x/mcp"),
        scope: "mcp".into(),
        expires_at,
    }
}

/// Stored keys by kind (`access`, `refresh`, ...), as the hardening suite counts them in the Durable Object.
fn kinds(store: &MemoryGrantStore) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for key in store.0 .0.borrow().keys() {
        *out.entry(key_kind(key).to_owned()).or_default() += 1;
    }
    out
}

fn count(store: &MemoryGrantStore, kind: &str) -> usize {
    kinds(store).get(kind).copied().unwrap_or(0)
}

fn has_access(store: &MemoryGrantStore, name: &str) -> bool {
    block_on(store.get_access(&TokenHash::of(name))).unwrap().is_some()
}

/// A whole pass, page after page; the total deleted.
fn sweep_all(store: &MemoryGrantStore, now: u64) -> usize {
    let (mut after, mut deleted) = (None, 0);
    loop {
        let page = block_on(store.sweep(after.as_deref(), now, 16)).unwrap();
        deleted += page.deleted;
        match page.next {
            Some(next) => after = Some(next),
            None => return deleted,
        }
    }
}

#[test]
fn rotation_rules() {
    let (a, b, c, d) = (TokenHash::of("a"), TokenHash::of("b"), TokenHash::of("c"), TokenHash::of("d"));
    let mut g = grant();
    assert!(g.begin_refresh(a, &access("A", 10), 0, 100));
    assert!(!g.begin_refresh(b, &access("B", 10), 0, 100), "starts once");
    assert_eq!(g.rotate(&a, b, &access("B", 11), 1, 100), RotateDecision::Rotated);
    assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("A")), Some(TokenHash::of("B"))));
    // Grace: `a` again while `b` is unused; `c` replaces `b`, and its access token replaces `b`'s.
    assert_eq!(g.rotate(&a, c, &access("C", 12), 2, 100), RotateDecision::Rotated);
    assert_eq!(g.refresh_current, Some(c));
    assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("A")), Some(TokenHash::of("C"))));
    // `c` used: `a` is dead now.
    assert_eq!(g.rotate(&c, d, &access("D", 13), 3, 100), RotateDecision::Rotated);
    assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("C")), Some(TokenHash::of("D"))));
    assert_eq!(g.tokens_expire_at, 103, "the chain outlives the access tokens here");
    assert_eq!(g.rotate(&a, TokenHash::of("e"), &access("E", 14), 4, 100), RotateDecision::Replayed);
    assert!(g.revoked);
    assert_eq!(g.rotate(&d, TokenHash::of("f"), &access("F", 15), 5, 100), RotateDecision::Revoked);
}

#[test]
fn refresh_expires() {
    let mut g = grant();
    g.begin_refresh(TokenHash::of("a"), &access("A", 1), 0, 10);
    let next = access("B", 11);
    assert_eq!(g.rotate(&TokenHash::of("a"), TokenHash::of("b"), &next, 10, 10), RotateDecision::Expired);
}

#[test]
fn code_is_taken_once() {
    let rec = code_record("g", 1);
    let mut state = CodeState::Unused(rec.clone());
    assert_eq!(state.take(), CodeTake::Taken(rec));
    assert_eq!(state.take(), CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
}

#[test]
fn revocation_survives_a_late_write() {
    let store = MemoryGrantStore::new();
    block_on(async {
        let g = grant();
        store.put_grant(&g).await.unwrap();
        store.revoke_grant(&g.grant_id).await.unwrap();
        store.put_grant(&g).await.unwrap();
        assert!(store.get_grant(&g.grant_id).await.unwrap().unwrap().revoked);
    });
}

#[test]
fn a_rotation_deletes_the_access_token_of_the_refresh_token_that_leaves_the_grant() {
    let store = MemoryGrantStore::new();
    let r = |n: u32| TokenHash::of(&format!("r{n}"));
    let a = |n: u32| access(&format!("a{n}"), 1000);
    block_on(async {
        store.put_grant(&grant()).await.unwrap();
        assert!(store.begin_refresh(&GrantId::new("g"), &r(0), &a(0), 0, 100).await.unwrap());
        assert!(has_access(&store, "a0"));
        // r0 used: a0 stays (r0 is the previous token, it may be retried), a1 is added.
        assert!(matches!(store.rotate_refresh(&r(0), &r(1), &a(1), 1, 100).await.unwrap(), Rotation::Rotated(_)));
        assert!(has_access(&store, "a0") && has_access(&store, "a1"));
        // r1 used: r0 leaves the grant, and a0 with it.
        assert!(matches!(store.rotate_refresh(&r(1), &r(2), &a(2), 2, 100).await.unwrap(), Rotation::Rotated(_)));
        assert!(!has_access(&store, "a0") && has_access(&store, "a1") && has_access(&store, "a2"));
        // Grace: r1 again while r2 is unused; r3 replaces r2, and a3 replaces a2.
        assert!(matches!(store.rotate_refresh(&r(1), &r(3), &a(3), 3, 100).await.unwrap(), Rotation::Rotated(_)));
        assert!(!has_access(&store, "a2") && has_access(&store, "a1") && has_access(&store, "a3"));
        // Every refresh token is still known: presenting a superseded one is a replay, which revokes the grant
        // and deletes the access tokens it still held.
        assert_eq!(count(&store, "refresh"), 4);
        assert_eq!(
            store.rotate_refresh(&r(0), &r(4), &a(4), 4, 100).await.unwrap(),
            Rotation::Replayed(GrantId::new("g"))
        );
        assert_eq!(count(&store, "access"), 0);
        assert!(store.get_grant(&GrantId::new("g")).await.unwrap().unwrap().revoked);
        assert_eq!(store.rotate_refresh(&r(3), &r(5), &a(5), 5, 100).await.unwrap(), Rotation::Dead);
        assert_eq!(count(&store, "access"), 0, "a refused rotation stores nothing");
    });
}

#[test]
fn a_refused_start_stores_no_token() {
    let store = MemoryGrantStore::new();
    block_on(async {
        let g = GrantId::new("g");
        assert!(!store.begin_refresh(&g, &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap());
        store.put_grant(&grant()).await.unwrap();
        store.revoke_grant(&g).await.unwrap();
        assert!(!store.begin_refresh(&g, &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap());
        assert_eq!((count(&store, "access"), count(&store, "refresh")), (0, 0));
    });
}

#[test]
fn revoking_a_grant_deletes_the_access_tokens_it_holds() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.put_grant(&grant()).await.unwrap();
        store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap();
        store.rotate_refresh(&TokenHash::of("r0"), &TokenHash::of("r1"), &access("a1", 10), 1, 100).await.unwrap();
        assert_eq!(count(&store, "access"), 2);
        store.revoke_grant(&GrantId::new("g")).await.unwrap();
        assert_eq!(count(&store, "access"), 0);
    });
}

#[test]
fn two_hundred_rotations_leave_two_access_tokens() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.put_grant(&grant()).await.unwrap();
        let r = |n: u32| TokenHash::of(&format!("r{n}"));
        store.begin_refresh(&GrantId::new("g"), &r(0), &access("a0", 1), 0, 1000).await.unwrap();
        for n in 0..200 {
            let next = access(&format!("a{}", n + 1), n as u64 + 2);
            let rotated = store.rotate_refresh(&r(n), &r(n + 1), &next, n as u64 + 1, 1000).await.unwrap();
            assert!(matches!(rotated, Rotation::Rotated(_)));
        }
    });
    assert_eq!(count(&store, "access"), 2);
    // The two access tokens have expired at 500. Superseded refresh tokens stay until they expire (a replay must
    // still be recognised)...
    assert_eq!(count(&store, "refresh"), 201);
    assert_eq!(sweep_all(&store, 500), 2);
    assert_eq!((count(&store, "refresh"), count(&store, "access")), (201, 0));
    // ...and go when they do (r<n> was issued at n, for 1000 s): r0..r150 at 1150. The current and previous ones
    // (r200, r199) live as long as the chain, until 1200.
    assert_eq!(sweep_all(&store, 1150), 151);
    sweep_all(&store, 1200);
    assert_eq!(count(&store, "refresh"), 0);
    assert_eq!(count(&store, "grant"), 1, "kept a margin past its last token");
    sweep_all(&store, 1200 + GRANT_SWEEP_MARGIN_SECONDS);
    assert!(kinds(&store).is_empty(), "{:?}", kinds(&store));
}

#[test]
fn the_previous_refresh_token_keeps_its_grace_past_its_own_expiry_while_the_chain_lives() {
    let store = MemoryGrantStore::new();
    let r = |n: u32| TokenHash::of(&format!("r{n}"));
    block_on(async {
        store.put_grant(&grant()).await.unwrap();
        store.begin_refresh(&GrantId::new("g"), &r(0), &access("a0", 10), 0, 100).await.unwrap();
        // r0 (expires at 100) used at 50: r1 expires at 150 and the chain with it.
        store.rotate_refresh(&r(0), &r(1), &access("a1", 60), 50, 100).await.unwrap();
    });
    assert_eq!(sweep_all(&store, 120), 2, "the two expired access tokens");
    assert_eq!(count(&store, "refresh"), 2, "r0 is past its own expiry but still the previous token");
    // r1 was never used, so r0 still rotates.
    let rotated = block_on(store.rotate_refresh(&r(0), &r(2), &access("a2", 200), 121, 100)).unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)));
}

#[test]
fn the_sweep_deletes_what_has_expired_and_only_that() {
    let store = MemoryGrantStore::new();
    block_on(async {
        let client = crate::oauth::authorize::tests::client();
        store.put_client(&client).await.unwrap();
        // A grant whose code was never redeemed: the code expires at 60 (see `grant`).
        store.put_grant(&grant_named("unredeemed")).await.unwrap();
        store.put_code(&TokenHash::of("code-unredeemed"), &code_record("unredeemed", 60)).await.unwrap();
        // A redeemed one, with its code kept as used.
        let mut live = grant();
        live.tokens_expire_at = 60;
        store.put_grant(&live).await.unwrap();
        store.put_code(&TokenHash::of("code-g"), &code_record("g", 60)).await.unwrap();
        assert!(matches!(store.take_code(&TokenHash::of("code-g")).await.unwrap(), CodeTake::Taken(_)));
        store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 100), 10, 1000).await.unwrap();
        store.put_once(&TokenHash::of("state"), "v", 50).await.unwrap();
        store.bump(&TokenHash::of("register"), 3600, 0).await.unwrap();
    });
    let all = kinds(&store);
    assert_eq!(sweep_all(&store, 49), 0, "nothing has expired yet: {all:?}");
    assert_eq!(kinds(&store), all);
    // 60: the sign-in handle and the unredeemed code have expired.
    assert_eq!(sweep_all(&store, 60), 2);
    assert_eq!(count(&store, "once"), 0);
    assert_eq!(count(&store, "code"), 1);
    // The unredeemed grant goes a margin after its code expired; the access token at 100.
    assert_eq!(sweep_all(&store, 60 + GRANT_SWEEP_MARGIN_SECONDS), 1);
    assert!(block_on(store.get_grant(&GrantId::new("unredeemed"))).unwrap().is_none());
    assert_eq!(sweep_all(&store, 100), 1);
    assert_eq!(count(&store, "access"), 0);
    // The chain ends at 1010: the refresh token goes; after the margin the grant; in the next pass its used code
    // (`code:` keys come before `grant:` ones).
    assert_eq!(sweep_all(&store, 1010), 1);
    assert_eq!(count(&store, "refresh"), 0);
    let end = 1010 + GRANT_SWEEP_MARGIN_SECONDS;
    assert_eq!((sweep_all(&store, end - 1), sweep_all(&store, end), sweep_all(&store, end)), (0, 1, 1));
    assert_eq!((count(&store, "grant"), count(&store, "code")), (0, 0));
    // The counter's window ends at 3600.
    assert_eq!(sweep_all(&store, 3599), 0);
    assert_eq!(sweep_all(&store, 3600), 1);
    // The client (stored at 0; no grant here is its) is kept a day after it was stored; the tally of clients
    // stays.
    let kept = BTreeMap::from([("client".to_owned(), 1), ("count".to_owned(), 1)]);
    assert_eq!(kinds(&store), kept, "the client is kept");
    assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS - 1), 0);
    assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS), 1);
    assert_eq!(kinds(&store), BTreeMap::from([("count".to_owned(), 1)]));
}

fn client_named(id: &str, issued_at: u64) -> ClientRecord {
    ClientRecord { client_id: ClientId::new(id), issued_at, ..crate::oauth::authorize::tests::client() }
}

#[test]
fn a_client_no_grant_uses_is_swept_a_day_after_it_was_stored() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.put_client(&client_named("unused", 100)).await.unwrap();
        let mut document = client_named("https://app.example/c.json", 200);
        document.metadata_document = true;
        store.put_client(&document).await.unwrap();
    });
    assert_eq!(sweep_all(&store, 100 + UNUSED_CLIENT_SECONDS - 1), 0);
    assert_eq!(sweep_all(&store, 100 + UNUSED_CLIENT_SECONDS), 1);
    assert!(block_on(store.get_client(&ClientId::new("unused"))).unwrap().is_none());
    // A metadata document's client is a cache entry like any other: gone a day after its last fetch.
    assert_eq!(sweep_all(&store, 200 + UNUSED_CLIENT_SECONDS), 1);
    assert_eq!(count(&store, "client"), 0);
}

#[test]
fn a_client_lives_as_long_as_its_grants_can_issue_tokens() {
    let store = MemoryGrantStore::new();
    let ttl = 30 * 86_400;
    block_on(async {
        store.put_client(&client_named("c", 0)).await.unwrap();
        store.put_grant(&grant()).await.unwrap();
        store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 3600), 10, ttl).await.unwrap();
    });
    // Long past a day: refreshed on day 20, the chain now lives to day 50.
    let day20 = 20 * 86_400;
    sweep_all(&store, day20 - 1);
    assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "kept past its first day");
    let rotation = block_on(store.rotate_refresh(
        &TokenHash::of("r0"),
        &TokenHash::of("r1"),
        &access("a1", day20 + 3600),
        day20,
        ttl,
    ));
    assert!(matches!(rotation.unwrap(), Rotation::Rotated(_)));
    let chain_end = day20 + ttl;
    sweep_all(&store, chain_end - 1);
    assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "still needed to refresh");
    // Once every token has expired and the grant is gone, the client goes too (a day later at most).
    sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS);
    sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS);
    assert_eq!(count(&store, "grant"), 0);
    sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS + 86_400);
    assert_eq!(count(&store, "client"), 0);
}

#[test]
fn a_client_whose_code_is_out_outlives_a_short_unused_time() {
    let store = MemoryGrantStore::new();
    block_on(async {
        assert!(store.add_client(&client_named("c", 0), 10, 5).await.unwrap());
        // Signed in at 4: the grant's code lives to 60 (see `grant`).
        store.put_grant(&grant()).await.unwrap();
    });
    sweep_all(&store, 61);
    assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "its code can still be redeemed");
    // A client nobody signed in with goes after its 5 s.
    block_on(store.add_client(&client_named("other", 100), 10, 5)).unwrap();
    sweep_all(&store, 104);
    assert!(block_on(store.get_client(&ClientId::new("other"))).unwrap().is_some());
    sweep_all(&store, 105);
    assert!(block_on(store.get_client(&ClientId::new("other"))).unwrap().is_none());
}

#[test]
fn the_number_of_clients_is_capped_and_counts_down_as_they_are_swept() {
    let store = MemoryGrantStore::new();
    block_on(async {
        assert!(store.add_client(&client_named("a", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
        assert!(store.add_client(&client_named("b", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
        assert!(
            !store.add_client(&client_named("c", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap(),
            "a third is refused"
        );
        assert!(store.get_client(&ClientId::new("c")).await.unwrap().is_none());
        // Storing a known client again (a metadata document fetched anew) is not a new one.
        assert!(store.add_client(&client_named("b", 5), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
    });
    assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS + 5), 2);
    assert!(block_on(store.add_client(&client_named("c", UNUSED_CLIENT_SECONDS + 5), 2, 60)).unwrap());
}

#[test]
fn clients_stored_before_their_expiry_was_kept_are_read_and_kept_a_year() {
    let store = MemoryGrantStore::new();
    let legacy = serde_json::to_string(&client_named("old", 0)).unwrap();
    block_on(store.0.put("client:old", legacy)).unwrap();
    assert_eq!(block_on(store.get_client(&ClientId::new("old"))).unwrap().unwrap().client_id.as_str(), "old");
    assert_eq!(sweep_all(&store, 365 * 86_400), 0);
    assert_eq!(sweep_all(&store, 366 * 86_400), 1);
}

#[test]
fn a_replayed_code_still_revokes_until_its_grant_is_swept() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.put_grant(&grant()).await.unwrap();
        store.put_code(&TokenHash::of("code"), &code_record("g", 60)).await.unwrap();
        store.take_code(&TokenHash::of("code")).await.unwrap();
        store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 100), 10, 1000).await.unwrap();
    });
    sweep_all(&store, 500);
    let replay = block_on(store.take_code(&TokenHash::of("code"))).unwrap();
    assert_eq!(replay, CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
}

#[test]
fn each_sweep_step_is_bounded_and_the_next_continues_after_it() {
    let store = MemoryGrantStore::new();
    block_on(async {
        for n in 0..100u64 {
            // Even ones have expired at 50.
            let expires = if n % 2 == 0 { 10 } else { 100 };
            store.put_once(&TokenHash::of(&n.to_string()), "v", expires).await.unwrap();
        }
    });
    let (mut after, mut steps, mut deleted) = (None::<String>, 0, 0);
    loop {
        let page = block_on(store.sweep(after.as_deref(), 50, 30)).unwrap();
        assert!(page.examined <= 30);
        steps += 1;
        deleted += page.deleted;
        match page.next {
            Some(next) => {
                assert!(after.as_deref().is_none_or(|a| a < next.as_str()), "moves forward");
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!((steps, deleted, count(&store, "once")), (4, 50, 50));
    // Deleting behind the cursor does not skip anything: a second pass finds nothing more.
    assert_eq!(sweep_all(&store, 50), 0);
}

#[test]
fn records_stored_before_expiries_were_kept_are_read_and_swept() {
    let store = MemoryGrantStore::new();
    // A grant and refresh record as the previous version wrote them.
    let mut old = serde_json::to_value(grant()).unwrap();
    for field in ["access_current", "access_previous", "tokens_expire_at"] {
        old.as_object_mut().unwrap().remove(field);
    }
    old["refresh_current"] = serde_json::to_value(TokenHash::of("r0")).unwrap();
    old["refresh_expires_at"] = 1000.into();
    block_on(async {
        store.0.put("grant:g", old.to_string()).await.unwrap();
        store.0.put(&hkey("refresh", &TokenHash::of("r0")), "\"g\"".into()).await.unwrap();
        store.0.put(&hkey("refresh", &TokenHash::of("older")), "\"g\"".into()).await.unwrap();
        assert_eq!(store.refresh_grant(&TokenHash::of("older")).await.unwrap(), Some(GrantId::new("g")));
    });
    // Their own expiry unknown, legacy refresh records live as long as their grant's chain.
    assert_eq!(sweep_all(&store, 999), 0);
    let rotated =
        block_on(store.rotate_refresh(&TokenHash::of("r0"), &TokenHash::of("r1"), &access("a1", 20), 10, 1000));
    assert!(matches!(rotated.unwrap(), Rotation::Rotated(_)));
    let g = block_on(store.get_grant(&GrantId::new("g"))).unwrap().unwrap();
    assert_eq!((g.refresh_expires_at, g.tokens_expire_at), (1010, 1010));
    assert_eq!(sweep_all(&store, 1010), 4, "the access token, both legacy records and r1");
    assert_eq!(sweep_all(&store, 1010 + GRANT_SWEEP_MARGIN_SECONDS), 1);
    // An untouched legacy grant: kept a day past its chain (the longest an access token may outlive it).
    store.0 .0.borrow_mut().insert("grant:g".into(), old.to_string());
    assert_eq!(sweep_all(&store, 1000 + 86_399 + GRANT_SWEEP_MARGIN_SECONDS), 0);
    assert_eq!(sweep_all(&store, 1000 + 86_400 + GRANT_SWEEP_MARGIN_SECONDS), 1);
}

#[test]
fn unreadable_and_unknown_records_are_left_alone() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.0.put("access:x", "not json".into()).await.unwrap();
        store.0.put("sweep", "cursor".into()).await.unwrap();
        store.0.put("other:y", "{}".into()).await.unwrap();
    });
    assert_eq!(sweep_all(&store, u64::MAX), 0);
    assert_eq!(count(&store, "access"), 1);
}

/// The keys and JSON the Durable Object holds are a stored format: what this version writes must be byte for byte
/// what earlier versions wrote and read, or grants stored before an upgrade stop working.
#[test]
fn the_stored_keys_and_records_keep_their_exact_form() {
    let store = MemoryGrantStore::new();
    block_on(async {
        store.put_client(&client_named("c", 5)).await.unwrap();
        store.put_grant(&grant()).await.unwrap();
        store.put_code(&TokenHash::of("code"), &code_record("g", 600)).await.unwrap();
        store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 3600), 10, 1000).await.unwrap();
        store.put_once(&TokenHash::of("state"), "pending", 700).await.unwrap();
        store.bump(&TokenHash::of("ip"), 3600, 0).await.unwrap();
    });
    let mut dump = store.dump();
    let grant_key = "grant:g";
    // The sealed identity is ciphertext (tested in `crypto`); everything around it is pinned here, in stored order.
    let raw = dump[grant_key].as_str().unwrap().to_owned();
    let sealed: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let sealed = serde_json::to_string(&sealed["identity"]).unwrap();
    dump[grant_key] = raw.replace(&sealed, r#""sealed""#).into();
    let h = |s: &str| String::from(TokenHash::of(s));
    let expected = serde_json::json!({
        format!("access:{}", h("a0")):
            r#"{"grant_id":"g","client_id":"c","resource":"https://x/mcp","scope":"mcp","expires_at":3600}"#,
        "client:c": concat!(
            r#"{"client_id":"c","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"client_name":"#,
            r#""Claude","auth_method":"none","secret_hash":null,"issued_at":5,"metadata_document":false,"#,
            r#""expires_at":86405}"#
        ),
        format!("code:{}", h("code")): concat!(
            r#"{"Unused":{"grant_id":"g","client_id":"c","redirect_uri":"https://a/cb","code_challenge":"x","#,
            r#""resource":"https://x/mcp","scope":"mcp","expires_at":600}}"#
        ),
        "count:clients": r#"{"count":1,"window_end":18446744073709551615}"#,
        format!("count:{}", h("ip")): r#"{"count":1,"window_end":3600}"#,
        grant_key: format!(
            concat!(
                r#"{{"grant_id":"g","client_id":"c","resource":"https://x/mcp","scope":"mcp","identity":"sealed","#,
                r#""created_at":0,"revoked":false,"refresh_current":"{}","refresh_previous":null,"#,
                r#""refresh_expires_at":1010,"access_current":"{}","access_previous":null,"tokens_expire_at":3600}}"#
            ),
            h("r0"),
            h("a0")
        ),
        format!("once:{}", h("state")): r#"{"value":"pending","expires_at":700}"#,
        format!("refresh:{}", h("r0")): r#"{"grant_id":"g","expires_at":1010}"#,
    });
    assert_eq!(dump, expected);
}
