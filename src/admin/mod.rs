//! The admin command line, `skillport` (native only): the Worker's own configuration, catalogue and loading code run
//! on the admin's machine or in CI.
//!
//! - `skillport config check`: the configuration the Worker would start with, each value's origin, every problem;
//! - `skillport catalogue`: the merged catalogue, fetched from here with the Worker's refresh code (`--dir DIR`: what
//!   the Worker would serve from one local marketplace folder);
//! - `skillport validate PATH`: a marketplace checkout or plugin folder against the Claude Code format and the Agent
//!   Skills rules, for CI in a marketplace repository;
//! - `skillport export claude-org|git --out DIR`: the catalogue as plugin ZIPs for Claude's organisation upload, or as
//!   a self-contained marketplace repository for Claude's GitHub sync and `/plugin marketplace add`.
//!
//! Exit codes: 0 success, 1 a problem was found (invalid configuration, marketplace that failed, validation error),
//! 2 the command line itself is wrong (clap's own code for usage errors, kept for ours).
//!
//! Not for: deploying, editing configuration, or anything the Worker does not also do.

pub mod catalogue;
pub mod check;
pub mod export;
pub mod http;
pub mod layers;
pub mod validate;

use clap::{Args, Parser, Subcommand};
use layers::{Options, UsageError};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "skillport",
    version,
    about = "Skillport's admin command line: check the configuration, list the \
    catalogue, validate a marketplace, export for Claude's own marketplaces."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Fetch the configured marketplaces from this machine and print the merged catalogue.
    Catalogue {
        #[command(flatten)]
        layers: LayerArgs,
        /// Only plugins meant for this surface: claude-code, claude-desktop, claude-ai (or CC, CD, CAI).
        #[arg(long, value_name = "S", value_parser = catalogue::parse_surface)]
        surface: Option<crate::config::Surface>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Load this local marketplace folder instead of the configured marketplaces: what the Worker would serve
        /// from that tree (the configuration is not read).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Write the catalogue out for Claude's own marketplaces: plugin ZIPs, or a marketplace repository.
    Export {
        #[command(subcommand)]
        target: ExportTarget,
    },
    /// Check a marketplace checkout (with .claude-plugin/marketplace.json) or a plugin folder.
    Validate {
        /// The folder to check.
        path: PathBuf,
        /// Also write skillport-index.json (the file list an https marketplace is read by) when there is no error.
        #[arg(long)]
        write_index: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load the configuration layers as the Worker does, print every value with its origin and every problem.
    Check {
        #[command(flatten)]
        layers: LayerArgs,
        /// Count every secret the configuration names and no layer sets as set (CI without production secrets).
        #[arg(long)]
        assume_secrets: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ExportTarget {
    /// One ZIP per servable plugin, in the form Claude's organisation plugin upload takes.
    ClaudeOrg {
        #[command(flatten)]
        export: ExportArgs,
        /// Refuse a plugin whose ZIP is this large or larger [default: the upload form's 50 MB].
        #[arg(long, value_name = "BYTES", default_value_t = export::CLAUDE_ORG_MAX_ZIP_BYTES)]
        max_zip_bytes: u64,
    },
    /// A self-contained marketplace repository: every plugin vendored under ./plugins/<name>.
    Git {
        #[command(flatten)]
        export: ExportArgs,
        /// The marketplace's `name` in .claude-plugin/marketplace.json.
        #[arg(long, value_name = "NAME", default_value = "skillport")]
        name: String,
    },
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[command(flatten)]
    layers: LayerArgs,
    /// The folder to write to (created when missing; an earlier export's files in it are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Only this marketplace (repeatable).
    #[arg(long = "marketplace", value_name = "ID")]
    marketplaces: Vec<String>,
    /// Only plugins meant for this surface: claude-code, claude-desktop, claude-ai (or CC, CD, CAI).
    #[arg(long, value_name = "S", value_parser = catalogue::parse_surface)]
    surface: Option<crate::config::Surface>,
    /// Export what this user (a verified email) would see under the [access] rules.
    #[arg(long = "as-user", value_name = "EMAIL")]
    as_user: Option<String>,
    /// The user's identity-provider groups or roles, for --as-user (comma-separated).
    #[arg(long, value_name = "G,...", value_delimiter = ',', requires = "as_user")]
    groups: Vec<String>,
    /// The user's GitHub teams (org/team), for --as-user (comma-separated).
    #[arg(long, value_name = "T,...", value_delimiter = ',', requires = "as_user")]
    teams: Vec<String>,
    /// The user's GitHub organisations, for --as-user (comma-separated).
    #[arg(long, value_name = "O,...", value_delimiter = ',', requires = "as_user")]
    orgs: Vec<String>,
}

impl ExportArgs {
    fn selection(&self) -> export::Selection {
        export::Selection {
            marketplaces: self.marketplaces.clone(),
            surface: self.surface,
            as_user: self.as_user.clone(),
            groups: self.groups.clone(),
            teams: self.teams.clone(),
            orgs: self.orgs.clone(),
        }
    }
}

#[derive(Debug, Args)]
struct LayerArgs {
    /// The admin file [default: config/skillport.toml, else the copy embedded in this build].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The wrangler configuration whose vars are bindings [default: wrangler.toml, if present].
    #[arg(long, value_name = "FILE")]
    wrangler: Option<PathBuf>,
    /// Use [env.NAME.vars] of the wrangler configuration (and .dev.vars.NAME when present).
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Read bindings from these dotenv files instead of .dev.vars (repeatable; later files win).
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
}

impl LayerArgs {
    fn options(self, assume_secrets: bool) -> Options {
        Options {
            config: self.config,
            wrangler: self.wrangler,
            env: self.env,
            env_files: self.env_files,
            assume_secrets,
        }
    }
}

/// Runs the command line: `std::env::args` in, output on stdout/stderr, the exit code out.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Variables that are not UTF-8 cannot be Worker bindings either.
    let process_env: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let result = match cli.command {
        Command::Config { command: ConfigCommand::Check { layers, assume_secrets } } => {
            check::check(&layers.options(assume_secrets), &process_env).map(|report| {
                print(&report.text, "");
                u8::from(report.errors > 0)
            })
        }
        Command::Catalogue { dir: Some(dir), surface, json, .. } => {
            let show = catalogue::Show { surface, json };
            catalogue::run_dir(&dir, &show).map(|outcome| {
                print(&outcome.stdout, &outcome.stderr);
                outcome.code
            })
        }
        Command::Catalogue { layers, surface, json, dir: None } => {
            let show = catalogue::Show { surface, json };
            catalogue::run(&layers.options(false), &show, &process_env).map(|outcome| {
                print(&outcome.stdout, &outcome.stderr);
                outcome.code
            })
        }
        Command::Export { target } => {
            let (args, target) = match target {
                ExportTarget::ClaudeOrg { export, max_zip_bytes } => {
                    (export, export::Target::ClaudeOrg { max_zip_bytes })
                }
                ExportTarget::Git { export, name } => (export, export::Target::Git { name }),
            };
            let selection = args.selection();
            let out = args.out.clone();
            export::run(&args.layers.options(false), &target, &selection, &out, &process_env).map(|outcome| {
                print(&outcome.stdout, &outcome.stderr);
                outcome.code
            })
        }
        Command::Validate { path, write_index } => validate::run(&path, write_index).map(|outcome| {
            print(&outcome.stdout, "");
            outcome.code
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(UsageError(message)) => {
            eprintln!("skillport: {message}");
            ExitCode::from(2)
        }
    }
}

fn print(stdout: &str, stderr: &str) {
    // A closed pipe (`| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
    let _ = std::io::stderr().lock().write_all(stderr.as_bytes());
}
