"""lab.threads: the grokking trainer's thread count follows the cores other processes leave free,
without changing a single result."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lab import threads
from lab.arenas.grokking.task import GrokTask
from lab.arenas.grokking.trainer import train_population
from lab.genome import get_spec, random_genome

ROOT = Path(__file__).resolve().parent.parent


class _Machine:
    """A fake /proc/stat and clocks: ``busy`` cores of the machine busy, ``mine`` of them this process."""

    def __init__(self, monkeypatch, cores: int = 2):
        self.t, self.busy_j, self.total_j, self.own = 0.0, 0, 0, 0.0
        self.busy, self.mine, self.n = 0.0, 0.0, cores
        monkeypatch.setattr(threads, "cores", lambda: cores)
        monkeypatch.setattr(threads, "_busy_jiffies", lambda: (self.busy_j, self.total_j))
        monkeypatch.setattr(threads.time, "monotonic", lambda: self.t)
        monkeypatch.setattr(threads.time, "process_time", lambda: self.own)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def run(self, seconds: float) -> None:
        ticks = 100 * seconds * self.n
        self.t += seconds
        self.total_j += int(ticks)
        self.busy_j += int(ticks * self.busy / self.n)
        self.own += self.mine * seconds


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_governor_gives_torch_the_cores_others_leave_free(monkeypatch, restore_threads):
    machine = _Machine(monkeypatch, cores=2)
    torch.set_num_threads(2)
    gov = threads.Governor(interval=0.5)
    assert gov.enabled
    machine.busy, machine.mine = 2.0, 2.0          # only the lab works: keep both cores
    machine.run(0.6)
    assert gov.tick() == 2
    machine.busy, machine.mine = 2.0, 1.1          # another process takes a core
    machine.run(0.6)
    assert gov.tick() == 1 and torch.get_num_threads() == 1
    machine.run(0.2)
    assert gov.tick() == 1, "no new look before the interval"
    machine.busy, machine.mine = 1.0, 1.0          # it left
    machine.run(0.6)
    assert gov.tick() == 2 and gov.changes == 2
    machine.busy, machine.mine = 2.0, 1.0
    machine.run(0.6)
    gov.tick()
    gov.restore()
    assert torch.get_num_threads() == 2


def test_a_thread_count_the_user_fixed_is_left_alone(monkeypatch, restore_threads):
    _Machine(monkeypatch)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not threads.Governor().enabled


def _trials():
    rng = np.random.default_rng(3)
    return [(random_genome(get_spec("grokking"), rng), s) for s in range(2) for _ in range(3)]


def _run(task) -> str:
    results = train_population(_trials(), task, device="cpu", record_losses=True)
    return json.dumps([(r.status, r.metrics, r.curve) for r in results], sort_keys=True)


def test_results_do_not_depend_on_the_thread_count_the_governor_picks(monkeypatch, restore_threads):
    task = dataclasses.replace(GrokTask(), step_cap=40, eval_interval=10)
    torch.set_num_threads(1)
    one = _run(task)
    torch.set_num_threads(2)
    flips = []

    def flip(self):   # a governor that changes its mind every step: 1, 2, 1, 2, ...
        self.threads = 1 + len(flips) % 2
        flips.append(self.threads)
        torch.set_num_threads(self.threads)
        return self.threads
    monkeypatch.setattr(threads.Governor, "tick", flip)
    changing = _run(task)
    assert len(flips) >= 40 and set(flips) == {1, 2}
    assert changing == one, "a thread count change altered a result"
    assert torch.get_num_threads() == 2, "the trainer restores the count it found"
