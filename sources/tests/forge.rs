//! The GitHub, GitLab and HTTPS sources against `tests/standins/forge.py` serving a real git repository, through a
//! minimal blocking HTTP/1.1 client over `std::net` (the crate has no HTTP library; this is only the test's
//! transport). Skipped when `python3` or `git` is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use skillport_http::{block_on_ready, CountingClient, HttpClient, HttpError, HttpRequest, HttpResponse, Secret};
use skillport_sources::conformance::{self, Setup};
use skillport_sources::external::{self, Hosts};
use skillport_sources::{
    index_for, load_marketplace, load_marketplace_with, Fetched, FileSet, GithubConfig, GithubRepo, GithubSource,
    GitlabAuth, GitlabConfig, GitlabProject, GitlabSource, HttpsConfig, HttpsSource, Limits, MarketplaceSource,
    PluginSource, PluginStatus, SourceError, INDEX_FILE,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct StdClient;

impl StdClient {
    fn once(req: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let rest = req.url.strip_prefix("http://").ok_or_else(|| HttpError::Connect("http only".into()))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = TcpStream::connect(host).map_err(|e| HttpError::Connect(e.to_string()))?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
            req.method,
            if path.is_empty() { "/" } else { path }
        );
        for (name, value) in &req.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).map_err(|e| HttpError::Connect(e.to_string()))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| HttpError::Connect(e.to_string()))?;
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(HttpError::Connect(line.clone()))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| HttpError::Connect(e.to_string()))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let mut body = Vec::new();
        reader.read_to_end(&mut body).map_err(|e| HttpError::Connect(e.to_string()))?;
        Ok(HttpResponse { status, headers, body })
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for StdClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut req = req;
        for _ in 0..5 {
            let response = Self::once(&req)?;
            match (response.status, response.header("location")) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => req.url = location.to_string(),
                _ => return Ok(response),
            }
        }
        Err(HttpError::Connect("too many redirects".into()))
    }
}

