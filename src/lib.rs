//! Skillport: serves an organisation's Claude Code plugin marketplaces to Claude.ai and Claude Desktop as a
//! remote MCP server, on Cloudflare Workers.
//!
//! Everything here is plain Rust tested natively; only `platform` (the fetch handler, env bindings) is compiled
//! for `wasm32` alone, and `admin` (the `skillport` command line) natively alone.
//!
//! Where a request goes: [`routes::ROUTES`], one line per endpoint, each naming its handler.

pub mod access;
/// The admin command line (`src/bin/skillport.rs`, feature `cli`): native only.
#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub mod admin;
pub mod app;
pub mod audit;
pub mod bundle;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod download;
pub mod http;
pub mod mcp;
pub mod oauth;
pub mod routes;
pub mod signin;
pub mod status;
pub mod testing;
pub mod webhooks;

#[cfg(target_arch = "wasm32")]
mod platform;

pub use app::App;
