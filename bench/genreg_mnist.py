"""GENREG on MNIST (784-64-10, population 200, 600 generations), its generation time, and the letters tasks.

    python bench/genreg_mnist.py [--data-folder ../shared/data/mnist] [--seeds 3] [--generations 600]
                                 [--letters-seconds 300] [--skip-letters | --letters-only]
                                 [--device cpu|cuda] [--out FILE.json]
    python bench/genreg_mnist.py --runs R [--data-folder FOLDER] [--population 200] [--hidden 64]
                                 [--generations 600] [--device cpu|cuda]

MNIST comes from a folder of IDX files. The folder this lab is benchmarked with holds only the official
10,000-image test split (t10k); then the engine evolves on its first 8,000 images and reports accuracy on
the last 2,000, which no genome ever saw (lab.data.idx says so when it loads). Otherwise: train on the 60k
train split, report on the 10k test split.

Measured, in one run:

1. **Generation time.** One generation of 200 genomes x 200 images (20 per class), the whole
   generation (images, forward pass, trust, selection, copying or crossing, mutation), timed over 50
   generations after 5 warm-up ones; for both breeding rules.
2. **MNIST at 600 generations**, ``--seeds`` seeds of each breeding rule with every other setting at
   the GENREG README's MNIST values (survival 0.2, child mutation 0.07 / sigma 0.1, base mutation
   0.08 / 0.1, reward +10, penalty -1.5, trust decay 0.001 per image, inheritance 0.03, 20 images
   per class, softmax answers):
   - *single parent*: each child copies one survivor (the loop of the GENREG README);
   - *crossover*: each child takes each weight from one of two survivors (the later published code);
   - *crossover, child only*: the same without the base mutation: the published ``evolve()``, which
     mutates children only (base mutation 0).
   The held-out accuracy of the last generation's best genome (by trust), with per-digit accuracy,
   wall time and generations per second.
3. **The same budget doubled** (1,200 generations), first seed, the better rule.
4. **Letters** (10,000-128-26, population 200): the clean set (one rendering of each capital) until
   every letter is right (or ``--letters-seconds``), generations and time; then that genome on the
   held-out fonts of the augmented set (memorisation does not generalise); and a run on the augmented
   training fonts for the same time, tested on the held-out fonts.

With ``--runs R`` only this is measured: R runs (seeds 0 to R-1, the GENREG README's MNIST settings
with the given population and hidden units, crossover, child mutation only) trained as one stack of
populations against one run of the same settings (seed 0), each a whole trial of ``--generations``
generations (building the runs included, the data loaded before), on MNIST when ``--data-folder``
is given and on the digits otherwise. Last line: ``RESULT genreg_stack_runs=R stack_s=... one_s=...
stack_over_one=...`` (seconds for the stack, seconds for one run, their ratio; R runs one after
another would take R times one_s).

Anchors (the GENREG README): 81.47% MNIST test accuracy after 600 generations in about 40 minutes;
72.52% with 32 hidden units; the alphabet to 100% in about 1,800 generations.
Last line: ``RESULT heldout_acc=... seconds=... generations=600 gens_per_s=...`` for the "crossover, child
only" rule (the mean over the seeds; seconds is the mean wall time of one 600-generation run).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lab.arenas.base import device_label, resolve_device  # noqa: E402
from lab.arenas.genreg.engine import GenregEngine, GenregSettings  # noqa: E402
from lab.arenas.genreg.stack import GenregStack  # noqa: E402
from lab.arenas.genreg.task import GenregTask, load_genreg_data  # noqa: E402

# name -> (two-parent crossover?, settings); the last is the headline of the RESULT line
RULES = {"single parent": (False, GenregSettings()),
         "crossover": (True, GenregSettings()),
         "crossover, child only": (True, GenregSettings(base_mutation_rate=0.0))}
HEADLINE = "crossover, child only"


def time_generations(task: GenregTask, settings: GenregSettings, device: str, n: int = 50) -> float:
    """Seconds per generation, the mean over ``n`` generations after 5 warm-up ones."""
    engine = GenregEngine(dataclasses.replace(task, generations=n + 5, eval_interval=10_000), settings, 0, device=device)
    engine.step(5)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    engine.step(n)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def time_stack(device: str, runs: int, generations: int, settings: GenregSettings, task: GenregTask
               ) -> tuple[float, float]:
    """Seconds for ``runs`` runs of ``settings`` (seeds 0 to runs - 1) trained as one stack, and for
    one run of them (seed 0), each ``generations`` generations, building the runs included (the task's
    data is loaded first, and a one-generation stack warms the device up)."""
    task = dataclasses.replace(task, generations=generations)
    data = load_genreg_data(task, device)

    def timed(n: int, budget: GenregTask) -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        GenregStack(budget, [settings] * n, list(range(n)), device=device, data=data).step(budget.generations)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    timed(runs, dataclasses.replace(task, generations=1))
    return timed(runs, task), timed(1, task)


def stacked(args, device: str) -> None:
    """The ``--runs`` measurement: R runs stacked against one run, with its RESULT line."""
    task = (GenregTask(dataset="mnist", data_folder=str(args.data_folder), eval_interval=20, crossover=True)
            if args.data_folder else GenregTask(eval_interval=20, crossover=True))
    settings = GenregSettings(population=args.population, hidden=args.hidden, base_mutation_rate=0.0)
    data = load_genreg_data(task, device)
    print(f"{args.runs} runs stacked against one: {task.dataset}, {data.n_inputs}-{settings.hidden}-{data.n_classes}, "
          f"population {settings.population}, {settings.images_per_class} images per class, {args.generations} "
          "generations, crossover, child mutation only")
    stack_s, one_s = time_stack(device, args.runs, args.generations, settings, task)
    print(f"  {args.runs} runs as one stack: {stack_s:.2f} s ({args.runs * args.generations / stack_s:.1f} run-generations/s)")
    print(f"  one run:              {one_s:.2f} s ({args.generations / one_s:.1f} generations/s)")
    print(f"  the stack takes {stack_s / one_s:.2f}x one run's time; {args.runs} runs one after another: "
          f"{args.runs:.0f}x (a {args.runs * one_s / stack_s:.2f}x speed-up)")
    print(f"RESULT genreg_stack_runs={args.runs} stack_s={stack_s:.2f} one_s={one_s:.2f} "
          f"stack_over_one={stack_s / one_s:.2f}")


def run(task: GenregTask, settings: GenregSettings, seed: int, device: str, label: str,
        seconds_cap: float | None = None) -> dict:
    """One run to the task's budget (or until ``seconds_cap``), with a line every 100 generations."""
    t0 = time.perf_counter()
    engine = GenregEngine(task, settings, seed, device=device)
    while not engine.done:
        engine.step(task.eval_interval)
        if engine.generation % 100 == 0 or engine.done:
            print(f"    {label} seed {seed}: generation {engine.generation:>5}, held-out {100 * engine.test_acc:.2f}% "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        if engine.generations_to_target is not None and task.target_acc >= 1.0:
            break
        if seconds_cap is not None and time.perf_counter() - t0 > seconds_cap:
            break
    wall = time.perf_counter() - t0
    return {"seed": seed, "heldout_acc": 100 * engine.test_acc, "per_class": engine.test_per_class,
            "generations": engine.generation, "seconds": wall, "gens_per_s": engine.generation / wall,
            "generations_to_target": engine.generations_to_target, "curve": engine.curve, "engine": engine}


def mnist(args, device: str) -> dict:
    out: dict = {}
    base = GenregTask(dataset="mnist", data_folder=str(args.data_folder), generations=args.generations,
                      eval_interval=20, target_acc=0.815)
    data = load_genreg_data(base, device)
    print(f"MNIST from {args.data_folder}: {len(data.y_train):,} images to evolve on, {len(data.y_test):,} held out. "
          f"{data.note}")
    print(f"settings: {dataclasses.asdict(GenregSettings())}; answers drawn from the softmax")
    print("\n1. generation time, 200 genomes x 200 images")
    out["ms_per_generation"] = {}
    for rule, (crossover, settings) in RULES.items():
        ms = 1000 * time_generations(dataclasses.replace(base, crossover=crossover), settings, device)
        out["ms_per_generation"][rule] = ms
        print(f"  {rule:>21}: {ms:.1f} ms per generation ({1000 / ms:.1f} generations/s)")
    print(f"\n2. {args.generations} generations, seeds 0-{args.seeds - 1}")
    out["runs"] = {}
    for rule, (crossover, settings) in RULES.items():
        task = dataclasses.replace(base, crossover=crossover)
        runs = [run(task, settings, seed, device, rule) for seed in range(args.seeds)]
        for r in runs:
            r.pop("engine")
        out["runs"][rule] = runs
    print(f"\n  {'rule':>21} | {'held-out mean':>13} | {'std':>5} | {'min':>5} | {'max':>5} | {'s/run':>6} | gens/s")
    for rule, runs in out["runs"].items():
        accs = [r["heldout_acc"] for r in runs]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"  {rule:>21} | {statistics.mean(accs):>12.2f}% | {sd:>5.2f} | {min(accs):>5.1f} | {max(accs):>5.1f} | "
              f"{statistics.mean(r['seconds'] for r in runs):>6.1f} | "
              f"{statistics.mean(r['gens_per_s'] for r in runs):.1f}")
    best_rule = max(out["runs"], key=lambda k: statistics.mean(r["heldout_acc"] for r in out["runs"][k]))
    best = max(out["runs"][best_rule], key=lambda r: r["heldout_acc"])
    print(f"  per digit ({best_rule}, seed {best['seed']}): "
          + "  ".join(f"{d}:{100 * a:.1f}%" for d, a in enumerate(best["per_class"])))
    print("  anchor: the GENREG README reports 81.47% after 600 generations in about 40 minutes")
    print(f"\n3. the budget doubled: {2 * args.generations} generations, {best_rule}, seed 0")
    crossover, settings = RULES[best_rule]
    doubled = run(dataclasses.replace(base, crossover=crossover, generations=2 * args.generations),
                  settings, 0, device, best_rule)
    doubled.pop("engine")
    out["doubled"] = {"rule": best_rule, **doubled}
    at = dict(zip(doubled["curve"]["step"], doubled["curve"]["val_acc"]))
    print(f"  held-out {100 * at.get(args.generations, float('nan')):.2f}% at {args.generations}, "
          f"{doubled['heldout_acc']:.2f}% at {doubled['generations']} ({doubled['seconds']:.0f} s)")
    return out


