//! Heap held by a loaded 1,003-plugin catalogue (`bench/catalogue.py`'s synthetic marketplace ahead of the example
//! marketplace, as in `benches/catalogue.rs`), natively, with a counting allocator: what the marketplace's files take,
//! what loading them adds and keeps, the peak of the load, and the listing rows `list_plugins` builds.
//!
//!     cargo bench --bench memory
//!
//! The Worker's wasm memory never shrinks, so its size is the peak of what was ever live, plus the allocator's own
//! overhead; these figures are the live bytes that feed it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[path = "catalogue.rs"]
#[allow(dead_code)]
mod catalogue;

fn kib(n: usize) -> String {
    format!("{:8.1} KiB", n as f64 / 1024.0)
}

fn main() {
    let base = LIVE.load(Relaxed);
    let files = catalogue::big_marketplace(1000);
    let with_files = LIVE.load(Relaxed);
    let bytes: usize = files.iter().map(|(p, b)| p.len() + b.len()).sum();
    PEAK.store(with_files, Relaxed);
    let app = catalogue::app_with(files);
    let loaded = LIVE.load(Relaxed);
    let peak = PEAK.load(Relaxed);
    println!("files of the marketplace      {} ({} of paths and contents)", kib(with_files - base), kib(bytes));
    println!(
        "after building the app        {} (+{} over the files: config, example, loaded forms)",
        kib(loaded - base),
        kib(loaded - with_files)
    );
    println!("peak while building           {}", kib(peak - base));
    let req = catalogue::requests().into_iter().find(|(n, _)| *n == "list_plugins").unwrap().1;
    assert_eq!(app.handle(&req).status, 200);
    let listed = LIVE.load(Relaxed);
    println!("after the first list_plugins  {} (listing rows +{})", kib(listed - base), kib(listed - loaded));
}
