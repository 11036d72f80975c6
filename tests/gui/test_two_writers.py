"""Two writers, one registry: the window runs a tiny evolution while a `stress` command in another
process records its trials into the same registry folder at the same time. Every trial of both is
in trials.jsonl exactly once, every line parses, and the window sees the command's trials (the
Stress Chamber's Smart Fill line counts them as recorded)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lab.arenas import get_arena
from tests.gui.conftest import wait_until
from tests.gui.test_evolution_lab import tab  # noqa: F401 - the Evolution Lab on the tiny task

ROOT = Path(__file__).resolve().parents[2]
STRESS_GENOMES = ["classic-adamw.json", "heavy-decay.json", "high-embed-ratio.json"]
RUNS, STEP_CAP = 2, 30
GENERATIONS = 10   # the window writes before, while and after the command writes


@pytest.fixture
def shared_registry(lab_app, tmp_path):
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    yield tmp_path / "registry"
    lab_app.set_registry(old.root)


def test_the_window_and_a_stress_command_write_one_registry_at_once(lab_app, shared_registry, tab):
    tab.settings_panel.form.set_values({"generations": GENERATIONS})
    command = [sys.executable, "main.py", "--registry", str(shared_registry), "stress",
               *[str(ROOT / "genomes" / name) for name in STRESS_GENOMES],
               "--runs", str(RUNS), "--step-cap", str(STEP_CAP), "--device", "cpu"]
    stress = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        tab.start_button.invoke()
        assert tab.running
        wait_until(lab_app.root, lambda: stress.poll() is not None, timeout=240)
        window_still_running = tab.running
        wait_until(lab_app.root, lambda: not tab.running, timeout=240)
    finally:
        if stress.poll() is None:
            stress.kill()
        output = stress.communicate()[0]
    assert stress.returncode == 0, output
    assert tab.outcome == "finished"

    lines = (shared_registry / "trials.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]        # every line parses
    keys = Counter((r["genome_id"], r["task_id"], r["seed"]) for r in records)
    assert not [k for k, n in keys.items() if n > 1], "a trial recorded twice"
    stress_task = dataclasses.replace(get_arena("grokking").default_task(), step_cap=STEP_CAP)
    stress_keys = {k for k in keys if k[1] == stress_task.task_id}
    order = "".join("S" if r["task_id"] == stress_task.task_id else "L" for r in records)
    assert window_still_running and "SL" in order, f"the two did not overlap: {order}"
    assert len(stress_keys) == len(STRESS_GENOMES) * RUNS
    lab_task = tab.evo.task.task_id
    assert lab_task != stress_task.task_id
    for generation in tab.history:     # every genome the window ran has its trial, once
        for g in generation["genomes"]:
            assert any(k[0] == g["id"] and k[1] == lab_task for k in keys), g["id"]

    # the window sees the other writer's trials: the registry it holds and the Stress Chamber's Smart Fill
    held = {t.key for t in lab_app.registry.trials()}
    assert stress_keys <= held and set(keys) <= held
    chamber = lab_app.tabs["Stress Chamber"]
    lab_app.notebook.select(chamber.frame)
    chamber.set_arena("grokking")
    chamber.choice.clear()
    chamber.choice.add_ids(sorted({k[0] for k in stress_keys}))
    chamber.set_task(stress_task)
    chamber.form.set_values({"runs": RUNS, "seed_start": 0, "device": "cpu"})
    chamber.update_plan()
    lab_app.root.update()
    assert chamber.plan_label.cget("text") == f"{len(stress_keys)} trials already in the registry, 0 will run"
    chamber.choice.clear()
    lab_app.notebook.select(0)
