"""Kill anywhere, lose nothing: real ``python main.py`` runs killed with SIGKILL (and SIGINT) at
random moments, resumed, and compared with the same run left alone.

The delays come from a seeded random.Random, so every run of this module tries the same moments
(where they land depends on the machine's speed). Each test prints how many kills landed while
the run was alive.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lab.evolution.run_files import read_run
from lab.registry import Registry

PROJECT = Path(__file__).resolve().parent.parent
WAIT = 120          # seconds any one wait may take before the test fails instead of hanging


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")
    try:
        return subprocess.Popen([sys.executable, "main.py", *argv], cwd=PROJECT, stdout=out,
                                stderr=subprocess.STDOUT, env=_env())
    finally:
        out.close()


def _run(argv: list[str], log: Path) -> int:
    proc = _start(argv, log)
    return proc.wait(timeout=WAIT)


def _wait_for_output(proc: subprocess.Popen, log: Path, size_before: int) -> None:
    """Until the process has printed something (it is past its imports) or ended."""
    deadline = time.monotonic() + WAIT
    while proc.poll() is None and log.stat().st_size <= size_before:
        assert time.monotonic() < deadline, f"no output within {WAIT} s:\n{log.read_text(errors='replace')}"
        time.sleep(0.02)


def _kill_at_random(argv_for_attempt, log: Path, rng: random.Random, kills: int, low: float, high: float,
                    sig=signal.SIGKILL, after_each=None) -> int:
    """Start ``argv_for_attempt()`` up to ``kills`` times, each killed ``uniform(low, high)`` s after
    its first output, until one finishes first. Returns how many kills landed while it was alive."""
    landed = 0
    for _ in range(kills):
        size = log.stat().st_size if log.exists() else 0
        proc = _start(argv_for_attempt(), log)
        _wait_for_output(proc, log, size)
        time.sleep(rng.uniform(low, high))
        alive = proc.poll() is None
        if alive:
            proc.send_signal(sig)
            landed += 1
        proc.wait(timeout=WAIT)
        if after_each is not None:
            after_each()
        if not alive:   # it finished before the kill: there is nothing left to kill
            break
    return landed


# ---- trials.jsonl --------------------------------------------------------------------------------
def _trial_lines(registry: Path) -> list[dict]:
    """Every line of trials.jsonl, each parsed (a torn line fails the test)."""
    text = (registry / "trials.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n"), "trials.jsonl ends in a torn line"
    lines = [line for line in text.split("\n") if line.strip()]
    records = []
    for n, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"trials.jsonl line {n} is torn: {line[:80]!r} ({exc})") from None
    return records


def _trial_set(registry: Path) -> set[tuple]:
    """(genome_id, task_id, seed, status, metrics, curve) of every record, wall_time ignored; a
    (genome_id, task_id, seed) recorded twice fails the test."""
    records = _trial_lines(registry)
    keys = [(r["genome_id"], r["task_id"], r["seed"]) for r in records]
    dupes = {k for k in keys if keys.count(k) > 1}
    assert not dupes, f"trials recorded more than once: {sorted(dupes)}"
    reg = Registry(registry)
    assert len(reg.trials()) + len(reg.censored_trials()) == len(records) and not reg.problems, reg.problems
    return {(r["genome_id"], r["task_id"], r["seed"], r["status"], json.dumps(r["metrics"], sort_keys=True),
             json.dumps(r["curve"], sort_keys=True)) for r in records}


# ---- 1. evolve -----------------------------------------------------------------------------------
EVOLVE = ["evolve", "--population", "4", "--seeds", "2", "--generations", "8", "--aliens", "1", "--elites", "1",
          "--step-cap", "20", "--device", "cpu", "--run-seed", "3", "--seed-from", "founders", "--run-id", "kr"]


def _run_state(registry: Path) -> dict:
    run, state = read_run(Registry(registry), "kr")
    population = [{k: v for k, v in g.items() if k != "created"} for g in state["population"]]
    return {"settings": run["settings"], "task_id": run["task_id"], "generation": state["generation"],
            "history": state["history"], "population": population, "elite_ids": sorted(state["elite_ids"]),
            "rng_state": state["rng_state"]}


def test_evolve_killed_anywhere_resumes_to_the_same_run(tmp_path):
    reg, log = tmp_path / "killed", tmp_path / "killed.log"
    rng = random.Random(20261206)

    def argv() -> list[str]:
        started = (reg / "runs" / "kr" / "checkpoint.json").is_file()
        return ["--registry", str(reg), *(["evolve", "--resume", "kr"] if started else EVOLVE)]

    def whole() -> None:   # after every kill: the run folder reads, every trial line parses
        if (reg / "runs" / "kr" / "checkpoint.json").is_file():
            read_run(Registry(reg), "kr")
        if (reg / "trials.jsonl").is_file():
            _trial_set(reg)

    landed = _kill_at_random(argv, log, rng, kills=14, low=0.0, high=0.5, after_each=whole)
    for _ in range(5):   # then let it finish
        code = _run(argv(), log)
        if code == 0:
            break
    assert code == 0, log.read_text(errors="replace")[-3000:]

    straight = tmp_path / "straight"
    assert _run(["--registry", str(straight), *EVOLVE], tmp_path / "straight.log") == 0
    killed_state, straight_state = _run_state(reg), _run_state(straight)
    assert len(killed_state["history"]) == 8
    assert killed_state == straight_state
    killed_trials, straight_trials = _trial_set(reg), _trial_set(straight)
    assert killed_trials == straight_trials and len(straight_trials) >= 8 * 2 * 3
    print(f"\nevolve: {landed} SIGKILLs landed in a live run; {len(straight_trials)} trial records "
          "and the run's history and population equal to the run left alone")
    assert landed >= 10


# ---- 2. stress -----------------------------------------------------------------------------------
# NEAT trials run one after another and each is recorded as it finishes, so a kill keeps what
# finished and the rerun's Smart Fill runs only the rest
STRESS = ["stress", "--arena", "neat", "genomes/neat-xor.json", "genomes/neat-paper.json", "--runs", "40",
          "--step-cap", "8", "--device", "cpu"]


def test_stress_killed_anywhere_completes_each_trial_exactly_once(tmp_path):
    reg, log = tmp_path / "killed", tmp_path / "killed.log"
    rng = random.Random(20261207)
    progress: list[int] = []

    def whole() -> None:   # after every kill: every line parses, nothing recorded twice
        progress.append(len(_trial_set(reg)) if (reg / "trials.jsonl").is_file() else 0)

    argv = ["--registry", str(reg), *STRESS]
    landed = _kill_at_random(lambda: argv, log, rng, kills=16, low=0.0, high=0.5, after_each=whole)
    assert _run(argv, log) == 0, log.read_text(errors="replace")[-3000:]
    straight = tmp_path / "straight"
    assert _run(["--registry", str(straight), *STRESS], tmp_path / "straight.log") == 0
    killed_trials, straight_trials = _trial_set(reg), _trial_set(straight)
    assert len(straight_trials) == 2 * 40 and killed_trials == straight_trials
    assert progress == sorted(progress), "a kill lost trials already recorded"
    # kills that landed while trials were left to run (not in a rerun that had nothing left to do)
    mid_work = sum(before < len(straight_trials) for before in [0, *progress[:landed - 1]][:landed])
    print(f"\nstress: {landed} SIGKILLs landed in a live run, {mid_work} of them with trials left to run "
          f"(records after each: {progress}); {len(straight_trials)} trial records, each once, equal to "
          "the run left alone")
    assert mid_work >= 10


# ---- 3. GENREG direct run ------------------------------------------------------------------------
GENREG = ["genreg", "--population", "20", "--images-per-class", "2", "--hidden", "8", "--eval-interval", "5",
          "--device", "cpu", "--seed", "4"]
GENREG_BUDGET = "60"


def _save_is_whole(folder: Path) -> dict | None:
    """None if no save is there, else its meta, after checking the npz is the one the JSON names."""
    from lab.arenas.genreg.checkpoint import read_population_meta

    if not (folder / "population.json").exists() and not (folder / "population.npz").exists():
        return None
    meta = read_population_meta(folder)
    assert hashlib.sha256((folder / "population.npz").read_bytes()).hexdigest() == meta["npz_sha256"], \
        "population.npz and population.json are from different saves"
    return meta


def _population(folder: Path) -> tuple[dict, dict]:
    meta = json.loads((folder / "population.json").read_text(encoding="utf-8"))
    with np.load(folder / "population.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays


def test_genreg_save_is_never_torn_and_a_resumed_run_equals_one_straight(tmp_path):
    rng = random.Random(4)
    save, log = tmp_path / "save", tmp_path / "genreg.log"
    first = ["--registry", str(tmp_path / "reg"), *GENREG, "--generations", GENREG_BUDGET, "--save", str(save)]
    # SIGKILL mid-run: nothing is saved (saves happen at the end or on Ctrl-C), and nothing torn
    landed = _kill_at_random(lambda: first, log, rng, kills=2, low=0.1, high=0.6,
                             after_each=lambda: _save_is_whole(save))
    # SIGINT mid-run: the population is saved whole, part way
    interrupts = 0
    for _ in range(5):
        interrupts += _kill_at_random(lambda: first, log, rng, kills=1, low=0.2, high=0.8, sig=signal.SIGINT)
        if _save_is_whole(save) is not None:
            break
    meta = _save_is_whole(save)
    assert meta is not None, log.read_text(errors="replace")[-2000:]
    resume = ["--registry", str(tmp_path / "reg"), "genreg", "--resume", str(save), "--generations",
              GENREG_BUDGET, "--save", str(save), "--device", "cpu"]
    # SIGKILLs of the resumed run leave the save as it was or whole
    landed += _kill_at_random(lambda: resume, log, rng, kills=3, low=0.1, high=0.8,
                              after_each=lambda: _save_is_whole(save))
    assert _run(resume, log) == 0, log.read_text(errors="replace")[-2000:]
    assert _save_is_whole(save)["generation"] == int(GENREG_BUDGET)

    straight = tmp_path / "straight"
    assert _run(["--registry", str(tmp_path / "reg2"), *GENREG, "--generations", GENREG_BUDGET, "--save",
                 str(straight)], tmp_path / "straight.log") == 0
    (m1, a1), (m2, a2) = _population(save), _population(straight)
    assert sorted(a1) == sorted(a2) and all(np.array_equal(a1[k], a2[k]) for k in a1)
    for key in ("generation", "seed", "settings", "task", "test_acc", "generations_to_target"):
        assert m1[key] == m2[key], key
    print(f"\ngenreg: {landed} SIGKILLs landed in a live run, {interrupts} SIGINT saved it at generation "
          f"{meta['generation']}; resumed to {GENREG_BUDGET}, equal to a run straight")


# ---- 4. Gene Forge save --------------------------------------------------------------------------
FORGE_SCRIPT = """
import sys
import numpy as np
from lab.forge import save_custom
from lab.genome import get_spec, random_genome
from lab.registry import Registry
folder, reg = sys.argv[1], Registry(sys.argv[2])
rng = np.random.default_rng(0)
spec = get_spec("grokking")
print("saving", flush=True)
for i in range(100000):
    g = random_genome(spec, rng, name="kill-me", notes="x" * (i % 5000))
    save_custom(g, folder, reg, overwrite=True)
"""


def test_forge_save_is_old_or_new_never_torn(tmp_path):
    from lab.genome import Genome

    folder, reg, log = tmp_path / "custom", tmp_path / "reg", tmp_path / "forge.log"
    rng = random.Random(7)
    seen: set[str] = set()

    def whole() -> None:
        path = folder / "kill-me.json"
        if path.exists():
            g = Genome.load(path)   # raises on a torn or half-written file
            assert g.name == "kill-me"
            seen.add(g.id)
        Registry(reg).genome_ids()

    argv = ["-c", FORGE_SCRIPT, str(folder), str(reg)]
    landed = 0
    for _ in range(6):
        size = log.stat().st_size if log.exists() else 0
        out = open(log, "ab")
        proc = subprocess.Popen([sys.executable, *argv], cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT, env=_env())
        out.close()
        _wait_for_output(proc, log, size)
        time.sleep(rng.uniform(0.05, 0.5))
        if proc.poll() is None:
            proc.kill()
            landed += 1
        proc.wait(timeout=WAIT)
        whole()
    print(f"\nforge: {landed} SIGKILLs landed mid-save loop; the file parsed whole each time ({len(seen)} genomes seen)")
    assert landed >= 5 and len(seen) >= 2
