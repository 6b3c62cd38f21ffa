"""Writes tests/claude/corpus/: one small marketplace per rule of Claude Code's plugins reference, for the
differential test (test_differential.py). Run it after changing a rule here; the files it writes are committed."""
import json, os, shutil
from pathlib import Path
C = Path(__file__).resolve().parent / "corpus"
shutil.rmtree(C, ignore_errors=True)

def skill(name, desc=None, body="Body.\n"):
    desc = desc or f"Use when testing {name}."
    return f"---\nname: {name}\ndescription: {desc}\n---\n\n# {name}\n\n{body}"

def market(rule, plugins, files, **extra):
    root = C / rule
    m = {"name": f"corpus-{rule}", "owner": {"name": "Skillport tests"}, **extra, "plugins": plugins}
    write(root, ".claude-plugin/marketplace.json", json.dumps(m, indent=2) + "\n")
    for path, text in files.items():
        write(root, path, text if isinstance(text, str) else json.dumps(text, indent=2) + "\n")

def write(root, path, text):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)

def e(name, source=None, **kw):
    return {"name": name, "source": source or f"./plugins/{name}", "description": f"Corpus plugin {name}.", **kw}

# How a skill is named: the frontmatter `name`, else the folder.
market("skill-naming", [e("same"), e("renamed"), e("no-frontmatter"), e("no-name"), e("upper")], {
    "plugins/same/skills/alpha/SKILL.md": skill("alpha"),
    "plugins/renamed/skills/folder-name/SKILL.md": skill("front-name"),
    "plugins/no-frontmatter/skills/plain/SKILL.md": "# Plain\n\nNo frontmatter at all.\n",
    "plugins/no-name/skills/nameless/SKILL.md": "---\ndescription: Has no name.\n---\nBody\n",
    "plugins/upper/skills/upper/SKILL.md": skill("Upper_Case"),
})

# commands/ and agents/: a command is a skill to Claude Code; an agent is not.
market("commands-agents", [e("cmds"), e("agents-only"), e("nested-cmds"), e("cmd-and-skill")], {
    "plugins/cmds/commands/deploy.md": "---\ndescription: Deploy.\n---\nDeploy it.\n",
    "plugins/cmds/commands/review.md": "Review it.\n",
    "plugins/cmds/commands/notes.txt": "not a command\n",
    "plugins/agents-only/agents/helper.md": "---\nname: helper\ndescription: Helps.\n---\nYou help.\n",
    "plugins/nested-cmds/commands/group/sub.md": "---\ndescription: Nested.\n---\nSub.\n",
    "plugins/nested-cmds/commands/top.md": "Top.\n",
    "plugins/cmd-and-skill/commands/build.md": "Build.\n",
    "plugins/cmd-and-skill/skills/build-skill/SKILL.md": skill("build-skill"),
    "plugins/cmd-and-skill/agents/reviewer.md": "---\nname: reviewer\ndescription: Reviews.\n---\nReview.\n",
})

# `skills` paths in plugin.json: a folder of skills, an array, one skill folder, a SKILL.md file, a missing path.
market("skills-paths-plugin-json", [e("custom-dir"), e("array"), e("one-skill"), e("skill-file"), e("missing-path")], {
    "plugins/custom-dir/.claude-plugin/plugin.json": {"name": "custom-dir", "skills": "./custom/"},
    "plugins/custom-dir/custom/one/SKILL.md": skill("one"),
    "plugins/custom-dir/custom/two/SKILL.md": skill("two"),
    "plugins/custom-dir/skills/default/SKILL.md": skill("default"),
    "plugins/array/.claude-plugin/plugin.json": {"name": "array", "skills": ["./a/", "./b/"]},
    "plugins/array/a/x/SKILL.md": skill("x"),
    "plugins/array/b/y/SKILL.md": skill("y"),
    "plugins/one-skill/.claude-plugin/plugin.json": {"name": "one-skill", "skills": ["./lone"]},
    "plugins/one-skill/lone/SKILL.md": skill("lone"),
    "plugins/skill-file/.claude-plugin/plugin.json": {"name": "skill-file", "skills": ["./extra/solo/SKILL.md"]},
    "plugins/skill-file/extra/solo/SKILL.md": skill("solo"),
    "plugins/skill-file/skills/base/SKILL.md": skill("base"),
    "plugins/missing-path/.claude-plugin/plugin.json": {"name": "missing-path", "skills": "./nowhere/"},
    "plugins/missing-path/skills/here/SKILL.md": skill("here"),
})

