#!/usr/bin/env python3
"""A stand-in for GitHub's and GitLab's REST APIs and a static HTTPS host, serving real git repositories.

For Skillport's end-to-end tests: the marketplace sources (sources/src/github.rs, gitlab.rs, https.rs) talk to this
server exactly as they would to api.github.com, gitlab.com or a CDN. Standard library only (plus the `git` binary).

    python3 tests/standins/forge.py --port 8765 [--repos DIR] [--token T] [--host 127.0.0.1]
                                    [--gh-client-id ID] [--gh-client-secret S] [--gh-callback URL]

DIR holds git repositories (bare or not), made by the tests with real commits:
    DIR/github/<owner>/<repo>            -> /repos/<owner>/<repo>/...
    DIR/gitlab/<group>[/<sub>...]/<proj> -> /api/v4/projects/<id or url-encoded path>/...
    DIR/static/...                       -> /static/... (ETag, Last-Modified, 304) and
                                            /archive/<folder>.zip|.tar.gz (the folder static/<folder>, under <folder>/)

GitHub shapes: GET /repos/{o}/{r}; /repos/{o}/{r}/commits/{ref} (JSON, or the bare sha with
`Accept: application/vnd.github.sha`; ETag and 304 on If-None-Match; `HEAD` is the default branch);
/repos/{o}/{r}/tarball[/{ref}] -> 302 -> /_codeload/{o}/{r}/legacy.tar.gz/{sha} (`git archive --prefix=o-r-short/`);
/repos/{o}/{r}/git/trees/{sha}[?recursive=1]; /repos/{o}/{r}/git/blobs/{sha} (base64, wrapped at 60 columns).
Errors are GitHub's JSON (`{"message":"Not Found","documentation_url":...}`), every answer carries x-ratelimit-*.

GitLab shapes (under /api/v4): /projects/:id; /repository/commits/:ref (ETag, 304); /repository/archive.tar.gz?sha=
(prefix <project>-<sha>-<sha>/); /repository/tree?recursive=true&per_page=N&pagination=keyset&ref= with
`Link: <...>; rel="next"`; /repository/files/:path/raw?ref=. Numeric ids are given in sorted path order from 1.

GitHub sign-in (the OAuth web flow with PKCE, as providers/src/github.rs drives it; web and API base are both this
server's root, and the API answers under /api/v3 too, as GitHub Enterprise Server's does):
    GET  /login/oauth/authorize?client_id&redirect_uri&scope&state&code_challenge&code_challenge_method=S256
         signed out -> 302 /login?return_to=... (an HTML form posting `login`, `password` to POST /session, which sets
         the `user_session` cookie and goes back); signed in -> 302 redirect_uri?code&state (codes: single use,
         10 minutes, bound to client, redirect_uri and challenge; only S256).
    POST /login/oauth/access_token  form body client_id, client_secret, code, redirect_uri, code_verifier; JSON with
         `Accept: application/json`, else form-encoded; errors are 200 with `error` (incorrect_client_credentials,
         redirect_uri_mismatch, bad_verification_code), as GitHub answers.
    GET  /user, /user/emails (needs scope user:email), /user/memberships/orgs/{org}, /orgs/{org}/members/{login},
         /orgs/{org}/teams/{team}/memberships/{login} (the last two need read:org) with `Authorization: Bearer <token>`.
    Users (password `<login>-password`, but octocat's is `octo-password`): octocat (octocat@acme.example, verified;
    admin of org acme, member of team acme/platform), mallory (mallory@evil.example, verified; no org),
    eve (eve@acme.example, primary NOT verified; no org). The OAuth app: --gh-client-id (gh-client),
    --gh-client-secret (gh-secret), --gh-callback (optional registered callback: redirect_uri must be under it).

With --token T (or FORGE_TOKEN), /repos and /api/v4 need `Authorization: Bearer T` (or `token T`) or, on GitLab,
`PRIVATE-TOKEN: T`: none -> 404 (as both hide private projects), a wrong one -> 401.

Test controls (not part of any real API):
    POST /_control  {"fail": "500"|"502"|"timeout"|"malformed"|"truncated"|"reset"|"429"|"ratelimit", "count": N,
                     "path": "optional substring the request path must contain", "delay": seconds for timeout,
                     "retry_after": the Retry-After value of a 429 (default "1"),
                     "reset_in": seconds until x-ratelimit-reset of a `ratelimit` 403 (default 60)}
                    `truncated` serves the real answer with its full Content-Length but only the first half of the
                    body, then closes the connection. {"clear": true} removes pending faults; a POST without `fail`
                    or `clear` only answers {"faults": [...pending...]}. FORGE_FAIL="500:2" sets one at start.
    GET /_requests  the requests served so far (not /_control, /_requests): [{"method", "path", "headers": {selected
                    lower-case headers}}]; POSTs to the sign-in paths are logged and take faults too
    DELETE /_requests  forget them.

Self-check: python3 tests/standins/forge.py --selftest
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import html
import io
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import zipfile
from email.utils import formatdate
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOGGED_HEADERS = ("accept", "authorization", "private-token", "if-none-match", "if-modified-since", "user-agent",
                  "x-github-api-version")
GITHUB_DOCS = "https://docs.github.com/rest"


def git(repo: str, *args: str, binary: bool = False):
    out = subprocess.run(["git", "-C", repo, *args], capture_output=True, check=False)
    if out.returncode != 0:
        return None
    return out.stdout if binary else out.stdout.decode().strip()


# -- GitHub response bodies, in the shapes of GitHub's OpenAPI description (tests/e2e/test_forge_shapes.py) ---------

def gh_user(login: str, web: str, api: str) -> dict:
    uid = int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)
    u = f"{api}/users/{login}"
    return {"login": login, "id": uid, "node_id": f"U_{uid}", "avatar_url": f"{web}/{login}.png", "gravatar_id": "",
            "url": u, "html_url": f"{web}/{login}", "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events", "type": "Organization", "site_admin": False}


def gh_repo(owner: str, name: str, private: bool, branch: str, web: str, api: str, when: str) -> dict:
    rid = int(hashlib.sha1(f"{owner}/{name}".encode()).hexdigest()[:7], 16)
    base = f"{api}/repos/{owner}/{name}"
    body = {"id": rid, "node_id": f"R_{rid}", "name": name, "full_name": f"{owner}/{name}",
            "owner": gh_user(owner, web, api), "private": private, "html_url": f"{web}/{owner}/{name}",
            "description": None, "fork": False, "url": base, "homepage": None, "language": None,
            "default_branch": branch, "visibility": "private" if private else "public",
            "clone_url": f"{web}/{owner}/{name}.git", "git_url": f"git://{web.split('://')[-1]}/{owner}/{name}.git",
            "ssh_url": f"git@{web.split('://')[-1]}:{owner}/{name}.git", "svn_url": f"{web}/{owner}/{name}",
            "mirror_url": None, "archived": False, "disabled": False, "license": None,
            "has_issues": True, "has_projects": False, "has_wiki": False, "has_pages": False,
            "has_discussions": False, "size": 0, "pushed_at": when, "created_at": when, "updated_at": when}
    for key in ("forks", "forks_count", "open_issues", "open_issues_count", "stargazers_count", "watchers",
                "watchers_count", "network_count", "subscribers_count"):
        body[key] = 0
    templates = {"archive": "{archive_format}{/ref}", "assignees": "{/user}", "blobs": "{/sha}", "branches": "{/branch}",
                 "collaborators": "{/collaborator}", "comments": "{/number}", "commits": "{/sha}",
                 "compare": "{base}...{head}", "contents": "{+path}", "contributors": "", "deployments": "",
                 "downloads": "", "events": "", "forks": "", "git_commits": "{/sha}", "git_refs": "{/sha}",
                 "git_tags": "{/sha}", "hooks": "", "issue_comment": "{/number}", "issue_events": "{/number}",
                 "issues": "{/number}", "keys": "{/key_id}", "labels": "{/name}", "languages": "", "merges": "",
                 "milestones": "{/number}", "notifications": "{?since,all,participating}", "pulls": "{/number}",
                 "releases": "{/id}", "stargazers": "", "statuses": "/{sha}", "subscribers": "",
                 "subscription": "", "tags": "", "teams": "", "trees": "{/sha}"}
    paths = {"git_commits": "git/commits", "git_refs": "git/refs", "git_tags": "git/tags", "blobs": "git/blobs",
             "trees": "git/trees", "issue_comment": "issues/comments", "issue_events": "issues/events"}
    for key, tail in templates.items():
        body[f"{key}_url"] = f"{base}/{paths.get(key, key)}{tail}"
    return body


def gh_commit(repo: str, sha: str, web: str, api: str, owner: str, name: str) -> dict:
    fmt = git(repo, "log", "-1", "--format=%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%P", sha) or ""
    an, ae, ad, cn, ce, cd, tree, parents = (fmt.split("\x00") + [""] * 8)[:8]
    base = f"{api}/repos/{owner}/{name}"
    return {"url": f"{base}/commits/{sha}", "sha": sha, "node_id": f"C_{sha[:12]}",
            "html_url": f"{web}/{owner}/{name}/commit/{sha}", "comments_url": f"{base}/commits/{sha}/comments",
            "commit": {"url": f"{base}/git/commits/{sha}", "message": git(repo, "log", "-1", "--format=%B", sha) or "",
                       "author": {"name": an, "email": ae, "date": ad},
                       "committer": {"name": cn, "email": ce, "date": cd},
                       "comment_count": 0, "tree": {"sha": tree, "url": f"{base}/git/trees/{tree}"}},
            "author": None, "committer": None,
            "parents": [{"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{web}/{owner}/{name}/commit/{p}"}
                        for p in parents.split()]}


# -- GitHub sign-in: the OAuth app, its users, codes, tokens and browser sessions ------------------------------------

GH_USERS = {
    "octocat": {"password": "octo-password", "id": 583231, "name": "The Octocat",
                "emails": [{"email": "octocat@acme.example", "primary": True, "verified": True, "visibility": "public"},
                           {"email": "583231+octocat@users.noreply.github.com", "primary": False, "verified": True,
                            "visibility": None}],
                "orgs": {"acme": "admin"}, "teams": {"acme": {"platform": "member"}}},
    "mallory": {"password": "mallory-password", "id": 31337, "name": "Mallory",
                "emails": [{"email": "mallory@evil.example", "primary": True, "verified": True, "visibility": None}],
                "orgs": {}, "teams": {}},
    "eve": {"password": "eve-password", "id": 6660001, "name": None,
            "emails": [{"email": "eve@acme.example", "primary": True, "verified": False, "visibility": None}],
            "orgs": {}, "teams": {}},
}
GH_ORGS = {"acme": {"id": 9000001, "teams": {"platform": 4100001, "sales": 4100002}}}
GH_OAUTH_DOCS = "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
GH_TOKEN_ERRORS = {
    "incorrect_client_credentials": ("The client_id and/or client_secret passed are incorrect.",
                                     "#incorrect-client-credentials"),
    "redirect_uri_mismatch": ("The redirect_uri MUST match the registered callback URL for this application.",
                              "#redirect-uri-mismatch2"),
    "bad_verification_code": ("The code passed is incorrect or expired.", "#bad-verification-code"),
}


class GitHubOAuth:
    """One OAuth app and the sign-in state GitHub keeps: browser sessions, authorization codes, access tokens."""

    CODE_TTL = 600

    def __init__(self, client_id: str = "gh-client", client_secret: str = "gh-secret", callback: str | None = None):
        self.client_id, self.client_secret, self.callback = client_id, client_secret, callback
        self.lock = threading.Lock()
        self.sessions: dict[str, str] = {}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}

    def redirect_allowed(self, redirect_uri: str) -> bool:
        """GitHub's rule: same host and port as the registered callback, path at or under its path."""
        if not self.callback:
            return True
        want, got = urllib.parse.urlsplit(self.callback), urllib.parse.urlsplit(redirect_uri)
        base = want.path.rstrip("/")
        return ((got.scheme, got.netloc) == (want.scheme, want.netloc)
                and (got.path == want.path or got.path.startswith(base + "/")))

    def check_password(self, login: str, password: str) -> bool:
        user = GH_USERS.get(login)
        return bool(user) and secrets.compare_digest(user["password"].encode(), password.encode())

    def new_session(self, login: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[sid] = login
        return sid

    def new_code(self, login: str, redirect_uri: str, scopes: list[str], challenge: str | None) -> str:
        code = secrets.token_hex(10)
        with self.lock:
            self.codes[code] = {"login": login, "redirect_uri": redirect_uri, "scopes": scopes,
                                "challenge": challenge, "expires": time.time() + self.CODE_TTL}
        return code

    def exchange(self, form: dict) -> dict:
        """The token endpoint's answer (GitHub's shape, errors included) for a submitted form."""
        def error(code: str) -> dict:
            description, anchor = GH_TOKEN_ERRORS[code]
            return {"error": code, "error_description": description, "error_uri": GH_OAUTH_DOCS + anchor}

        if form.get("client_id") != self.client_id or not secrets.compare_digest(
                form.get("client_secret", "").encode(), self.client_secret.encode()):
            return error("incorrect_client_credentials")
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)  # spent by any attempt, as GitHub's are
        if grant is None or grant["expires"] < time.time():
            return error("bad_verification_code")
        if form.get("redirect_uri") and form["redirect_uri"] != grant["redirect_uri"]:
            return error("redirect_uri_mismatch")
        if grant["challenge"] is not None:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return error("bad_verification_code")
        token = "gho_" + secrets.token_urlsafe(27)
        with self.lock:
            self.tokens[token] = {"login": grant["login"], "scopes": grant["scopes"]}
        return {"access_token": token, "token_type": "bearer", "scope": ",".join(grant["scopes"])}


