"""Take the README's picture of a direct M2N2 run: Run > Direct run of the arena on the default task
(scikit-learn's 8x8 digits, a 64-256-10 MLP, the published engine settings), mid-run.

    DISPLAY=:99 python -m tests.gui.take_m2n2_screenshot assets/m2n2_direct.png

Starts the app on a fresh registry, picks the m2n2 arena in the Evolution Lab, opens the direct-run
window, runs a budget of ``--passes`` forward passes and grabs the screen once ``--at`` passes are
done, while the run goes on; then stops the run.
"""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.gui.app import App
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--passes", type=int, default=5000)
    ap.add_argument("--at", type=int, default=3500, help="grab once this many passes are done")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Evolution Lab"]
    tab.settings_panel.arena.set("m2n2")
    tab.settings_panel._arena_changed()
    root.update()
    window = app.invoke("direct_run")
    window.top.geometry("1280x740+0+32")  # below the menu bar, above the app's status bar (the job shows there)
    window.task_form.set_values({"passes": args.passes})
    window.run_form.set_values({"seed": args.seed, "device": "cpu"})
    root.update()
    if not window.start():
        raise SystemExit(f"the run did not start: {app.dialogs.shown}")
    wait_until(root, lambda: not window.running or (window.snapshot or {}).get("passes", 0) >= args.at,
               timeout=1800)
    window.draw()  # the charts of the latest report: the status line must not run ahead of them in the picture
    grab(root, args.out, settle_s=0.4)
    print(f"wrote {args.out}: {window.status.cget('text')}")
    window.stop()
    wait_until(root, lambda: not window.running, timeout=120)
    window.close()
    root.destroy()


if __name__ == "__main__":
    main()