# `skills` in the marketplace entry, with and without `strict`.
market("skills-paths-entry", [
    e("entry-dir", skills="./custom/"),
    e("entry-array", skills=["./a/x", "./b"]),
    e("entry-loose", strict=False, skills=["./picked"]),
    e("entry-both", skills=["./extra"]),
], {
    "plugins/entry-dir/custom/one/SKILL.md": skill("one"),
    "plugins/entry-dir/skills/default/SKILL.md": skill("default"),
    "plugins/entry-array/a/x/SKILL.md": skill("x"),
    "plugins/entry-array/b/y/SKILL.md": skill("y"),
    "plugins/entry-loose/picked/SKILL.md": skill("picked"),
    "plugins/entry-loose/skills/other/SKILL.md": skill("other"),
    "plugins/entry-both/.claude-plugin/plugin.json": {"name": "entry-both", "skills": ["./mine"]},
    "plugins/entry-both/mine/m/SKILL.md": skill("m"),
    "plugins/entry-both/extra/e/SKILL.md": skill("e"),
})

# Nested and dot folders.
market("nested-and-dot-folders", [e("nested"), e("dotted"), e("inside-skill"), e("dot-plugin", "./plugins/.hidden")], {
    "plugins/nested/skills/group/deep/SKILL.md": skill("deep"),
    "plugins/nested/skills/top/SKILL.md": skill("top"),
    "plugins/dotted/skills/.secret/SKILL.md": skill("secret"),
    "plugins/dotted/skills/visible/SKILL.md": skill("visible"),
    "plugins/dotted/.claude/skills/hid/SKILL.md": skill("hid"),
    "plugins/inside-skill/skills/outer/SKILL.md": skill("outer"),
    "plugins/inside-skill/skills/outer/inner/SKILL.md": skill("inner"),
    "plugins/.hidden/skills/h/SKILL.md": skill("h"),
})

# File-name case.
market("file-name-case", [e("lower-skill-md"), e("mixed-skill-md"), e("upper-folder"), e("upper-command")], {
    "plugins/lower-skill-md/skills/low/skill.md": skill("low"),
    "plugins/lower-skill-md/skills/ok/SKILL.md": skill("ok"),
    "plugins/mixed-skill-md/skills/mixed/Skill.md": skill("mixed"),
    "plugins/upper-folder/Skills/cap/SKILL.md": skill("cap"),
    "plugins/upper-folder/skills/fine/SKILL.md": skill("fine"),
    "plugins/upper-command/commands/Shout.MD": "Loud.\n",
    "plugins/upper-command/commands/Quiet.md": "Quiet.\n",
})

# Version precedence: plugin.json, then the entry.
market("version-precedence", [e("both", version="1.0.0"), e("entry-only", version="2.0.0"), e("json-only"),
                              e("neither"), e("loose-both", version="3.0.0", strict=False)], {
    "plugins/both/.claude-plugin/plugin.json": {"name": "both", "version": "1.5.0"},
    "plugins/both/skills/s/SKILL.md": skill("s"),
    "plugins/entry-only/.claude-plugin/plugin.json": {"name": "entry-only"},
    "plugins/entry-only/skills/s/SKILL.md": skill("s"),
    "plugins/json-only/.claude-plugin/plugin.json": {"name": "json-only", "version": "0.9.1"},
    "plugins/json-only/skills/s/SKILL.md": skill("s"),
    "plugins/neither/skills/s/SKILL.md": skill("s"),
    "plugins/loose-both/.claude-plugin/plugin.json": {"name": "loose-both", "version": "3.1.0"},
    "plugins/loose-both/skills/s/SKILL.md": skill("s"),
})

# `strict`: true (default) merges the entry into plugin.json; false makes the entry the whole definition.
market("strict", [e("strict-no-json", strict=True), e("loose-no-json", strict=False),
                  e("loose-json-components", strict=False), e("loose-json-plain", strict=False),
                  e("strict-json-components", strict=True, skills=["./more"])], {
    "plugins/strict-no-json/skills/a/SKILL.md": skill("a"),
    "plugins/loose-no-json/skills/a/SKILL.md": skill("a"),
    "plugins/loose-json-components/.claude-plugin/plugin.json": {"name": "loose-json-components", "skills": ["./x"]},
    "plugins/loose-json-components/x/k/SKILL.md": skill("k"),
    "plugins/loose-json-components/skills/a/SKILL.md": skill("a"),
    "plugins/loose-json-plain/.claude-plugin/plugin.json": {"name": "loose-json-plain", "description": "Plain."},
    "plugins/loose-json-plain/skills/a/SKILL.md": skill("a"),
    "plugins/strict-json-components/.claude-plugin/plugin.json": {"name": "strict-json-components", "skills": ["./x"]},
    "plugins/strict-json-components/x/k/SKILL.md": skill("k"),
    "plugins/strict-json-components/more/m/SKILL.md": skill("m"),
})

