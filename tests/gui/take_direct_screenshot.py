"""Take the README's pictures of a direct run: Run > Direct run of the arena, mid-run.

    DISPLAY=:99 python -m tests.gui.take_direct_screenshot assets/m2n2_direct.png --arena m2n2
    DISPLAY=:99 python -m tests.gui.take_direct_screenshot assets/genreg_direct.png --arena genreg
    DISPLAY=:99 python -m tests.gui.take_direct_screenshot assets/neat_direct.png --arena neat
    DISPLAY=:99 python -m tests.gui.take_direct_screenshot assets/genreg_apply.png --arena genreg \
        --apply-at 60 --apply child_mutation_rate=0.01 --apply base_mutation_rate=0.01
    DISPLAY=:99 python -m tests.gui.take_direct_screenshot assets/genreg_hidden_map.png --arena genreg --map tsne

Starts the app on a fresh registry, picks the arena in the Evolution Lab, opens the direct-run window,
runs a budget of ``--budget`` (m2n2: 5,000 forward passes; genreg: 150 generations on scikit-learn's
8x8 digits with crossover; neat: 40 generations on the two spirals with backprop fitness and the
adaptive species controller) and grabs the screen once ``--at`` are done, while the run goes on; the
status lines are held at that report so the picture is consistent. Then it stops the run. With
``--apply-at N``, the ``--apply GENE=VALUE`` settings are typed into the engine form and applied to
the run once N are done (the dashed line on the charts). With ``--map METHOD``, the hidden-layer map
window is opened at the grab point and projected by METHOD (pca, tsne or umap) before the grab.
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

# arena -> (task values besides the budget, engine values besides the gene table's defaults,
#           default budget, default grab point)
ARENAS = {"m2n2": ({}, {}, 5000, 3500),
          "genreg": ({"dataset": "digits", "crossover": True}, {}, 150, 120),
          # species control 2 (adaptive) so that the controller chart shows its arms and threshold
          "neat": ({"task": "spirals"}, {"species_control": 2}, 40, 30)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arena", choices=ARENAS, default="genreg")
    ap.add_argument("--budget", type=int, help="the task's budget (passes or generations)")
    ap.add_argument("--at", type=int, help="grab once this much of the budget is done")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--apply-at", type=int, help="apply the --apply settings once this much is done")
    ap.add_argument("--apply", action="append", default=[], metavar="GENE=VALUE")
    ap.add_argument("--map", choices=("pca", "tsne", "umap"), help="open the hidden-layer map, projected so")
    args = ap.parse_args()
    values, engine_values, budget, at = ARENAS[args.arena]
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(tempfile.mkdtemp(prefix="lab-shot-")), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Evolution Lab"]
    tab.settings_panel.arena.set(args.arena)
    tab.settings_panel._arena_changed()
    root.update()
    window = app.invoke("direct_run")
    window.top.geometry("1280x740+0+32")  # below the menu bar, above the app's status bar (the job shows there)
    window.task_form.set_values({**values, window.task.CAP_FIELD: args.budget or budget})
    window.engine_form.set_values(engine_values)
    window.run_form.set_values({"seed": args.seed, "device": "cpu"})
    root.update()
    if not window.start():
        raise SystemExit(f"the run did not start: {app.dialogs.shown}")
    at = args.at or at
    if args.apply_at:
        wait_until(root, lambda: (window.snapshot or {}).get("passes", 0) >= args.apply_at, timeout=1800)
        window.engine_form.set_values(dict(item.split("=", 1) for item in args.apply))
        window.apply_button.invoke()
        wait_until(root, lambda: (window.snapshot or {}).get("settings_log"), timeout=120)
    wait_until(root, lambda: not window.running or (window.snapshot or {}).get("passes", 0) >= at, timeout=1800)
    # hold the picture at this report while the run goes on: the status lines would otherwise run ahead
    # of the charts, whose redraws are throttled
    window._show_status = window._schedule_draw = lambda: None
    DirectRunWindow._show_status(window)
    app.status.show_jobs(app.runner.active_jobs())
    app.status.show_jobs = lambda jobs: None
    window.draw()
    if args.map:
        from lab.analysis.hidden_map import METHOD_LABELS
        from lab.gui.direct_live import open_map
        maps = open_map(window)
        maps.top.geometry("700x640+560+60")
        wait_until(root, lambda: maps.points is not None, timeout=120)
        maps.update_from = lambda snapshot: None   # hold the map at this report too
        maps.method.set(METHOD_LABELS[args.map])
        maps.recompute()
        wait_until(root, lambda: maps.job is None, timeout=600)
    grab(root, args.out, settle_s=0.4)
    print(f"wrote {args.out}: {window.status.cget('text')}")
    del window._show_status, window._schedule_draw, app.status.show_jobs
    window.stop()
    wait_until(root, lambda: not window.running, timeout=120)
    window.close()
    root.destroy()


if __name__ == "__main__":
    main()
