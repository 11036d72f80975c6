"""Pictures of progress while trials train: the Stress Chamber mid-run (its bar counts member-steps,
says the time left and the trials finished beside it) and the Evolution Lab mid-generation.

    DISPLAY=:97 python -m tests.gui.take_progress_screenshot /tmp/shots/progress

writes ``<prefix>-stress.png`` and ``<prefix>-evolution.png``. Takes about a minute on two CPU cores
(a tiny task with a long cap; both runs are cancelled once pictured)."""
from __future__ import annotations

import argparse
import tempfile
import tkinter as tk

from lab.arenas.grokking.task import GrokTask
from lab.gui.app import App
from lab.threads import configure as configure_torch_threads
from lab.registry import Registry, founders
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab

TASK = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=4000,
                eval_interval=20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    args = ap.parse_args()
    configure_torch_threads()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Stress Chamber"]
    app.notebook.select(tab.frame)
    root.update()
    tab.set_arena("grokking")
    app.registry.add_genomes(founders("grokking"))
    app.hub.publish("registry_changed", registry=app.registry)
    tab.choice.add_tags("founder")
    tab.set_task(TASK)
    tab.form.set_values({"runs": 3, "device": "cpu"})
    root.update()
    tab.run_button.invoke()
    wait_until(root, lambda: tab.reader.fraction > 0.3 and tab.reader.seconds_left() is not None, timeout=600)
    grab(root, f"{args.prefix}-stress.png", settle_s=0.5)
    tab.cancel()
    wait_until(root, lambda: not tab.running, timeout=120)

    lab = app.tabs["Evolution Lab"]
    app.notebook.select(0)
    panel = lab.settings_panel
    panel.form.set_values({"population": 6, "seeds_per_genome": 2, "generations": 3, "device": "cpu"})
    panel.task_form.set_values({k: v for k, v in TASK.to_dict().items() if k in panel.task_form.vars})
    root.update()
    lab.start_button.invoke()
    wait_until(root, lambda: lab.live is not None and lab.gen_progress.fraction > 0.25
               and lab.gen_progress.seconds_left() is not None, timeout=600)
    grab(root, f"{args.prefix}-evolution.png", settle_s=0.5)
    lab.stop()
    wait_until(root, lambda: not lab.running, timeout=120)
    print(f"wrote {args.prefix}-stress.png and {args.prefix}-evolution.png")
    root.destroy()


if __name__ == "__main__":
    main()
