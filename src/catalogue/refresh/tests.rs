use super::*;
use crate::testing::block_on;
use skillport_http::{BudgetClient, CannedClient, CountingClient, HttpError, HttpRequest, HttpResponse};
use std::cell::Cell;
use std::collections::BTreeMap;

#[test]
fn snapshots_round_trip_and_reject_damage() {
    let mut files = FileSet::new();
    files.insert("a/b.md", b"hello".to_vec()).unwrap();
    files.insert("c.bin", vec![0, 1, 2, 255]).unwrap();
    let s = Snapshot {
        revision: "abc;e=\"x\"".into(),
        fetched_at: 42,
        files,
        complete: true,
        external_failures: Default::default(),
    };
    let bytes = s.encode();
    assert_eq!(Snapshot::decode(&bytes), Some(s));
    for cut in [0, 3, 4, 12, bytes.len() - 1] {
        assert_eq!(Snapshot::decode(&bytes[..cut]), None, "{cut}");
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert_eq!(Snapshot::decode(&extra), None);
}

/// A real HTTP client would need a server; this one answers like a GitHub that is down, and counts.
struct Down(Cell<usize>);
#[async_trait::async_trait(?Send)]
impl HttpClient for Down {
    async fn send(&self, _req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.0.set(self.0.get() + 1);
        Ok(HttpResponse::new(503))
    }
}

fn cfg(env: &[(&str, &str)]) -> Config {
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    crate::config::load_embedded(&env).unwrap()
}

#[test]
fn stale_if_error_serves_the_stored_copy_and_says_so() {
    let cfg = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
    let m = &cfg.marketplaces[0];
    let store = MemoryStore::default();
    // A copy saved an hour ago by another isolate (the example marketplace's files stand in for the repo).
    let files = crate::bundle::bundled_files("marketplace").unwrap();
    let snap = Snapshot {
        revision: "sha1".into(),
        fetched_at: 1000,
        files,
        complete: true,
        external_failures: Default::default(),
    };
    block_on(store.save(&store_key(m), snap.encode()));
    let client = Down(Cell::new(0));
    let now = 1000 + 3600;
    let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
    // A fresh isolate serves it before asking the upstream, and leaves it due.
    let e = block_on(refresh_one(m, None, &client, &store, now, &t));
    assert_eq!((client.0.get(), e.error.is_none(), due_one(&e, now, t.max_age)), (0, true, true));
    let e = block_on(refresh_one(m, Some(&e), &client, &store, now, &t));
    assert_eq!(client.0.get(), 1, "one request to learn the upstream is down");
    assert_eq!(e.loaded.as_ref().unwrap().plugins.len(), 3);
    assert_eq!(e.fetched_at, Some(1000));
    assert!(e.error.as_deref().unwrap().contains("503"), "{:?}", e.error);
    // A fresh stored copy is used with no upstream request at all.
    let client = Down(Cell::new(0));
    let e = block_on(refresh_one(m, None, &client, &store, 1100, &t));
    assert_eq!((client.0.get(), e.error.is_none()), (0, true));
    // Past stale_seconds the old copy is dropped and the failure reported instead.
    let short = Timing { stale_for: 60, ..t };
    let e = block_on(refresh_one(m, None, &Down(Cell::new(0)), &store, now, &short));
    assert!(e.loaded.is_err());
    // Nothing stored and upstream down: the marketplace is reported, not fatal.
    let empty = MemoryStore::default();
    let e = block_on(refresh_one(m, None, &Down(Cell::new(0)), &empty, now, &t));
    assert!(e.loaded.is_err());
}

/// An upstream that fails every request with `status` (and `retry-after`, when given), counting them.
struct Failing(Cell<usize>, u16, Option<&'static str>);
#[async_trait::async_trait(?Send)]
impl HttpClient for Failing {
    async fn send(&self, _req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.0.set(self.0.get() + 1);
        let r = HttpResponse::new(self.1);
        Ok(match self.2 {
            Some(s) => r.with_header("retry-after", s),
            None => r,
        })
    }
}

/// Refreshes as the platform does (only when [`due`]) once a second from `from` to `to`; upstream requests made.
fn refresh_every_second(
    cfg: &Config,
    cat: &mut Catalogue,
    client: &dyn HttpClient,
    store: &MemoryStore,
    from: u64,
    to: u64,
) {
    for now in from..to {
        if due(cat, cfg, now) {
            *cat = block_on(refresh_all(cfg, Some(cat), client, store, now));
        }
    }
}

/// A fresh isolate's catalogue over `store` at `now`, then the refresh that its first request leaves due, as the
/// platform runs them: the stored copy (older than `refresh_seconds`) is served before any upstream request.
fn fresh_then_refreshed(cfg: &Config, client: &Failing, store: &MemoryStore, now: u64) -> Catalogue {
    let before = client.0.get();
    let fresh = block_on(refresh_all(cfg, None, client, store, now));
    assert_eq!(client.0.get(), before, "no upstream request before the first answer");
    assert!(fresh.marketplaces[0].loaded.is_ok() && due(&fresh, cfg, now));
    block_on(refresh_all(cfg, Some(&fresh), client, store, now))
}

fn github_with_a_stored_copy(refresh_seconds: u64) -> (Config, MemoryStore) {
    let cfg = cfg(&[
        ("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#),
        ("SKILLPORT_CATALOGUE__REFRESH_SECONDS", &refresh_seconds.to_string()),
    ]);
    let store = MemoryStore::default();
    let files = crate::bundle::bundled_files("marketplace").unwrap();
    // With an ETag, so that a refresh asks conditionally and a 304 is an answer to it.
    let snap = Snapshot {
        revision: "sha1;e=\"e1\"".into(),
        fetched_at: 0,
        files,
        complete: true,
        external_failures: Default::default(),
    };
    block_on(store.save(&store_key(&cfg.marketplaces[0]), snap.encode()));
    (cfg, store)
}

#[test]
fn a_failing_upstream_is_retried_after_refresh_seconds_then_less_and_less_often() {
    let (cfg, store) = github_with_a_stored_copy(10);
    let client = Failing(Cell::new(0), 500, None);
    let mut cat = fresh_then_refreshed(&cfg, &client, &store, 100);
    assert_eq!(client.0.get(), 1);
    assert!(cat.marketplaces[0].error.is_some() && cat.marketplaces[0].loaded.is_ok(), "the stored copy is served");
    assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(110));
    // Tries at 110, 130 (20 s later), then every 40 s: not once per request.
    refresh_every_second(&cfg, &mut cat, &client, &store, 101, 251);
    assert_eq!(client.0.get(), 6);
    assert_eq!(cat.marketplaces[0].refresh.failures, 6);
    assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(250 + 40));
    assert!(cat.marketplaces[0].loaded.is_ok());
    // The wait stops growing at four refresh periods, and at an hour unless the period is longer.
    assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 10), 40);
    assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 1800), 3600);
    assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 7200), 7200);
    // One success (GitHub's 304 to the conditional request) resets it.
    let back = block_on(refresh_all(&cfg, Some(&cat), &Failing(Cell::new(0), 304, None), &store, 290));
    assert_eq!(back.marketplaces[0].refresh.failures, 0, "{:?}", back.marketplaces[0].error);
    assert!(back.marketplaces[0].error.is_none() && back.marketplaces[0].refresh.retry_at.is_none());
}

