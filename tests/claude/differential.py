"""The differential against Claude Code: what Claude Code itself installs from a local marketplace folder, compared
with what the connector serves from the same folder.

Claude Code (pinned in tests/claude/package.json, its native binary run directly) is the reference: for each plugin
entry it is asked to install (`claude plugin install NAME@MARKET`), and for each plugin it installs, `claude plugin
details` gives the skills it found and `claude plugin list --json` the version it recorded. The connector's side is its
own loading code, run natively on the same folder (`skillport catalogue --dir DIR --json`: the Worker's
`load_marketplace_lean` and catalogue entry), never a re-statement of the rules here.

Agreement, per entry:
- Claude Code installs it  => the connector serves it (status `servable`), with exactly the same skill names (Claude
  Code counts a plugin's commands as skills, so the connector's skills and commands together), and the same version
  (Claude Code's `unknown` is the connector's no version);
- Claude Code refuses it    => the connector does not serve it as installable.

Claude Code runs with a throw-away HOME, no telemetry or auto-update, and every proxy variable pointing at a closed
port, so a plugin from a network source fails at once instead of reaching out. `compare(DIR)` takes any marketplace
folder, so another tree (an export, say) joins the differential with one line in test_differential.py.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CLAUDE_VERSION = json.loads((HERE / "package.json").read_text())["dependencies"]["@anthropic-ai/claude-code"]


def claude_binary() -> Path:
    """The platform package's native `claude` (npm's optional dependency for this machine)."""
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), platform.system().lower())
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    musl = "-musl" if system == "linux" and not Path("/lib64/ld-linux-x86-64.so.2").exists() and machine == "x64" else ""
    return HERE / "node_modules" / "@anthropic-ai" / f"claude-code-{system}-{machine}{musl}" / "claude"


def skillport_binary() -> Path:
    """The admin command line, built once (`cargo build --features cli`), like `cargo skillport`."""
    subprocess.run(["cargo", "build", "--quiet", "--features", "cli", "--bin", "skillport"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "skillport"


def connector(skillport: Path, folder: Path) -> dict:
    """What the connector serves from `folder`: `skillport catalogue --dir` (exit 1 only when the marketplace file
    itself cannot be loaded, which the JSON says)."""
    run = subprocess.run([str(skillport), "catalogue", "--dir", str(folder), "--json"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)


class Claude:
    """One Claude Code with its own throw-away HOME."""

    def __init__(self, binary: Path):
        self.binary = binary
        self.home = Path(tempfile.mkdtemp(prefix="claude-home-"))
        closed = "http://127.0.0.1:9"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "TMPDIR": str(self.home),
            "LANG": "C.UTF-8",
            "COLUMNS": "100000",
            "CI": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "https_proxy": closed, "http_proxy": closed,
            "ALL_PROXY": closed, "NO_PROXY": "", "no_proxy": "",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], env=self.env, cwd=self.home, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)


@dataclass
class Outcome:
    """One entry compared: what each side did and whether they agree."""
    plugin: str
    claude: str  # "installed" or "refused: <message>"
    connector: str  # "servable" or the connector's status and reason
    agree: bool
    why: str = ""


@dataclass
class Report:
    label: str
    marketplace: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    #: Entries from the network, not asked for offline.
    skipped: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.agree]


_SKILLS_LINE = re.compile(r"^[ \t]*Skills \((\d+)\)[ \t]*([^\n]*)$", re.M)


def details_skills(text: str) -> list[str]:
    """The skill names of `claude plugin details`' inventory line `Skills (3)  a, b, c`."""
    m = _SKILLS_LINE.search(text)
    assert m, text
    names = [n.strip() for n in m.group(2).split(",") if n.strip()]
    assert len(names) == int(m.group(1)), text
    return sorted(names)


def _add(claude: Claude, folder: Path) -> tuple[str | None, str]:
    """Adds the marketplace at `folder`: its name, or None and Claude Code's reason."""
    added = claude.run("plugin", "marketplace", "add", str(folder.resolve()), "--json")
    last = (added.stdout.strip().splitlines() or ["{}"])[-1]
    result = json.loads(last) if last.startswith("{") else {}
    if added.returncode != 0 or result.get("outcome") != "ok":
        return None, result.get("message") or added.stderr.strip() or added.stdout.strip()
    return result["marketplace"], ""


