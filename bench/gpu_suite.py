"""Every hardware measurement of the lab in one call, for whoever has a CUDA device for a few minutes.

    python bench/gpu_suite.py [--device cuda] [--mnist FOLDER] [--budget 360] [--small]

Each section runs in its own process (a fresh CUDA context, its own time limit) and ends with its
own ``RESULT`` line; the suite repeats them at the end with the time each took, then one
``RESULT suite=... `` line. A section that would not fit the budget left is skipped and said so.
``--small`` shrinks every size (a smoke run that checks the suite works, e.g. on the CPU); its
figures are not the benchmark's.

Sections (sizes without --small):
1. trainer-64: the grokking population trainer and the reference trainer on 64 trials
   (bench/grok_throughput.py; target on one H200: 20,000 member-steps/s), then the population
   trainer alone with CUDA graphs.
2. trainer-2048: the population trainer alone on 2,048 trials, float32 and tf32, and float32 with
   CUDA graphs (target 100,000).
3. generation: one Evolution Lab generation of 64 genomes x 8 seeds on the default task, racing off,
   its wall time and member-steps/s: before (generation-all-eager: every trial in the batch from
   the start, eager steps) and after (generation-capN-graphs: continuous batching at --capacity
   members, the others joining as members finish, and CUDA graphs); the summary sets both against
   the member-steps at the trainer-2048 float32 rate.
4. precision: every founder on 20 seeds under each precision (bench/grok_default.py), success and
   median steps per precision.
5. genreg: seconds per GENREG generation on MNIST (784-64-10, population 200, 20 images per
   class), generations/s (needs --mnist: a folder of MNIST IDX files; digits without it); then
   genreg-stack: 32 such runs of 600 generations stacked against one run (bench/genreg_mnist.py's
   time_stack; target at most 2x).
6. m2n2: 10 digits runs batched, --m2n2-passes passes each, on the device and on the CPU of the
   same machine (bench/m2n2_digits.py), seconds per run on each and their ratio.

Sections named ...-graphs replay each training step from a CUDA graph (trainer step_mode
"graphs"; with --small on the CPU, its eager stand-in "static"). The CPU's shared-core behaviour
has its own script, bench/threads_under_load.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


# ---- sections run in-process (invoked as `gpu_suite.py --section NAME`) ----------------------------
def section_generation(device: str, small: bool, capacity: int, step_mode: str) -> None:
    """One generation; ``capacity`` > 0: at most that many members train at once (continuous batching);
    ``step_mode``: the trainer's (eager, static or graphs)."""
    sys.path.insert(0, str(ROOT))
    import tempfile

    from lab.arenas.grokking import arena as grok_arena
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings
    from lab.registry import Registry

    population, seeds = (8, 2) if small else (64, 8)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    grok_arena.STEP_MODE[kind] = step_mode
    if capacity > 0:
        grok_arena.MAX_MEMBERS[kind] = capacity
    task = (("step_cap", 30),) if small else ()
    with tempfile.TemporaryDirectory() as folder:
        settings = EvolutionSettings(population=population, seeds_per_genome=seeds, generations=1, device=device,
                                     racing=False, run_seed=1, task=task)
        registry = Registry(Path(folder) / "reg")
        evo = Evolution(settings, registry, run_id="suite")
        t0 = time.perf_counter()
        evo.step()
        wall = time.perf_counter() - t0
        trials = registry.trials()
    steps = sum(int(t.metrics.get("steps") or 0) for t in trials)
    longest = max(int(t.metrics.get("steps") or 0) for t in trials)
    print(f"one generation of {population} genomes x {seeds} seeds: {len(trials)} trials, {steps:,} member-steps "
          f"(the longest trial {longest} steps) in {wall:.1f} s")
    print(f"RESULT generation_s={wall:.1f} trials={len(trials)} member_steps={steps} "
          f"member_steps_per_s={steps / wall:.1f} longest_trial_steps={longest} capacity={capacity or 'all'} "
          f"step_mode={step_mode}")


def _genreg_setup(small: bool, mnist: str):
    """The GENREG sections' task and settings: MNIST 784-64-10, population 200 (digits without --mnist)."""
    sys.path.insert(0, str(ROOT))
    from lab.arenas.genreg.engine import GenregSettings
    from lab.arenas.genreg.task import GenregTask

    task = GenregTask(dataset="mnist", data_folder=mnist) if mnist else GenregTask()
    return task, GenregSettings(population=20 if small else 200, hidden=8 if small else 64, images_per_class=20)


