//! Native cost of the hot requests over a 1,003-plugin catalogue: `bench/catalogue.py`'s synthetic marketplace (built
//! here in memory, the same plugins) ahead of the example marketplace, as `bench/compare.py` serves them. Each request
//! goes through `App::handle`, the whole native HTTP path (routing, sign-in, JSON-RPC, the tool, serialization).
//!
//!     cargo bench --bench catalogue                        time per request of each kind (µs, median of batches)
//!     cargo bench --bench catalogue -- list_plugins 200    200 requests of one kind and nothing else, so that
//!         valgrind --tool=callgrind target/release/deps/catalogue-* list_plugins 200
//!     counts the instructions of exactly that (minus one warm-up call and the catalogue build).
//!     cargo bench --bench catalogue -- list_plugins 200 10000   the same over 10,000 synthetic plugins (a third
//!         argument, or `BENCH_PLUGINS=10000` for the timing run; 1,000 by default), as `bench/scale.py` compares.
//!
//! Native x86-64 is not the Worker's wasm, but instruction counts move together with it, and they are deterministic
//! on a shared machine where wall-clock times are not.

use skillport::catalogue::MarketplaceEntry;
use skillport::http::HttpRequest;
use skillport::App;
use skillport_sources::load::load_marketplace_lean;
use skillport_sources::FileSet;
use std::collections::BTreeMap;
use std::time::Instant;

/// The synthetic marketplace of `bench/catalogue.py`'s `big_marketplace`.
pub fn big_marketplace(n: usize) -> FileSet {
    let mut files = FileSet::new();
    let mut plugins = Vec::new();
    for i in 0..n {
        let name = format!("plugin-{i:04}");
        files
            .insert(
                &format!("plugins/{name}/skills/skill-{i:04}/SKILL.md"),
                format!(
                    "---\nname: skill-{i:04}\ndescription: Synthetic skill number {i} for the catalogue benchmark.\n---\n\n\
                     # Skill {i}\n\nDo step one, then step two.\n"
                )
                .into_bytes(),
            )
            .unwrap();
        let tags = [["surface:CALL"], ["surface:CC"], ["surface:CDAI"]][i % 3];
        let category = ["development", "productivity", "design"][i % 3];
        plugins.push(serde_json::json!({
            "name": name, "source": format!("./plugins/{name}"), "description": format!("Synthetic plugin {i}"),
            "version": format!("1.{}.0", i % 10), "category": category,
            "tags": tags,
        }));
    }
    let manifest = serde_json::json!({"name": "bench", "owner": {"name": "Bench"}, "plugins": plugins});
    files.insert(".claude-plugin/marketplace.json", serde_json::to_vec(&manifest).unwrap()).unwrap();
    files
}

fn app(plugins: usize) -> App {
    app_with(big_marketplace(plugins))
}

/// The example app with `files` loaded ahead of the example marketplace as the GitHub marketplace `big`.
pub fn app_with(files: FileSet) -> App {
    let env: BTreeMap<String, String> = [("SKILLPORT_AUTH__OPEN".to_string(), "true".to_string())].into();
    let mut app = skillport::testing::block_on(App::from_env(&env));
    let entry = MarketplaceEntry {
        id: "big".parse().unwrap(),
        kind: skillport::config::SourceKind::Github.into(),
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        loaded: load_marketplace_lean(&files, &Default::default(), &Default::default()).map_err(|e| e.to_string()),
        files,
        external_failures: Default::default(),
        fetched_at: Some(1_700_000_000),
        error: None,
        refresh: Default::default(),
        cache: Default::default(),
    };
    app.catalogue.marketplaces.insert(0, entry);
    app
}

fn mcp(body: serde_json::Value) -> HttpRequest {
    HttpRequest::new("POST", "/mcp")
        .with_header("host", "127.0.0.1:8787")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_header("mcp-protocol-version", "2025-06-18")
        .with_body(serde_json::to_vec(&body).unwrap())
}

fn tool(name: &str, args: serde_json::Value) -> HttpRequest {
    mcp(serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": name, "arguments": args}}))
}

/// The requests of each kind over the 1,000-plugin catalogue.
pub fn requests() -> Vec<(&'static str, HttpRequest)> {
    requests_for(1000)
}

/// The requests of each kind over `plugins` synthetic plugins (the last page's cursor depends on the count: the
/// catalogue lists `plugins` + 3, the example marketplace's three after the synthetic ones).
pub fn requests_for(plugins: usize) -> Vec<(&'static str, HttpRequest)> {
    let last = skillport::catalogue::cursor::encode((plugins + 3).saturating_sub(1) / 50 * 50);
    vec![
        ("list_plugins", tool("list_plugins", serde_json::json!({"surface": "all"}))),
        (
            "list_plugins_query",
            tool("list_plugins", serde_json::json!({"query": "number 999", "surface": "claude-code"})),
        ),
        ("list_plugins_last_page", tool("list_plugins", serde_json::json!({"surface": "claude-ai", "limit": 200}))),
        ("list_plugins_end", tool("list_plugins", serde_json::json!({"surface": "all", "cursor": last}))),
        ("fetch_skill_big", tool("fetch_skill", serde_json::json!({"name": "plugin-0000@big/skill-0000"}))),
        ("fetch_skill_bare", tool("fetch_skill", serde_json::json!({"name": "brand-voice"}))),
        ("tools_list", mcp(serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))),
        ("fetch_skill", tool("fetch_skill", serde_json::json!({"name": "brand-kit@example/brand-voice"}))),
        ("prm", HttpRequest::new("GET", "/.well-known/oauth-protected-resource").with_header("host", "127.0.0.1:8787")),
    ]
}

pub fn main() {
    // `cargo bench` passes `--bench`; anything else is ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let plugins = args
        .get(2)
        .cloned()
        .or_else(|| std::env::var("BENCH_PLUGINS").ok())
        .map(|n| n.parse().unwrap_or_else(|_| panic!("plugin count `{n}` is not a number")))
        .unwrap_or(1000);
    let app = app(plugins);
    let reqs = requests_for(plugins);
    if let Some(only) = args.first() {
        let calls: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100);
        let (_, req) = reqs.iter().find(|(n, _)| n == only).unwrap_or_else(|| panic!("no request kind `{only}`"));
        assert_eq!(app.handle(req).status, 200);
        for _ in 0..calls {
            std::hint::black_box(app.handle(std::hint::black_box(req)));
        }
        return;
    }
    for (name, req) in &reqs {
        let resp = app.handle(req);
        assert_eq!(resp.status, 200, "{name}: {}", String::from_utf8_lossy(&resp.body));
        let mut batches = Vec::new();
        let start = Instant::now();
        while start.elapsed().as_millis() < 1000 || batches.len() < 5 {
            let t = Instant::now();
            for _ in 0..20 {
                std::hint::black_box(app.handle(std::hint::black_box(req)));
            }
            batches.push(t.elapsed().as_secs_f64() * 1e6 / 20.0);
            let _ = skillport::audit::drain();
        }
        batches.sort_by(f64::total_cmp);
        println!("{name:24} {:9.1} µs/request  ({} bytes answered)", batches[batches.len() / 2], resp.body.len());
    }
}
