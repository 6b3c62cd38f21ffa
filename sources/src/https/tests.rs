use super::*;
use crate::conformance::same_marketplace;
use crate::conformance::{self, Setup};
use crate::testutil::{example_files, example_tarball, example_zip};
use skillport_http::{block_on_ready, CannedClient, CountingClient};

const ROOT: &str = "https://cdn.example/market/";

fn serve_folder(client: &CannedClient, files: &FileSet) {
    for (path, content) in files.iter() {
        let etag = format!("\"{}\"", &sha256_digest(content)[7..19]);
        let content = content.to_vec();
        client.route("GET", &format!("{ROOT}{path}"), move |req| {
            if req.header_value("if-none-match") == Some(etag.as_str()) {
                return Ok(HttpResponse::new(304));
            }
            Ok(HttpResponse::new(200).with_header("etag", etag.clone()).with_body(content.clone()))
        });
    }
}

fn source<'a>(client: &'a CannedClient, url: &str) -> HttpsSource<&'a CannedClient> {
    HttpsSource::new(HttpsConfig::new(url).unwrap().with_header("Authorization", Secret::new("Bearer s3cret")), client)
}

/// An HTTPS source for `url` carrying the suite's credential on every request.
fn secret_source<'c>(client: &'c dyn HttpClient, url: &str) -> Box<dyn MarketplaceSource + 'c> {
    let config = HttpsConfig::new(url).unwrap().with_header("Authorization", Secret::new("Bearer https-topsecret"));
    Box::new(HttpsSource::new(config, client))
}

#[test]
fn behaves_as_every_source_must_as_an_archive() {
    for (url, body) in [
        ("https://cdn.example/m.zip", example_zip("marketplace-main")),
        ("https://cdn.example/m.tar.gz?sig=abc", example_tarball("marketplace")),
    ] {
        let client = CannedClient::new();
        client.route("GET", url, move |req| {
            if req.header_value("if-none-match") == Some("\"a1\"") {
                return Ok(HttpResponse::new(304));
            }
            Ok(HttpResponse::new(200).with_header("etag", "\"a1\"").with_body(body.clone()))
        });
        let setup = Setup::new(client, example_files(), Some("https-topsecret"), move |c| secret_source(c, url));
        conformance::run_all(&setup, 1);
    }
}

#[test]
fn behaves_as_every_source_must_with_an_index() {
    let client = CannedClient::new();
    let folder = example_files();
    serve_folder(&client, &folder);
    let listed: Vec<Value> =
        folder.iter().map(|(path, b)| serde_json::json!({"path": path, "sha256": sha256_digest(b)})).collect();
    let mut index = FileSet::new();
    index.insert(INDEX_FILE, serde_json::to_vec(&listed).unwrap()).unwrap();
    serve_folder(&client, &index);
    let manifest = format!("{ROOT}{MARKETPLACE_FILE}");
    let setup = Setup::new(client, folder, Some("https-topsecret"), move |c| secret_source(c, &manifest));
    // Three requests a run: the index's 304 and two files, so the load takes several runs.
    assert!(conformance::a_partial_load_carries_on(&setup, 3) > 2);
    conformance::run_all(&setup, 3);
}

#[test]
fn behaves_as_every_source_must_without_an_index() {
    let client = CannedClient::new();
    let mut folder = FileSet::new();
    let manifest = r#"{"name":"m","plugins":[{"name":"p","source":"./p","skills":["./skills/alpha"]},
            {"name":"q","source":"./q"}]}"#;
    folder.insert(MARKETPLACE_FILE, manifest.as_bytes().to_vec()).unwrap();
    folder.insert("p/skills/alpha/SKILL.md", b"---\nname: alpha\ndescription: A.\n---\n".to_vec()).unwrap();
    folder.insert("q/.claude-plugin/plugin.json", br#"{"name":"q","skills":["./s/beta"]}"#.to_vec()).unwrap();
    folder.insert("q/s/beta/SKILL.md", b"---\nname: beta\ndescription: B.\n---\n".to_vec()).unwrap();
    serve_folder(&client, &folder);
    let manifest = format!("{ROOT}{MARKETPLACE_FILE}");
    let setup = Setup::new(client, folder, Some("https-topsecret"), move |c| secret_source(c, &manifest));
    conformance::run_all(&setup, 2);
}