def letters(args, device: str) -> dict:
    settings = GenregSettings(hidden=128, images_per_class=args.letters_views, base_mutation_rate=0.0)
    out: dict = {"settings": dataclasses.asdict(settings)}
    print(f"\n4. letters, 10,000-128-26, population 200 (at most {args.letters_seconds:.0f} s per run)")
    clean = GenregTask(dataset="letters", generations=100_000, eval_interval=10, target_acc=1.0, crossover=True,
                       sampling=args.letters_sampling)
    print(f"  answers while evolving: {args.letters_sampling}; each letter shown {args.letters_views} time(s) "
          "a generation")
    r = run(clean, settings, 0, device, "clean letters", args.letters_seconds)
    engine = r.pop("engine")
    out["clean"] = r
    reached = r["generations_to_target"]
    print("  clean set: " + (f"all 26 letters right at generation {reached} ({r['seconds']:.0f} s)" if reached else
                             f"{r['heldout_acc']:.1f}% after {r['generations']} generations ({r['seconds']:.0f} s)"))
    wrong = [c for c, a in zip(engine.data.classes, r["per_class"]) if a < 1.0]
    if wrong:
        print(f"  letters still wrong: {', '.join(wrong)}")
    held = load_genreg_data(GenregTask(dataset="letters-augmented"), device)
    acc, _ = engine.accuracy(held.x_test, held.y_test)
    out["clean_on_heldout_fonts"] = 100 * acc
    print(f"  that genome on the held-out fonts of the augmented set: {100 * acc:.1f}% (chance 3.8%)")
    if args.skip_augmented:
        return out
    aug = GenregTask(dataset="letters-augmented", generations=100_000, eval_interval=20, target_acc=1.0,
                     crossover=True, sampling=args.letters_sampling)
    r = run(aug, dataclasses.replace(settings, images_per_class=4), 0, device, "augmented letters",
            args.augmented_seconds or args.letters_seconds)
    r.pop("engine")
    out["augmented"] = r
    print(f"  evolved on the augmented training fonts: {r['heldout_acc']:.1f}% on the held-out fonts after "
          f"{r['generations']} generations ({r['seconds']:.0f} s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-folder", type=Path,
                        help="MNIST IDX files (default: ../shared/data/mnist; with --runs: the digits)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=600)
    parser.add_argument("--letters-seconds", type=float, default=300.0, help="cap of the clean-letters run")
    parser.add_argument("--augmented-seconds", type=float, help="cap of the augmented run (default: --letters-seconds)")
    parser.add_argument("--skip-letters", action="store_true")
    parser.add_argument("--letters-only", action="store_true", help="only part 4 (no RESULT line)")
    parser.add_argument("--letters-sampling", choices=("softmax", "argmax"), default="softmax")
    parser.add_argument("--skip-augmented", action="store_true")
    parser.add_argument("--letters-views", type=int, default=1,
                        help="times each clean letter is shown per generation (the published config: 10)")
    parser.add_argument("--runs", type=int, help="only time this many runs stacked against one run")
    parser.add_argument("--population", type=int, default=200, help="with --runs")
    parser.add_argument("--hidden", type=int, default=64, help="with --runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"GENREG benchmark on {device_label(device)} ({platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads)")
    if args.runs:
        stacked(args, device)
        return
    args.data_folder = args.data_folder or ROOT.parent / "shared" / "data" / "mnist"
    results = {"device": device_label(device)}
    if args.letters_only:
        results["letters"] = letters(args, device)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")
        return
    results["mnist"] = mnist(args, device)
    if not args.skip_letters:
        results["letters"] = letters(args, device)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    runs = results["mnist"]["runs"][HEADLINE]
    print(f"the RESULT line is the {HEADLINE!r} rule (the published crossover evolve(): only children mutate)")
    acc = statistics.mean(r["heldout_acc"] for r in runs)
    seconds = statistics.mean(r["seconds"] for r in runs)
    gps = statistics.mean(r["gens_per_s"] for r in runs)
    print(f"RESULT heldout_acc={acc:.2f} seconds={seconds:.1f} generations={args.generations} gens_per_s={gps:.2f}")


if __name__ == "__main__":
    main()
