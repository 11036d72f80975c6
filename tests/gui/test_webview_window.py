"""The real interactive 3D window: the Phylogeny tab starts the pywebview child (Qt backend) on a
1280x800 Xvfb screen of its own, the page renders its WebGL scatter (a screenshot is checked for the
species' colours and kept as a test artifact), and a click on a species in the window puts its ids on
the Tk clipboard through the copy-only JS-to-Python API.

Needs Xvfb, xdotool and ``pywebview[qt]`` with the Qt system libraries (.ci/run installs them). Where
they are missing the test is skipped, unless SPECIATION_REQUIRE_WEBVIEW=1 (set by CI) makes that a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from lab.analysis.phylogeny import species_colours
from lab.genome import random_genome
from tests.gui.conftest import wait_until

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SPECIATION_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
SPECIES_ROW = (100, 116)   # the first species row of the page's side panel (fixed CSS), window at (0, 0)


def missing_requirements() -> list[str]:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    try:
        import PyQt6.QtWebEngineWidgets  # noqa: F401
        import webview  # noqa: F401
    except ImportError as exc:
        missing.append(f"pywebview[qt] ({exc})")
    return missing


@pytest.fixture
def screen():
    """A private Xvfb display, 1280x800x24; yields its name."""
    missing = missing_requirements()
    if missing:
        message = f"the webview window needs {', '.join(missing)}"
        if os.environ.get("SPECIATION_REQUIRE_WEBVIEW") == "1":
            pytest.fail(message)
        pytest.skip(message)
    number = next(n for n in range(140, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def grab(display: str, path: Path) -> np.ndarray:
    from PIL import ImageGrab
    image = ImageGrab.grab(xdisplay=display).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return np.asarray(image)


def colour_pixels(pixels: np.ndarray, colour: str, tolerance: int = 10) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=2) <= tolerance).sum())


def test_the_webview_window_renders_the_scatter_and_copies_a_species(lab_app, spec, screen, monkeypatch):
    tab = lab_app.tabs["Phylogeny"]
    rng = np.random.default_rng(8)
    lab_app.registry.add_genomes([random_genome(spec, rng, name=f"web{i}") for i in range(30)])
    lab_app.notebook.select(tab.frame)
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    tab.scope.set("all")
    tab.level.set("Class")
    assert tab.map()
    wait_until(lab_app.root, lambda: tab.job is None, timeout=60)
    tab.choose([], "nothing", copy=False)
    monkeypatch.setenv("DISPLAY", screen)       # the child window opens on the private screen
    tab.open_button.invoke()
    try:
        wait_until(lab_app.root, lambda: tab.webview_rendered or not tab.webview.alive, timeout=90)
        assert tab.webview_rendered, f"the window did not render: {tab.webview.stderr_tail[-5:]}"
        time.sleep(2.0)   # let WebGL paint the frame the page reported
        pixels = grab(screen, ARTIFACTS / "phylogeny-webview.png")
        species = tab.phylo.species["Class"]
        colours = species_colours(len(species))
        painted = {sp.name: colour_pixels(pixels, colours[sp.index]) for sp in species}
        assert sum(n >= 6 for n in painted.values()) >= min(4, len(species)), \
            f"the scatter's species colours are not on screen: {painted}"
        assert colour_pixels(pixels, "#e5ecf6", tolerance=3) > 10_000, "no plotly 3D scene background"
        assert tab.selection == []
        env = {**os.environ, "DISPLAY": screen}
        subprocess.run(["xdotool", "mousemove", *map(str, SPECIES_ROW)], env=env, check=True)
        time.sleep(0.3)
        subprocess.run(["xdotool", "mousedown", "1"], env=env, check=True)
        time.sleep(0.15)
        subprocess.run(["xdotool", "mouseup", "1"], env=env, check=True)
        wait_until(lab_app.root, lambda: tab.selection, timeout=20)
        assert tab.selection == list(species[0].members)
        assert lab_app.root.clipboard_get() == "\n".join(species[0].members)
        assert "from the 3D window" in lab_app.status_message.get()
    finally:
        tab.webview.close()