#[test]
fn retry_after_is_waited_for() {
    let (cfg, store) = github_with_a_stored_copy(2);
    let client = Failing(Cell::new(0), 429, Some("60"));
    let mut cat = fresh_then_refreshed(&cfg, &client, &store, 1000);
    assert_eq!(client.0.get(), 1);
    assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(1060));
    refresh_every_second(&cfg, &mut cat, &client, &store, 1001, 1060);
    assert_eq!(client.0.get(), 1, "nothing before the upstream's time");
    refresh_every_second(&cfg, &mut cat, &client, &store, 1060, 1061);
    assert_eq!(client.0.get(), 2);
    // A Retry-After beyond a day is taken as a day.
    let absurd = SourceError::RateLimited { retry_after_seconds: Some(10_000_000) };
    assert_eq!(retry_delay(&absurd, 1, 300), 86_400);
}

/// A webhook's forced refresh asks upstream at once, whatever the copy's age, but not before a `Retry-After`; the
/// flag does not outlive the refresh it asked for.
#[test]
fn a_forced_refresh_ignores_the_age_but_not_retry_after() {
    let (cfg, store) = github_with_a_stored_copy(3600);
    let client = Failing(Cell::new(0), 304, None);
    let mut cat = fresh_then_refreshed(&cfg, &client, &store, 10_000);
    assert_eq!(client.0.get(), 1);
    assert!(!due(&cat, &cfg, 10_010), "an hour-old copy is not due after 10 s");
    cat.marketplaces[0].refresh.forced = true;
    assert!(due(&cat, &cfg, 10_010));
    let cat = block_on(refresh_all(&cfg, Some(&cat), &client, &store, 10_010));
    assert_eq!(client.0.get(), 2, "one conditional request");
    assert!(!cat.marketplaces[0].refresh.forced && !due(&cat, &cfg, 10_011));
    // Told to wait by the upstream: forced or not, nothing before its time.
    let limited = Failing(Cell::new(0), 429, Some("60"));
    let mut cat = block_on(refresh_all(&cfg, None, &limited, &MemoryStore::default(), 2000));
    cat.marketplaces[0].refresh.forced = true;
    assert!(!due(&cat, &cfg, 2030));
    let kept = block_on(refresh_all(&cfg, Some(&cat), &limited, &store, 2030));
    assert_eq!(limited.0.get(), 1);
    assert!(kept.marketplaces[0].refresh.forced, "still wanted once the wait is over");
    let until = kept.marketplaces[0].refresh.retry_at.unwrap();
    assert!(!due(&kept, &cfg, until - 1) && due(&kept, &cfg, until));
}