# Missing or invalid plugin.json.
market("plugin-json", [e("missing"), e("bad-json"), e("no-name"), e("other-name"), e("version-number"),
                       e("unknown-field"), e("bad-author")], {
    "plugins/missing/skills/a/SKILL.md": skill("a"),
    "plugins/bad-json/.claude-plugin/plugin.json": '{"name": "bad-json",}\n',
    "plugins/bad-json/skills/a/SKILL.md": skill("a"),
    "plugins/no-name/.claude-plugin/plugin.json": {"version": "1.0.0"},
    "plugins/no-name/skills/a/SKILL.md": skill("a"),
    "plugins/other-name/.claude-plugin/plugin.json": {"name": "something-else", "version": "1.0.0"},
    "plugins/other-name/skills/a/SKILL.md": skill("a"),
    "plugins/version-number/.claude-plugin/plugin.json": {"name": "version-number", "version": 2},
    "plugins/version-number/skills/a/SKILL.md": skill("a"),
    "plugins/unknown-field/.claude-plugin/plugin.json": {"name": "unknown-field", "frobnicate": True},
    "plugins/unknown-field/skills/a/SKILL.md": skill("a"),
    "plugins/bad-author/.claude-plugin/plugin.json": {"name": "bad-author", "author": "Just A String"},
    "plugins/bad-author/skills/a/SKILL.md": skill("a"),
})

# Duplicate plugin names.
market("duplicate-names", [e("twice", "./plugins/first"), e("twice", "./plugins/second"), e("once")], {
    "plugins/first/skills/one/SKILL.md": skill("one"),
    "plugins/second/skills/two/SKILL.md": skill("two"),
    "plugins/once/skills/a/SKILL.md": skill("a"),
})

# metadata.pluginRoot: prefixes bare sources, not `./` ones.
market("plugin-root", [e("bare", "bare"), e("dotted", "./elsewhere/dotted"), e("missing-bare", "gone")], {
    "tools/bare/skills/a/SKILL.md": skill("a"),
    "elsewhere/dotted/skills/b/SKILL.md": skill("b"),
}, metadata={"pluginRoot": "./tools"})

# Entry validity: the marketplace entry's own fields and source.
market("entry-fields", [e("author-string", author="Someone"), e("author-object", author={"name": "Someone"}),
                        {"name": "no-source", "description": "x"}, e("escapes", "../outside"),
                        e("absolute", "/etc"), e("not-there"), e("Bad Name"), e("keywords-string", keywords="x"),
                        e("root-source", "./")], {
    "plugins/author-string/skills/a/SKILL.md": skill("a"),
    "plugins/author-object/skills/a/SKILL.md": skill("a"),
    "plugins/Bad Name/skills/a/SKILL.md": skill("a"),
    "plugins/keywords-string/skills/a/SKILL.md": skill("a"),
    "skills/at-root/SKILL.md": skill("at-root"),
})

# A SKILL.md at the plugin folder's root, and a plugin that is the marketplace root with an explicit skills list.
market("root-skill", [e("root-md"), e("whole", "./", strict=False, skills=["./skills/picked"])], {
    "plugins/root-md/SKILL.md": skill("root-md"),
    "skills/picked/SKILL.md": skill("picked"),
    "skills/unpicked/SKILL.md": skill("unpicked"),
})

# A plugin that is the marketplace root, `strict: false` with its own skills list, beside a root plugin.json that
# declares all of skills/ (anthropics/skills' layout, with a plugin.json added).
market("strict-root", [e("docs", "./", strict=False, skills=["./skills/xlsx", "./skills/gone"]),
                       e("art", "./", strict=False, skills="./skills/art/")], {
    ".claude-plugin/plugin.json": {"name": "whole", "skills": "./skills"},
    "skills/xlsx/SKILL.md": skill("xlsx"),
    "skills/art/SKILL.md": skill("art"),
    "SKILL.md": skill("root"),
})

# `commands` paths in plugin.json: a path replaces the default commands/ folder.
market("commands-paths", [e(n) for n in ["cmd-file", "cmd-dir", "cmd-default-and-file", "cmd-dir-array"]], {
    **{f"plugins/{n}/.claude-plugin/plugin.json": {"name": n, "commands": c} for n, c in [
        ("cmd-file", ["./more/special.md"]), ("cmd-dir", "./more/"),
        ("cmd-default-and-file", ["./commands/", "./more/special.md"]), ("cmd-dir-array", ["./more/"])]},
    **{f"plugins/{n}/more/special.md": "---\ndescription: Special.\n---\nSpecial.\n" for n in ["cmd-file", "cmd-dir", "cmd-default-and-file", "cmd-dir-array"]},
    **{f"plugins/{n}/commands/usual.md": "Usual.\n" for n in ["cmd-file", "cmd-dir", "cmd-default-and-file", "cmd-dir-array"]},
})
