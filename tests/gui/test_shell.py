"""The window opens under Xvfb with its four tabs and a status bar naming the registry."""
from __future__ import annotations

import tkinter as tk

import pytest

from lab.gui.app import TABS, build_window
from lab.registry import Registry


@pytest.fixture
def root():
    try:
        root = tk.Tk()
    except tk.TclError as exc:  # pragma: no cover - only without Xvfb
        pytest.skip(f"no display: {exc}")
    errors = []
    root.report_callback_exception = lambda *exc: errors.append(exc)
    yield root
    root.destroy()
    assert not errors, errors


def test_window_has_the_four_tabs_and_status(root, tmp_path):
    reg = Registry(tmp_path / "reg")
    notebook = build_window(root, reg)
    root.update()
    titles = [notebook.tab(t, "text") for t in notebook.tabs()]
    assert titles == list(TABS) == ["Evolution Lab", "Gene Forge", "Stress Chamber", "Phylogeny"]
    texts = [w.cget("text") for w in root.winfo_children() if isinstance(w, tk.ttk.Label)]
    assert any(str(reg.root) in t for t in texts)
    assert root.winfo_width() >= 900