def _install(claude_bin: Path, folder: Path, names: list[str]) -> dict[str, tuple[bool, object]]:
    """In a Claude Code of its own: installs each of `names`; per name (True, (skills, version)) or (False, reason)."""
    claude = Claude(claude_bin)
    try:
        market, why = _add(claude, folder)
        assert market, why
        out: dict[str, tuple[bool, object]] = {}
        for name in names:
            run = claude.run("plugin", "install", f"{name}@{market}", "--json")
            lines = [line for line in run.stdout.strip().splitlines() if line.startswith("{")]
            answer = json.loads(lines[-1]) if lines else {}
            if run.returncode == 0 and answer.get("outcome") == "ok":
                details = claude.run("plugin", "details", f"{name}@{market}")
                if details.returncode == 0:
                    out[name] = (True, details_skills(details.stdout))
                else:
                    out[name] = (False, "installed, but does not load: " + (details.stdout + details.stderr).strip())
            else:
                out[name] = (False, answer.get("message") or run.stderr.strip() or run.stdout.strip())
        listing = json.loads(claude.run("plugin", "list", "--json").stdout)
        mine = {item["id"].rsplit("@", 1)[0]: item for item in listing if item["id"].endswith(f"@{market}")}
        return {n: (ok, (v, mine.get(n, {}).get("version")) if ok else v) for n, (ok, v) in out.items()}
    finally:
        claude.close()


def compare(folder: Path, label: str, skillport: Path, claude_bin: Path, workers: int = 2) -> Report:
    """Installs every entry of the marketplace at `folder` with Claude Code and compares with the connector."""
    report = Report(label)
    served = connector(skillport, folder)
    plugins = served["plugins"]
    claude = Claude(claude_bin)
    try:
        market, why = _add(claude, folder)
    finally:
        claude.close()
    if market is None:
        report.marketplace = "(refused)"
        # Claude Code refuses the whole marketplace: the connector must serve none of it.
        for p in plugins:
            ok = p["status"] != "servable"
            report.outcomes.append(Outcome(p["plugin"], f"refused (marketplace): {why}", _status(p), ok,
                                           "" if ok else "Claude Code refuses the marketplace; the connector serves this plugin"))
        if not plugins:
            loaded = served["marketplaces"][0]
            report.outcomes.append(Outcome("(marketplace)", f"refused: {why}",
                                           loaded.get("loadError") or "loaded, no plugins", True))
        return report
    report.marketplace = market
    # A second entry of the same name, or one without a name, has no id of its own to install by. An entry from the
    # network (another repository, a package) is not asked for: offline Claude Code can only fail to fetch it, and the
    # connector serves it only once fetched, which a local folder never is. Such entries are counted as skipped.
    names = list(dict.fromkeys(p["plugin"] for p in plugins if not p["plugin"].startswith("#") and not _remote(p)))
    shares = [names[i::workers] for i in range(workers)] if len(names) > 30 else [names]
    with ThreadPoolExecutor(len(shares)) as pool:
        results: dict[str, tuple[bool, object]] = {}
        for part in pool.map(lambda share: _install(claude_bin, folder, share), shares):
            results.update(part)
    by_name: dict[str, list[dict]] = {}
    for p in plugins:
        by_name.setdefault(p["plugin"], []).append(p)
    for name, entries in by_name.items():
        servable = [p for p in entries if p["status"] == "servable"]
        if name not in results and all(_remote(p) for p in entries):
            report.skipped.append(name)
            continue
        ok, value = results.get(name, (False, "no name to install it by"))
        if ok:
            claude_skills, claude_version = value
            claude_says = f"installed: skills {claude_skills}, version {claude_version}"
            if len(servable) != 1:
                report.outcomes.append(Outcome(name, claude_says, _status(entries[0]), False,
                                               f"Claude Code installs it; the connector serves {len(servable)} plugin(s) of that name"))
                continue
            p = servable[0]
            ours = sorted([s["name"] for s in p["skills"]] + list(p.get("commands", [])))
            our_version = p.get("version") or "unknown"
            problems = []
            if ours != claude_skills:
                problems.append(f"skills: connector {ours}, Claude Code {claude_skills}")
            if our_version != claude_version:
                problems.append(f"version: connector {our_version}, Claude Code {claude_version}")
            report.outcomes.append(Outcome(name, claude_says, f"servable: skills {ours}, version {our_version}",
                                           not problems, "; ".join(problems)))
        else:
            report.outcomes.append(Outcome(name, f"refused: {value}", _status(entries[0]), not servable,
                                           "" if not servable else "Claude Code refuses it; the connector serves it"))
    return report


def _remote(p: dict) -> bool:
    """An entry whose source is not a folder of the marketplace, and that the connector does not serve."""
    kind = (p.get("source") or {}).get("kind")
    return kind not in (None, "relative") and p["status"] != "servable"


def _status(p: dict) -> str:
    if p["status"] == "servable":
        return f"servable: skills {sorted(s['name'] for s in p['skills'])}"
    return f"{p['status']}: {p.get('reason', '')}"


def known_differences(path: Path = HERE / "known-differences.md") -> set[tuple[str, str]]:
    """The listed exceptions: table rows `| <label> | <plugin> | reason |` of known-differences.md."""
    out = set()
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and cells[0] not in ("marketplace", "") and not set(cells[0]) <= set("-: "):
            out.add((cells[0].strip("`"), cells[1].strip("`")))
    return out
