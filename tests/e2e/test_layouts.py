"""Repository layouts other than a marketplace, end to end: the worker in workerd reads, through the GitHub, GitLab
and HTTPS stand-ins (tests/standins/forge.py), real git repositories that have no .claude-plugin/marketplace.json
(a single plugin, an anthropics/skills-style repository of skills, a GitLab project of top-level skill folders, an
archive of one plugin) and one that is nothing at all, and serves them through list_plugins, get_plugin and
fetch_skill as it serves any marketplace."""

import json
import subprocess
from pathlib import Path

import pytest
from mcp import Client

from support.forge import Forge, git

pytestmark = pytest.mark.anyio


def skill_md(name: str, description: str) -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\nDo the {name} thing.\n"


def write(root: Path, files: dict[str, str]):
    for path, text in files.items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def commit(repo: Path, files: dict[str, str]) -> str:
    write(repo, files)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "layout fixture")
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


SOLO = {
    ".claude-plugin/plugin.json": json.dumps({"name": "solo", "version": "0.3.0", "description": "One plugin."}),
    "skills/deploy/SKILL.md": skill_md("deploy", "Deploys the service."),
    "skills/deploy/checklist.md": "1. Tag.\n2. Ship.\n",
    "README.md": "# solo\n",
}
# As anthropics/skills lays out its skills (without its marketplace.json): one folder per skill under skills/.
SKILLS = {
    "skills/pdf/SKILL.md": skill_md("pdf", "Reads and fills PDF forms."),
    "skills/pdf/reference.md": "PDF reference.\n",
    "skills/docx/SKILL.md": skill_md("docx", "Writes Word documents."),
    "template/SKILL.md": skill_md("template", "A template skill."),
    "README.md": "# Skills\n",
}
LOOSE = {
    "lint/SKILL.md": skill_md("lint", "Lints the code."),
    "format/SKILL.md": skill_md("format", "Formats the code."),
    ".github/workflows/ci.yml": "on: push\n",
}


@pytest.fixture(scope="module")
def forge(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    shas = {
        "solo": commit(root / "github" / "acme" / "solo-plugin", SOLO),
        "skills": commit(root / "github" / "anthropics" / "skills", SKILLS),
        "loose": commit(root / "gitlab" / "tools" / "loose-skills", LOOSE),
        "nothing": commit(root / "github" / "acme" / "nothing", {"README.md": "# nothing\n", "docs/a.md": "a\n"}),
    }
    # An archive of a plugin without plugin.json: named after the marketplace.
    write(root / "static" / "bare-plugin", {"skills/notes/SKILL.md": skill_md("notes", "Takes notes."),
                                            "commands/note.md": "Take a note.\n"})
    f = Forge(root)
    f.shas = shas
    yield f
    f.stop()


def marketplaces(forge):
    return "[" + ",".join([
        f'{{id="solo",kind="github",location="acme/solo-plugin",api_base="{forge.base}"}}',
        f'{{id="skills",kind="github",location="anthropics/skills",api_base="{forge.base}",layout="skills"}}',
        f'{{id="skills-auto",kind="github",location="anthropics/skills",api_base="{forge.base}"}}',
        f'{{id="loose",kind="gitlab",location="tools/loose-skills",api_base="{forge.base}/api/v4"}}',
        f'{{id="bare",kind="https",location="{forge.base}/archive/bare-plugin.tar.gz",layout="plugin"}}',
        f'{{id="nothing",kind="github",location="acme/nothing",api_base="{forge.base}"}}',
    ]) + "]"


async def test_every_layout_is_served_as_a_marketplace(forge, start_worker):
    w = start_worker({"SKILLPORT_MARKETPLACES": marketplaces(forge),
                      "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"}, name="layouts")
    async with Client(w.base + "/mcp", mode="legacy") as c:
        listed = (await c.call_tool("list_plugins", {"surface": "all", "limit": 200})).structured_content
        plugins = {p["name"]: p for p in listed["plugins"]}
        skills_of = {name: sorted(s["name"] for s in p["skills"]) for name, p in plugins.items()}
        assert skills_of == {
            # A single plugin repository: a marketplace of one, named and versioned by its plugin.json.
            "solo@solo": ["deploy"],
            # layout = "skills": one plugin per skill folder, under skills/ or at the top.
            "pdf@skills": ["pdf"],
            "docx@skills": ["docx"],
            "template@skills": ["template"],
            # The same repository under `auto`: a `skills/` folder at the root makes it one plugin.
            "skills@skills-auto": ["docx", "pdf"],
            # GitLab, top-level <name>/SKILL.md folders only: `auto` reads one plugin per skill.
            "lint@loose": ["lint"],
            "format@loose": ["format"],
            # An archive read as a plugin, with no plugin.json: named after the marketplace.
            "bare@bare": ["notes"],
        }, skills_of
        assert all(p["status"] == "servable" for p in plugins.values()), plugins
        assert plugins["solo@solo"]["version"] == "0.3.0"
        assert plugins["solo@solo"]["description"] == "One plugin."
        assert plugins["pdf@skills"]["description"] == "Reads and fills PDF forms."
        layouts = {name: p.get("layout") for name, p in plugins.items()}
        assert layouts["solo@solo"] == "plugin" and layouts["skills@skills-auto"] == "plugin", layouts
        assert layouts["pdf@skills"] == "skills" and layouts["lint@loose"] == "skills", layouts
        assert layouts["bare@bare"] == "plugin", layouts

        # A repository that is nothing recognisable is reported, naming what was looked for; the rest is served.
        errors = {e["marketplace"]: e for e in listed.get("marketplaceErrors", [])}
        assert set(errors) == {"nothing"}, errors
        assert errors["nothing"]["served"] is False
        for looked_for in [".claude-plugin/marketplace.json", ".claude-plugin/plugin.json", "skills/", "<name>/SKILL.md"]:
            assert looked_for in errors["nothing"]["error"], errors["nothing"]

        # get_plugin and fetch_skill read these plugins like any other.
        solo = (await c.call_tool("get_plugin", {"name": "solo@solo"})).structured_content
        assert solo["layout"] == "plugin" and solo["version"] == "0.3.0"
        fetched = await c.call_tool("fetch_skill", {"name": "pdf@skills/pdf"})
        assert not fetched.is_error, fetched.content[0].text
        files = {f["path"]: f for f in fetched.structured_content["files"]}
        assert files["SKILL.md"]["content"] == SKILLS["skills/pdf/SKILL.md"]
        assert files["reference.md"]["content"] == SKILLS["skills/pdf/reference.md"]
        deploy = await c.call_tool("fetch_skill", {"name": "solo@solo/deploy"})
        assert {f["path"] for f in deploy.structured_content["files"]} == {"SKILL.md", "checklist.md"}
        lint = await c.call_tool("fetch_skill", {"name": "lint@loose/lint"})
        assert not lint.is_error and "Lints the code." in lint.structured_content["files"][0]["content"]

        # Without a declared version, an installed copy at this commit is up to date, as Claude Code records it.
        upd = (await c.call_tool("check_updates", {"installed": [
            {"name": "pdf@skills", "version": forge.shas["skills"][:12]},
            {"name": "solo@solo", "version": "0.2.0"}]})).structured_content
        status = {r["name"]: r["status"] for r in upd["results"]}
        assert status == {"pdf@skills": "up_to_date", "solo@solo": "update_available"}, upd
