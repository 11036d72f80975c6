"""Take the README's picture of the Stress Chamber: the six founders stress-tested on 12 seeds each,
the convergence-speed chart grouped by genome.

    DISPLAY=:97 python -m tests.gui.take_stress_screenshot assets/stress_chamber.png --task small

``tiny`` (the test suite's task, the default) takes seconds, but no founder groks within its 60-step
cap, so the speed chart only says so; ``small`` (a + b mod 59, the default model, a 2,000-step cap;
assets/stress_chamber.png) takes about 7 minutes on two CPU cores and about half of its trials grok. The
registry is a fresh temporary folder unless ``--registry`` names one. ``--arena m2n2`` stress-tests the
four M2N2 founders instead (``--passes`` forward passes each, the learning-curves chart).
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import tkinter as tk

from lab.arenas.grokking.task import GrokTask
from lab.gui.app import App
from lab.threads import configure as configure_torch_threads
from lab.registry import Registry, founders
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab

TASKS = {"tiny": GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=60,
                          eval_interval=20),
         "small": GrokTask(modulus=59, train_fraction=0.5, step_cap=2000)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--task", choices=list(TASKS), default="tiny")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--arena", choices=("grokking", "m2n2"), default="grokking")
    ap.add_argument("--passes", type=int, default=3000, help="with --arena m2n2: the budget in forward passes")
    ap.add_argument("--registry", default=None, help="an existing registry (Smart Fill then runs only what it "
                                                      "lacks); default: a fresh temporary folder")
    args = ap.parse_args()
    configure_torch_threads()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(args.registry or tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Stress Chamber"]
    app.notebook.select(tab.frame)
    root.update()
    tab.set_arena(args.arena)
    app.registry.add_genomes(founders(args.arena))
    app.hub.publish("registry_changed", registry=app.registry)
    tab.choice.add_tags("founder")
    if args.arena == "grokking":
        tab.set_task(TASKS[args.task])
    else:
        tab.set_task(dataclasses.replace(tab.arena.default_task(), passes=args.passes))
    tab.form.set_values({"runs": args.runs, "device": "cpu"})
    tab.grouping.set("genome")
    tab.set_chart("speed" if args.arena == "grokking" else "curves")
    root.update()
    tab.run_button.invoke()
    wait_until(root, lambda: not tab.running, timeout=3600)
    tab.choice.tree.selection_set(tab.choice.tree.get_children()[0])
    tab.redraw()
    grab(root, args.out)
    print(f"wrote {args.out}; registry {app.registry.root}")
    root.destroy()


if __name__ == "__main__":
    main()
