"""Take the README's screenshot: the Evolution Lab mid-run on the default grokking task.

    DISPLAY=:99 python -m tests.gui.take_screenshot assets/evolution_lab.png [--after 3] [--tiny]

Starts the app on a fresh registry in a temporary folder, starts a run through the widgets,
waits until ``--after`` generations have finished and the next one is under way, selects the
best genome of the population table, and grabs the screen with ImageMagick's ``import``.
"""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.gui.app import App
from lab.threads import configure as configure_torch_threads
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--after", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="a tiny task, to try the script quickly")
    args = ap.parse_args()
    configure_torch_threads()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs())
    root.geometry("1280x770+0+0")
    tab = app.tabs["Evolution Lab"]
    panel = tab.settings_panel
    panel.form.set_values({"population": 10, "seeds_per_genome": 2, "generations": 8, "landscape": "sniper",
                           "run_seed": 1, "hof_strictness": 0.5})
    if args.tiny:
        panel.task_form.set_values({"modulus": 23, "train_fraction": 0.6, "d_model": 16, "heads": 2, "d_ff": 32,
                                    "batch_size": 64, "step_cap": 60, "eval_interval": 20})
    root.update()
    tab.start_button.invoke()
    wait_until(root, lambda: len(tab.history) >= args.after, timeout=3600)
    wait_until(root, lambda: tab.live is not None and len(tab.live[0]) + tab.live[1] >= 6 or not tab.running,
               timeout=600)
    tab.sort_by("rank", reverse=False)
    rows = tab.table_rows()
    if rows:
        tab.table.selection_set(rows[0][1])
    tab.redraw()
    grab(root, args.out)
    print(f"wrote {args.out}; registry {app.registry.root}")
    tab.stop()
    wait_until(root, lambda: not tab.running, timeout=600)
    root.destroy()


if __name__ == "__main__":
    main()