/// Serves `files` at `root` like a static HTTPS server with ETags, counting requests.
fn static_server(client: &CannedClient, root: &str, files: &FileSet) {
    for (path, content) in files.iter() {
        let etag = format!("\"{}\"", &skillport_sources::sha256_digest(content)[7..19]);
        let content = content.to_vec();
        client.route("GET", &format!("{root}{path}"), move |req| {
            if req.header_value("if-none-match") == Some(etag.as_str()) {
                return Ok(HttpResponse::new(304));
            }
            Ok(HttpResponse::new(200).with_header("etag", etag.clone()).with_body(content.clone()))
        });
    }
}

/// `n` in-tree plugins, one skill each, and the index `skillport validate --write-index` writes.
fn indexed_marketplace(n: usize, body: &str) -> FileSet {
    let mut files = FileSet::new();
    let entries: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"name": format!("p{i:03}"), "source": format!("./plugins/p{i:03}")}))
        .collect();
    let manifest = serde_json::json!({"name": "big", "plugins": entries});
    files.insert(".claude-plugin/marketplace.json", manifest.to_string().into_bytes()).unwrap();
    for i in 0..n {
        let skill = format!("---\nname: s{i:03}\ndescription: Skill {i}.\n---\n{body}\n");
        files.insert(&format!("plugins/p{i:03}/skills/s{i:03}/SKILL.md"), skill.into_bytes()).unwrap();
    }
    let index = skillport_sources::index_for(&files);
    files.insert(skillport_sources::INDEX_FILE, index).unwrap();
    files
}

