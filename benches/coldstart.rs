//! Where a fresh isolate's first request goes, natively: each stage of building the `App` on a 1,003-plugin
//! catalogue timed alone (configuration, reading the stored copy, the lean load, sign-in setup), then the first
//! request of each kind on a new `App` against later ones.
//!
//!     cargo bench --bench coldstart
//!     cargo bench --bench coldstart -- lean 20     the lean load of the 1,000 plugins 20 times and nothing else, so that
//!         valgrind --tool=callgrind target/release/deps/coldstart-* lean 20
//!     counts its instructions (minus building the files in memory, the same for every count).
//!
//! Native x86-64 runs these stages several times faster than the Worker's wasm (and has no lazy compilation), so the
//! shares matter, not the absolute times; `bench/cold-start.py` measures the real thing in workerd.

#[path = "catalogue.rs"]
#[allow(dead_code)]
mod catalogue;

use skillport::catalogue::refresh::{Snapshot, Stored};
use skillport_sources::load::load_marketplace_lean;
use std::collections::BTreeMap;
use std::time::Instant;

fn median_us(mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let env: BTreeMap<String, String> = [("SKILLPORT_AUTH__OPEN".to_string(), "true".to_string())].into();
    let files = catalogue::big_marketplace(1000);
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.first().map(String::as_str) == Some("lean") {
        let times: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20);
        for _ in 0..times {
            std::hint::black_box(load_marketplace_lean(&files, &Default::default(), &Default::default()).unwrap());
        }
        return;
    }
    let snap = Snapshot {
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        fetched_at: 1_700_000_000,
        files: files.clone(),
        complete: true,
        external_failures: Default::default(),
    };
    let stored = Stored::encode_of(&snap, None);
    println!("stored copy of 1,000 plugins: {} bytes", stored.len());
    let rows = [
        (
            "configuration (embedded TOML + vars, validated)",
            median_us(|| {
                std::hint::black_box(skillport::config::load_embedded(&env).unwrap());
            }),
        ),
        (
            "decode the stored copy",
            median_us(|| {
                std::hint::black_box(Stored::decode(&stored).unwrap());
            }),
        ),
        (
            "lean load of 1,000 plugins",
            median_us(|| {
                std::hint::black_box(load_marketplace_lean(&files, &Default::default(), &Default::default()).unwrap());
            }),
        ),
        (
            "App::from_env (config, example marketplace, sign-in)",
            median_us(|| {
                std::hint::black_box(skillport::testing::block_on(skillport::App::from_env(&env)));
            }),
        ),
    ];
    for (name, us) in rows {
        println!("{name:56} {us:10.1} µs");
    }
    for (name, req) in catalogue::requests() {
        let first = median_us(|| {
            let app = catalogue::app_with(files.clone());
            std::hint::black_box(app.handle(&req));
        });
        let app = catalogue::app_with(files.clone());
        app.handle(&req);
        let later = median_us(|| {
            std::hint::black_box(app.handle(&req));
        });
        println!("{:56} {first:10.1} µs with a new App, {later:8.1} µs later", format!("first {name}"));
    }
}
