"""Take the README's picture of the Mechanism window: the high-lr founder on the default task.

    DISPLAY=:99 python -m tests.gui.take_mechanism_screenshot assets/mechanism.png [--tab Progress]

Starts the app on a fresh registry, selects the founder high-lr, opens Run > Mechanism of the
selected genome..., runs seed 0 with a snapshot every 50 steps (about half a minute on a CPU) and
grabs the screen with the chosen chart tab shown.
"""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.gui.app import App
from lab.registry import Registry
from lab.registry_base import read_genome_file
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tab", default="Progress", choices=("Fourier", "Neurons", "Attention", "Progress"))
    ap.add_argument("--every", type=int, default=50)
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    (genome,) = read_genome_file("genomes/high-lr.json")
    app.registry.add_genome(genome)
    app.hub.publish("genome_selected", genome_id=genome.id)
    window = app.invoke("mechanism")
    window.top.geometry("1180x730+40+30")
    window.form.set_values({"seed": 0, "every": args.every})
    window.run()
    wait_until(root, lambda: not window.running, timeout=900)
    window.notebook.select(["Fourier", "Neurons", "Attention", "Progress"].index(args.tab))
    grab(root, args.out, settle_s=0.8)
    print(f"wrote {args.out}: {window.status.cget('text')}")
    window.close()
    root.destroy()


if __name__ == "__main__":
    main()
