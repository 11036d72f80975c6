"""Take the README's picture of a direct GENREG run: Run > Direct run of the arena on scikit-learn's
8x8 digits with the published engine settings (200 genomes of 64-64-10 MLPs), crossover on, mid-run.

    DISPLAY=:99 python -m tests.gui.take_genreg_screenshot assets/genreg_direct.png

Starts the app on a fresh registry, picks the genreg arena in the Evolution Lab, opens the direct-run
window, runs a budget of ``--generations`` generations and grabs the screen once ``--at`` are done,
while the run goes on; then stops the run.
"""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.gui.app import App
from lab.gui.direct_run import DirectRunWindow
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--generations", type=int, default=150)
    ap.add_argument("--at", type=int, default=120, help="grab once this many generations are done")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Evolution Lab"]
    tab.settings_panel.arena.set("genreg")
    tab.settings_panel._arena_changed()
    root.update()
    window = app.invoke("direct_run")
    window.top.geometry("1280x740+0+32")  # below the menu bar, above the app's status bar (the job shows there)
    window.task_form.set_values({"dataset": "digits", "generations": args.generations, "crossover": True})
    window.run_form.set_values({"seed": args.seed, "device": "cpu"})
    root.update()
    if not window.start():
        raise SystemExit(f"the run did not start: {app.dialogs.shown}")
    wait_until(root, lambda: not window.running or (window.snapshot or {}).get("passes", 0) >= args.at,
               timeout=1800)
    # hold the picture at this report while the run goes on: the status lines would otherwise run ahead
    # of the charts, whose redraws are throttled
    window._show_status = window._schedule_draw = app._show_job_status = lambda: None
    DirectRunWindow._show_status(window)
    App._show_job_status(app)
    window.draw()
    grab(root, args.out, settle_s=0.4)
    print(f"wrote {args.out}: {window.status.cget('text')}")
    del window._show_status, window._schedule_draw, app._show_job_status
    window.stop()
    wait_until(root, lambda: not window.running, timeout=120)
    window.close()
    root.destroy()


if __name__ == "__main__":
    main()