GH_PARENT_SCOPES = {"user:email": ("user",), "read:user": ("user",), "read:org": ("write:org", "admin:org")}


def gh_scope_covers(granted: list[str], *wanted: str) -> bool:
    """Whether the granted scopes include one of `wanted`, or a scope above it (`user` covers `user:email`)."""
    return any(w in granted or any(p in granted for p in GH_PARENT_SCOPES.get(w, ())) for w in wanted)


def gh_login_page(return_to: str, error: str | None = None, login: str = "") -> str:
    flash = f'<div class="flash-error" role="alert">{html.escape(error)}</div>' if error else ""
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in to GitHub</title></head><body>"
            f"<h1>Sign in to GitHub</h1>{flash}<form action=\"/session\" method=\"post\">"
            f'<label>Username or email address <input type="text" name="login" value="{html.escape(login)}"></label>'
            f'<label>Password <input type="password" name="password"></label>'
            f'<input type="hidden" name="return_to" value="{html.escape(return_to)}">'
            f'<input type="submit" name="commit" value="Sign in"></form></body></html>')


class Forge:
    """The state behind the handler: repositories, faults, the request log."""

    def __init__(self, repos_dir: str, token: str | None, oauth: GitHubOAuth | None = None):
        self.dir = os.path.abspath(repos_dir)
        self.token = token
        self.oauth = oauth or GitHubOAuth()
        self.lock = threading.Lock()
        self.faults: list[dict] = []
        self.log: list[dict] = []
        self.remaining = 5000
        spec = os.environ.get("FORGE_FAIL")
        if spec:
            kind, _, count = spec.partition(":")
            self.faults.append({"fail": kind, "count": int(count or 1)})

    def github_repo(self, owner: str, name: str) -> str | None:
        path = os.path.join(self.dir, "github", owner, name)
        return path if self._is_repo(path) else None

    def gitlab_projects(self) -> list[str]:
        root = os.path.join(self.dir, "gitlab")
        found = []
        for here, dirs, _ in os.walk(root):
            if self._is_repo(here):
                found.append(os.path.relpath(here, root).replace(os.sep, "/"))
                dirs[:] = []
        return sorted(found)

    def gitlab_project(self, ident: str) -> tuple[int, str, str] | None:
        projects = self.gitlab_projects()
        ident = urllib.parse.unquote(ident)
        for number, path in enumerate(projects, start=1):
            if ident == str(number) or ident == path:
                return number, path, os.path.join(self.dir, "gitlab", path)
        return None

    @staticmethod
    def _is_repo(path: str) -> bool:
        return os.path.isdir(path) and (os.path.exists(os.path.join(path, ".git")) or
                                        os.path.exists(os.path.join(path, "HEAD")) and
                                        os.path.isdir(os.path.join(path, "objects")))

    def take_fault(self, path: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault.get("path") and fault["path"] not in path:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return fault
        return None


def default_branch(repo: str) -> str | None:
    return git(repo, "symbolic-ref", "--short", "HEAD")


def resolve(repo: str, ref: str) -> str | None:
    if ref == "HEAD":
        ref = default_branch(repo) or "HEAD"
    return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def archive_tar_gz(repo: str, sha: str, prefix: str) -> bytes | None:
    return git(repo, "archive", "--format=tar.gz", f"--prefix={prefix}", sha, binary=True)


def ls_tree(repo: str, sha: str, recursive: bool) -> list[dict] | None:
    args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [sha]
    out = git(repo, *args, binary=True)
    if out is None:
        return None
    entries = []
    for record in out.decode().split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, obj, size = meta.split()
        entries.append({"path": path, "mode": mode, "type": kind, "sha": obj,
                        "size": None if size == "-" else int(size)})
    return entries


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "forge/1"
    forge: Forge

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing --------------------------------------------------------------------------------------------------
    def send(self, status: int, body: bytes | str | dict | list = b"", headers: dict | None = None,
             content_type: str | None = None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json; charset=utf-8"
        elif isinstance(body, str):
            body = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        self.send_response(status)
        if content_type and status != 304:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        given = {name.lower() for name in (headers or {})}
        if self.path.startswith(("/repos/", "/api/v3/repos/")) and "x-ratelimit-remaining" not in given:
            self.send_header("x-ratelimit-limit", "5000")
            self.send_header("x-ratelimit-remaining", str(self.forge.remaining))
            self.send_header("x-ratelimit-reset", str(int(time.time()) + 3600))
            self.send_header("x-ratelimit-used", str(5000 - self.forge.remaining))
            self.send_header("x-ratelimit-resource", "core")
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if status != 304 and self.command != "HEAD":
            if getattr(self, "truncate", False) and len(body) > 1:
                # The `truncated` fault: the promised length, half the bytes, then the connection goes away.
                self.truncate = False
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    def not_found(self, gitlab: bool = False, what: str = "Project"):
        if gitlab:
            self.send(404, {"message": f"404 {what} Not Found"})
        else:
            self.send(404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"})

    def conditional(self, etag: str, body, content_type: str | None = None, extra: dict | None = None):
        headers = {"ETag": etag, **(extra or {})}
        if self.headers.get("If-None-Match") in (etag, "*"):
            self.send(304, b"", headers)
        else:
            self.send(200, body, headers, content_type)

    def authorised(self, gitlab: bool) -> bool:
        token = self.forge.token
        if not token:
            return True
        auth = self.headers.get("Authorization", "")
        given = None
        if auth.startswith("Bearer ") or auth.startswith("token "):
            given = auth.split(" ", 1)[1]
        if gitlab and self.headers.get("PRIVATE-TOKEN"):
            given = self.headers.get("PRIVATE-TOKEN")
        if given is None:
            self.not_found(gitlab)
            return False
        if given != token:
            if gitlab:
                self.send(401, {"message": "401 Unauthorized"})
            else:
                self.send(401, {"message": "Bad credentials", "documentation_url": GITHUB_DOCS, "status": "401"})
            return False
        return True

    def record(self):
        headers = {name: self.headers.get(name) for name in LOGGED_HEADERS if self.headers.get(name) is not None}
        with self.forge.lock:
            self.forge.log.append({"method": self.command, "path": self.path, "headers": headers})

    def inject(self) -> bool:
        self.truncate = False
        fault = self.forge.take_fault(self.path)
        if not fault:
            return False
        kind = str(fault["fail"])
        if kind == "truncated":  # answered normally, cut short by send()
            self.truncate = True
            return False
        if kind == "timeout":
            time.sleep(float(fault.get("delay", 30)))
            self.close_connection = True
            return True
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return True
        if kind == "malformed":
            self.send(200, b"\x1f\x8b{not json, not a sha, not an archive", content_type="application/json")
            return True
        if kind == "429":
            self.send(429, {"message": "Too Many Requests"},
                      {"Retry-After": str(fault.get("retry_after", "1")), "x-ratelimit-remaining": "0"})
            return True
        if kind == "ratelimit":
            self.send(403, {"message": "API rate limit exceeded", "documentation_url": GITHUB_DOCS},
                      {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                       "x-ratelimit-reset": str(int(time.time()) + int(fault.get("reset_in", 60)))})
            return True
        self.send(int(kind), {"message": f"injected {kind}"})
        return True

    # -- routing ---------------------------------------------------------------------------------------------------
    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/session", "/login/oauth/access_token"):
            self.record()
            if self.inject():
                return
            try:
                return self.gh_session() if path == "/session" else self.gh_access_token()
            except Exception as error:  # a stand-in bug must show up as a 500, not a hung test
                return self.send(500, {"message": f"forge error: {error!r}"})
        if self.path == "/_control":
            length = int(self.headers.get("Content-Length") or 0)
            order = json.loads(self.rfile.read(length) or b"{}")
            with self.forge.lock:
                if order.get("clear"):
                    self.forge.faults.clear()
                if "fail" in order:
                    self.forge.faults.append({**order, "count": int(order.get("count", 1))})
                if "ratelimit_remaining" in order:
                    self.forge.remaining = int(order["ratelimit_remaining"])
            return self.send(200, {"faults": self.forge.faults})
        self.send(405, {"message": "Method Not Allowed"})

    def do_DELETE(self):
        if self.path == "/_requests":
            with self.forge.lock:
                self.forge.log.clear()
            return self.send(204)
        self.send(405, {"message": "Method Not Allowed"})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path == "/_requests":
            with self.forge.lock:
                return self.send(200, list(self.forge.log))
        self.record()
        if self.inject():
            return
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.split("/")[1:]
        if parts[:2] == ["api", "v3"]:  # GitHub Enterprise Server's API base
            parts = parts[2:]
        try:
            if url.path == "/login/oauth/authorize":
                return self.gh_authorize(query)
            if url.path == "/login":
                return self.gh_login_form(query)
            if parts[:1] in (["user"], ["orgs"]):
                return self.gh_account(parts)
            if parts[:1] == ["repos"]:
                return self.github(parts[1:], query)
            if parts[:1] == ["_codeload"]:
                return self.codeload(parts[1:])
            if parts[:3] == ["api", "v4", "projects"] and len(parts) > 3:
                return self.gitlab(parts[3], parts[4:], query)
            if parts[:1] == ["static"]:
                return self.static("/".join(parts[1:]))
            if parts[:1] == ["archive"]:
                return self.archive("/".join(parts[1:]))
        except Exception as error:  # a stand-in bug must show up as a 500, not a hung test
            return self.send(500, {"message": f"forge error: {error!r}"})
        self.not_found()

    # -- GitHub ----------------------------------------------------------------------------------------------------
    def github(self, parts: list[str], query: dict):
        if len(parts) < 2:
            return self.not_found()
        if not self.authorised(gitlab=False):
            return
        owner, name, rest = parts[0], parts[1], parts[2:]
        repo = self.forge.github_repo(owner, name)
        if repo is None:
            return self.not_found()
        with self.forge.lock:
            self.forge.remaining = max(0, self.forge.remaining - 1)
        base = f"http://{self.headers.get('Host')}/repos/{owner}/{name}"
        web = f"http://{self.headers.get('Host')}"
        if not rest:
            when = git(repo, "log", "-1", "--format=%cI") or "2026-01-01T00:00:00Z"
            return self.send(200, gh_repo(owner, name, bool(self.forge.token), default_branch(repo), web, web, when))
        if rest[0] == "commits" and len(rest) > 1:
            ref = urllib.parse.unquote("/".join(rest[1:]))
            sha = resolve(repo, ref)
            if sha is None:
                return self.send(422 if len(ref) == 40 else 404,
                                 {"message": f"No commit found for SHA: {ref}", "documentation_url": GITHUB_DOCS})
            if "application/vnd.github.sha" in (self.headers.get("Accept") or ""):
                return self.conditional(f'"{hashlib.sha1(sha.encode()).hexdigest()}"', sha,
                                        "application/vnd.github.sha; charset=utf-8")
            body = gh_commit(repo, sha, web, web, owner, name)
            return self.conditional(f'W/"{hashlib.sha1(json.dumps(body).encode()).hexdigest()}"', body)
        if rest[0] == "tarball":
            ref = urllib.parse.unquote("/".join(rest[1:])) or "HEAD"
            sha = resolve(repo, ref)
            if sha is None:
                return self.not_found()
            location = f"http://{self.headers.get('Host')}/_codeload/{owner}/{name}/legacy.tar.gz/{sha}"
            return self.send(302, b"", {"Location": location})
        if rest[:2] == ["git", "trees"] and len(rest) == 3:
            entries = ls_tree(repo, rest[2], query.get("recursive") not in (None, "", "0", "false"))
            if entries is None:
                return self.not_found()
            tree = []
            for entry in entries:
                kind = "blob" if entry["type"] == "blob" else entry["type"]
                item = {"path": entry["path"], "mode": entry["mode"], "type": kind, "sha": entry["sha"],
                        "url": f"{base}/git/{'blobs' if kind == 'blob' else 'trees'}/{entry['sha']}"}
                if kind == "blob":
                    item["size"] = entry["size"]
                tree.append(item)
            sha = git(repo, "rev-parse", f"{rest[2]}^{{tree}}")
            return self.send(200, {"sha": sha, "url": f"{base}/git/trees/{sha}", "tree": tree, "truncated": False})
        if rest[:2] == ["git", "blobs"] and len(rest) == 3:
            if git(repo, "cat-file", "-t", rest[2]) != "blob":
                return self.not_found()
            content = git(repo, "cat-file", "blob", rest[2], binary=True)
            encoded = base64.b64encode(content).decode()
            wrapped = "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"
            return self.conditional(f'"{rest[2]}"', {"sha": rest[2], "node_id": "B_" + rest[2][:8], "size": len(content),
                                                     "url": f"{base}/git/blobs/{rest[2]}", "content": wrapped,
                                                     "encoding": "base64"})
        self.not_found()

    def codeload(self, parts: list[str]):
        # /_codeload/{owner}/{repo}/legacy.tar.gz/{sha}
        if len(parts) != 4 or parts[2] != "legacy.tar.gz":
            return self.not_found()
        owner, name, _, sha = parts
        repo = self.forge.github_repo(owner, name)
        data = repo and archive_tar_gz(repo, sha, f"{owner}-{name}-{sha[:7]}/")
        if not data:
            return self.not_found()
        self.send(200, data, {"Content-Disposition": f"attachment; filename={owner}-{name}-{sha[:7]}.tar.gz"},
                  "application/x-gzip")

    # -- GitHub sign-in (web flow) and the signed-in user's API --------------------------------------------------
    def read_form(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            return {key: str(value) for key, value in json.loads(raw or "{}").items()}
        return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    def html_page(self, status: int, body: str, headers: dict | None = None):
        self.send(status, body, {"Cache-Control": "no-store", **(headers or {})}, "text/html; charset=utf-8")

    def gh_authorize(self, query: dict):
        oauth = self.forge.oauth
        if query.get("client_id") != oauth.client_id:
            return self.html_page(404, "<!DOCTYPE html><h1>404</h1><p>This is not the web page you are looking for.</p>")
        redirect_uri = query.get("redirect_uri") or oauth.callback
        if not redirect_uri:
            return self.html_page(400, "<!DOCTYPE html><h1>redirect_uri is required</h1>")

        def back(target: str, **params):
            if query.get("state") is not None:
                params["state"] = query["state"]
            split = urllib.parse.urlsplit(target)
            joined = "&".join(filter(None, [split.query, urllib.parse.urlencode(params)]))
            return self.send(302, b"", {"Location": split._replace(query=joined).geturl()})

        if not oauth.redirect_allowed(redirect_uri):
            description, anchor = GH_TOKEN_ERRORS["redirect_uri_mismatch"]
            return back(oauth.callback, error="redirect_uri_mismatch", error_description=description,
                        error_uri="/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/" + anchor)
        challenge = query.get("code_challenge")
        if challenge is not None or query.get("code_challenge_method") is not None:
            valid = challenge and len(challenge) == 43 and all(c.isalnum() or c in "-_" for c in challenge)
            if query.get("code_challenge_method") != "S256" or not valid:
                return back(redirect_uri, error="invalid_request",
                            error_description="code_challenge must be a S256 challenge (code_challenge_method=S256)")
        cookie = SimpleCookie(self.headers.get("Cookie") or "").get("user_session")
        login = cookie and oauth.sessions.get(cookie.value)
        if not login:
            here = f"http://{self.headers.get('Host')}"
            return self.send(302, b"", {"Location": f"{here}/login?" + urllib.parse.urlencode(
                {"client_id": oauth.client_id, "return_to": self.path})})
        scopes = [scope for scope in query.get("scope", "").replace(",", " ").split() if scope]
        return back(redirect_uri, code=oauth.new_code(login, redirect_uri, scopes, challenge))

    @staticmethod
    def local_path(target: str | None) -> str:
        return target if target and target.startswith("/") and not target.startswith("//") else "/"

    def gh_login_form(self, query: dict):
        self.html_page(200, gh_login_page(self.local_path(query.get("return_to"))))

    def gh_session(self):
        form = self.read_form()
        return_to = self.local_path(form.get("return_to"))
        login = form.get("login", "")
        if not self.forge.oauth.check_password(login, form.get("password", "")):
            return self.html_page(200, gh_login_page(return_to, "Incorrect username or password.", login))
        cookie = f"user_session={self.forge.oauth.new_session(login)}; Path=/; HttpOnly; SameSite=Lax"
        self.send(302, b"", {"Location": f"http://{self.headers.get('Host')}{return_to}", "Set-Cookie": cookie})

    def gh_access_token(self):
        form = {**dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)), **self.read_form()}
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic" and "client_id" not in form:
            client_id, _, secret = base64.b64decode(credentials).decode(errors="replace").partition(":")
            form.update(client_id=urllib.parse.unquote(client_id), client_secret=urllib.parse.unquote(secret))
        answer = self.forge.oauth.exchange(form)
        if "application/json" in (self.headers.get("Accept") or ""):
            return self.send(200, answer)
        self.send(200, urllib.parse.urlencode(answer), content_type="application/x-www-form-urlencoded; charset=utf-8")

    def gh_account(self, parts: list[str]):
        """The signed-in user's API: /user, /user/emails, org and team membership."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return self.send(401, {"message": "Requires authentication", "documentation_url": GITHUB_DOCS,
                                   "status": "401"})
        grant = self.forge.oauth.tokens.get(token.strip())
        if grant is None:
            return self.send(401, {"message": "Bad credentials", "documentation_url": GITHUB_DOCS, "status": "401"})
        login, scopes = grant["login"], grant["scopes"]
        user = GH_USERS[login]
        web = f"http://{self.headers.get('Host')}"
        api = web + ("/api/v3" if self.path.startswith("/api/v3/") else "")
        headers = {"X-OAuth-Scopes": ", ".join(scopes)}
        parts = [urllib.parse.unquote(part) for part in parts]

        def refused(accepted: str, message: str):
            return self.send(403, {"message": message, "documentation_url": GITHUB_DOCS, "status": "403"},
                             {**headers, "X-Accepted-OAuth-Scopes": accepted})

        if parts == ["user"]:
            public = next((e["email"] for e in user["emails"] if e["visibility"] == "public"), None)
            body = {**gh_user(login, web, api), "id": user["id"], "node_id": f"U_{user['id']}", "type": "User",
                    "name": user["name"], "email": public, "company": None, "blog": "", "location": None,
                    "hireable": None, "bio": None, "twitter_username": None, "public_repos": 0, "public_gists": 0,
                    "followers": 0, "following": 0, "created_at": "2011-01-25T18:44:36Z",
                    "updated_at": "2026-01-01T00:00:00Z"}
            return self.send(200, body, headers)
        if parts == ["user", "emails"]:
            if not gh_scope_covers(scopes, "user:email"):
                return self.not_found()
            return self.send(200, user["emails"], {**headers, "X-Accepted-OAuth-Scopes": "user, user:email"})
        org = parts[3] if parts[:3] == ["user", "memberships", "orgs"] and len(parts) == 4 else (
            parts[1] if parts[:1] == ["orgs"] and len(parts) > 1 else None)
        if org not in GH_ORGS:
            return self.not_found()
        member_of = (lambda who: org in GH_USERS.get(who, {}).get("orgs", {}))
        if parts[:3] == ["user", "memberships", "orgs"]:
            if not gh_scope_covers(scopes, "read:org"):
                return refused("read:org, user",
                               "You need at least read:org scope or user scope to list your organization memberships.")
            if not member_of(login):
                return self.not_found()
            org_body = {"login": org, "id": GH_ORGS[org]["id"], "node_id": f"O_{GH_ORGS[org]['id']}",
                        "url": f"{api}/orgs/{org}", "repos_url": f"{api}/orgs/{org}/repos",
                        "events_url": f"{api}/orgs/{org}/events", "hooks_url": f"{api}/orgs/{org}/hooks",
                        "issues_url": f"{api}/orgs/{org}/issues",
                        "members_url": f"{api}/orgs/{org}/members{{/member}}",
                        "public_members_url": f"{api}/orgs/{org}/public_members{{/member}}",
                        "avatar_url": f"{web}/{org}.png", "description": None}
            return self.send(200, {"url": f"{api}/orgs/{org}/memberships/{login}", "state": "active",
                                   "role": user["orgs"][org], "organization_url": f"{api}/orgs/{org}",
                                   "organization": org_body,
                                   "user": {**gh_user(login, web, api), "id": user["id"], "type": "User"}}, headers)
        if len(parts) == 4 and parts[2] in ("members", "public_members"):
            # Private membership is visible to members with read:org; anyone else is sent to the public list.
            if parts[2] == "members" and not (gh_scope_covers(scopes, "read:org") and member_of(login)):
                return self.send(302, b"", {**headers, "Location": f"{api}/orgs/{org}/public_members/{parts[3]}"})
            if parts[2] == "members" and member_of(parts[3]):
                return self.send(204, b"", headers)
            return self.not_found()
        if len(parts) == 6 and parts[2] == "teams" and parts[4] == "memberships":
            team, who = parts[3], parts[5]
            if not gh_scope_covers(scopes, "read:org"):
                return refused("read:org", "Resource not accessible by integration")
            role = GH_USERS.get(who, {}).get("teams", {}).get(org, {}).get(team)
            if team not in GH_ORGS[org]["teams"] or not member_of(login) or role is None:
                return self.not_found()
            return self.send(200, {"url": f"{api}/teams/{GH_ORGS[org]['teams'][team]}/memberships/{who}",
                                   "role": role, "state": "active"}, headers)
        self.not_found()

    # -- GitLab ----------------------------------------------------------------------------------------------------
    def gitlab(self, ident: str, rest: list[str], query: dict):
        if not self.authorised(gitlab=True):
            return
        found = self.forge.gitlab_project(ident)
        if found is None:
            return self.not_found(gitlab=True)
        number, path, repo = found
        host = f"http://{self.headers.get('Host')}"
        name = path.rsplit("/", 1)[-1]
        if not rest:
            return self.send(200, {"id": number, "name": name, "path": name, "path_with_namespace": path,
                                   "default_branch": default_branch(repo), "visibility": "private" if self.forge.token else "public",
                                   "web_url": f"{host}/{path}"})
        if rest[0] != "repository" or len(rest) < 2:
            return self.not_found(gitlab=True)
        what = rest[1]
        if what == "commits" and len(rest) == 3:
            sha = resolve(repo, urllib.parse.unquote(rest[2]))
            if sha is None:
                return self.not_found(gitlab=True, what="Commit")
            body = {"id": sha, "short_id": sha[:8], "title": git(repo, "log", "-1", "--format=%s", sha),
                    "message": git(repo, "log", "-1", "--format=%B", sha), "parent_ids": (git(repo, "log", "-1", "--format=%P", sha) or "").split(),
                    "web_url": f"{host}/{path}/-/commit/{sha}"}
            return self.conditional(f'W/"{hashlib.sha1(sha.encode()).hexdigest()}"', body)
        if what == "archive.tar.gz" and len(rest) == 2:
            ref = query.get("sha") or "HEAD"
            sha = resolve(repo, ref)
            if sha is None:
                return self.not_found(gitlab=True, what="File")
            data = archive_tar_gz(repo, sha, f"{name}-{ref}-{sha}/")
            return self.send(200, data, {"Content-Disposition": f'attachment; filename="{name}-{ref}-{sha}.tar.gz"'},
                             "application/octet-stream")
        if what == "tree" and len(rest) == 2:
            sha = resolve(repo, query.get("ref") or "HEAD")
            if sha is None:
                return self.not_found(gitlab=True, what="Tree")
            entries = ls_tree(repo, sha, query.get("recursive") == "true") or []
            items = [{"id": e["sha"], "name": e["path"].rsplit("/", 1)[-1], "type": e["type"], "path": e["path"],
                      "mode": e["mode"]} for e in entries]
            per_page = max(1, min(100, int(query.get("per_page") or 20)))
            start = 0
            token = query.get("page_token")
            if token:
                start = next((i + 1 for i, item in enumerate(items) if item["id"] + ":" + item["path"] == token), len(items))
            page = items[start:start + per_page]
            headers = {}
            if start + per_page < len(items) and query.get("pagination") == "keyset":
                following = dict(query, page_token=page[-1]["id"] + ":" + page[-1]["path"])
                link = f"{host}/api/v4/projects/{ident}/repository/tree?{urllib.parse.urlencode(following)}"
                first = f"{host}/api/v4/projects/{ident}/repository/tree?{urllib.parse.urlencode({k: v for k, v in query.items() if k != 'page_token'})}"
                headers["Link"] = f'<{link}>; rel="next", <{first}>; rel="first"'
            return self.send(200, page, headers)
        if what == "files" and len(rest) == 4 and rest[3] == "raw":
            sha = resolve(repo, query.get("ref") or "HEAD")
            file_path = urllib.parse.unquote(rest[2])
            content = sha and git(repo, "show", f"{sha}:{file_path}", binary=True)
            if content is None or content is False:
                return self.not_found(gitlab=True, what="File")
            blob = git(repo, "rev-parse", f"{sha}:{file_path}")
            return self.send(200, content, {"X-Gitlab-Blob-Id": blob or "", "X-Gitlab-Commit-Id": sha,
                                            "X-Gitlab-File-Path": file_path}, "text/plain; charset=utf-8")
        self.not_found(gitlab=True)

    # -- static files and archives ---------------------------------------------------------------------------------
    def static_path(self, rel: str) -> str | None:
        root = os.path.join(self.forge.dir, "static")
        path = os.path.realpath(os.path.join(root, urllib.parse.unquote(rel)))
        return path if path.startswith(os.path.realpath(root) + os.sep) else None

    def static(self, rel: str):
        path = self.static_path(rel)
        if not path or not os.path.isfile(path):
            return self.send(404, "Not Found\n")
        with open(path, "rb") as handle:
            data = handle.read()
        modified = formatdate(int(os.path.getmtime(path)), usegmt=True)
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") is None and self.headers.get("If-Modified-Since") == modified:
            return self.send(304, b"", {"ETag": etag, "Last-Modified": modified})
        self.conditional(etag, data, "application/octet-stream", {"Last-Modified": modified})

    def archive(self, rel: str):
        for suffix, kind in ((".zip", "zip"), (".tar.gz", "tar.gz")):
            if rel.endswith(suffix):
                folder = self.static_path(rel[: -len(suffix)])
                break
        else:
            return self.send(404, "Not Found\n")
        if not folder or not os.path.isdir(folder):
            return self.send(404, "Not Found\n")
        top = os.path.basename(folder)
        buffer = io.BytesIO()
        files = []
        for here, dirs, names in os.walk(folder):
            dirs.sort()
            for file_name in sorted(names):
                full = os.path.join(here, file_name)
                files.append((full, top + "/" + os.path.relpath(full, folder).replace(os.sep, "/")))
        if kind == "zip":
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for full, name in files:
                    archive.write(full, name)
        else:
            # gzip's header carries a time; a fixed one keeps the archive, and so its ETag, the same from one second
            # to the next, as a real server's stored archive is (a changing ETag made a revalidation miss at random).
            with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as archive:
                for full, name in files:
                    archive.add(full, name)
        data = buffer.getvalue()
        self.conditional(f'"{hashlib.sha256(data).hexdigest()[:16]}"', data, "application/octet-stream")


def make_server(repos: str | None = None, port: int = 0, host: str = "127.0.0.1", token: str | None = None,
                oauth: GitHubOAuth | None = None) -> ThreadingHTTPServer:
    forge = Forge(repos or tempfile.mkdtemp(prefix="forge-empty-"), token, oauth)
    handler = type("BoundHandler", (Handler,), {"forge": forge})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--repos", help="the git repositories to serve (none when left out)")
    parser.add_argument("--token", default=os.environ.get("FORGE_TOKEN"))
    parser.add_argument("--gh-client-id", default="gh-client", help="the GitHub OAuth app's client id")
    parser.add_argument("--gh-client-secret", default="gh-secret", help="the GitHub OAuth app's client secret")
    parser.add_argument("--gh-callback", help="the OAuth app's registered callback URL (any redirect_uri when left out)")
    args = parser.parse_args(argv)
    oauth = GitHubOAuth(args.gh_client_id, args.gh_client_secret, args.gh_callback)
    server = make_server(args.repos, args.port, args.host, args.token, oauth)
    print(f"forge listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def github_signin_checks(request, check):
    """The GitHub web flow and the user API, as a browser and providers/src/github.rs use them."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    cb = "http://127.0.0.1:9/oauth/callback"

    def pkce():
        verifier = secrets.token_urlsafe(32)
        return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()

    def authorize(cookie=None, challenge=None, scope="read:user user:email read:org", **extra):
        params = {"client_id": "gh-client", "redirect_uri": cb, "scope": scope, "state": "st8", **extra}
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return request("GET", "/login/oauth/authorize?" + urllib.parse.urlencode(params),
                       {"Cookie": cookie} if cookie else {})

    def callback_query(headers):
        location = headers.get("location", "")
        check(location.startswith(cb + "?"), f"to the callback: {location}")
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

    def token(code, verifier, secret="gh-secret", accept="application/json"):
        body = urllib.parse.urlencode({"client_id": "gh-client", "client_secret": secret, "code": code,
                                       "redirect_uri": cb, "code_verifier": verifier})
        status, headers, data = request("POST", "/login/oauth/access_token", {**form, "Accept": accept}, body)
        check(status == 200, f"token endpoint answers 200, errors included ({status})")
        return json.loads(data) if "json" in accept else dict(urllib.parse.parse_qsl(data.decode()))

    def sign_in(login, password):
        verifier, challenge = pkce()
        status, headers, _ = authorize(challenge=challenge)
        login_url = urllib.parse.urlsplit(headers["location"])
        check(status == 302 and login_url.path == "/login", f"signed out -> /login ({status})")
        status, _, page = request("GET", login_url.path + "?" + login_url.query)
        return_to = html.unescape(page.decode().split('name="return_to" value="')[1].split('"')[0])
        check(status == 200 and 'type="password"' in page.decode(), "login form")
        body = urllib.parse.urlencode({"login": login, "password": "wrong", "return_to": return_to})
        status, _, page = request("POST", "/session", form, body)
        check(status == 200 and b"Incorrect username or password." in page, "a wrong password shows the form again")
        body = urllib.parse.urlencode({"login": login, "password": password, "return_to": return_to})
        status, headers, _ = request("POST", "/session", form, body)
        cookie = headers.get("set-cookie", "").split(";")[0]
        check(status == 302 and cookie.startswith("user_session="), "signed in, session cookie")
        status, headers, _ = request("GET", urllib.parse.urlsplit(headers["location"]).path + "?" +
                                     urllib.parse.urlsplit(headers["location"]).query, {"Cookie": cookie})
        query = callback_query(headers)
        check(status == 302 and query["state"] == "st8" and query["code"], "code and state to the callback")
        return cookie, query["code"], verifier

    cookie, code, verifier = sign_in("octocat", "octo-password")
    check(token(code, "x" * 43)["error"] == "bad_verification_code", "a wrong verifier is refused")
    check(token(code, verifier)["error"] == "bad_verification_code", "... and spends the code")
    verifier, challenge = pkce()
    code = callback_query(authorize(cookie, challenge)[1])["code"]  # the session skips the form
    check(token(code, verifier, secret="nope")["error"] == "incorrect_client_credentials", "wrong client secret")
    answer = token(code, verifier)
    check(answer.get("token_type") == "bearer" and answer["access_token"].startswith("gho_")
          and answer["scope"] == "read:user,user:email,read:org", f"token: {answer}")
    check(token(code, verifier)["error"] == "bad_verification_code", "a code is single-use")
    verifier, challenge = pkce()
    code = callback_query(authorize(cookie, challenge)[1])["code"]
    check(token(code, verifier, accept="*/*").get("token_type") == "bearer", "form-encoded token answer")

    bearer = {"Authorization": "Bearer " + answer["access_token"], "Accept": "application/vnd.github+json"}
    for base in ("", "/api/v3"):
        status, headers, body = request("GET", base + "/user", bearer)
        user = json.loads(body)
        check(status == 200 and user["login"] == "octocat" and user["id"] == 583231 and user["name"] == "The Octocat"
              and user["type"] == "User", f"/user at {base or '/'}")
        check(headers.get("x-oauth-scopes") == "read:user, user:email, read:org", "X-OAuth-Scopes")
    status, _, body = request("GET", "/user/emails", bearer)
    primary = [e for e in json.loads(body) if e["primary"]]
    check(status == 200 and primary == [{"email": "octocat@acme.example", "primary": True, "verified": True,
                                         "visibility": "public"}], f"emails {body!r}")
    status, _, body = request("GET", "/user/memberships/orgs/acme", bearer)
    check(status == 200 and json.loads(body)["state"] == "active" and json.loads(body)["role"] == "admin"
          and json.loads(body)["organization"]["login"] == "acme", "org membership")
    status, _, body = request("GET", "/orgs/acme/teams/platform/memberships/octocat", bearer)
    check(status == 200 and json.loads(body)["state"] == "active", "team membership")
    check(request("GET", "/orgs/acme/teams/sales/memberships/octocat", bearer)[0] == 404, "not in team sales")
    check(request("GET", "/orgs/acme/members/octocat", bearer)[0] == 204, "org member check")
    check(request("GET", "/orgs/acme/members/mallory", bearer)[0] == 404, "mallory is no member")
    check(request("GET", "/user/memberships/orgs/nope", bearer)[0] == 404, "unknown org")
    check(request("GET", "/user")[0] == 401 and request("GET", "/user", {"Authorization": "Bearer gho_x"})[0] == 401,
          "no token / a wrong token -> 401")

    # mallory: no org; a token with fewer scopes; no PKCE (GitHub allows that).
    m_cookie, _, _ = sign_in("mallory", "mallory-password")
    status, headers, _ = authorize()
    check(status == 302 and "/login?" in headers["location"], "no cookie, no session")
    code = callback_query(authorize(m_cookie, scope="read:user")[1])["code"]
    answer = token(code, "")
    check(answer.get("scope") == "read:user", f"mallory's token without PKCE: {answer}")
    bearer = {"Authorization": "token " + answer["access_token"]}
    check(json.loads(request("GET", "/user", bearer)[2])["login"] == "mallory", "token auth scheme")
    check(request("GET", "/user/emails", bearer)[0] == 404, "emails need user:email")
    check(request("GET", "/user/memberships/orgs/acme", bearer)[0] == 403, "org membership needs read:org")
    status, headers, _ = request("GET", "/orgs/acme/members/octocat", bearer)
    check(status == 302 and "/public_members/octocat" in headers["location"], "non-members see public members only")
    code = callback_query(authorize(m_cookie, scope="read:org user:email")[1])["code"]
    bearer = {"Authorization": "Bearer " + token(code, "")["access_token"]}
    check(request("GET", "/user/memberships/orgs/acme", bearer)[0] == 404, "mallory is in no org")
    check(request("GET", "/orgs/acme/teams/platform/memberships/mallory", bearer)[0] == 404, "nor team")

    status, headers, _ = authorize(m_cookie, code_challenge="abc", code_challenge_method="plain")
    check(callback_query(headers)["error"] == "invalid_request", "only S256")
    check(authorize(client_id="other")[0] == 404, "unknown client id")
    app = GitHubOAuth(callback="http://127.0.0.1:9/oauth")
    check(app.redirect_allowed("http://127.0.0.1:9/oauth/callback") and not app.redirect_allowed("http://127.0.0.1:8/oauth")
          and not app.redirect_allowed("http://127.0.0.1:9/oauthx"), "redirect_uri under the registered callback")


# -- self-check ----------------------------------------------------------------------------------------------------
def selftest() -> int:
    import http.client
    import shutil
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    example = os.path.join(here, "..", "..", "examples", "marketplace")
    tmp = tempfile.mkdtemp(prefix="forge-selftest-")
    checks = 0

    def check(condition, message):
        nonlocal checks
        checks += 1
        if not condition:
            raise AssertionError(message)

    try:
        work = os.path.join(tmp, "github", "acme", "market")
        if os.path.isdir(example):
            shutil.copytree(example, work)
        else:
            os.makedirs(os.path.join(work, ".claude-plugin"))
            with open(os.path.join(work, ".claude-plugin", "marketplace.json"), "w") as f:
                f.write('{"name":"m","plugins":[]}')
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
            subprocess.run(["git", "-C", work, *cmd], check=True, env=env)
        os.symlink(".claude-plugin/marketplace.json", os.path.join(work, "link"))
        subprocess.run(["git", "-C", work, "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", work, "commit", "-q", "-m", "second"], check=True, env=env)
        sha = git(work, "rev-parse", "HEAD")
        bare = os.path.join(tmp, "gitlab", "group", "sub", "market")
        os.makedirs(os.path.dirname(bare))
        subprocess.run(["git", "clone", "-q", "--bare", work, bare], check=True)
        shutil.copytree(work, os.path.join(tmp, "static", "market"), ignore=shutil.ignore_patterns(".git", "link"))

        server = make_server(tmp, token="t0k")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]

        def request(method, path, headers=None, body=None):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            connection.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data

        auth = {"Authorization": "Bearer t0k"}
        status, headers, body = request("GET", "/repos/acme/market", auth)
        check(status == 200 and json.loads(body)["default_branch"] == "main", f"repo: {status} {body!r}")
        check(headers.get("x-ratelimit-limit") == "5000" and "x-ratelimit-remaining" in headers, "ratelimit headers")
        status, _, body = request("GET", "/repos/acme/market")
        check(status == 404 and json.loads(body)["message"] == "Not Found" and "documentation_url" in json.loads(body),
              "no token -> GitHub 404")
        status, _, body = request("GET", "/repos/acme/market", {"Authorization": "Bearer wrong"})
        check(status == 401 and json.loads(body)["message"] == "Bad credentials", "wrong token -> 401")
        status, _, body = request("GET", "/repos/acme/nope", auth)
        check(status == 404, "unknown repo -> 404")

        sha_accept = {**auth, "Accept": "application/vnd.github.sha"}
        status, headers, body = request("GET", "/repos/acme/market/commits/HEAD", sha_accept)
        check(status == 200 and body.decode() == sha and headers.get("etag"), f"commits sha: {status} {body!r}")
        status, _, body = request("GET", "/repos/acme/market/commits/main",
                                  {**sha_accept, "If-None-Match": headers["etag"]})
        check(status == 304 and body == b"", "commits 304")
        status, _, body = request("GET", "/repos/acme/market/commits/main", auth)
        check(status == 200 and json.loads(body)["sha"] == sha, "commits JSON")

        status, headers, _ = request("GET", f"/repos/acme/market/tarball/{sha}", auth)
        check(status == 302 and "/_codeload/acme/market/legacy.tar.gz/" in headers["location"], "tarball 302")
        status, _, body = request("GET", urllib.parse.urlsplit(headers["location"]).path)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            names = archive.getnames()
        check(status == 200 and f"acme-market-{sha[:7]}/.claude-plugin/marketplace.json" in names, f"codeload {names[:3]}")

        status, _, body = request("GET", f"/repos/acme/market/git/trees/{sha}?recursive=1", auth)
        tree = json.loads(body)
        check(status == 200 and tree["truncated"] is False, "tree")
        manifest = next(e for e in tree["tree"] if e["path"] == ".claude-plugin/marketplace.json")
        check(manifest["type"] == "blob" and manifest["size"] > 0, "tree blob entry")
        check(any(e["path"] == "link" and e["mode"] == "120000" for e in tree["tree"]), "symlink mode")
        check(any(e["type"] == "tree" for e in tree["tree"]), "tree entries")
        status, _, body = request("GET", f"/repos/acme/market/git/blobs/{manifest['sha']}", auth)
        blob = json.loads(body)
        check(status == 200 and blob["encoding"] == "base64" and b'"name"' in base64.b64decode(blob["content"]), "blob")

        lab = "/api/v4/projects/group%2Fsub%2Fmarket"
        status, _, body = request("GET", lab)
        check(status == 404 and json.loads(body)["message"] == "404 Project Not Found", "gitlab no token")
        pat = {"PRIVATE-TOKEN": "t0k"}
        status, _, body = request("GET", lab, pat)
        project = json.loads(body)
        check(status == 200 and project["id"] == 1 and project["default_branch"] == "main", f"project {body!r}")
        status, _, body = request("GET", "/api/v4/projects/1", {"Authorization": "Bearer t0k"})
        check(status == 200 and json.loads(body)["path_with_namespace"] == "group/sub/market", "project by id")
        status, headers, body = request("GET", f"{lab}/repository/commits/main", pat)
        check(status == 200 and json.loads(body)["id"] == sha and headers.get("etag"), "gitlab commit")
        status, _, _ = request("GET", f"{lab}/repository/commits/main", {**pat, "If-None-Match": headers["etag"]})
        check(status == 304, "gitlab commit 304")
        status, _, body = request("GET", f"{lab}/repository/archive.tar.gz?sha={sha}", pat)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            check(f"market-{sha}-{sha}/.claude-plugin/marketplace.json" in archive.getnames(), "gitlab archive")
        url = f"{lab}/repository/tree?recursive=true&per_page=3&pagination=keyset&ref={sha}"
        seen, pages = [], 0
        while url:
            status, headers, body = request("GET", url, pat)
            check(status == 200, f"tree page {status}")
            seen.extend(json.loads(body))
            pages += 1
            link = headers.get("link", "")
            nxt = [p.split(";")[0].strip()[1:-1] for p in link.split(",") if 'rel="next"' in p]
            url = urllib.parse.urlsplit(nxt[0])._replace(scheme="", netloc="").geturl() if nxt else None
        check(pages > 1 and len(seen) == len(tree["tree"]), f"keyset pagination: {pages} pages, {len(seen)} entries")
        status, _, body = request("GET", f"{lab}/repository/files/.claude-plugin%2Fmarketplace.json/raw?ref={sha}", pat)
        check(status == 200 and b'"plugins"' in body, "gitlab raw file")
        status, _, body = request("GET", f"{lab}/repository/files/nope.md/raw?ref={sha}", pat)
        check(status == 404 and json.loads(body)["message"] == "404 File Not Found", "gitlab raw 404")

        status, headers, body = request("GET", "/static/market/.claude-plugin/marketplace.json")
        check(status == 200 and headers.get("etag") and headers.get("last-modified"), "static file")
        status, _, _ = request("GET", "/static/market/.claude-plugin/marketplace.json",
                               {"If-None-Match": headers["etag"]})
        check(status == 304, "static 304")
        status, _, _ = request("GET", "/static/market/.claude-plugin/marketplace.json",
                               {"If-Modified-Since": headers["last-modified"]})
        check(status == 304, "static If-Modified-Since 304")
        check(request("GET", "/static/../github/acme/market/.git/HEAD")[0] == 404, "static traversal")
        status, _, body = request("GET", "/archive/market.zip")
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            check(status == 200 and "market/.claude-plugin/marketplace.json" in archive.namelist(), "zip archive")
        status, _, body = request("GET", "/archive/market.tar.gz")
        check(status == 200 and gzip.decompress(body)[:5], "tar.gz archive")

        request("DELETE", "/_requests")
        request("POST", "/_control", {"Content-Type": "application/json"}, json.dumps({"fail": "500", "count": 1}))
        check(request("GET", "/repos/acme/market", auth)[0] == 500, "fault 500")
        check(request("GET", "/repos/acme/market", auth)[0] == 200, "fault spent")
        request("POST", "/_control", {}, json.dumps({"fail": "429", "count": 1, "path": "/commits/"}))
        check(request("GET", "/repos/acme/market", auth)[0] == 200, "fault only on its path")
        status, headers, _ = request("GET", "/repos/acme/market/commits/HEAD", sha_accept)
        check(status == 429 and headers.get("retry-after") == "1", "fault 429")
        request("POST", "/_control", {}, json.dumps({"fail": "ratelimit"}))
        status, headers, _ = request("GET", "/repos/acme/market", auth)
        check(status == 403 and headers.get("x-ratelimit-remaining") == "0", "fault ratelimit")
        request("POST", "/_control", {}, json.dumps({"fail": "malformed"}))
        status, _, body = request("GET", "/repos/acme/market/commits/HEAD", sha_accept)
        check(status == 200 and body.decode(errors="replace") != sha, "fault malformed")
        request("POST", "/_control", {}, json.dumps({"fail": "429", "retry_after": "7"}))
        check(request("GET", "/repos/acme/market", auth)[1].get("retry-after") == "7", "fault 429 Retry-After")
        request("POST", "/_control", {}, json.dumps({"fail": "truncated", "path": "/_codeload/"}))
        check(request("GET", "/repos/acme/market", auth)[0] == 200, "truncated waits for its path")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", f"/_codeload/acme/market/legacy.tar.gz/{sha}")
        response = connection.getresponse()
        try:
            got = response.read()
            check(False, f"fault truncated should cut the body short, got {len(got)} bytes")
        except http.client.IncompleteRead as error:
            check(response.status == 200 and 0 < len(error.partial) < int(response.getheader("content-length")),
                  "fault truncated: half the body")
        connection.close()
        status, _, body = request("POST", "/_control", {}, "{}")
        check(status == 200 and json.loads(body) == {"faults": []}, "control without an order lists the faults")
        request("POST", "/_control", {}, json.dumps({"fail": "reset"}))
        try:
            request("GET", "/repos/acme/market", auth)
            check(False, "fault reset should drop the connection")
        except (ConnectionError, http.client.HTTPException, OSError):
            check(True, "")
        request("POST", "/_control", {}, json.dumps({"fail": "timeout", "delay": 2}))
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
            connection.request("GET", "/repos/acme/market", headers=auth)
            connection.getresponse()
            check(False, "fault timeout should not answer in time")
        except (TimeoutError, socket.timeout, OSError):
            check(True, "")
        status, _, body = request("GET", "/_requests")
        log = json.loads(body)
        check(status == 200 and len(log) == 11, f"request log: {len(log)}")
        check(log[0]["headers"].get("authorization") == "Bearer t0k" and log[0]["method"] == "GET", "log headers")
        check(log[3]["headers"].get("accept") == "application/vnd.github.sha", "log accept")
        github_signin_checks(request, check)
        server.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"forge selftest: {checks} passed, 0 failed")
    return 0


if __name__ == "__main__" and "--selftest" in sys.argv:
    sys.exit(selftest())
elif __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
