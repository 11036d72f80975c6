"""Take the README's pictures of the Insights tab, one per page.

    DISPLAY=:97 python -m tests.gui.take_insights_screenshot assets/insights --registry COPY_OF_A_REGISTRY
        [--run RUN_ID] [--compare RUN_ID RUN_ID ...] [--brush learning_rate=0.6:1]

Writes OUT-importance.png, OUT-parallel.png, OUT-slice.png, OUT-propose.png, OUT-genealogy.png and
OUT-runs.png. The registry is only read, except that Propose's genomes are not saved. The README's
pictures: a copy of bench/propose_seeding.py's registry taken after its founders and proposed arms of
run seed 201, with ``--run proposed-s201 --compare prior-s101 founders-s201 proposed-s201 --brush
learning_rate=0.55:1``.
"""
from __future__ import annotations

import argparse
import tkinter as tk

from lab.gui.app import App
from lab.registry import Registry
from tests.gui.conftest import RecordingDialogs, wait_until
from tests.gui.shots import grab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--registry", required=True)
    ap.add_argument("--run", default=None, help="the run whose genealogy is shown (default: the newest)")
    ap.add_argument("--compare", nargs="*", default=[], help="runs compared on the Runs page")
    ap.add_argument("--brush", default="", help="GENE=LOW:HIGH on the unit axis (0 bottom, 1 top)")
    args = ap.parse_args()
    root = tk.Tk(className="SpeciationLab")
    app = App(root, Registry(args.registry), dialogs=RecordingDialogs(), device="cpu")
    root.geometry("1280x770+0+0")
    tab = app.tabs["Insights"]
    app.show_tab("Insights")
    root.update()   # showing the tab the first time fits the model
    wait_until(root, lambda: tab.job is None, timeout=600)
    if tab.data is None:
        assert tab.fit()
        wait_until(root, lambda: tab.job is None, timeout=600)
    wait_until(root, lambda: tab._shape_job is None, timeout=300)

    def page(i: int, name: str) -> None:
        tab.views.select(i)
        grab(root, f"{args.out}-{name}.png")
        print(f"wrote {args.out}-{name}.png")

    page(0, "importance")
    if args.brush:
        key, _, rest = args.brush.partition("=")
        lo, _, hi = rest.partition(":")
        tab.brush(key, float(lo), float(hi))
    tab.colour_by.set("median_steps" if "median_steps" in tab.fits else "success")
    tab._draw_parallel()
    page(1, "parallel")
    page(2, "slice")
    assert tab.propose()
    wait_until(root, lambda: tab._propose_job is None, timeout=300)
    page(3, "propose")
    if tab.genealogy_box.cget("values"):
        tab.show_genealogy(args.run)
        wait_until(root, lambda: tab.tree is not None, timeout=120)
        node = tab.tree.winner()
        tab.select_node(node.key)
        root.update()
        page(4, "genealogy")
    if args.compare:
        tab.runs_tree.selection_set(args.compare)
        tab.compare_runs()
        wait_until(root, lambda: tab.compared is not None, timeout=120)
        page(5, "runs")
    assert not [d for d in app.dialogs.shown if d[0] == "error"], app.dialogs.shown


if __name__ == "__main__":
    main()