def section_genreg(device: str, small: bool, mnist: str) -> None:
    from genreg_mnist import time_generations   # bench/ is this script's folder

    task, settings = _genreg_setup(small, mnist)
    per = time_generations(task, settings, device, n=5 if small else 50)
    data = "mnist" if mnist else "digits (no --mnist folder given)"
    print(f"GENREG on {data}, population {settings.population}, hidden {settings.hidden}: {per * 1000:.1f} ms "
          f"per generation")
    print(f"RESULT genreg_generations_per_s={1 / per:.1f} dataset={'mnist' if mnist else 'digits'} "
          f"population={settings.population}")


def section_genreg_stack(device: str, small: bool, mnist: str) -> None:
    from genreg_mnist import time_stack   # bench/ is this script's folder

    task, settings = _genreg_setup(small, mnist)
    runs, generations = (4, 10) if small else (32, 600)
    stack_s, one_s = time_stack(device, runs, generations, settings, task)
    print(f"GENREG on {'mnist' if mnist else 'digits'}: {runs} runs of {generations} generations stacked in "
          f"{stack_s:.1f} s, one run in {one_s:.1f} s: {stack_s / one_s:.2f}x (target at most 2x)")
    print(f"RESULT genreg_stack_runs={runs} generations={generations} stack_s={stack_s:.2f} one_s={one_s:.2f} "
          f"stack_over_one={stack_s / one_s:.2f}")


# ---- the suite ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Section:
    name: str
    argv: list[str]
    limit: float          # seconds it may take


def sections(args) -> list[Section]:
    d, small, py = args.device, args.small, sys.executable
    me = [py, str(Path(__file__).resolve())]
    steps = "20" if small else "200"
    fast = "static" if small and not d.startswith("cuda") else "graphs"   # CUDA graphs, or their CPU stand-in
    out = [Section("trainer-64", [py, str(BENCH / "grok_throughput.py"), "--device", d, "--genomes", "4" if small else "32",
                                  "--seeds", "2", "--steps", "20" if small else "100"], 90),
           Section(f"trainer-64-{fast}", [py, str(BENCH / "grok_throughput.py"), "--device", d, "--population-only",
                                          "--genomes", "4" if small else "32", "--seeds", "2", "--steps",
                                          "20" if small else "200", "--step-mode", fast], 60)]
    for precision, mode in (("float32", "eager"), ("tf32", "eager"), ("float32", fast)):
        out.append(Section(f"trainer-2048-{precision}" + ("" if mode == "eager" else f"-{mode}"),
                           [py, str(BENCH / "grok_throughput.py"), "--device", d, "--population-only",
                            "--genomes", "16" if small else "1024", "--seeds", "2", "--steps",
                            steps, "--precision", precision, "--step-mode", mode], 90))
    # before: every trial in the batch from the start, eager steps; after: continuous batching and graphs
    for capacity, mode in ((0, "eager"), (6 if small else args.capacity, fast)):   # small: 16 trials, 6 at once
        out.append(Section(f"generation-{'cap' + str(capacity) if capacity else 'all'}-{mode}",
                           [*me, "--section", "generation", "--device", d, "--capacity", str(capacity),
                            "--step-mode", mode] + (["--small"] if small else []), 90))
    for name in ("genreg", "genreg-stack"):
        out.append(Section(name, [*me, "--section", name, "--device", d, "--mnist", args.mnist or ""]
                           + (["--small"] if small else []), 60 if name == "genreg" else 90))
    passes = str(args.m2n2_passes if not small else 200)
    for where in dict.fromkeys((d, "cpu")):
        out.append(Section(f"m2n2-{where.split(':')[0]}",
                           [py, str(BENCH / "m2n2_digits.py"), "--device", where, "--methods", "m2n2", "--seeds",
                            "2" if small else "10", "--batch", "2" if small else "10", "--passes", passes], 150))
    for precision in ("float32", "tf32", "bf16"):
        out.append(Section(f"precision-{precision}",
                           [py, str(BENCH / "grok_default.py"), "--device", d, "--precision", precision,
                            "--seeds", "2" if small else "20"] + (["--step-cap", "30"] if small else []), 120))
    return out