#[test]
fn a_large_https_marketplace_loads_over_several_refreshes_each_within_the_budget() {
    const ROOT: &str = "https://cdn.example/big/";
    let cfg = cfg(&[
        (
            "SKILLPORT_MARKETPLACES",
            r#"[{id="big",kind="https",location="https://cdn.example/big/.claude-plugin/marketplace.json"},
                    {id="example",kind="bundled",location="marketplace"}]"#,
        ),
        ("SKILLPORT_CATALOGUE__SUBREQUESTS_PER_REFRESH", "40"),
    ]);
    let client = CannedClient::new();
    static_server(&client, ROOT, &indexed_marketplace(286, "v1"));
    let counting = CountingClient::new(&client);
    let store = MemoryStore::default();
    let mut cat = block_on(refresh_all(&cfg, None, &counting, &store, 0));
    let mut runs = vec![counting.reset()];
    let big = |c: &Catalogue| c.marketplaces.iter().find(|m| m.id == "big").unwrap().clone();
    assert!(big(&cat).refresh.partial);
    let loading = big(&cat).refresh.loading.unwrap();
    assert!(loading.files_pending > 0 && !loading.newer, "{loading:?}");
    assert!(big(&cat).loaded.as_ref().unwrap().plugins.len() == 286, "the manifest came first: every plugin listed");
    let notes = super::super::marketplace_notes(cat.unfiltered(), 0);
    assert!(
        notes
            .iter()
            .any(|n| n["marketplace"] == "big" && n["loading"].as_str().is_some_and(|t| t.contains("still loading"))),
        "{notes:?}"
    );
    // Each refresh (due at once while loading) carries on, within 40 requests.
    for now in 1..100 {
        if !due(&cat, &cfg, now) {
            break;
        }
        cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, now));
        runs.push(counting.reset());
    }
    assert!(runs.iter().all(|&n| n <= 40), "{runs:?}");
    // 288 files (index, manifest, 286 SKILL.md), each continuation spending one on the index's 304.
    assert_eq!(runs.len(), 288usize.div_ceil(39), "{runs:?}");
    let whole = big(&cat);
    assert!(!whole.refresh.partial && whole.refresh.loading.is_none());
    let plugins = &whole.loaded.as_ref().unwrap().plugins;
    assert!(plugins.iter().all(|p| p.skills.len() == 1));
    assert!(!whole.files.contains(skillport_sources::https::PARTIAL_FILE));
    // Unchanged and due: one conditional request.
    cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, 1000));
    assert_eq!(counting.reset(), 1);

    // A change to every skill: too much for one refresh, so the whole old copy stays served meanwhile.
    let client2 = CannedClient::new();
    static_server(&client2, ROOT, &indexed_marketplace(286, "v2"));
    let counting = CountingClient::new(&client2);
    let old_revision = big(&cat).revision.clone();
    cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, 2000));
    assert!(counting.reset() <= 40);
    let during = big(&cat);
    assert_eq!(during.revision, old_revision, "the old revision is still served");
    assert!(during.refresh.loading.unwrap().newer && during.refresh.next.is_some());
    // A new isolate picks the load up from the store.
    let mut cold = block_on(refresh_all(&cfg, None, &counting, &store, 2001));
    assert!(counting.reset() <= 40);
    assert_eq!(big(&cold).revision, old_revision);
    assert!(big(&cold).refresh.next.is_some());
    let mut now = 2002;
    while due(&cold, &cfg, now) && now < 2100 {
        cold = block_on(refresh_all(&cfg, Some(&cold), &counting, &store, now));
        assert!(counting.reset() <= 40);
        now += 1;
    }
    let done = big(&cold);
    assert_ne!(done.revision, old_revision);
    assert!(done.refresh.next.is_none() && done.refresh.loading.is_none());
    let skill = done.files.get("plugins/p123/skills/s123/SKILL.md").unwrap();
    assert!(String::from_utf8_lossy(skill).contains("v2"));
}

/// The configuration of the HTTPS marketplace `ext` at `https://cdn.example/ext/`, with external plugins.
fn ext_cfg() -> Config {
    cfg(&[(
        "SKILLPORT_MARKETPLACES",
        r#"[{id="ext",kind="https",location="https://cdn.example/ext/.claude-plugin/marketplace.json"}]"#,
    )])
}

#[test]
fn external_plugins_beyond_one_refresh_arrive_over_the_next_ones() {
    use std::io::Write;
    const ROOT: &str = "https://cdn.example/ext/";
    let cfg = ext_cfg();
    let client = CannedClient::new();
    let mut plugins = Vec::new();
    for i in 0..100 {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(format!("skills/e{i:03}/SKILL.md"), zip::write::SimpleFileOptions::default()).unwrap();
        write!(zip, "---\nname: e{i:03}\ndescription: External {i}.\n---\n").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let sha = skillport_sources::sha256_digest(&bytes);
        client.on_get(&format!("{ROOT}plugins/p{i:03}.zip"), HttpResponse::new(200).with_body(bytes));
        plugins.push(serde_json::json!({"name": format!("p{i:03}"),
                "source": {"source": "archive", "url": format!("{ROOT}plugins/p{i:03}.zip"), "sha256": &sha[7..]}}));
    }
    let mut files = FileSet::new();
    let manifest = serde_json::json!({"name": "ext", "plugins": plugins}).to_string().into_bytes();
    files.insert(".claude-plugin/marketplace.json", manifest).unwrap();
    let index = skillport_sources::index_for(&files);
    files.insert(skillport_sources::INDEX_FILE, index).unwrap();
    static_server(&client, ROOT, &files);
    let counting = CountingClient::new(&client);
    let store = MemoryStore::default();
    let mut cat = block_on(refresh_all(&cfg, None, &counting, &store, 0));
    let mut runs = vec![counting.reset()];
    let pending = cat.marketplaces[0].refresh.loading.unwrap().externals_pending;
    assert_eq!(pending, 62, "index, manifest and 38 plugins in the first 40 requests");
    let servable = |c: &Catalogue| {
        c.marketplaces[0].loaded.as_ref().unwrap().plugins.iter().filter(|p| p.status.is_servable()).count()
    };
    assert_eq!(servable(&cat), 38);
    for now in 1..20 {
        if !due(&cat, &cfg, now) {
            break;
        }
        cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, now));
        runs.push(counting.reset());
    }
    // Then a 304 on the index and up to 39 plugins a refresh.
    assert_eq!(runs, [40, 40, 24]);
    assert_eq!(servable(&cat), 100);
    assert!(cat.marketplaces[0].refresh.loading.is_none());
    // Pinned by sha256, they come from the store after that: a new isolate serves them before any request, and its
    // refresh makes one.
    let cold = block_on(refresh_all(&cfg, None, &counting, &store, 10_000));
    assert_eq!((counting.reset(), servable(&cold)), (0, 100));
    let cold = block_on(refresh_all(&cfg, Some(&cold), &counting, &store, 10_000));
    assert_eq!((counting.reset(), servable(&cold)), (1, 100));
}

