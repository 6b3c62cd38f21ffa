#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into corpus/<target>/seed-*.

Seeds are small valid inputs made from the repository's example marketplace (examples/marketplace) and, when present,
a few files of the shared real-marketplace fixtures (../shared/fixtures beside the repository; only a handful of small
files, and a trimmed slice of the large official marketplace). Run it again after changing a target's input format;
`bash scripts/fuzz.sh --seed` does, then minimises the corpus.
"""
import gzip
import io
import json
import os
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "marketplace")
FIXTURES = os.environ.get("SKILLPORT_FIXTURES", os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "real-marketplaces"))


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def fixture(*parts):
    path = os.path.join(FIXTURES, *parts)
    return read(path) if os.path.exists(path) else None


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def marketplace_seeds():
    t = "marketplace_json"
    write(t, "example", read(EXAMPLE, ".claude-plugin", "marketplace.json"))
    write(t, "tree", compact({
        "name": "fuzz", "owner": "Someone", "metadata": {"pluginRoot": "plugins"},
        "renames": {"old": "alpha"},
        "plugins": [
            {"name": "alpha", "source": "alpha", "version": "1.0.0", "commands": ["./commands/hello.md"]},
            {"name": "beta", "source": "./plugins/beta", "strict": True},
            {"name": "shared", "source": "./", "strict": False, "skills": ["./skills/shared", "./skills/other/SKILL.md"]},
            {"name": "ext", "source": {"source": "github", "repo": "acme/ext", "ref": "main"}},
            {"name": "u", "source": {"source": "url", "url": "https://gitlab.com/a/b.git", "sha": "a" * 40}},
            {"name": "sub", "source": {"source": "git-subdir", "url": "https://github.com/a/b.git", "path": "p"}},
            {"name": "n", "source": {"source": "npm", "package": "@a/b"}},
            {"name": "z", "source": {"source": "archive", "url": "https://x.example/p.tgz", "sha256": "0" * 64}},
            {"name": "bad", "source": "../escape"},
            {"name": "odd", "source": {"source": "weird"}},
            7,
        ],
    }))
    for name, path in [("skillport", ("skillport-marketplace", ".claude-plugin", "marketplace.json")),
                       ("agent-skills", ("anthropic-agent-skills.marketplace.json",))]:
        data = fixture(*path)
        if data is not None:
            write(t, name, compact(json.loads(data)))
    official = fixture("claude-plugins-official.marketplace.json")
    if official is not None:
        # A slice: the first plugin of each source kind, with the file's other top-level fields.
        doc = json.loads(official)
        seen, plugins = set(), []
        for p in doc.get("plugins", []):
            src = p.get("source")
            kind = src.get("source") if isinstance(src, dict) else "relative"
            if kind not in seen:
                seen.add(kind)
                plugins.append(p)
        doc["plugins"] = plugins
        if isinstance(doc.get("renames"), dict):
            doc["renames"] = dict(list(doc["renames"].items())[:2])
        write(t, "official-slice", compact(doc))


def plugin_seeds():
    t = "plugin_json"
    write(t, "example", read(EXAMPLE, "plugins", "writing-tools", ".claude-plugin", "plugin.json"))
    write(t, "components", compact({
        "name": "p", "version": "2.0.0", "description": "d", "author": {"name": "A", "email": "a@b.c"},
        "skills": ["./more", "./skills/s/SKILL.md", "../alpha"], "commands": ["./extra-commands", "./commands/go.md"],
        "agents": "./agents", "hooks": {"PreToolUse": []}, "mcpServers": {"x": {"command": "y"}},
        "keywords": ["a"], "license": "MIT", "homepage": "https://x", "repository": {"type": "git"},
    }))
    write(t, "minimal", b'{"name":"p"}')
    base = os.path.join("skillport-marketplace", "plugins")
    for plugin in ("data-analyzer", "surface-detect"):
        data = fixture(base, plugin, ".claude-plugin", "plugin.json")
        if data is not None:
            write(t, plugin, data)


def skill_seeds():
    t = "skill_frontmatter"
    for path in [("plugins", "writing-tools", "skills", "conventional-commits", "SKILL.md"),
                 ("plugins", "repo-tools", "skills", "repo-map", "SKILL.md")]:
        write(t, path[-2], read(EXAMPLE, *path))
    data = fixture("skillport-marketplace", "plugins", "example-skill", "skills", "example-skill", "SKILL.md")
    if data is not None:
        write(t, "fixture-example", data)
    write(t, "yaml-kinds", "\ufeff---\r\nname: s\r\ndescription: |\r\n  multi\r\n  line\r\n"
          "allowed-tools: [Read, Grep]\r\nmetadata: {a: 1, b: 2.5, c: .nan, d: true, 1: null}\r\n"
          "list:\r\n  - &x one\r\n  - *x\r\n--- \r\nbody\r\n")
    write(t, "no-name", "---\ndescription: x\n---\n")
    write(t, "empty", "---\n---\n")


def jsonrpc_seeds():
    t = "jsonrpc"
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "claude-ai", "version": "1"}}
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "1"}}
    handshake = [
        ("initialize", init),
        ("tools/list", {}),
        ("tools/call", {"name": "list_plugins", "arguments": {"query": "git", "surface": "all", "limit": 2}}),
        ("tools/call", {"name": "get_plugin", "arguments": {"name": "writing-tools@example"}}),
        ("tools/call", {"name": "fetch_skill", "arguments": {"name": "writing-tools@example/conventional-commits"}}),
        ("tools/call", {"name": "check_updates", "arguments": {"installed": [{"name": "writing-tools@example", "version": "1.0.0"}, {"name": "gone", "digest": "sha256:00"}]}}),
        ("resources/list", {"cursor": "x"}),
        ("resources/templates/list", {}),
        ("resources/read", {"uri": "skill://example/writing-tools/conventional-commits/SKILL.md"}),
        ("resources/directory/read", {"uri": "skill://example/writing-tools/conventional-commits/references/"}),
        ("skills/list", {}),
        ("skills/get", {"uri": "skill://example/writing-tools/release-notes/SKILL.md"}),
        ("logging/setLevel", {"level": "info"}),
        ("ping", None),
        ("prompts/list", {"cursor": "sp1.5eec"}),
        ("prompts/get", {"name": "example.writing-tools.conventional-commits", "arguments": {"request": "a fix"}}),
    ]
    for i, (method, params) in enumerate(handshake):
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        write(t, f"h{i:02}-{method.replace('/', '_')}", bytes([0x20]) + compact(msg))
    # Stateless era: version header 2026-07-28 (5), Mcp-Method (8), Mcp-Name (16).
    for i, (method, params) in enumerate([("server/discover", {}), ("tools/call", {"name": "list_plugins", "arguments": {}}),
                                          ("resources/read", {"uri": "skill://example/brand-kit/brand-voice/assets/logo.png"}),
                                          ("prompts/get", {"name": "example.brand-kit.brand-voice"})]):
        msg = {"jsonrpc": "2.0", "id": f"m{i}", "method": method, "params": dict(params, _meta=meta)}
        write(t, f"m{i}-{method.replace('/', '_')}", bytes([5 | 8 | 16 | 128]) + compact(msg))
    write(t, "notification", bytes([0]) + b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    write(t, "response", bytes([0]) + b'{"jsonrpc":"2.0","id":3,"result":{}}')


def oauth_seeds():
    t = "oauth_params"
    cb = "https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback"
    write(t, "authorize", b"\x00response_type=code&client_id=$CID&redirect_uri=" + cb.encode() +
          b"&code_challenge=$CHAL&code_challenge_method=S256&state=xyz&scope=mcp+openid"
          b"&resource=https%3A%2F%2Fskills.example.com%2Fmcp")
    write(t, "authorize-loopback", b"\x00client_id=public-client&redirect_uri=http%3A%2F%2Flocalhost%3A6274%2Foauth%2Fcallback%3Fx%3D1"
          b"&response_type=token&code_challenge_method=plain")
    write(t, "register", b"\x01" + compact({
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:3000/cb"],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "client_name": "Claude", "scope": "mcp"}))
    write(t, "cimd", b"\x02https://client.example.com/oauth/metadata.json\n" + compact({
        "client_id": "https://client.example.com/oauth/metadata.json", "client_name": "C",
        "redirect_uris": ["https://client.example.com/cb"], "token_endpoint_auth_method": "none"}))
    write(t, "redirect-uri", b"\x02http://[::1]:8080/callback\n{}")
    write(t, "token-code", b"\x03\ngrant_type=authorization_code&client_id=$CID&code=$CODE&code_verifier=$VERIFIER&redirect_uri=" + cb.encode())
    write(t, "token-basic", b"\x03Basic $BASIC\ngrant_type=authorization_code&code=$CODE2&code_verifier=$VERIFIER&redirect_uri=" + cb.encode()
          + b"&resource=https%3A%2F%2Fskills.example.com%2Fmcp")
    write(t, "token-refresh", b"\x03\ngrant_type=refresh_token&client_id=$CID&refresh_token=$REFRESH")
    write(t, "revoke-secret", b"\x03Bearer $ACCESS\nclient_id=$CONF&client_secret=$SECRET&token=$ACCESS")
    write(t, "consent", b"\x04$COOKIE; other=1\npending=p1&csrf=$CSRF&decision=approve")
    # The whole App: request line, Authorization, Cookie, body.
    write(t, "app-register", b"\x05POST /register\n\n\n" + compact({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}))
    write(t, "app-authorize", b"\x05GET /authorize?response_type=code&client_id=https%3A%2F%2Fclient.example.com%2Fm.json&redirect_uri=" + cb.encode()
          + b"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s\n\n\n")
    write(t, "app-token", b"\x05POST /token\nBasic YTpi\n\ngrant_type=authorization_code&code=x&code_verifier=y&redirect_uri=" + cb.encode())
    write(t, "app-consent", b"\x05POST /consent\n\n__Host-skillport_consent=x.y\npending=p&csrf=c&decision=approve")
    write(t, "app-callback", b"\x05GET /callback?code=c&state=s\n\n\n")
    write(t, "app-well-known", b"\x05GET /.well-known/oauth-protected-resource/mcp\n\n\n")
    write(t, "app-mcp", b"\x05POST /mcp\nBearer abc\n\n{}")


def archive_seeds():
    t = "archive"
    files = {}
    for folder, _, names in os.walk(EXAMPLE):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.getsize(path) <= 2048:
                files[os.path.relpath(path, EXAMPLE)] = read(path)
    small = dict(sorted(files.items())[:4])

    def tar_gz(entries, top="o-r-abc123/"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            d = tarfile.TarInfo(top.rstrip("/"))
            d.type = tarfile.DIRTYPE
            tar.addfile(d)
            for path, data in entries.items():
                info = tarfile.TarInfo(top + path)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo(top + "link")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
        return gzip.compress(buf.getvalue(), mtime=0)

    def zip_of(entries, top=""):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path, data in entries.items():
                z.writestr(zipfile.ZipInfo(top + path, (1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
            z.writestr(zipfile.ZipInfo(top + "dir/", (1980, 1, 1, 0, 0, 0)), b"")
        return buf.getvalue()

    # Selector byte: bit 0 format (0 tar.gz, 1 zip), bits 1-2 top folder (0 strip, 1 if single, 2 keep), bits 3-4 limits.
    write(t, "tar-strip", bytes([0b00000]) + tar_gz(small))
    write(t, "tar-keep-small-limits", bytes([0b01100]) + tar_gz(small, top="x/"))
    write(t, "zip-single", bytes([0b00011]) + zip_of(small, top="mk/"))
    write(t, "zip-flat-keep", bytes([0b00101]) + zip_of(small))
    write(t, "zip-tiny-limits", bytes([0b11101]) + zip_of({"a": b"x" * 50, "b": b"y" * 70, "c": b"z"}))


def main():
    targets = sys.argv[1:] or ["marketplace_json", "plugin_json", "skill_frontmatter", "jsonrpc", "oauth_params", "archive"]
    makers = {"marketplace_json": marketplace_seeds, "plugin_json": plugin_seeds, "skill_frontmatter": skill_seeds,
              "jsonrpc": jsonrpc_seeds, "oauth_params": oauth_seeds, "archive": archive_seeds}
    for t in targets:
        makers[t]()
    print("seeds written for:", " ".join(targets))


if __name__ == "__main__":
    main()
