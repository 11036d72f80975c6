"""Take the README's picture of the Gene Forge: classic-adamw as recipient, high-lr as donor, the
Metabolic Rate group transferred and one value edited by hand.

    DISPLAY=:98 python -m tests.gui.take_forge_screenshot assets/gene_forge.png

Starts the app on a fresh registry in a temporary folder (nothing is written to the repository)
and grabs the whole screen with ImageMagick's ``import``.
"""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.gui.app import App
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Gene Forge"]
    tab.custom_dir = tempfile.mkdtemp(prefix="lab-shot-custom-")
    app.notebook.select(tab.frame)
    by_name = {g.name: g.id for g in tab.founders}
    root.update()
    tab.recipient_picker.select(by_name["classic-adamw"])
    tab.donor_picker.select(by_name["high-lr"])
    tab.editor.group_buttons["Metabolic Rate"].invoke()   # tick the group, as a click would
    tab.editor.texts["warmup_steps"].set("120")
    tab.meta.set_values({"name": "classic-fast-start", "tags": "forge, fast"})
    tab.radar.flush()
    grab(root, args.out)
    print(f"wrote {args.out}")
    root.destroy()


if __name__ == "__main__":
    main()