#[test]
fn snapshots_written_before_partial_loads_still_decode() {
    let mut files = FileSet::new();
    files.insert("a.md", b"x".to_vec()).unwrap();
    let s =
        Snapshot { revision: "r".into(), fetched_at: 7, files, complete: true, external_failures: Default::default() };
    let mut v1 = s.encode();
    // SPS1 had neither the `complete` flag nor the failures that SPS3 writes last (here a count of 0).
    v1.truncate(v1.len() - 4);
    v1.remove(4);
    v1[..4].copy_from_slice(b"SPS1");
    assert_eq!(Stored::decode(&v1), Some(Stored { served: s.clone(), next: None }));
    let partial = Snapshot { complete: false, ..s.clone() };
    let both = Stored { served: s, next: Some(partial) };
    assert_eq!(Stored::decode(&both.encode()), Some(both.clone()));
    let bytes = both.encode();
    assert_eq!(Stored::decode(&bytes[..bytes.len() - 1]), None);
}

/// The bytes of `s` as an `SPS2` copy stored them, written out field by field (not by the current encoder), with each
/// external plugin's fetch failure as a file `.skillport-external/.fetch-errors/<name>` of the tree.
fn sps2(s: &Snapshot) -> Vec<u8> {
    let put = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    let mut files: Vec<(String, Vec<u8>)> = s.files.iter().map(|(p, b)| (p.to_string(), b.to_vec())).collect();
    for (name, error) in &s.external_failures {
        files.push((format!(".skillport-external/.fetch-errors/{name}"), error.clone().into_bytes()));
    }
    let mut out = b"SPS2".to_vec();
    out.push(s.complete as u8);
    out.extend_from_slice(&s.fetched_at.to_le_bytes());
    put(&mut out, s.revision.as_bytes());
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for (path, bytes) in &files {
        put(&mut out, path.as_bytes());
        put(&mut out, bytes);
    }
    out
}

/// A marketplace of one plugin, whose source is an archive elsewhere.
fn with_an_external_plugin() -> FileSet {
    let mut files = FileSet::new();
    let manifest = serde_json::json!({"name": "ext", "plugins": [
        {"name": "ext", "source": {"source": "archive", "url": "https://cdn.example/ext/plugins/ext.zip"}},
    ]});
    files.insert(".claude-plugin/marketplace.json", manifest.to_string().into_bytes()).unwrap();
    files
}

#[test]
fn copies_stored_as_sps2_keep_the_reason_an_external_plugin_could_not_be_fetched() {
    let cfg = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
    let m = &cfg.marketplaces[0];
    let failures: BTreeMap<String, String> = [("ext".to_string(), "HTTP 404 from cdn.example".to_string())].into();
    let s = Snapshot {
        revision: "sha1".into(),
        fetched_at: 1000,
        files: with_an_external_plugin(),
        complete: true,
        external_failures: failures.clone(),
    };
    let old = sps2(&s);
    // The failure file is lifted out of the tree into the failures; nothing else changes.
    assert_eq!(Snapshot::decode(&old), Some(s.clone()));
    assert_eq!(Stored::decode(&old), Some(Stored { served: s.clone(), next: None }));
    // Served from the store as it was served when it was written.
    let store = MemoryStore::default();
    block_on(store.save(&store_key(m), old));
    let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
    let e = block_on(refresh_one(m, None, &Down(Cell::new(0)), &store, 1100, &t));
    let ext = e.loaded.as_ref().unwrap().plugin("ext").unwrap();
    assert_eq!(
        ext.status.reason(),
        Some(
            "plugin source `archive` (https://cdn.example/ext/plugins/ext.zip) is outside this marketplace and could \
             not be fetched: HTTP 404 from cdn.example"
        )
    );
    assert_eq!(e.external_failures, failures);
    assert!(e.files.iter().all(|(p, _)| !p.contains(".fetch-errors")));
    // Written again, it is SPS3 and reads back the same.
    let new = s.encode();
    assert_eq!(&new[..4], b"SPS3");
    assert_eq!(Snapshot::decode(&new), Some(s));
}

