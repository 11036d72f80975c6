"""CUDA graphs of the population trainer's training step.

A training step is a few hundred small kernels; launched one by one from Python they leave a GPU
idle most of the time. With a static batch (lab.arenas.grokking.live, ``static=True``) every input
of a step sits in a tensor that stays put (weights, optimiser state, each member's step, the batch
indices), so the step can be recorded once as a CUDA graph and replayed: one launch a step. The
graph is recorded again only when the batch's structure changes (``LiveBatch.version``: members
joining, or the ghost rows of members that left being dropped once half the rows are ghosts), so
at most a few times per power of two of live members.

After a structural change the first ``WARMUP`` steps run eagerly on a side stream (CUDA's
recipe: libraries set up their workspaces there), then a step is recorded and replayed; each of
these is a real training step, so recording changes no result. On the CPU the same static batch
runs eagerly (``StepRunner`` with ``graphs=False``): the tests check that it gives exactly the
results of the dynamic batch.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

WARMUP = 3   # eager steps on a side stream before a step is recorded (as in CUDA's own example)


class StepRunner:
    """Runs ``step()`` (no arguments: it reads the static batch) eagerly, or through a CUDA graph
    recorded per structure ``version``; returns what the step returned (the graph's outputs)."""

    def __init__(self, graphs: bool):
        self.graphs = graphs
        self.version: int | None = None
        self.graph: Any = None
        self.out: Any = None
        self.eager_left = 0
        self.recorded = 0   # graphs recorded (for the benchmark's report)

    def __call__(self, step: Callable[[], Any], version: int) -> Any:
        if not self.graphs:
            return step()
        if version != self.version:
            self.version, self.graph, self.out, self.eager_left = version, None, None, WARMUP
        if self.graph is not None:
            self.graph.replay()
            return self.out
        if self.eager_left > 0:
            self.eager_left -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = step()
            torch.cuda.current_stream().wait_stream(side)
            return out
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = step()
        graph.replay()   # recording ran nothing: this is the step
        self.graph, self.out = graph, out
        self.recorded += 1
        return out
