"""The grant store under token churn: what rotating refresh tokens leaves behind in the `GRANTS` Durable Object, and
what its alarm sweeps away once it has expired.

Read from the local Durable Object storage wrangler dev keeps on disk (SQLite, the `_cf_KV` table of the storage API),
so this test knows that layout; it skips if the layout is not found.
"""

import glob
import shutil
import sqlite3
import time

import pytest

from harness import oauth_grants
from support.oauth import Raw, pkce

REFRESHES = 200


def keys_by_kind(worker, tmp_path) -> dict[str, int] | None:
    """Key counts by prefix (`access`, `refresh`, `grant`...) of the grant store, from a copy of its SQLite files."""
    copy = tmp_path / f"grants-{time.monotonic_ns()}"
    copy.mkdir()
    for f in glob.glob(str(worker.state / "v3" / "do" / "*-GrantStoreObject" / "*")):
        shutil.copy(f, copy)
    counts = None
    for db in copy.glob("*.sqlite"):
        if db.name == "metadata.sqlite":
            continue
        con = sqlite3.connect(db)
        try:
            rows = con.execute("SELECT key FROM _cf_KV").fetchall()
        except sqlite3.Error:
            rows = None
        con.close()
        if rows is None:
            continue
        counts = counts or {}
        for (key,) in rows:
            kind = str(key).split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_expired_access_tokens_do_not_pile_up_in_the_grant_store(start_worker, tmp_path, report):
    w = start_worker({"SKILLPORT_AUTH__ACCESS_TTL_SECONDS": "1"}, name="storage", open=False)
    client_id, (tokens,) = oauth_grants(w.base, 1)
    raw = Raw(w.base)
    refresh = tokens["refresh_token"]
    before = keys_by_kind(w, tmp_path)
    if before is None:
        pytest.skip("no local grant-store SQLite found (wrangler's storage layout changed?)")
    for _ in range(REFRESHES):
        r = raw.token(grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
        assert r.status_code == 200, r.text
        refresh = r.json()["refresh_token"]
    time.sleep(2.5)  # every access token but the next one has expired
    r = raw.token(grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
    assert r.status_code == 200, r.text
    time.sleep(1)
    after = keys_by_kind(w, tmp_path)
    disk = w.storage_bytes()
    report.add("Grant store under token churn", [
        f"`auth.access_ttl_seconds` = 1; one grant refreshed {REFRESHES + 1} times, then every access token but "
        f"the last has expired. Keys in the GRANTS Durable Object by kind: before {before}, after {after}; "
        f"{disk / 1024:,.0f} KiB on disk (SQLite + WAL). Each rotation deletes the access token of the refresh token "
        "that leaves the grant, so two remain (the current one and the previous one's); superseded refresh tokens "
        "stay until their own expiry (30 days here), so that presenting one still revokes the grant, and the "
        "alarm's sweep deletes them then (next test)."])
    assert after.get("access", 0) <= 2, after
    # The superseded refresh tokens are still known: the first one is now a replay, which revokes the grant.
    r = raw.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = raw.token(grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
    assert r.status_code == 400, "the replay revoked the grant"


#: Short lifetimes, and a sweep every second. Each lifetime is seconds, yet long enough that what the test does with a
#: code or token before it expires (redeem a code just issued, use an access token just issued, replay a refresh token
#: superseded two rotations ago) still happens in time on a machine loaded by whatever ran before: the test asserts
#: what the sweep removes and spares, not how fast this machine is. (A code lifetime of 1 s once expired between
#: /authorize and /token on a loaded machine.)
CODE_TTL, ACCESS_TTL, REFRESH_TTL = 8, 4, 10
SWEEP_VARS = {"SKILLPORT_AUTH__CODE_TTL_SECONDS": str(CODE_TTL), "SKILLPORT_AUTH__ACCESS_TTL_SECONDS": str(ACCESS_TTL),
              "SKILLPORT_AUTH__REFRESH_TTL_SECONDS": str(REFRESH_TTL), "SKILLPORT_AUTH__SWEEP_SECONDS": "1"}
#: Rotations of the grant kept alive across the sweeps (about one a second).
LIVE_ROTATIONS = 8
#: src/oauth/store/records.rs GRANT_SWEEP_MARGIN_SECONDS: a grant is kept this long after its last code or token expired.
GRANT_MARGIN = 30
#: Codes never redeemed (each leaves a code and a grant): enough records that a pass takes more than one alarm step
#: (src/platform/grants.rs SWEEP_STEP, 500 records), so the continuation after the stored cursor is exercised too.
UNREDEEMED = 300


def wait_for(worker, tmp_path, done, timeout: float) -> tuple[dict[str, int], float]:
    """Polls the store's key counts until `done(counts)`, or `timeout` seconds; returns the last counts and when."""
    t0 = time.monotonic()
    while True:
        counts = keys_by_kind(worker, tmp_path) or {}
        took = time.monotonic() - t0
        if done(counts) or took > timeout:
            return counts, took
        time.sleep(0.5)


def test_the_alarm_sweeps_expired_records_and_spares_live_ones(start_worker, tmp_path, report):
    """Codes, tokens and grants with lifetimes of seconds and a sweep every second (`auth.sweep_seconds`): what has
    expired disappears from the Durable Object's storage, while a grant kept alive by refreshing keeps working through
    the sweeps, and a superseded refresh token of it still revokes it when presented."""
    w = start_worker(SWEEP_VARS, name="sweep", open=False)
    client_id, grants = oauth_grants(w.base, 5)
    raw = Raw(w.base)
    for t in grants:  # rotated twice each: superseded refresh tokens, and access tokens dropped on rotation
        refresh = t["refresh_token"]
        for _ in range(2):
            r = raw.token(grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
            assert r.status_code == 200, r.text
            refresh = r.json()["refresh_token"]
    for _ in range(UNREDEEMED):
        raw.code(client_id, pkce()[1])
    issued = keys_by_kind(w, tmp_path)
    if issued is None:
        pytest.skip("no local grant-store SQLite found (wrangler's storage layout changed?)")

    # A sixth grant kept alive across the sweeps: refreshed about every second (its refresh tokens live
    # REFRESH_TTL s), each new access token used at once.
    live_client, (live,) = oauth_grants(w.base, 1)
    chain, issued_at = [live["refresh_token"]], [time.monotonic()]
    for _ in range(LIVE_ROTATIONS):
        r = raw.token(grant_type="refresh_token", refresh_token=chain[-1], client_id=live_client)
        assert r.status_code == 200, r.text
        chain.append(r.json()["refresh_token"])
        issued_at.append(time.monotonic())
        assert raw.mcp(r.json()["access_token"]).status_code == 200
        time.sleep(1)
    # The refresh token superseded two rotations ago is gone from the grant and still known (unexpired: checked, so
    # that a machine too slow for the lifetimes fails here, saying so, rather than passing for the wrong reason).
    assert time.monotonic() - issued_at[-3] < REFRESH_TTL - 1, "too slow for the refresh lifetime"
    replay = raw.token(grant_type="refresh_token", refresh_token=chain[-3], client_id=live_client)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text
    dead = raw.token(grant_type="refresh_token", refresh_token=chain[-1], client_id=live_client)
    assert dead.status_code == 400, "the replay revoked the grant"

    # Every token and unredeemed code expires (the last refresh token REFRESH_TTL s after it was issued); what
    # remains is each grant (kept GRANT_MARGIN seconds past its last token), the codes redeemed for them, the clients
    # (kept a day past their grants' last token), the hour's two new-client counters (this address's and everyone's)
    # and the tally of clients.
    expired, t_tokens = wait_for(w, tmp_path, lambda c: not c.get("access") and not c.get("refresh")
                                 and c.get("code") == 6, REFRESH_TTL + 20)
    assert not expired.get("access") and not expired.get("refresh"), expired
    assert expired.get("code") == 6 and 6 <= expired.get("grant", 0) <= 6 + UNREDEEMED, expired
    gone, t_grants = wait_for(w, tmp_path, lambda c: not c.get("grant") and not c.get("code"), GRANT_MARGIN + 30)
    assert gone == {"client": 2, "count": 3}, gone
    report.add("Grant store sweep", [
        f"`auth.code_ttl_seconds` {CODE_TTL}, `access_ttl_seconds` {ACCESS_TTL}, `refresh_ttl_seconds` "
        f"{REFRESH_TTL}, `sweep_seconds` 1. Five grants "
        f"refreshed twice each, {UNREDEEMED} codes never redeemed (more records than one alarm step reads), and a "
        f"sixth grant refreshed {LIVE_ROTATIONS} times about a second apart (each access token used at once: all "
        "answered 200 while the alarm swept every second; then a superseded refresh token of it, presented, revoked "
        "it). Keys by kind after "
        f"issuing: {issued}; {t_tokens:.0f} s later (every token expired): {expired}; {t_tokens + t_grants:.0f} s "
        f"later (grants past their {GRANT_MARGIN} s margin): {gone}."])
