"""Keeps the GitHub stand-in honest: its answers for every endpoint the GitHub source uses are validated against
GitHub's published OpenAPI description (@octokit/openapi, api.github.com, dereferenced)."""

import json
import urllib.request

import jsonschema
import pytest

from support.forge import Forge, make_repo
from support.github_schema import schema_for


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
