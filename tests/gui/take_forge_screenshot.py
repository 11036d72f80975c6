"""Take the README's picture of the Gene Forge: classic-adamw as recipient, high-lr as donor, the
Metabolic Rate group transferred and one value edited by hand. With ``--arena genreg`` (or m2n2),
the same walk on that arena's genomes: the arena picked in the list, a group spliced from the donor,
a few values edited by hand.

    DISPLAY=:98 python -m tests.gui.take_forge_screenshot assets/gene_forge.png
    DISPLAY=:98 python -m tests.gui.take_forge_screenshot --arena genreg assets/gene-forge-genreg.png

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

# arena -> (recipient, donor, group taken from the donor, hand edits, name of the result)
SCENES = {
    "grokking": ("classic-adamw", "high-lr", "Metabolic Rate", {"warmup_steps": "120"}, "classic-fast-start"),
    "genreg": ("genreg-readme", "genreg-one-image", "Senses", {"population": "400", "trust_decay": "0.003"},
               "genreg-lean-senses"),
    "m2n2": ("m2n2-paper", "m2n2-ga", "Niches", {"archive_size": "32", "slerp": "0"}, "m2n2-big-archive"),
    "neat": ("neat-xor", "neat-spirals", "Backprop", {"species_control": "2", "population": "300"}, "neat-xor-tuned"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arena", choices=sorted(SCENES), default="grokking")
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Gene Forge"]
    tab.custom_dir = tempfile.mkdtemp(prefix="lab-shot-custom-")
    app.notebook.select(tab.frame)
    recipient, donor, group, edits, name = SCENES[args.arena]
    tab.arena_name.set(args.arena)
    tab.arena_box.event_generate("<<ComboboxSelected>>")   # as a pick in the list does
    by_name = {g.name: g.id for g in tab.founders}
    root.update()
    tab.recipient_picker.select(by_name[recipient])
    tab.donor_picker.select(by_name[donor])
    tab.editor.group_buttons[group].invoke()   # tick the group, as a click would
    for key, text in edits.items():
        tab.editor.texts[key].set(text)
    tab.meta.set_values({"name": name, "tags": "forge, fast" if args.arena == "grokking" else "forge"})
    tab.radar.flush()
    grab(root, args.out)
    print(f"wrote {args.out}")
    root.destroy()


if __name__ == "__main__":
    main()
