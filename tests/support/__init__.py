"""What the Python suites (tests/e2e, tests/hardening, tests/claude) and the benchmarks (bench/*.py) share, so that no
test file imports another and no suite loads another's conftest.py:

- `worker`: the built worker in `wrangler dev` (`Worker`), free ports, process groups, the Node test peers.
- `forge`: marketplaces as git repositories and the forge stand-in serving them (`Forge`, `make_repo`, `settle`).
- `idps`: the identity provider stand-ins (`OidcIdP`: tests/standins/idp.mjs; `GitHubIdP`: forge.py's web flow).
- `browser`: the scripted browser that plays the user through sign-in and consent.
- `oauth`: PKCE, the hand-driven OAuth client `Raw`, the Python SDK's OAuth client, signing in through a provider.
- `mcp`: JSON-RPC bodies, Streamable HTTP headers per protocol era, one-request POSTs and tool calls, the Inspector.
- `github_schema`: GitHub's OpenAPI description as JSON Schemas, for the GitHub stand-ins' answers.

pytest finds this package through tests/conftest.py; scripts put tests/ on sys.path.
"""
