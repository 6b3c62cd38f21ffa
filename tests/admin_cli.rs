//! The `skillport` admin command line, run as a user runs it: the built binary, in a fresh folder, with an environment
//! of the test's choosing (never the developer's `SKILLPORT_*` variables or secrets).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// An empty folder of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skillport-admin-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn skillport(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_skillport"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run skillport");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    };
    println!("$ skillport {}\n{}{}(exit {})", args.join(" "), run.stdout, run.stderr, run.code);
    run
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "expected `{needle}` in:\n{haystack}");
    }
}

// --- config check ----------------------------------------------------------------------------------------------------

const SECRET_VALUES: [&str; 3] =
    ["cs-TopSecretClientValue", "oauth-TopSecretMasterKey-0123456789abcdef", "ghp_TopSecretTokenFromTheEnvironment"];

/// A GitHub-signed-in deployment whose secrets come from .dev.vars and the environment.
fn good_deployment(name: &str) -> PathBuf {
    let dir = scratch(name);
    write(
        &dir,
        "config/skillport.toml",
        r#"
[server]
public_url = "https://skills.example.com"

[auth]
provider = "github"
client_id = "Iv1.0123456789abcdef"
client_secret_secret = "GITHUB_CLIENT_SECRET"
master_key_secret = "OAUTH_KEY"

[[marketplaces]]
id = "acme-tools"
kind = "github"
location = "acme/claude-plugins"
token_secret = "GITHUB_TOKEN"
"#,
    );
    write(
        &dir,
        "wrangler.toml",
        "name = \"skillport\"\n[vars]\nSKILLPORT_SERVER__NAME = \"Acme Skills\"\n\
         [env.staging.vars]\nSKILLPORT_SERVER__NAME = \"Acme Skills (staging)\"\n",
    );
    write(
        &dir,
        ".dev.vars",
        &format!("GITHUB_CLIENT_SECRET={}\nOAUTH_KEY=\"{}\"\n", SECRET_VALUES[0], SECRET_VALUES[1]),
    );
    dir
}

