"""The population trainer reads a member's divergence from the device only at evaluation steps (no
host synchronisation in the steps between): a member whose loss turns non-finite between two
evaluations leaves at the next one with the step it diverged at, and every result, its own and the
others', equals leaving at once (what ``record_losses``, which reads every step, does)."""
from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest
import torch

import lab.arenas.grokking.trainer as trainer
from lab.arenas import get_arena
from lab.genome import get_spec, random_genome

MARK = 1.2345   # the layer_scale of the member made to diverge


@pytest.fixture
def diverging(monkeypatch):
    """Member with layer_scale MARK gets NaN logits from training step 7 on (not an evaluation step)."""
    real = trainer.forward_population
    hooks = {"cancel_at": None, "cancel": threading.Event()}

    def forward(P, tokens, task, layer_scale, dropout=None, **kw):
        logits = real(P, tokens, task, layer_scale, dropout, **kw)
        if dropout is not None and dropout.step == hooks["cancel_at"]:
            hooks["cancel"].set()   # seen before the next step starts
        if dropout is not None and dropout.step >= 7:
            bad = (layer_scale == MARK).view(-1, *([1] * (logits.dim() - 1)))
            logits = torch.where(bad, torch.full_like(logits, float("nan")), logits)
        return logits
    monkeypatch.setattr(trainer, "forward_population", forward)
    return hooks


def _trials():
    rng = np.random.default_rng(5)
    spec = get_spec("grokking")
    genomes = [random_genome(spec, rng) for _ in range(3)]
    genomes[1] = genomes[1].replace(genes={**genomes[1].genes, "layer_scale": MARK})
    return [(g, s) for g in genomes for s in range(2)]


def _outcome(results) -> str:
    return json.dumps([(r.status, r.metrics, {k: v for k, v in r.curve.items() if k != "loss"}) for r in results],
                      sort_keys=True)


def test_a_member_diverging_between_evaluations_leaves_with_its_step_and_changes_nothing_else(diverging):
    task = dataclasses.replace(get_arena("grokking").tiny_task(), step_cap=40, eval_interval=10)
    deferred = trainer.train_population(_trials(), task, device="cpu")
    every_step = trainer.train_population(_trials(), task, device="cpu", record_losses=True)
    assert [r.status for r in deferred].count("diverged") == 2
    assert all(r.metrics["diverged_step"] == 7 and r.metrics["steps"] == 7 for r in deferred if r.status == "diverged")
    assert _outcome(deferred) == _outcome(every_step)


def test_a_cancel_between_evaluations_still_reports_the_divergence(diverging):
    task = dataclasses.replace(get_arena("grokking").tiny_task(), step_cap=40, eval_interval=10)
    diverging["cancel_at"] = 8
    results = trainer.train_population(_trials(), task, device="cpu", cancel=diverging["cancel"])
    assert [(r.status, r.metrics.get("steps")) for r in results].count(("diverged", 7)) == 2
    assert [r.status for r in results].count("cancelled") == 4