#[test]
fn a_file_over_its_cap_is_not_read_and_is_skipped_but_the_manifest_is_not() {
    let client = CannedClient::new();
    let mut folder = example_files();
    let manifest = folder.get(MARKETPLACE_FILE).unwrap().len();
    // One skill grown to 10 KB more; the cap is the largest of the index and the manifest, below it.
    let big = "plugins/writing-tools/skills/conventional-commits/SKILL.md";
    let mut grown = folder.get(big).unwrap().to_vec();
    grown.extend(std::iter::repeat_n(b'\n', 10_000));
    folder.insert(big, grown).unwrap();
    let index = index_for(&folder);
    let cap = index.len().max(manifest) as u64;
    folder.insert(INDEX_FILE, index).unwrap();
    serve_folder(&client, &folder);
    let url = format!("{ROOT}.claude-plugin/marketplace.json");
    let limited = |max_file_bytes: u64| {
        HttpsSource::new(
            HttpsConfig::new(&url).unwrap().with_limits(Limits { max_file_bytes, ..Limits::default() }),
            &client,
        )
    };
    let Fetched::Tree { files, .. } = block_on_ready(limited(cap).fetch(None)).unwrap() else { panic!() };
    assert!(files.len() > 1 && files.iter().all(|(_, c)| c.len() as u64 <= cap));
    assert!(files.get(big).is_none() && client.urls().contains(&format!("{ROOT}{big}")), "asked for, skipped");
    assert!(client.requests().iter().all(|r| r.max_body == cap));
    let err = block_on_ready(limited(manifest as u64 - 1).fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::TooLarge(_)), "{err:?}");
}

#[test]
fn indexed_marketplace_loads_and_refreshes_with_one_request() {
    let client = CannedClient::new();
    let mut folder = example_files();
    let index = index_for(&folder);
    folder.insert(INDEX_FILE, index).unwrap();
    serve_folder(&client, &folder);
    let counting = CountingClient::new(&client);
    let https =
        HttpsSource::new(HttpsConfig::new(format!("{ROOT}.claude-plugin/marketplace.json")).unwrap(), &counting);
    let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
    assert_eq!(counting.reset(), folder.len());
    same_marketplace(&files, &example_files());
    assert!(revision.starts_with("index:sha256:") && revision.contains(";e="));
    assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
    assert_eq!(counting.count(), 1);
    let req = &client.requests()[client.requests().len() - 1];
    assert_eq!(req.url, format!("{ROOT}{INDEX_FILE}"));
    assert!(req.header_value("if-none-match").is_some());
}

#[test]
fn index_digest_mismatch_is_an_integrity_error() {
    let client = CannedClient::new();
    let folder = example_files();
    serve_folder(&client, &folder);
    let index = serde_json::json!({"files": [{"path": ".claude-plugin/marketplace.json", "sha256": "sha256:00"}]});
    client.on_get(&format!("{ROOT}{INDEX_FILE}"), HttpResponse::new(200).with_body(index.to_string()));
    let err =
        block_on_ready(source(&client, &format!("{ROOT}.claude-plugin/marketplace.json")).fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::Integrity { .. }), "{err}");
    let traversal = serde_json::json!(["../../etc/passwd"]);
    client.on_get(&format!("{ROOT}{INDEX_FILE}"), HttpResponse::new(200).with_body(traversal.to_string()));
    let err =
        block_on_ready(source(&client, &format!("{ROOT}.claude-plugin/marketplace.json")).fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::Path(_)), "{err}");
}

