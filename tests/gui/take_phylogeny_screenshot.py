"""Take the README's pictures of the Phylogeny tab and of its interactive 3D window.

    DISPLAY=:97 python -m tests.gui.take_phylogeny_screenshot assets/phylogeny.png \
        --registry COPY_OF_A_REGISTRY [--window assets/phylogeny_3d.png] [--level Class]

The map covers every grokking genome of the registry plus the founders (an evolution run's registry
gives sizes from its trials; without ``--registry``, 40 random genomes in a temporary folder). The
registry gets the species labels written into it, so point it at a copy. ``--window`` also opens the
interactive window (pywebview, Qt backend), clicks the first species there and grabs the screen.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import tkinter as tk

import numpy as np

from lab.genome import random_genome
from lab.gui.app import App
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--level", default=None, help="default: the level the tab opens at")
    ap.add_argument("--window", default=None, help="also grab the interactive 3D window to this file")
    args = ap.parse_args()
    registry = Registry(args.registry or tempfile.mkdtemp(prefix="lab-shot-"))
    if args.registry is None:
        from lab.genome import get_spec
        rng = np.random.default_rng(1)
        registry.add_genomes([random_genome(get_spec("grokking"), rng) for _ in range(40)])
    root = tk.Tk(className="SpeciationLab")
    app = App(root, registry, dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Phylogeny"]
    if args.level:
        tab.choose_level(args.level)
    app.notebook.select(tab.frame)
    wait_until(root, lambda: tab.phylo is not None and tab.job is None, timeout=300)
    tab.species_tree.selection_set(tab.species_tree.get_children()[1])   # a species chosen: ringed on the map
    root.update()
    grab(root, args.out)
    print(f"wrote {args.out}: {len(tab.phylo.ids)} genomes, {tab.level.get()} {len(tab.phylo.species[tab.level.get()])} species")
    if args.window:
        tab.open_button.invoke()
        wait_until(root, lambda: tab.webview_rendered or not tab.webview.alive, timeout=120)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            root.update()
            time.sleep(0.05)
        for step in (["mousemove", "100", "143"], ["mousedown", "1"], ["mouseup", "1"], ["mousemove", "760", "420"]):
            subprocess.run(["xdotool", *step], check=True)
            time.sleep(0.3)
        wait_until(root, lambda: "from the 3D window" in app.status_message.get(), timeout=20)
        subprocess.run(["import", "-window", "root", args.window], check=True)
        print(f"wrote {args.window}; {app.status_message.get()}")
        tab.webview.close()
    root.destroy()


if __name__ == "__main__":
    main()
