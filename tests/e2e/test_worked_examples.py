"""The worked examples of examples/*/skillport.toml, end to end in workerd with ONE build: each runs by handing its
file to the worker as SKILLPORT_ADMIN_TOML, with only what must point at this machine's stand-ins overridden by
Worker vars (the public URL, the provider's issuer and client id, the marketplaces' API bases). The identity
provider is oidc-provider (tests/standins/idp.mjs) in the profile the example's provider kind needs; marketplaces
are real git repositories behind the GitHub/GitLab/HTTPS stand-in (tests/standins/forge.py), private ones behind a
token. The client is the Python SDK's OAuth client with a scripted browser signing in as different users."""

import shutil

import pytest

from support.browser import Browser
from support.forge import Forge, make_repo
from support.idps import OidcIdP
from support.oauth import connect_as, sign_in_page
from support.worker import ROOT, free_port

pytestmark = pytest.mark.anyio

EXAMPLES = ROOT / "examples"
TOKEN = "forge-token-0123"
SECRETS = {"OAUTH_KEY": "worked-example-master-key-0123456789abcdef", "GITHUB_TOKEN": TOKEN, "GITLAB_TOKEN": TOKEN}


def example_worker(start_worker, name: str, profile: str, marketplaces: str, tmp_path, **auth_vars):
    port = free_port()
    idp = OidcIdP(profile, redirect_uris=[f"http://127.0.0.1:{port}/callback"],
                  issuer_path="/" if profile == "auth0" else "")
    secret = {"google-workspace": "GOOGLE_CLIENT_SECRET", "aggregator": "OKTA_CLIENT_SECRET",
              "repointed": "AUTH0_CLIENT_SECRET"}[name]
    vars = {
        "SKILLPORT_ADMIN_TOML": (EXAMPLES / name / "skillport.toml").read_text(),
        "SKILLPORT_AUTH__ISSUER": idp.issuer,
        "SKILLPORT_AUTH__CLIENT_ID": idp.client_id,
        "SKILLPORT_MARKETPLACES": marketplaces,
        secret: idp.client_secret,
        **SECRETS,
        **auth_vars,
    }
    return idp, start_worker(vars, name=f"example-{name}", open=False, port=port)


def names(listed):
    return sorted(p["name"] for p in listed["plugins"])


async def test_google_workspace_private_github_marketplace_for_the_domain(start_worker, tmp_path):
    root = tmp_path / "repos"
    make_repo(root / "github" / "acme" / "claude-plugins", "acme-private")
    forge = Forge(root, token=TOKEN)
    try:
        marketplaces = (f'[{{id="acme",kind="github",location="acme/claude-plugins",ref="main",'
                        f'token_secret="GITHUB_TOKEN",api_base="{forge.base}"}}]')
        idp, worker = example_worker(start_worker, "google-workspace", "google", marketplaces, tmp_path)
        try:
            listed, _ = await connect_as(worker, Browser(), "ada", "ada-password")
            assert listed["total"] == 3, listed
            assert all(n.endswith("@acme") for n in names(listed))
            # bob's Google account has no Workspace domain (`hd`): refused at sign-in.
            refused = sign_in_page(worker, Browser(), "bob", "bob-password")
            assert refused.status == 403 and "not allowed" in refused.page
            assert "Acme Skills" in worker.logs()
        finally:
            idp.stop()
    finally:
        forge.stop()


async def test_aggregator_merges_three_hosts_with_access_by_group(start_worker, tmp_path):
    root = tmp_path / "repos"
    make_repo(root / "github" / "example-org" / "plugins", "engineering")
    make_repo(root / "gitlab" / "platform" / "claude-skills", "platform")
    shutil.copytree(ROOT / "examples" / "marketplace", root / "static" / "vendor")
    forge = Forge(root, token=TOKEN)
    try:
        marketplaces = "[" + ",".join([
            f'{{id="engineering",kind="github",location="example-org/plugins",token_secret="GITHUB_TOKEN",'
            f'api_base="{forge.base}"}}',
            f'{{id="platform",kind="gitlab",location="platform/claude-skills",token_secret="GITLAB_TOKEN",'
            f'api_base="{forge.base}/api/v4"}}',
            f'{{id="vendor",kind="https",location="{forge.base}/archive/vendor.zip"}}',
        ]) + "]"
        idp, worker = example_worker(start_worker, "aggregator", "generic", marketplaces, tmp_path)
        try:
            # ada is in eng and admins: all three marketplaces, merged, qualified names.
            ada, _ = await connect_as(worker, Browser(), "ada", "ada-password")
            assert {n.split("@")[1] for n in names(ada)} == {"engineering", "platform", "vendor"}, names(ada)
            # bob is in sales: the engineering marketplace only; the others answer as if they did not exist.
            bob, _ = await connect_as(worker, Browser(), "bob", "bob-password")
            assert {n.split("@")[1] for n in names(bob)} == {"engineering"}, names(bob)
            # The deployment serves the chat surfaces only.
            assert "surfaces claude-desktop,claude-ai" in worker.logs() or "claude-ai" in worker.logs()
        finally:
            idp.stop()
    finally:
        forge.stop()


async def test_repointed_auth0_and_other_marketplaces_with_the_same_build(start_worker, tmp_path):
    root = tmp_path / "repos"
    make_repo(root / "github" / "widgets-oss" / "claude-marketplace", "community")
    shutil.copytree(ROOT / "examples" / "marketplace", root / "static" / "handbook")
    forge = Forge(root, token=TOKEN)
    try:
        marketplaces = "[" + ",".join([
            f'{{id="community",kind="github",location="widgets-oss/claude-marketplace",api_base="{forge.base}",'
            f'token_secret="GITHUB_TOKEN"}}',
            f'{{id="handbook",kind="https",location="{forge.base}/archive/handbook.zip"}}',
        ]) + "]"
        idp, worker = example_worker(start_worker, "repointed", "auth0", marketplaces, tmp_path)
        try:
            listed, _ = await connect_as(worker, Browser(), "ada", "ada-password")
            assert {n.split("@")[1] for n in names(listed)} == {"community", "handbook"}
            assert "auth0" in worker.logs() and "Widgets Skills" in worker.logs()
        finally:
            idp.stop()
    finally:
        forge.stop()