struct Forge {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Forge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// `tag` keeps the folders of tests running in parallel in one process apart.
fn start(tag: &str) -> Option<Forge> {
    if Command::new("git").arg("--version").output().is_err()
        || Command::new("python3").arg("--version").output().is_err()
    {
        eprintln!("skipped: git or python3 missing");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("skillport-forge-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let example = Path::new(ROOT).join("../examples/marketplace");
    let work = dir.join("github/acme/market");
    copy_dir(&example, &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "marketplace"]);
    let bare = dir.join("gitlab/group/sub/market");
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(&dir, &["clone", "-q", "--bare", work.to_str().unwrap(), bare.to_str().unwrap()]);
    copy_dir(&example, &dir.join("static/market"));
    let mut child = Command::new("python3")
        .arg(Path::new(ROOT).join("../tests/standins/forge.py"))
        .args(["--port", "0", "--token", "t0k", "--repos"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    Some(Forge { child, base, dir })
}

fn skills(files: &skillport_sources::FileSet) -> Vec<(String, String)> {
    let loaded = load_marketplace(files).unwrap();
    loaded.plugins.iter().flat_map(|p| p.skills.iter().map(|s| (s.name.clone(), s.digest.clone()))).collect()
}

/// The example marketplace as the stand-in serves it, read from disk.
fn example_folder() -> FileSet {
    fn walk(files: &mut FileSet, root: &Path, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(files, root, &path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                files.insert(&rel, std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    let root = Path::new(ROOT).join("../examples/marketplace");
    let mut files = FileSet::new();
    walk(&mut files, &root, &root);
    files
}

#[test]
fn every_kind_behaves_as_a_source_must_against_the_forge_standin() {
    let Some(forge) = start("conformance") else { return };
    let base = forge.base.clone();
    let github = Setup::new(StdClient, example_folder(), Some("t0k"), move |client| {
        let config = GithubConfig::new(GithubRepo::parse("acme/market").unwrap()).with_api_base(base.clone());
        Box::new(GithubSource::new(config.with_token(Secret::new("t0k")), client))
    });
    conformance::run_all(&github, 2);
    let base = forge.base.clone();
    let gitlab = Setup::new(StdClient, example_folder(), Some("t0k"), move |client| {
        let config = GitlabConfig::new(GitlabProject::parse("group/sub/market").unwrap())
            .with_api_base(format!("{base}/api/v4"))
            .with_auth(GitlabAuth::PrivateToken(Secret::new("t0k")));
        Box::new(GitlabSource::new(config, client))
    });
    conformance::run_all(&gitlab, 3);
    for archive in ["market.zip", "market.tar.gz"] {
        let url = format!("{}/archive/{archive}", forge.base);
        let https = Setup::new(StdClient, example_folder(), None, move |client| {
            Box::new(HttpsSource::new(HttpsConfig::new(url.clone()).unwrap(), client))
        });
        conformance::run_all(&https, 1);
    }
    // The listed form, with the index `skillport validate` writes: three requests a run make it a partial load.
    let folder = example_folder();
    std::fs::write(forge.dir.join("static/market").join(INDEX_FILE), index_for(&folder)).unwrap();
    let url = format!("{}/static/market/.claude-plugin/marketplace.json", forge.base);
    let https = Setup::new(StdClient, folder, None, move |client| {
        Box::new(HttpsSource::new(HttpsConfig::new(url.clone()).unwrap(), client))
    });
    assert!(conformance::a_partial_load_carries_on(&https, 3) > 2);
    conformance::run_all(&https, 3);
}

#[test]
fn sources_against_the_forge_standin() {
    let Some(forge) = start("sources") else { return };
    let counting = CountingClient::new(StdClient);

    let github = GithubSource::new(
        GithubConfig::new(GithubRepo::parse("acme/market").unwrap())
            .with_api_base(forge.base.clone())
            .with_token(Secret::new("t0k")),
        &counting,
    );
    let Fetched::Tree { revision, files } = block_on_ready(github.fetch(None)).unwrap() else { panic!() };
    assert_eq!(counting.reset(), 2);
    let expected = skills(&files);
    assert_eq!(expected.len(), 4);
    assert_eq!(block_on_ready(github.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
    assert_eq!(counting.reset(), 1);
    let log: serde_json::Value =
        serde_json::from_slice(&StdClient::once(&HttpRequest::get(format!("{}/_requests", forge.base))).unwrap().body)
            .unwrap();
    let last = log.as_array().unwrap().last().unwrap();
    assert!(last["headers"]["if-none-match"].is_string(), "{last}");

    // The tarball refused: the tree and blob fallback gives the same skills.
    let control = |body: &str| {
        // StdClient sends no body; the control request is written by hand.
        let url = format!("{}/_control", forge.base);
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
    };
    control(r#"{"fail": "403", "count": 1, "path": "/tarball/"}"#);
    let Fetched::Tree { files: fallback, .. } = block_on_ready(github.fetch(None)).unwrap() else { panic!() };
    assert_eq!(skills(&fallback), expected);
    counting.reset();

    control(r#"{"fail": "429", "count": 1}"#);
    assert!(matches!(
        block_on_ready(github.fetch(None)),
        Err(SourceError::RateLimited { retry_after_seconds: Some(1) })
    ));
    control(r#"{"fail": "502", "count": 1}"#);
    assert!(matches!(block_on_ready(github.fetch(None)), Err(SourceError::Upstream { status: 502, .. })));
    let wrong = GithubSource::new(
        GithubConfig::new(GithubRepo::parse("acme/market").unwrap())
            .with_api_base(forge.base.clone())
            .with_token(Secret::new("bad-t0k")),
        &counting,
    );
    let err = block_on_ready(wrong.fetch(None)).unwrap_err();
    assert!(matches!(err, SourceError::Denied { status: 401, .. }) && !err.to_string().contains("bad-t0k"), "{err}");
    counting.reset();

    let gitlab = GitlabSource::new(
        GitlabConfig::new(GitlabProject::parse("group/sub/market").unwrap())
            .with_api_base(format!("{}/api/v4", forge.base))
            .with_auth(GitlabAuth::PrivateToken(Secret::new("t0k"))),
        &counting,
    );
    let Fetched::Tree { revision, files } = block_on_ready(gitlab.fetch(None)).unwrap() else { panic!() };
    assert_eq!(counting.reset(), 3);
    assert_eq!(skills(&files), expected);
    assert_eq!(block_on_ready(gitlab.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
    assert_eq!(counting.reset(), 1);
    control(r#"{"fail": "404", "count": 1, "path": "/archive.tar.gz"}"#);
    let Fetched::Tree { files: fallback, .. } = block_on_ready(gitlab.fetch(None)).unwrap() else { panic!() };
    assert_eq!(skills(&fallback), expected);
    counting.reset();

    for url in [format!("{}/archive/market.zip", forge.base), format!("{}/archive/market.tar.gz", forge.base)] {
        let https = HttpsSource::new(HttpsConfig::new(url).unwrap(), &counting);
        let Fetched::Tree { revision, files } = block_on_ready(https.fetch(None)).unwrap() else { panic!() };
        assert_eq!(skills(&files), expected);
        assert_eq!(block_on_ready(https.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
        assert_eq!(counting.reset(), 2);
    }
}

#[test]
fn external_github_plugin_against_the_forge_standin() {
    let Some(forge) = start("external") else { return };
    // A second repository holding the plugin in a folder, as the official marketplace's `git-subdir` entries do.
    let repo = forge.dir.join("github/ext/tools");
    for (path, content) in [
        ("README.md", "tools"),
        ("plugins/x/.claude-plugin/plugin.json", r#"{"name": "x", "version": "1.2.0"}"#),
        ("plugins/x/skills/s/SKILL.md", "---\nname: s\ndescription: Does s.\n---\n# S\n"),
        ("plugins/x/commands/run.md", "# run"),
        ("plugins/y/skills/t/SKILL.md", "---\nname: t\ndescription: T.\n---\n"),
    ] {
        let target = repo.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tools"]);
    let sha = String::from_utf8(
        Command::new("git").arg("-C").arg(&repo).args(["rev-parse", "HEAD"]).output().unwrap().stdout,
    )
    .unwrap()
    .trim()
    .to_string();

    let host = forge.base.strip_prefix("http://").unwrap().to_string();
    let mut hosts = Hosts::default();
    hosts.add_github(&host, &forge.base).unwrap();
    let entry = serde_json::json!({"name": "x", "source": {"source": "git-subdir",
        "url": format!("{}/ext/tools.git", forge.base), "path": "plugins/x", "ref": "main", "sha": sha}});
    let source: PluginSource = serde_json::from_value(entry["source"].clone()).unwrap();
    let r = external::resolve(&source, &hosts).unwrap();
    assert!(r.is_immutable());
    assert!(external::resolve(&source, &Hosts::default()).unwrap_err().contains(&format!("host {host} is not")));

    let counting = CountingClient::new(StdClient);
    let token_for = |api_base: &str| (api_base == forge.base).then(|| Secret::new("t0k"));
    let plugin = block_on_ready(external::fetch(&r, &counting, &token_for, &Limits::default())).unwrap();
    assert_eq!(counting.reset(), 2);
    let paths: Vec<&str> = plugin.iter().map(|(p, _)| p).collect();
    assert_eq!(paths, [".claude-plugin/plugin.json", "commands/run.md", "skills/s/SKILL.md"]);
    // Without the token the stand-in hides the repository, as GitHub does.
    let err = block_on_ready(external::fetch(&r, &counting, &|_| None, &Limits::default())).unwrap_err();
    assert!(matches!(err, SourceError::NotFound(_)), "{err}");

    let mut files = FileSet::new();
    let manifest = serde_json::json!({"name": "m", "plugins": [entry]});
    files.insert(".claude-plugin/marketplace.json", serde_json::to_vec(&manifest).unwrap()).unwrap();
    let before = load_marketplace_with(&files, &hosts).unwrap();
    assert!(before.plugins[0].status.reason().unwrap().ends_with("has not been fetched yet"));
    external::place(&mut files, "x", &plugin).unwrap();
    let loaded = load_marketplace(&files).unwrap();
    let x = &loaded.plugins[0];
    assert_eq!(x.status, PluginStatus::Servable);
    assert_eq!(x.version(), Some("1.2.0"));
    assert_eq!(x.commands, ["run"]);
    let skills: Vec<(&str, Option<&str>)> =
        x.skills.iter().map(|s| (s.name.as_str(), s.description.as_deref())).collect();
    assert_eq!(skills, [("s", Some("Does s."))]);
}