def _short(outcome: str) -> str:
    """A founders-by-precision outcome in one line: mean success and the best founder's median."""
    founders = re.findall(r"founder=(\S+) precision=(\S+) median_steps=(\S+) success=(\S+)", outcome)
    if not founders:
        return outcome
    success = [float(f[3]) for f in founders]
    best = min(founders, key=lambda f: float(f[2]))
    return (f"RESULT precision={founders[0][1]} founders={len(founders)} mean_success={sum(success) / len(success):.2f} "
            f"best={best[0]} best_median={best[2]} best_success={best[3]}")


def _generation_summary(results: list[tuple[str, float, str]]) -> None:
    """Each generation's wall time against its member-steps at the trainer-2048 float32 rate."""
    peak = next((float(m.group(1)) for name, _, o in results
                 if name == "trainer-2048-float32" and (m := re.search(r"pop_steps_per_s=([0-9.]+)", o))), None)
    for name, _, o in results:
        m = re.search(r"generation_s=([0-9.]+) .*member_steps=([0-9]+)", o)
        if name.startswith("generation-") and m and peak:
            ideal = int(m.group(2)) / peak
            print(f"{name}: {float(m.group(1)):.1f} s against {ideal:.1f} s at the 2,048-member rate "
                  f"({float(m.group(1)) / ideal:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--mnist", default="", help="a folder of MNIST IDX files for the GENREG section")
    ap.add_argument("--budget", type=float, default=360.0, help="seconds for the whole suite")
    ap.add_argument("--m2n2-passes", type=int, default=5000, help="passes per M2N2 run (device and CPU alike)")
    ap.add_argument("--capacity", type=int, default=256,
                    help="members training at once in the continuous-batching generation")
    ap.add_argument("--step-mode", default="eager", help=argparse.SUPPRESS)
    ap.add_argument("--small", action="store_true", help="tiny sizes: a smoke run, not the benchmark")
    ap.add_argument("--section", choices=("generation", "genreg", "genreg-stack"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.section == "generation":
        section_generation(args.device, args.small, args.capacity, args.step_mode)
        return
    if args.section in ("genreg", "genreg-stack"):
        (section_genreg if args.section == "genreg" else section_genreg_stack)(args.device, args.small, args.mnist)
        return
    start = time.monotonic()
    results: list[tuple[str, float, str]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for s in sections(args):
        left = args.budget - (time.monotonic() - start)
        if left < 10:
            results.append((s.name, 0.0, "skipped: the budget is spent"))
            continue
        print(f"\n==== {s.name} (at most {min(s.limit, left):.0f} s)", flush=True)
        t0 = time.monotonic()
        try:
            run = subprocess.run(s.argv, capture_output=True, text=True, timeout=min(s.limit, left), cwd=ROOT, env=env)
            text = run.stdout + (run.stderr[-2000:] if run.returncode else "")
            lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT")]
            outcome = " | ".join(lines) if lines and run.returncode == 0 else f"failed (exit {run.returncode})"
        except subprocess.TimeoutExpired as exc:
            text = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            outcome = "timed out"
        print("\n".join(text.rstrip().splitlines()[-12:]), flush=True)
        results.append((s.name, time.monotonic() - t0, outcome))
    print("\n==== summary")
    for name, took, outcome in results:
        print(f"{name:<28} {took:6.1f} s  {_short(outcome)}")
    per_run = {name: float(m.group(1)) for name, _, o in results
               if (m := re.search(r"seconds_per_run=([0-9.]+)", o)) and name.startswith("m2n2-")}
    if len(per_run) == 2 and per_run.get("m2n2-cpu"):
        device_s = next(v for k, v in per_run.items() if k != "m2n2-cpu")
        print(f"M2N2: {device_s:.1f} s per run on the device, {per_run['m2n2-cpu']:.1f} s on the CPU: "
              f"{device_s / per_run['m2n2-cpu']:.2f}x the CPU's wall time (target at most 0.5x)")
    _generation_summary(results)
    done = sum(1 for _, _, o in results if o.startswith("RESULT"))
    total = time.monotonic() - start
    print(f"RESULT suite_seconds={total:.0f} sections_measured={done} sections={len(results)} "
          f"device={re.sub(r'[^a-z0-9:]', '', args.device)} small={int(args.small)}")


if __name__ == "__main__":
    main()
