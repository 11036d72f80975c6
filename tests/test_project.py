"""The project's promises about itself: README's two commands, CI calling the same test command."""
from __future__ import annotations

import re

from tests.conftest import PROJECT


def _commands(readme: str) -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", readme)


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    run_cmd, test_cmd = _commands(readme)[:2]
    assert run_cmd == "pip install -r requirements.txt && python main.py"
    assert "pytest" in test_cmd and test_cmd.startswith("pip install -r requirements.txt")
    ci = (PROJECT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_requirements_pin_torch_and_list_the_stack():
    req = (PROJECT / "requirements.txt").read_text(encoding="utf-8")
    assert "torch==2.13.0" in req.splitlines()
    for name in ("numpy", "matplotlib", "seaborn", "pandas", "scikit-learn", "plotly", "pywebview",
                 "filelock", "tqdm", "pytest", "pytest-xvfb", "hypothesis"):
        assert re.search(rf"^{re.escape(name)}(\[\w+\])?[<>=]", req, re.M), name
    assert re.search(r'^pywebview\[qt\][<>=].*; sys_platform == "linux"$', req, re.M), \
        "Linux needs the Qt backend for the 3D window"


def test_core_never_imports_tkinter():
    for path in (PROJECT / "lab").rglob("*.py"):
        if "gui" in path.parts:
            continue
        assert not re.search(r"^\s*(import tkinter|from tkinter)", path.read_text(), re.M), path


def test_readme_lists_every_keyboard_shortcut_of_the_command_table():
    from lab.gui.app import COMMANDS
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for c in COMMANDS:
        if c.shortcut:
            assert f"| {c.shortcut} | {c.menu} | {c.label} |" in readme, c


# ---- README as a page a newcomer reads, and the docs/ pages it links ------------------------------
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _outside_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def _outside_code(text: str) -> str:
    """The text with fenced code blocks and inline code removed (links there are not links)."""
    return re.sub(r"`[^`\n]*`", "", _outside_fences(text))


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but - and _ dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _outside_fences(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def _pages() -> list:
    return [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]


def test_readme_is_short_and_opens_with_a_table_of_contents_whose_links_resolve():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300, "README.md is over 300 lines: move the detail to docs/"
    toc = readme.split("\n## Contents\n")[1].split("\n## ")[0]
    targets = re.findall(r"\]\(#([^)]+)\)", toc)
    assert len(targets) >= 8
    anchors = _anchors(readme)
    for target in targets:
        assert target in anchors, f"table of contents links to #{target}, which is no heading"


def test_readme_links_every_docs_page():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    linked = {t.split("#")[0] for t in _LINK.findall(readme)}
    for page in sorted((PROJECT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in linked, f"README does not link {page.name}"


def test_every_relative_link_and_image_in_readme_and_docs_points_at_something_that_exists():
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for target in _LINK.findall(_outside_code(text)):
            if re.match(r"^[a-z]+:", target):      # http(s), mailto: outside the project
                continue
            path, _, fragment = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.relative_to(PROJECT)} links {target}, which does not exist"
            if fragment and dest.suffix == ".md":
                assert fragment in _anchors(dest.read_text(encoding="utf-8")), \
                    f"{page.relative_to(PROJECT)} links {target}: no such heading"
