"""Claude Code as the reference implementation: the differential over the shared real marketplaces, the example
marketplace and the corpus (one small marketplace per rule of Claude Code's plugins reference, tests/claude/corpus/).
See differential.py for what is compared, and known-differences.md for the listed exceptions (where Claude Code is
the one outside its own documentation): the test allows exactly those.

Both exports of the configured sources (`skillport export git` and `skillport export claude-org`, the ZIPs unpacked
as Claude's organisation upload holds them) are compared too: what Skillport hands to Claude's own marketplaces must
install in Claude Code exactly as the connector serves it.

Another marketplace tree joins with one line in `marketplaces()`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from differential import HERE, ROOT, CLAUDE_VERSION, Claude, claude_binary, compare, known_differences, skillport_binary

SHARED = Path(os.environ.get("SKILLPORT_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "real-marketplaces"


def marketplace_file_only(name: str, scratch: Path) -> Path:
    """A fixture that is a marketplace.json alone, as a marketplace folder (its plugin folders absent). Renamed
    `fixture-<name>`: Claude Code accepts Anthropic's reserved marketplace names only from Anthropic's own GitHub
    repositories, a rule about where a marketplace comes from, not about its content, which is what is compared."""
    stem = name.removesuffix(".marketplace.json")
    folder = scratch / stem
    (folder / ".claude-plugin").mkdir(parents=True)
    manifest = json.loads((FIXTURES / name).read_text())
    manifest["name"] = "fixture-" + stem.replace("claude-", "").replace("anthropic-", "")
    (folder / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest, indent=1))
    return folder


def validate(folder: Path):
    """`claude plugin validate` accepts the tree (warnings allowed, no error)."""
    claude = Claude(claude_binary())
    try:
        run = claude.run("plugin", "validate", str(folder.resolve()))
    finally:
        claude.close()
    assert run.returncode == 0, f"claude plugin validate {folder}:\n{run.stdout}{run.stderr}"


def export_git(skillport: Path, scratch: Path) -> Path:
    """`skillport export git` of the configured sources (the repository's own configuration: the example marketplace)."""
    out = scratch / "export-git"
    run = subprocess.run([str(skillport), "export", "git", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    validate(out)
    return out


def export_claude_org(skillport: Path, scratch: Path) -> Path:
    """`skillport export claude-org`: one ZIP per plugin, unpacked into a marketplace of those plugins, as Claude's
    organisation upload holds them (each ZIP is one plugin, named by its plugin.json)."""
    zips = scratch / "export-org-zips"
    run = subprocess.run([str(skillport), "export", "claude-org", "--out", str(zips)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    folder = scratch / "export-org"
    entries = []
    for archive in sorted(zips.glob("*.zip")):
        target = folder / "plugins" / archive.stem
        with zipfile.ZipFile(archive) as z:
            z.extractall(target)
        validate(target)
        name = json.loads((target / ".claude-plugin" / "plugin.json").read_text())["name"]
        entries.append({"name": name, "source": f"./plugins/{archive.stem}"})
    assert entries, "the export wrote no ZIP"
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin" / "marketplace.json").write_text(json.dumps(
        {"name": "export-org", "owner": {"name": "Skillport export"}, "plugins": entries}, indent=1))
    return folder


def marketplaces(scratch: Path, skillport: Path) -> list[tuple[str, Path]]:
    assert FIXTURES.is_dir(), f"{FIXTURES}: the shared fixtures sit beside the repository (or set SKILLPORT_SHARED)"
    out = [
        ("fixture:claude-plugins-official", marketplace_file_only("claude-plugins-official.marketplace.json", scratch)),
        ("fixture:anthropic-agent-skills", marketplace_file_only("anthropic-agent-skills.marketplace.json", scratch)),
        ("fixture:skillport-marketplace", FIXTURES / "skillport-marketplace"),
        ("examples/marketplace", ROOT / "examples" / "marketplace"),
    ]
    out += [(f"corpus:{d.name}", d) for d in sorted((HERE / "corpus").iterdir()) if d.is_dir()]
    out += [("export:git", export_git(skillport, scratch)), ("export:claude-org", export_claude_org(skillport, scratch))]
    # Further trees (exports of the configured sources, say): SKILLPORT_DIFFERENTIAL_DIRS=label=DIR:label=DIR.
    for item in filter(None, os.environ.get("SKILLPORT_DIFFERENTIAL_DIRS", "").split(":")):
        label, _, folder = item.partition("=")
        out.append((label, Path(folder)))
    return out


def test_claude_code_and_the_connector_agree():
    binary = claude_binary()
    assert binary.exists(), f"{binary}: run `bash scripts/setup.sh --test` (installs tests/claude)"
    skillport = skillport_binary()
    scratch = Path(tempfile.mkdtemp(prefix="differential-"))
    try:
        reports = [compare(folder, label, skillport, binary) for label, folder in marketplaces(scratch, skillport)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    allowed = known_differences()
    found = {(r.label, o.plugin): o for r in reports for o in r.disagreements}
    outcomes = [o for r in reports for o in r.outcomes]
    installed = [o for o in outcomes if o.claude.startswith("installed")]
    print(f"\ndifferential against Claude Code {CLAUDE_VERSION}:")
    for r in reports:
        n_inst = sum(o.claude.startswith("installed") for o in r.outcomes)
        print(f"  {r.label:40} {len(r.outcomes):4} entries compared, {n_inst:3} installed by Claude Code, "
              f"{len(r.skipped):3} skipped (network source), {len(r.disagreements)} disagreement(s)")
        for o in r.disagreements:
            mark = "listed" if (r.label, o.plugin) in allowed else "NEW"
            print(f"    [{mark}] {o.plugin}: {o.why}\n        Claude Code: {o.claude}\n        connector:   {o.connector}")
    print(f"marketplaces: {len(reports)}; entries compared: {len(outcomes)} "
          f"(skipped, network sources: {sum(len(r.skipped) for r in reports)}); installed by Claude Code and compared "
          f"skill by skill: {len(installed)}; agreements: {sum(o.agree for o in outcomes)}; "
          f"disagreements: {len(found)} (listed exceptions: {len(allowed)})")
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "claude-differential.json").write_text(json.dumps(
        [{"label": r.label, "marketplace": r.marketplace, "outcomes": [o.__dict__ for o in r.outcomes],
          "skipped": r.skipped} for r in reports],
        indent=1))
    unexpected = sorted(set(found) - allowed)
    stale = sorted(allowed - set(found))
    assert not unexpected, f"disagreements with Claude Code not listed in known-differences.md: {unexpected}"
    assert not stale, f"known-differences.md lists differences that no longer occur: {stale}"
    # The differential must have compared something real on each side.
    assert len(installed) >= 20
    assert any(not o.claude.startswith("installed") for o in outcomes)
