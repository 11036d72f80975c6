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