#[test]
fn why_an_external_plugin_could_not_be_fetched_survives_an_outage_and_a_spent_budget() {
    const ROOT: &str = "https://cdn.example/ext/";
    let cfg = ext_cfg();
    let m = &cfg.marketplaces[0];
    let mut files = with_an_external_plugin();
    let index = skillport_sources::index_for(&files);
    files.insert(skillport_sources::INDEX_FILE, index).unwrap();
    let client = CannedClient::new();
    static_server(&client, ROOT, &files);
    client.on_get(&format!("{ROOT}plugins/ext.zip"), HttpResponse::new(500));
    let store = MemoryStore::default();
    let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
    let reason = |e: &MarketplaceEntry| {
        e.loaded.as_ref().unwrap().plugin("ext").unwrap().status.reason().unwrap_or_default().to_string()
    };
    let first = block_on(refresh_one(m, None, &client, &store, 0, &t));
    let failed = reason(&first);
    assert!(failed.contains("is outside this marketplace and could not be fetched: "), "{failed}");
    // Unchanged upstream, and the one request allowed is the conditional one: the plugin waits, its failure stays.
    let spent = BudgetClient::new(&client, 1);
    let second = block_on(refresh_one(m, Some(&first), &spent, &store, 1000, &t));
    assert_eq!(second.refresh.loading.map(|l| l.externals_pending), Some(1));
    assert_eq!(reason(&second), failed);
    // Upstream down: the copy served still says why.
    let third = block_on(refresh_one(m, Some(&second), &Down(Cell::new(0)), &store, 2000, &t));
    assert!(third.error.is_some());
    assert_eq!(reason(&third), failed);
    // No request left for this marketplace at all.
    let fourth = block_on(refresh_one(m, Some(&third), &BudgetClient::new(&client, 0), &store, 5000, &t));
    assert!(fourth.refresh.loading.is_some_and(|l| l.waiting));
    assert_eq!(reason(&fourth), failed);
    // A new isolate reads the stored copy and says the same.
    let cold = block_on(refresh_one(m, None, &Down(Cell::new(0)), &store, 100, &t));
    assert_eq!(reason(&cold), failed);
    // Once fetched, the plugin is served and the failure forgotten.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("skills/e/SKILL.md", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, b"---\nname: e\ndescription: External.\n---\n").unwrap();
    client.on_get(
        &format!("{ROOT}plugins/ext.zip"),
        HttpResponse::new(200).with_body(zip.finish().unwrap().into_inner()),
    );
    let fifth = block_on(refresh_one(m, Some(&fourth), &client, &store, 6000, &t));
    assert!(fifth.loaded.as_ref().unwrap().plugin("ext").unwrap().status.is_servable(), "{}", reason(&fifth));
    assert!(fifth.external_failures.is_empty());
}

