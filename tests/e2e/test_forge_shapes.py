"""Keeps the GitHub stand-in honest: its answers for every endpoint the GitHub source uses are validated against
GitHub's published OpenAPI description (@octokit/openapi, api.github.com, dereferenced)."""

import json
import subprocess
import urllib.request
from functools import lru_cache

import jsonschema
import pytest

from conftest import PEERS
from test_sources import Forge, make_repo

SPEC = PEERS / "node_modules/@octokit/openapi/generated/api.github.com.deref.json"


@lru_cache(maxsize=1)
def spec():
    return json.loads(SPEC.read_text())


def to_json_schema(node):
    """OpenAPI 3.0 schemas say `nullable: true` where JSON Schema says `type: [t, "null"]`."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable"):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
        if "allOf" in out or "oneOf" in out or "anyOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def schema_for(path, status="200", media="application/json"):
    op = spec()["paths"][path]["get"]
    return to_json_schema(op["responses"][status]["content"][media]["schema"])


@pytest.fixture(scope="module")
def gh(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_repo(root / "github" / "acme" / "plugins", "acme-github")
    f = Forge(root)
    yield f
    f.stop()


def get(forge, path, accept="application/vnd.github+json"):
    req = urllib.request.Request(forge.base + path, headers={"accept": accept, "user-agent": "skillport-test"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_repository(gh):
    status, body = get(gh, "/repos/acme/plugins")
    assert status == 200
    jsonschema.validate(json.loads(body), schema_for("/repos/{owner}/{repo}"))


def test_commit_json_and_sha(gh):
    status, body = get(gh, "/repos/acme/plugins/commits/HEAD")
    assert status == 200
    commit = json.loads(body)
    jsonschema.validate(commit, schema_for("/repos/{owner}/{repo}/commits/{ref}"))
    status, sha = get(gh, "/repos/acme/plugins/commits/HEAD", accept="application/vnd.github.sha")
    assert status == 200 and sha.decode() == commit["sha"] and len(sha) == 40


def test_tree_and_blob(gh):
    _, sha = get(gh, "/repos/acme/plugins/commits/HEAD", accept="application/vnd.github.sha")
    status, body = get(gh, f"/repos/acme/plugins/git/trees/{sha.decode()}?recursive=1")
    assert status == 200
    tree = json.loads(body)
    jsonschema.validate(tree, schema_for("/repos/{owner}/{repo}/git/trees/{tree_sha}"))
    blob_sha = next(e["sha"] for e in tree["tree"] if e["type"] == "blob")
    status, body = get(gh, f"/repos/acme/plugins/git/blobs/{blob_sha}")
    assert status == 200
    jsonschema.validate(json.loads(body), schema_for("/repos/{owner}/{repo}/git/blobs/{file_sha}"))


def test_not_found_is_githubs_basic_error(gh):
    status, body = get(gh, "/repos/acme/missing")
    assert status == 404
    jsonschema.validate(json.loads(body), schema_for("/repos/{owner}/{repo}", "404"))