#[test]
fn config_check_shows_each_value_with_its_origin_and_no_secret() {
    let dir = good_deployment("good");
    let env = [("GITHUB_TOKEN", SECRET_VALUES[2]), ("SKILLPORT_CATALOGUE__REFRESH_SECONDS", "60")];
    let run = skillport(&dir, &["config", "check"], &env);
    assert_eq!(run.code, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let line = |key: &str| -> &str {
        lines.iter().find(|l| l.trim_start().starts_with(&format!("{key} "))).unwrap_or_else(|| panic!("no {key}"))
    };
    assert!(line("server.name").ends_with("# wrangler.toml [vars] SKILLPORT_SERVER__NAME"), "{}", line("server.name"));
    assert!(line("server.public_url").ends_with("# config/skillport.toml"), "{}", line("server.public_url"));
    assert!(line("catalogue.refresh_seconds").ends_with("# environment SKILLPORT_CATALOGUE__REFRESH_SECONDS"));
    assert!(line("catalogue.stale_seconds").ends_with("# built-in defaults"));
    assert!(line("marketplaces[0].token_secret").contains("\"GITHUB_TOKEN\" [set]"));
    // The `#` of every value line is in one column (values longer than the column aside).
    let columns: Vec<usize> = lines
        .iter()
        .filter(|l| l.contains(" = ") && l.contains("  # ") && !l.contains("surfaces"))
        .map(|l| l.find("  # ").unwrap())
        .collect();
    assert!(columns.len() > 20 && columns.iter().all(|c| *c == columns[0]), "{columns:?}");
    assert_contains(
        &run.stdout,
        &[
            "GITHUB_CLIENT_SECRET  [set]      from .dev.vars",
            "GITHUB_TOKEN          [set]      from environment",
            "OK: the configuration is valid",
            "auth github",
        ],
    );
    for secret in SECRET_VALUES {
        assert!(!run.all().contains(secret), "secret printed");
    }

    // `--env staging`: that environment's vars instead of the top-level ones, as wrangler does.
    let run = skillport(&dir, &["config", "check", "--env", "staging"], &env);
    assert_eq!(run.code, 0);
    assert_contains(
        &run.stdout,
        &["\"Acme Skills (staging)\"", "# wrangler.toml [env.staging.vars] SKILLPORT_SERVER__NAME"],
    );
}

#[test]
fn config_check_reports_every_problem_with_key_and_layer() {
    let dir = good_deployment("bad");
    write(
        &dir,
        "config/skillport.toml",
        &format!(
            r#"
[server]
public_url = "https://skills.example.com"
download_key_secret = "DOWNLOAD_KEY"

[auth]
provider = "gitub"

[catalogue]
refresh_second = 60

[[marketplaces]]
id = "acme-tools"
kind = "github"
location = "acme/claude-plugins"
token_secret = "{}"
"#,
            SECRET_VALUES[2]
        ),
    );
    write(&dir, "wrangler.toml", "[vars]\nDOWNLOAD_KEY = \"dl-plain-text-key-0123456789abcdef0123\"\n");
    write(&dir, ".dev.vars", "SKILLPORT_SERVER__MAX_BODY_BYTES=lots\n");
    let run = skillport(&dir, &["config", "check"], &[("GITHUB_TOKEN", SECRET_VALUES[2])]);
    assert_eq!(run.code, 1);
    assert_contains(
        &run.stdout,
        &[
            "error: `auth.provider` (from config/skillport.toml): unknown provider kind `gitub`",
            "error: `catalogue.refresh_second` (from config/skillport.toml): unknown key `refresh_second`",
            "error: `server.max_body_bytes` (from .dev.vars SKILLPORT_SERVER__MAX_BODY_BYTES): expected a whole number",
            "error: `marketplaces[0].token_secret` (from config/skillport.toml): names a Worker secret that is not set",
            "warning: `DOWNLOAD_KEY` (from wrangler.toml [vars]): is a plain-text var",
            "(hidden)",
            "INVALID: ",
        ],
    );
    assert!(!run.all().contains(SECRET_VALUES[2]), "a secret pasted where its name belongs was printed");
    assert!(!run.all().contains("dl-plain-text-key"), "a secret from [vars] was printed");
}

#[test]
fn config_check_shows_the_status_page_admins_and_refuses_bad_ones() {
    let dir = scratch("admins");
    write(
        &dir,
        "config/skillport.toml",
        "[access.admins]\nemails = [\"Ops@Example.com\"]\ngroups = [\"skillport-admins\"]\n",
    );
    let run = skillport(&dir, &["config", "check", "--config", "config/skillport.toml"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_contains(
        &run.stdout,
        &[
            "access.admins.emails",
            "[\"Ops@Example.com\"]      # config/skillport.toml",
            "access.admins.groups",
            "access.admins.domains",
            "admins: 1 email, 1 group",
        ],
    );
    write(&dir, "config/skillport.toml", "[access.admins]\nemails = [\"ops\"]\nroles = [\"x\"]\n");
    let run = skillport(&dir, &["config", "check", "--config", "config/skillport.toml"], &[]);
    assert_eq!(run.code, 1);
    assert_contains(&run.stdout, &["error: `access.admins.roles` (from config/skillport.toml): unknown key `roles`"]);
}

#[test]
fn config_check_usage_errors_exit_2() {
    let dir = good_deployment("usage");
    for args in [
        &["config", "check", "--config", "nope.toml"][..],
        &["config", "check", "--env", "production"],
        &["config", "check", "--env-file", "missing.env"],
        &["config", "check", "--no-such-flag"],
        &["config"],
        &["validate", "no-such-folder"],
    ] {
        let run = skillport(&dir, args, &[]);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn config_check_env_files_and_assumed_secrets() {
    let dir = good_deployment("env-files");
    std::fs::remove_file(dir.join(".dev.vars")).unwrap();
    // Without the secrets: each is missing, and the check fails.
    let run = skillport(&dir, &["config", "check"], &[]);
    assert_eq!(run.code, 1);
    assert_contains(&run.stdout, &["GITHUB_TOKEN          [missing]", "`GITHUB_TOKEN`, which is not set"]);
    // CI without production secrets checks the rest.
    let run = skillport(&dir, &["config", "check", "--assume-secrets"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["\"GITHUB_TOKEN\" [assumed]", "OK: the configuration is valid"]);
    // --env-file files instead of .dev.vars, later ones winning.
    write(&dir, "a.env", "GITHUB_CLIENT_SECRET=a\nOAUTH_KEY=oauth-0123456789abcdef0123456789abcdef\nGITHUB_TOKEN=t\n");
    write(&dir, "b.env", "SKILLPORT_SERVER__NAME=\"From B\"\n");
    let run = skillport(&dir, &["config", "check", "--env-file", "a.env", "--env-file", "b.env"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["\"From B\"", "# b.env SKILLPORT_SERVER__NAME", "[set]      from a.env"]);
}

#[test]
fn config_check_without_files_uses_the_embedded_configuration() {
    let dir = scratch("embedded");
    let run = skillport(&dir, &["config", "check"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["config/skillport.toml, embedded in this build", "wrangler.toml: not present"]);
}

/// The worked examples (`examples/<name>/skillport.toml`) are valid configurations once their secrets exist.
#[test]
fn config_check_accepts_the_worked_examples() {
    let dir = scratch("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(REPO).join("examples")).unwrap() {
        let file = entry.unwrap().path().join("skillport.toml");
        if !file.is_file() {
            continue;
        }
        let run = skillport(&dir, &["config", "check", "--assume-secrets", "--config", file.to_str().unwrap()], &[]);
        assert_eq!(run.code, 0, "{}:\n{}", file.display(), run.stdout);
        assert_contains(&run.stdout, &[&format!("2. admin file         {}", file.display())]);
        checked += 1;
    }
    println!("{checked} worked example(s) checked");
}

// --- validate --------------------------------------------------------------------------------------------------------

#[test]
fn validate_accepts_the_example_marketplace_and_a_plugin_folder() {
    let repo = Path::new(REPO);
    let run = skillport(repo, &["validate", "examples/marketplace"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["ok: marketplace `skillport-example` (3 plugins, 4 skills): 0 errors, 0 warnings"]);
    let run = skillport(repo, &["validate", "examples/marketplace/plugins/writing-tools"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["ok: plugin `writing-tools` (2 skills)"]);
}

#[test]
fn validate_reports_each_problem_with_its_file_and_line() {
    let dir = scratch("broken");
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &dir);
    let edit = |rel: &str, from: &str, to: &str| {
        let path = dir.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    };
    edit("plugins/repo-tools/skills/repo-map/SKILL.md", "name: repo-map", "name: Repo_Map");
    edit(
        "plugins/writing-tools/skills/release-notes/SKILL.md",
        "description: Drafts",
        &format!("description: {} Drafts", "very ".repeat(220)),
    );
    edit("plugins/writing-tools/skills/conventional-commits/SKILL.md", "(type(scope)", "<type>(scope)");
    edit(
        "plugins/writing-tools/skills/conventional-commits/SKILL.md",
        "name: conventional-commits",
        "name: commit-style",
    );
    std::fs::rename(
        dir.join("plugins/brand-kit/skills/brand-voice/SKILL.md"),
        dir.join("plugins/brand-kit/skills/brand-voice/skill.md"),
    )
    .unwrap();
    write(&dir, "plugins/repo-tools/skills/claude-tips/SKILL.md", "---\nname: claude-tips\ndescription: Tips.\n---\n");
    write(&dir, "plugins/repo-tools/skills/notes/README.md", "not a skill\n");

    let run = skillport(&dir, &["validate", "."], &[]);
    assert_eq!(run.code, 1);
    let skill = |s: &str| format!("./plugins/{s}/SKILL.md");
    assert_contains(
        &run.stdout,
        &[
            &format!("{}:2: error: skill name `Repo_Map` must be 1-64 lowercase letters", skill("repo-tools/skills/repo-map")),
            &format!("{}:2: error: skill name `Repo_Map` does not match its folder `repo-map`", skill("repo-tools/skills/repo-map")),
            &format!("{}:3: error: description is 1264 characters long; at most 1024", skill("writing-tools/skills/release-notes")),
            &format!("{}:3: error: description must not contain XML tags (found `<type>`)", skill("writing-tools/skills/conventional-commits")),
            &format!("{}:2: error: skill name `commit-style` does not match its folder", skill("writing-tools/skills/conventional-commits")),
            "./plugins/brand-kit/skills/brand-voice: error: skill `brand-voice` has `skill.md`; the file must be named exactly `SKILL.md`",
            &format!("{}:2: error: skill name `claude-tips` contains the reserved word `claude`", skill("repo-tools/skills/claude-tips")),
            "./plugins/repo-tools/skills/notes: error: skill folder `notes` has no SKILL.md",
            "./.claude-plugin/marketplace.json:22: warning: plugin `brand-kit` has no skills or commands",
            "FAILED: marketplace `skillport-example` (3 plugins, 4 skills): 8 errors, 1 warning",
        ],
    );
    // Errors first, warnings after them.
    let first_warning = run.stdout.find(": warning: ").unwrap();
    assert!(run.stdout.rfind(": error: ").unwrap() < first_warning);
}

#[test]
fn validate_reports_a_broken_marketplace_file_and_plugin_json() {
    let dir = scratch("broken-json");
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &dir);
    write(&dir, "plugins/writing-tools/.claude-plugin/plugin.json", "{\"name\": \"writing-tools\",\n\"version\": 3\n}");
    let run = skillport(&dir, &["validate", "."], &[]);
    assert_eq!(run.code, 1);
    assert_contains(
        &run.stdout,
        &["./plugins/writing-tools/.claude-plugin/plugin.json:2: error: plugin `writing-tools`: `plugins/writing-tools/.claude-plugin/plugin.json` is invalid"],
    );
    write(&dir, ".claude-plugin/marketplace.json", "{\"name\": \"x\",\n\"plugins\": [}\n");
    let run = skillport(&dir, &["validate", "."], &[]);
    assert_eq!(run.code, 1);
    assert_contains(
        &run.stdout,
        &["./.claude-plugin/marketplace.json:2: error: `.claude-plugin/marketplace.json` is not valid JSON"],
    );
}

// --- catalogue -------------------------------------------------------------------------------------------------------

#[test]
fn catalogue_of_the_embedded_default_lists_the_three_example_plugins() {
    let dir = scratch("catalogue");
    let run = skillport(&dir, &["catalogue"], &[]);
    assert_eq!(run.code, 0);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert!(rows[0].starts_with("PLUGIN") && rows[0].contains("STATUS"), "{}", rows[0]);
    for (name, version, surfaces, skills) in [
        ("writing-tools@example", "1.2.0", "claude-code,claude-desktop,claude-ai", "2"),
        ("brand-kit@example", "0.3.1", "claude-desktop,claude-ai", "1"),
        ("repo-tools@example", "-", "claude-code", "1"),
    ] {
        let row = rows.iter().find(|r| r.starts_with(name)).unwrap_or_else(|| panic!("no {name}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells, [name, version, surfaces, skills, "servable"]);
    }
    assert_contains(&run.stdout, &["example  bundled  ok, 3 plugin(s)", "3 plugin(s) in 1 marketplace(s)."]);
    // No terminal here, so no progress line.
    assert_eq!(run.stderr, "");

    let run = skillport(&dir, &["catalogue", "--surface", "claude-code", "--json"], &[]);
    assert_eq!(run.code, 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = json["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["writing-tools@example", "repo-tools@example"]);
    assert_eq!(json["marketplaces"][0]["loaded"], true);

    let run = skillport(&dir, &["catalogue", "--surface", "claude-web"], &[]);
    assert_eq!(run.code, 2);
}

#[test]
fn catalogue_of_a_local_folder_is_what_the_worker_would_serve_from_it() {
    let dir = scratch("catalogue-dir");
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &dir.join("m"));
    // The configuration is not read: an invalid one changes nothing.
    let run = skillport(&dir, &["catalogue", "--dir", "m", "--json"], &[("SKILLPORT_AUTH__PROVIDER", "nope")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let plugins = json["plugins"].as_array().unwrap();
    let summary: Vec<(&str, &str, Vec<&str>)> = plugins
        .iter()
        .map(|p| {
            let skills = p["skills"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
            (p["name"].as_str().unwrap(), p["status"].as_str().unwrap(), skills)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("writing-tools@skillport-example", "servable", vec!["conventional-commits", "release-notes"]),
            ("brand-kit@skillport-example", "servable", vec!["brand-voice"]),
            ("repo-tools@skillport-example", "servable", vec!["repo-map"]),
        ]
    );
    // Shown in full, as get_plugin shows a plugin: commands and skill paths included.
    assert_eq!(plugins[0]["commands"], serde_json::json!(["changelog"]));
    assert_eq!(plugins[0]["version"], "1.2.0");
    assert_eq!(plugins[0]["skills"][0]["path"], "plugins/writing-tools/skills/conventional-commits");
    assert_eq!(json["marketplaces"][0]["kind"], "directory");

    write(&dir, "m/.claude-plugin/marketplace.json", "{\"plugins\": []}");
    let run = skillport(&dir, &["catalogue", "--dir", "m", "--json"], &[]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["marketplaces"][0]["loadError"], "`.claude-plugin/marketplace.json` has no `name`");
    assert_eq!(skillport(&dir, &["catalogue", "--dir", "nowhere"], &[]).code, 2);
}

#[test]
fn catalogue_with_an_invalid_configuration_says_so() {
    let dir = scratch("catalogue-invalid");
    let run = skillport(&dir, &["catalogue"], &[("SKILLPORT_AUTH__PROVIDER", "nope")]);
    assert_eq!(run.code, 1);
    assert_contains(&run.stderr, &["error: `auth.provider` (from environment SKILLPORT_AUTH__PROVIDER)"]);
}

/// A web server for `root` on a loopback port, until it is stopped.
struct Site {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl Site {
    fn serve(root: PathBuf) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(e) => panic!("{e}"),
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header.trim().is_empty() {
                        break;
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                seen.push(path.clone());
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = match std::fs::File::open(&file) {
                    Ok(mut f) if file.is_file() => {
                        let mut body = Vec::new();
                        f.read_to_end(&mut body).unwrap();
                        ("200 OK", body)
                    }
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
            }
            seen
        });
        Site { port, stop, thread }
    }

    /// Stops the server and gives the paths it was asked for.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// The native HTTP client end to end: a marketplace on a (loopback) web server, listed by the index that
/// `validate --write-index` writes, fetched and shown; and a marketplace that cannot be reached, reported.
#[test]
fn catalogue_fetches_an_https_marketplace_over_the_network() {
    let site = scratch("site");
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &site);
    let run = skillport(&site, &["validate", "--write-index", "."], &[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["wrote ./skillport-index.json (9 files)"]);
    let server = Site::serve(site.clone());
    let port = server.port;

    let dir = scratch("catalogue-http");
    write(
        &dir,
        "config/skillport.toml",
        &format!(
            "[[marketplaces]]\nid = \"web\"\nkind = \"https\"\n\
             location = \"http://127.0.0.1:{port}/.claude-plugin/marketplace.json\"\n\
             [[marketplaces]]\nid = \"down\"\nkind = \"https\"\n\
             location = \"http://127.0.0.1:1/.claude-plugin/marketplace.json?sig=SIGNED\"\n"
        ),
    );
    let run = skillport(&dir, &["catalogue"], &[]);
    let requests = server.stop();
    assert!(requests.contains(&"/skillport-index.json".to_owned()), "{requests:?}");
    assert_eq!(run.code, 1, "one marketplace is down");
    assert_contains(
        &run.stdout,
        &[
            "writing-tools@web",
            "brand-kit@web",
            "repo-tools@web",
            "web   https    ok, 3 plugin(s)",
            "down  https    NOT LOADED: ",
        ],
    );
    assert!(!run.all().contains("SIGNED"), "a URL's query was printed");
}

// --- export ----------------------------------------------------------------------------------------------------------

/// The entries of a ZIP, by name (directories end in `/` and have no bytes), read from its local headers: enough for
/// the archives `skillport export` writes (stored or deflated, no ZIP64), and independent of the writer's code.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    let mut entries = std::collections::BTreeMap::new();
    let mut at = 0;
    while u32_at(at) == 0x0403_4b50 {
        let (method, crc, csize, size) = (u16_at(at + 8), u32_at(at + 14), u32_at(at + 18), u32_at(at + 22));
        let (name_len, extra_len) = (u16_at(at + 26), u16_at(at + 28));
        let name = String::from_utf8(bytes[at + 30..at + 30 + name_len].to_vec()).unwrap();
        let start = at + 30 + name_len + extra_len;
        let data = &bytes[start..start + csize];
        let content = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec(data).unwrap(),
            other => panic!("method {other}"),
        };
        assert_eq!(content.len(), size, "{name}");
        assert_eq!(crc32fast::hash(&content) as usize, crc, "{name}");
        entries.insert(name, content);
        at = start + csize;
    }
    assert_eq!(u32_at(at), 0x0201_4b50, "the central directory follows the entries");
    entries
}

/// Every file under `dir`, by its `/`-separated path relative to `dir`.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn example_file(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(REPO).join("examples/marketplace").join(rel)).unwrap()
}

#[test]
fn export_claude_org_writes_one_uploadable_zip_per_plugin() {
    let dir = scratch("export-org");
    let out = dir.join("zips");
    let run = skillport(&dir, &["export", "claude-org", "--out", "zips"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(
        &run.stdout,
        &[
            "exported  writing-tools@example  -> writing-tools.zip (2 skill(s), version 1.2.0, ",
            "exported  brand-kit@example      -> brand-kit.zip (1 skill(s), version 0.3.1, ",
            "exported  repo-tools@example     -> repo-tools.zip (1 skill(s), version -, ",
            "3 exported, 0 skipped, 0 refused",
        ],
    );
    let names: Vec<String> = tree(&out).into_keys().collect();
    assert_eq!(names, ["brand-kit.zip", "export-report.json", "repo-tools.zip", "writing-tools.zip"]);

    // The plugin's files at the archive root, as the upload reads a version's files, with plugin.json always there.
    let zip = unzip(&std::fs::read(out.join("writing-tools.zip")).unwrap());
    let files: Vec<&str> = zip.iter().filter(|(n, _)| !n.ends_with('/')).map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        files,
        [
            ".claude-plugin/plugin.json",
            "commands/changelog.md",
            "skills/conventional-commits/SKILL.md",
            "skills/conventional-commits/references/types.md",
            "skills/release-notes/SKILL.md",
        ]
    );
    for rel in ["commands/changelog.md", "skills/conventional-commits/references/types.md"] {
        assert_eq!(zip[rel], example_file(&format!("plugins/writing-tools/{rel}")), "{rel}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&zip[".claude-plugin/plugin.json"]).unwrap();
    assert_eq!(manifest["name"], "writing-tools");
    assert_eq!(manifest["version"], "1.2.0");

    // brand-kit is `strict: false` without a plugin.json: the entry becomes its manifest, author as an object.
    let zip = unzip(&std::fs::read(out.join("brand-kit.zip")).unwrap());
    assert_eq!(
        zip["skills/brand-voice/assets/logo.png"],
        example_file("plugins/brand-kit/skills/brand-voice/assets/logo.png")
    );
    let manifest: serde_json::Value = serde_json::from_slice(&zip[".claude-plugin/plugin.json"]).unwrap();
    assert_eq!(manifest["name"], "brand-kit");
    assert_eq!(manifest["version"], "0.3.1");
    assert_eq!(manifest["author"], serde_json::json!({"name": "Skillport Design"}));
    assert!(manifest.get("source").is_none() && manifest.get("strict").is_none(), "{manifest}");

    let report = json_file(&out.join("export-report.json"));
    assert_eq!(report["export"], "claude-org");
    let outcomes: Vec<(&str, &str)> = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["plugin"].as_str().unwrap(), p["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [("writing-tools@example", "exported"), ("brand-kit@example", "exported"), ("repo-tools@example", "exported")]
    );

    // Over the limit: refused with its size, never split, and the stale ZIP of the run before is gone.
    std::fs::write(out.join("mine.zip"), b"not the export's").unwrap();
    let run = skillport(&dir, &["export", "claude-org", "--out", "zips", "--max-zip-bytes", "2000"], &[]);
    assert_eq!(run.code, 1, "a refused plugin fails the export");
    assert_contains(
        &run.stdout,
        &[
            "refused   writing-tools@example",
            "not under the upload limit of 2000 bytes",
            "2 exported, 0 skipped, 1 refused",
        ],
    );
    assert!(!out.join("writing-tools.zip").exists());
    assert!(out.join("mine.zip").exists(), "a ZIP no export wrote was removed");
    assert!(out.join("brand-kit.zip").exists());
    let report = json_file(&out.join("export-report.json"));
    assert_eq!(report["plugins"][0]["outcome"], "refused");
    assert!(report["plugins"][0]["bytes"].as_u64().unwrap() >= 2000);
}

/// A loopback "local folder" marketplace holding a copy of the example marketplace plus a plugin whose source is an
/// HTTPS archive elsewhere; served by `Site`. Returns the folder and the archive plugin's files.
fn folder_marketplace(name: &str) -> (PathBuf, Vec<(&'static str, &'static str)>) {
    let site = scratch(name);
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &site);
    let lint_kit = vec![
        (
            ".claude-plugin/plugin.json",
            "{\"name\": \"lint-kit\", \"version\": \"2.0.0\", \"description\": \"Lint rules.\"}\n",
        ),
        (
            "skills/lint-rules/SKILL.md",
            "---\nname: lint-rules\ndescription: The team's lint rules.\n---\n\nUse them.\n",
        ),
        ("skills/lint-rules/rules/style.md", "# Style\n\nNo tabs.\n"),
        ("agents/linter.md", "---\nname: linter\ndescription: Lints.\n---\n\nLint.\n"),
    ];
    let src = site.join("upstream");
    for (rel, text) in &lint_kit {
        write(&src, &format!("lint-kit/{rel}"), text);
    }
    let status =
        Command::new("tar").args(["czf", "../lint-kit.tar.gz", "lint-kit"]).current_dir(&src).status().expect("tar");
    assert!(status.success());
    std::fs::remove_dir_all(&src).unwrap();
    (site, lint_kit)
}

#[test]
fn export_git_vendors_every_source_and_reloads_as_the_same_catalogue() {
    let (site, lint_kit) = folder_marketplace("export-site");
    let server = Site::serve(site.clone());
    let port = server.port;
    let manifest_path = site.join(".claude-plugin/marketplace.json");
    let mut manifest = json_file(&manifest_path);
    manifest["plugins"].as_array_mut().unwrap().push(serde_json::json!({
        "name": "lint-kit",
        "source": {"source": "archive", "url": format!("http://127.0.0.1:{port}/lint-kit.tar.gz")},
        "category": "quality",
    }));
    // A package source is never servable, so never exported.
    manifest["plugins"].as_array_mut().unwrap().push(serde_json::json!({
        "name": "npm-kit",
        "source": {"source": "npm", "package": "@acme/npm-kit"},
    }));
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let run = skillport(&site, &["validate", "--write-index", "."], &[]);
    assert!(run.stdout.contains("wrote ./skillport-index.json"), "{}", run.all());

    // Two marketplaces with the same three plugin names: the bundled example and the folder on the web server.
    let dir = scratch("export-git");
    write(
        &dir,
        "config/skillport.toml",
        &format!(
            "[[marketplaces]]\nid = \"example\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\
             [[marketplaces]]\nid = \"web\"\nkind = \"https\"\n\
             location = \"http://127.0.0.1:{port}/.claude-plugin/marketplace.json\"\n"
        ),
    );
    let catalogue = skillport(&dir, &["catalogue", "--json"], &[]);
    assert_eq!(catalogue.code, 0);
    let catalogue: serde_json::Value = serde_json::from_str(&catalogue.stdout).unwrap();
    let run = skillport(&dir, &["export", "git", "--out", "repo", "--name", "acme-plugins"], &[]);
    server.stop();
    assert_eq!(run.code, 0);
    assert_contains(
        &run.stdout,
        &[
            "exported  writing-tools@web      -> plugins/writing-tools-web (2 skill(s), version 1.2.0",
            "renamed from `writing-tools`: plugins of several marketplaces have that name",
            "exported  lint-kit@web           -> plugins/lint-kit (1 skill(s), version 2.0.0",
            "skipped   npm-kit@web            not servable: plugin source",
            "7 exported, 1 skipped, 0 refused",
        ],
    );
    let out = dir.join("repo");
    let files = tree(&out);
    // Self-contained: every entry's source is a folder of the export, and nothing points elsewhere.
    let exported = json_file(&out.join(".claude-plugin/marketplace.json"));
    assert_eq!(exported["name"], "acme-plugins");
    assert!(exported["owner"]["name"].is_string());
    for entry in exported["plugins"].as_array().unwrap() {
        let source = entry["source"].as_str().unwrap();
        assert_eq!(source, format!("./plugins/{}", entry["name"].as_str().unwrap()));
        assert!(files.keys().any(|f| f.starts_with(&format!("{}/", &source[2..]))), "{source} is empty");
    }
    // The external plugin is copied in, byte for byte, entry fields kept.
    for (rel, text) in &lint_kit {
        assert_eq!(files[&format!("plugins/lint-kit/{rel}")], text.as_bytes(), "{rel}");
    }
    let lint = exported["plugins"].as_array().unwrap().iter().find(|e| e["name"] == "lint-kit").unwrap();
    assert_eq!(lint["category"], "quality");
    // Claude Code's schema wants `author` as an object; the example writes brand-kit's as a string.
    let brand = exported["plugins"].as_array().unwrap().iter().find(|e| e["name"] == "brand-kit-web").unwrap();
    assert_eq!(brand["author"], serde_json::json!({"name": "Skillport Design"}));
    // A renamed plugin's own plugin.json carries its new name.
    let renamed = json_file(&out.join("plugins/writing-tools-example/.claude-plugin/plugin.json"));
    assert_eq!((renamed["name"].as_str(), renamed["version"].as_str()), (Some("writing-tools-example"), Some("1.2.0")));

    // Every strict plugin folder is a plugin on its own (repo-tools has no plugin.json upstream); a `strict: false`
    // one is defined by its entry alone, so none is added.
    let own = json_file(&out.join("plugins/repo-tools-web/.claude-plugin/plugin.json"));
    assert_eq!(
        own,
        serde_json::json!({"name": "repo-tools-web", "description": "Map an unfamiliar repository before changing it."})
    );
    assert!(!files.contains_key("plugins/brand-kit-web/.claude-plugin/plugin.json"));

    // Loaded back with the connector's own loader, it is the catalogue it came from: same plugins, versions, skills.
    let mut set = skillport_sources::FileSet::new();
    for (path, bytes) in &files {
        set.insert(path, bytes.clone()).unwrap();
    }
    let reloaded = skillport_sources::load_marketplace(&set).unwrap();
    let report = json_file(&out.join("export-report.json"));
    let all = catalogue["plugins"].as_array().unwrap();
    let source_plugins: Vec<&serde_json::Value> = all.iter().filter(|p| p["status"] == "servable").collect();
    assert_eq!((all.len(), source_plugins.len()), (8, 7));
    assert!(!files.keys().any(|f| f.contains("npm-kit")));
    assert_eq!(reloaded.plugins.len(), 7);
    for source in &source_plugins {
        let qualified = source["name"].as_str().unwrap();
        let line = report["plugins"].as_array().unwrap().iter().find(|l| l["plugin"] == qualified).unwrap();
        let name = line["name"].as_str().unwrap();
        let plugin = reloaded.plugin(name).unwrap_or_else(|| panic!("{name} is not in the export"));
        assert!(plugin.status.is_servable(), "{name}: {:?}", plugin.status);
        assert_eq!(plugin.version(), source["version"].as_str(), "{name}");
        let mut skills: Vec<&str> = plugin.skills.iter().map(|s| s.name.as_str()).collect();
        let mut expected: Vec<&str> =
            source["skills"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        skills.sort_unstable();
        expected.sort_unstable();
        assert_eq!(skills, expected, "{name}");
    }
    assert_eq!(report["plugins"].as_array().unwrap().iter().filter(|l| l["outcome"] == "exported").count(), 7);
}

#[test]
fn export_as_a_user_applies_the_access_rules() {
    let dir = scratch("export-access");
    write(
        &dir,
        "config/skillport.toml",
        r#"
[access]
default = "allow"

[[access.rules]]
effect = "allow"
plugin = "brand-kit"
groups = ["design"]

[[access.rules]]
effect = "deny"
plugin = "brand-kit"

[[access.rules]]
effect = "deny"
plugin = "writing-tools"
skill = "release-notes"
domains = ["contractor.example"]
"#,
    );
    let run = skillport(&dir, &["export", "git", "--out", "bob", "--as-user", "bob@contractor.example"], &[]);
    assert_eq!(run.code, 0);
    assert_contains(
        &run.stdout,
        &[
            "skipped   brand-kit@example      hidden from bob@contractor.example by the access rules",
            "exported  writing-tools@example  -> plugins/writing-tools (1 skill(s), version 1.2.0",
            "2 exported, 1 skipped, 0 refused",
        ],
    );
    let files = tree(&dir.join("bob"));
    assert!(files.contains_key("plugins/writing-tools/skills/conventional-commits/SKILL.md"));
    assert!(!files.keys().any(|f| f.contains("release-notes") || f.contains("brand-kit")), "{:?}", files.keys());

    let run = skillport(
        &dir,
        &["export", "claude-org", "--out", "ann", "--as-user", "ann@example.com", "--groups", "eng,design"],
        &[],
    );
    assert_eq!(run.code, 0);
    assert_contains(&run.stdout, &["exported  brand-kit@example", "3 exported, 0 skipped, 0 refused"]);
    let zip = unzip(&std::fs::read(dir.join("ann/writing-tools.zip")).unwrap());
    assert!(zip.contains_key("skills/release-notes/SKILL.md"));

    // Selecting by marketplace; an unknown one, or groups without a user, is a usage error.
    let run = skillport(&dir, &["export", "git", "--out", "x", "--marketplace", "nope"], &[]);
    assert_eq!(run.code, 2);
    assert_contains(&run.stderr, &["no marketplace `nope` is configured (configured: example)"]);
    let run = skillport(&dir, &["export", "git", "--out", "x", "--groups", "design"], &[]);
    assert_eq!(run.code, 2);
}

/// A plugin name is the marketplace's text: one that is not a plain folder name never becomes a path of the export
/// (the loader refuses it as Claude Code does, and the export would refuse it again: `export::tests`).
#[test]
fn export_git_refuses_a_name_that_would_leave_the_export() {
    let site = scratch("export-escape-site");
    copy_dir(&Path::new(REPO).join("examples/marketplace"), &site);
    assert_eq!(skillport(&site, &["validate", "--write-index", "."], &[]).code, 0);
    let manifest_path = site.join(".claude-plugin/marketplace.json");
    let mut manifest = json_file(&manifest_path);
    manifest["plugins"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "../../escape", "source": "./plugins/repo-tools"}));
    let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(&manifest_path, &bytes).unwrap();
    // The index still vouches for the changed manifest, so that the export reads the marketplace.
    let index_path = site.join("skillport-index.json");
    let mut index = json_file(&index_path);
    for entry in index.as_array_mut().unwrap() {
        if entry["path"] == ".claude-plugin/marketplace.json" {
            entry["sha256"] = skillport_sources::sha256_digest(&bytes).into();
        }
    }
    std::fs::write(&index_path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    // The loader judges such a name invalid, as Claude Code does.
    let validated = skillport(&site, &["validate", "."], &[]);
    assert_eq!(validated.code, 1, "{}", validated.all());
    assert_contains(&validated.stdout, &["plugin name `../../escape` cannot be installed"]);
    let server = Site::serve(site.clone());
    let dir = scratch("export-escape");
    write(
        &dir,
        "config/skillport.toml",
        &format!(
            "[[marketplaces]]\nid = \"web\"\nkind = \"https\"\nlocation = \"http://127.0.0.1:{}/.claude-plugin/marketplace.json\"\n",
            server.port
        ),
    );
    let run = skillport(&dir, &["export", "git", "--out", "out/repo"], &[]);
    server.stop();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_contains(
        &run.stdout,
        &[
            "skipped   ../../escape@web   invalid: plugin name `../../escape` cannot be installed",
            "3 exported, 1 skipped",
        ],
    );
    assert!(!dir.join("escape").exists() && !dir.join("out/escape").exists());
    let exported = json_file(&dir.join("out/repo/.claude-plugin/marketplace.json"));
    assert_eq!(exported["plugins"].as_array().unwrap().len(), 3);
}

#[test]
fn config_check_shows_the_webhook_secret_set_or_missing_never_its_value() {
    const HOOK: &str = "hook-TopSecretWebhookKey-0123456789";
    let dir = good_deployment("webhook");
    let text = std::fs::read_to_string(dir.join("config/skillport.toml")).unwrap();
    write(&dir, "config/skillport.toml", &format!("{text}webhook_secret = \"GITHUB_HOOK_KEY\"\n"));
    let run = skillport(&dir, &["config", "check"], &[("GITHUB_TOKEN", SECRET_VALUES[2])]);
    assert_eq!(run.code, 1);
    assert_contains(&run.stdout, &["GITHUB_HOOK_KEY", "[missing]", "`GITHUB_HOOK_KEY`, which is not set"]);
    let env = [("GITHUB_TOKEN", SECRET_VALUES[2]), ("GITHUB_HOOK_KEY", HOOK)];
    let run = skillport(&dir, &["config", "check"], &env);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_contains(&run.stdout, &["\"GITHUB_HOOK_KEY\" [set]"]);
    assert!(!run.all().contains(HOOK), "the webhook secret was printed");
}