/// An HTTPS archive of `entries`, configured with `layout`, refreshed once.
fn archive_marketplace(entries: &[(&str, &str)], layout: &str) -> MarketplaceEntry {
    use std::io::Write;
    let cfg = cfg(&[(
        "SKILLPORT_MARKETPLACES",
        &format!(r#"[{{id="repo",kind="https",location="https://cdn.example/repo.zip",layout="{layout}"}}]"#),
    )]);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, text) in entries {
        zip.start_file(*path, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    let client = CannedClient::new();
    client.on_get("https://cdn.example/repo.zip", HttpResponse::new(200).with_body(zip.finish().unwrap().into_inner()));
    let store = MemoryStore::default();
    let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
    let e = block_on(refresh_one(&cfg.marketplaces[0], None, &client, &store, 0, &t));
    // What was served is what was stored: a new isolate serves the same plugins from the store alone.
    let again = block_on(refresh_one(&cfg.marketplaces[0], None, &Down(Cell::new(0)), &store, 1, &t));
    assert_eq!(again.loaded.as_ref().map(|l| l.plugins.len()).ok(), e.loaded.as_ref().map(|l| l.plugins.len()).ok());
    e
}

#[test]
fn a_plugin_or_a_skills_only_archive_is_served_as_a_marketplace() {
    let skill = |n: &str| format!("---\nname: {n}\ndescription: Skill {n}.\n---\n");
    let plugin =
        [(".claude-plugin/plugin.json", r#"{"name":"solo","version":"1.2.0"}"#), ("skills/a/SKILL.md", &skill("a"))];
    let e = archive_marketplace(&plugin, "auto");
    let loaded = e.loaded.as_ref().unwrap();
    assert_eq!(
        loaded.plugins.iter().map(|p| (p.name.as_str(), p.version())).collect::<Vec<_>>(),
        [("solo", Some("1.2.0"))]
    );
    assert!(e.error.is_none());

    let skills = [("pdf/SKILL.md", skill("pdf")), ("docx/SKILL.md", skill("docx")), ("README.md", "# x".into())];
    let skills: Vec<(&str, &str)> = skills.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let e = archive_marketplace(&skills, "skills");
    let names: Vec<&str> = e.loaded.as_ref().unwrap().plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["docx", "pdf"]);

    // Nothing recognisable: the marketplace says what was looked for.
    let e = archive_marketplace(&[("README.md", "# nothing"), ("docs/a.md", "x")], "auto");
    let error = e.loaded.unwrap_err();
    assert!(error.contains("looked for `.claude-plugin/marketplace.json`"), "{error}");
    // A layout asked for that the tree does not have is refused the same way.
    let e = archive_marketplace(&skills, "plugin");
    assert!(e.loaded.unwrap_err().contains("layout `plugin`"));
}

#[test]
fn store_keys_change_with_layout_but_not_for_auto() {
    let at = |layout: &str| {
        let extra = if layout.is_empty() { String::new() } else { format!(r#",layout="{layout}""#) };
        let c = cfg(&[(
            "SKILLPORT_MARKETPLACES",
            &format!(r#"[{{id="gh",kind="github",location="acme/plugins"{extra}}}]"#),
        )]);
        store_key(&c.marketplaces[0])
    };
    assert_eq!(at(""), at("auto"));
    assert_ne!(at("auto"), at("skills"));
    assert_ne!(at("plugin"), at("skills"));
}

#[test]
fn store_keys_change_with_location() {
    let a = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
    let b = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/other"}]"#)]);
    assert_ne!(store_key(&a.marketplaces[0]), store_key(&b.marketplaces[0]));
    assert!(store_key(&a.marketplaces[0]).starts_with("marketplace:gh:"));
}

/// A fresh isolate answers from a stored copy older than `refresh_seconds` (within `stale_seconds`) without asking
/// the upstream first; the refresh after that answer revalidates it with one conditional request. A copy past
/// `stale_seconds` cannot be served, so it is revalidated before the answer, as a missing one is loaded.
#[test]
fn a_fresh_isolate_serves_an_older_stored_copy_at_once_and_revalidates_it_after() {
    let (cfg, store) = github_with_a_stored_copy(300);
    let stale_for = cfg.catalogue.stale_seconds;
    let client = Failing(Cell::new(0), 304, None);
    let now = 1000;
    let fresh = block_on(refresh_all(&cfg, None, &client, &store, now));
    assert_eq!(client.0.get(), 0, "no upstream request before the first answer");
    let gh = &fresh.marketplaces[0];
    assert_eq!((gh.loaded.as_ref().map(|l| l.plugins.len()), gh.fetched_at, gh.error.as_ref()), (Ok(3), Some(0), None));
    assert!(due(&fresh, &cfg, now), "left due, so the platform refreshes it after the response");
    let after = block_on(refresh_all(&cfg, Some(&fresh), &client, &store, now));
    assert_eq!(client.0.get(), 1, "one conditional request");
    assert_eq!(after.marketplaces[0].fetched_at, Some(now));
    assert!(!due(&after, &cfg, now + 1));
    // Past stale_seconds: asked before the answer.
    let late = stale_for + 1;
    let old = block_on(refresh_all(&cfg, None, &client, &store, late));
    assert_eq!(client.0.get(), 2);
    assert_eq!(old.marketplaces[0].fetched_at, Some(late));
}
