//! `skillport`, the admin command line (feature `cli`); everything is in `skillport::admin`. The Worker is the
//! library's wasm build, so on wasm32 this binary is empty.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    skillport::admin::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