#[test]
fn without_an_index_listed_skills_are_fetched() {
    let client = CannedClient::new();
    let mut folder = FileSet::new();
    folder
            .insert(
                MARKETPLACE_FILE,
                br#"{"name":"m","plugins":[{"name":"p","source":"./p","skills":["./skills/alpha"]},{"name":"q","source":"./q"}]}"#.to_vec(),
            )
            .unwrap();
    folder.insert("p/skills/alpha/SKILL.md", b"---\nname: alpha\ndescription: A.\n---\n".to_vec()).unwrap();
    folder.insert("q/.claude-plugin/plugin.json", br#"{"name":"q","skills":["./s/beta/SKILL.md"]}"#.to_vec()).unwrap();
    folder.insert("q/s/beta/SKILL.md", b"---\nname: beta\ndescription: B.\n---\n".to_vec()).unwrap();
    serve_folder(&client, &folder);
    let https = source(&client, &format!("{ROOT}.claude-plugin/marketplace.json"));
    let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
    assert_eq!(files, folder);
    // index 404, manifest, p's plugin.json (404), alpha, q's plugin.json, beta.
    assert_eq!(client.requests().len(), 6);
    assert!(client.requests().iter().all(|r| r.header_value("authorization") == Some("Bearer s3cret")));
    assert!(revision.starts_with("manifest:"));
    client.clear_requests();
    assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
    assert_eq!(client.urls(), [format!("{ROOT}.claude-plugin/marketplace.json")]);
}

#[test]
fn archives_zip_and_tar_gz_with_pin() {
    for (url, body) in [
        ("https://cdn.example/m.zip", example_zip("marketplace-main")),
        ("https://cdn.example/m-flat.zip", example_zip("")),
        ("https://cdn.example/m.tar.gz?sig=abc", example_tarball("marketplace")),
    ] {
        let client = CannedClient::new();
        let etag = "\"a1\"";
        let served = body.clone();
        client.route("GET", url, move |req| {
            if req.header_value("if-none-match") == Some(etag) {
                return Ok(HttpResponse::new(304));
            }
            Ok(HttpResponse::new(200).with_header("etag", etag).with_body(served.clone()))
        });
        let digest = sha256_digest(&body);
        let https = HttpsSource::new(HttpsConfig::new(url).unwrap().with_sha256(&digest[7..]), &client);
        let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
        same_marketplace(&files, &example_files());
        assert_eq!(revision, format!("{digest};e=\"a1\""));
        assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
        assert_eq!(client.requests().len(), 2);
        let pinned = HttpsSource::new(HttpsConfig::new(url).unwrap().with_sha256("sha256:beef"), &client);
        let err = block_on_ready(pinned.fetch(None)).unwrap_err();
        assert!(matches!(err, SourceError::Integrity { .. }));
        assert!(!err.to_string().contains("sig=abc"));
    }
}

/// A marketplace of `n` in-tree plugins, each with a plugin.json and one skill.
fn big_marketplace(n: usize) -> FileSet {
    let mut files = FileSet::new();
    let entries: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"name": format!("p{i:03}"), "source": format!("./plugins/p{i:03}")}))
        .collect();
    files
        .insert(MARKETPLACE_FILE, serde_json::json!({"name": "big", "plugins": entries}).to_string().into_bytes())
        .unwrap();
    for i in 0..n {
        let root = format!("plugins/p{i:03}");
        files
            .insert(
                &format!("{root}/{PLUGIN_FILE}"),
                format!(r#"{{"name":"p{i:03}","skills":["./skills/s{i:03}"]}}"#).into_bytes(),
            )
            .unwrap();
        files
            .insert(
                &format!("{root}/skills/s{i:03}/SKILL.md"),
                format!("---\nname: s{i:03}\ndescription: Skill {i}.\n---\nBody {i}.\n").into_bytes(),
            )
            .unwrap();
    }
    files
}

/// Runs `fetch_from` through a budget of `per_run` requests until the tree is whole; the requests of each run.
fn load_in_runs(
    client: &CannedClient,
    url: &str,
    per_run: usize,
    mut last: Option<(String, FileSet, bool)>,
) -> (Vec<usize>, String, FileSet) {
    let mut runs = Vec::new();
    for _ in 0..100 {
        let budget = skillport_http::BudgetClient::new(client, per_run);
        let https = HttpsSource::new(HttpsConfig::new(url).unwrap(), &budget);
        let previous =
            last.as_ref().map(|(revision, files, complete)| Previous { revision, files, complete: *complete });
        let fetched = block_on_ready(https.fetch_from(previous)).unwrap();
        runs.push(budget.used());
        match fetched {
            Fetched::Tree { revision, files } => return (runs, revision, files),
            Fetched::Partial { revision, files, pending } => {
                assert!(pending > 0);
                assert!(!files.is_empty());
                last = Some((revision, files, false));
            }
            Fetched::NotModified => panic!("not modified while loading"),
        }
    }
    panic!("never completed: {runs:?}")
}

