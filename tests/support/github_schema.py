"""GitHub's published OpenAPI description (@octokit/openapi, api.github.com, dereferenced, installed by
tests/peers) as JSON Schemas, to keep the GitHub stand-ins' answers honest."""

from __future__ import annotations

import json
from functools import lru_cache

from support.worker import PEERS

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
    """The JSON Schema of GET `path`'s `status` answer."""
    op = spec()["paths"][path]["get"]
    return to_json_schema(op["responses"][status]["content"][media]["schema"])
