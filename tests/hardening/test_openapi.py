"""Property-based testing of /register, /token and /revoke from their OpenAPI description, tests/openapi/oauth.yaml:
schemathesis generates requests that conform to it and requests that break it (wrong types, missing and extra
fields, odd strings), and every answer must be no 5xx, a status code the description documents, and a body, content
type and headers as described.

Bounded: a fixed number of examples per endpoint and per mode (HARDEN_OPENAPI_EXAMPLES, default 40), a deadline per
request, a fixed seed (so a run is reproducible and a failure is replayed). Against one signed worker of its own (the
registration limit, 300 an hour from one address, must not refuse the other tests' registrations). Half of the
generated token and revocation requests carry a real client id, and some a real code or refresh token, so that the
search gets past client authentication into the grant logic.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from harness import ROOT, HardWorker
from support.oauth import Raw, pkce

SCHEMA = schemathesis.openapi.from_path(ROOT / "tests" / "openapi" / "oauth.yaml")
EXAMPLES = int(os.environ.get("HARDEN_OPENAPI_EXAMPLES", "40"))


class Real:
    """A real client and, on demand, real codes and refresh tokens of it."""

    def __init__(self, w: HardWorker):
        self.w = w
        self.raw = Raw(w.base)
        self.client = self.raw.client()
        self.n = 0

    def code(self) -> str:
        return self.raw.code(self.client, pkce()[1])

    def refresh(self) -> str:
        verifier, challenge = pkce()
        r = self.raw.redeem(self.client, self.raw.code(self.client, challenge), verifier)
        assert r.status_code == 200, r.text
        return r.json()["refresh_token"]


@pytest.fixture(scope="module")
def real():
    w = HardWorker(name="openapi", open=False)
    yield Real(w)
    w.stop()


def with_real_values(case, real: Real):
    """Every other token or revocation request names the real client; every fourth also carries a real code or
    refresh token in place of the generated one."""
    if case.operation.path not in ("/token", "/revoke") or not isinstance(case.body, dict):
        return
    real.n += 1
    if real.n % 2:
        return
    case.body["client_id"] = real.client
    case.body.pop("client_secret", None)
    if real.n % 4 == 0:
        if case.operation.path == "/revoke":
            case.body["token"] = real.refresh()
        elif case.body.get("grant_type") == "refresh_token":
            case.body["refresh_token"] = real.refresh()
        else:
            case.body["code"] = real.code()
            case.body.setdefault("redirect_uri", "http://127.0.0.1:33418/callback")


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=15_000, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_oauth_endpoints_conform_to_their_description(case, real):
    with_real_values(case, real)
    # Every check but `positive_data_acceptance`: a request can match the description and still be refused rightly
    # (a well-formed but unknown code, token or client is invalid_grant or invalid_client), so conforming input is
    # not owed a 2xx here. Non-conforming input must still be refused (`negative_data_rejection`).
    response = case.call_and_validate(base_url=real.w.base, timeout=15,
                                      excluded_checks=[schemathesis.checks.positive_data_acceptance])
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_the_description_covers_the_three_endpoints():
    ops = {(op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations()}
    assert ops == {("POST", "/register"), ("POST", "/token"), ("POST", "/revoke")}, ops
