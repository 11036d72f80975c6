"""Take the README's picture of trials on a Dask cluster: the Evolution Lab mid-run on a LocalCluster
of two workers, with Run > Where trials run open over it and the status bar showing the workers.

    DISPLAY=:99 python -m tests.gui.take_backend_screenshot assets/backend.png

Starts the app on a fresh registry, connects to ``local:2`` through the dialog, starts a run of the
founders on a + b mod 59 (the default model, a 1,500-step cap), waits until a generation has
finished and the next one is training on the workers, opens the dialog again and grabs the screen.
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
    ap.add_argument("--cluster", default="local:2")
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    dialog = app.invoke("backend_settings")
    dialog.form.set_values({"kind": "dask", "cluster": args.cluster})
    job = dialog.connect()
    wait_until(root, lambda: not job.active, timeout=120)
    tab = app.tabs["Evolution Lab"]
    panel = tab.settings_panel
    panel.form.set_values({"population": 8, "seeds_per_genome": 2, "generations": 4, "landscape": "sprinter",
                           "run_seed": 2, "hof_strictness": 0.5, "device": "cpu"})
    panel.task_form.set_values({"modulus": 59, "train_fraction": 0.5, "step_cap": 1500})
    for key, var in panel.seed_vars.items():
        var.set(key == "founders")
    root.update()
    tab.start_button.invoke()
    wait_until(root, lambda: len(tab.history) >= 1, timeout=3600)
    wait_until(root, lambda: tab.live is not None and app.backend.status().running > 0 or not tab.running,
               timeout=600)
    dialog = app.invoke("backend_settings")
    root.update()
    x, y = root.winfo_rootx() + 760, root.winfo_rooty() + 330
    dialog.top.geometry(f"+{x}+{y}")
    grab(root, args.out, settle_s=2.5)
    print(f"wrote {args.out}; registry {app.registry.root}")
    dialog.close()
    tab.stop()
    wait_until(root, lambda: not tab.running, timeout=600)
    app.backend.close()
    root.destroy()


if __name__ == "__main__":
    main()