#[test]
fn a_large_indexed_marketplace_loads_within_the_budget_over_several_runs() {
    let client = CannedClient::new();
    let mut folder = big_marketplace(286);
    let index = index_for(&folder);
    folder.insert(INDEX_FILE, index).unwrap();
    serve_folder(&client, &folder);
    let url = format!("{ROOT}.claude-plugin/marketplace.json");
    let (runs, revision, files) = load_in_runs(&client, &url, 40, None);
    // 1 index + 1 manifest + 572 plugin files, 40 a run (each carrying-on run spends one on the index's 304).
    assert!(runs.iter().all(|&n| n <= 40), "{runs:?}");
    assert_eq!(runs.len(), 575usize.div_ceil(39), "{runs:?}");
    assert_eq!(client.requests().len(), runs.iter().sum::<usize>());
    let mut expected = big_marketplace(286);
    expected.insert(INDEX_FILE, folder.get(INDEX_FILE).unwrap().to_vec()).unwrap();
    assert_eq!(files, expected, "the whole tree, and no partial note left in it");
    let loaded = crate::load::load_marketplace(&files).unwrap();
    assert_eq!(loaded.plugins.len(), 286);
    assert!(loaded.plugins.iter().all(|p| p.skills.len() == 1));

    // Unchanged: one conditional request.
    client.clear_requests();
    let https = HttpsSource::new(HttpsConfig::new(&url).unwrap(), &client);
    let previous = Previous { revision: &revision, files: &files, complete: true };
    assert_eq!(block_on_ready(https.fetch_from(Some(previous))).unwrap(), Fetched::NotModified);
    assert_eq!(client.requests().len(), 1);

    // Two skills change: the new index plus those two files, not the whole marketplace again.
    let mut changed = folder.clone();
    for i in [7, 200] {
        changed
            .insert(
                &format!("plugins/p{i:03}/skills/s{i:03}/SKILL.md"),
                format!("---\nname: s{i:03}\ndescription: New {i}.\n---\n").into_bytes(),
            )
            .unwrap();
    }
    let mut without_index = changed.clone();
    without_index = {
        let mut f = FileSet::new();
        for (p, b) in without_index.iter().filter(|(p, _)| *p != INDEX_FILE) {
            f.insert(p, b.to_vec()).unwrap();
        }
        f
    };
    changed.insert(INDEX_FILE, index_for(&without_index)).unwrap();
    let client = CannedClient::new();
    serve_folder(&client, &changed);
    let (runs, _, files) = load_in_runs(&client, &url, 40, Some((revision, files, true)));
    assert_eq!(runs, [3]);
    assert_eq!(files.get("plugins/p200/skills/s200/SKILL.md"), changed.get("plugins/p200/skills/s200/SKILL.md"));
}

#[test]
fn a_large_manifest_marketplace_loads_within_the_budget_and_remembers_absent_files() {
    let client = CannedClient::new();
    let mut folder = big_marketplace(120);
    // Half the plugins have no plugin.json (their skills listed in the entry instead): the server answers 404.
    let mut manifest: Value = serde_json::from_slice(folder.get(MARKETPLACE_FILE).unwrap()).unwrap();
    for (i, entry) in manifest["plugins"].as_array_mut().unwrap().iter_mut().enumerate() {
        if i % 2 == 0 {
            entry["skills"] = serde_json::json!([format!("./skills/s{i:03}")]);
        }
    }
    folder.insert(MARKETPLACE_FILE, manifest.to_string().into_bytes()).unwrap();
    let mut served = FileSet::new();
    for (p, b) in folder
        .iter()
        .filter(|(p, _)| !(p.ends_with(PLUGIN_FILE) && p[9..12].parse::<usize>().is_ok_and(|i| i % 2 == 0)))
    {
        served.insert(p, b.to_vec()).unwrap();
    }
    serve_folder(&client, &served);
    let url = format!("{ROOT}.claude-plugin/marketplace.json");
    let (runs, revision, files) = load_in_runs(&client, &url, 25, None);
    assert!(runs.iter().all(|&n| n <= 25), "{runs:?}");
    // index 404 + manifest once, then 120 plugin.json (60 absent) + 120 skills, each asked for once; every
    // carrying-on run spends one on the manifest's 304 (its index is not asked for again).
    let urls = client.urls();
    let mut unique = urls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(urls.len() - unique.len(), runs.len() - 1, "only the manifest is asked again");
    assert_eq!(unique.len(), 2 + 240);
    assert_eq!(files, served);
    assert!(revision.starts_with("manifest:"));
    let loaded = crate::load::load_marketplace(&files).unwrap();
    assert!(
        loaded.plugins.iter().all(|p| p.skills.len() == 1),
        "{:?}",
        loaded.plugins.iter().map(|p| (&p.name, p.skills.len())).collect::<Vec<_>>()
    );
}

#[test]
fn errors_do_not_leak_headers_or_query() {
    let client = CannedClient::new();
    client.on_get("https://cdn.example/m.zip?token=hunter2", HttpResponse::new(401).with_body("denied"));
    let https = source(&client, "https://cdn.example/m.zip?token=hunter2");
    let err = block_on_ready(https.fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::Denied { status: 401, .. }));
    assert!(!format!("{err} {err:?}").contains("hunter2") && !format!("{err:?}").contains("s3cret"));
    assert!(HttpsConfig::new("http://evil.example/m.zip").is_err());
    assert!(HttpsConfig::new("http://127.0.0.1:8080/m.zip").is_ok());
    assert!(HttpsConfig::new("http://localhost.evil.example/m.zip").is_err());
}
