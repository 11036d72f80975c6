"""Racing: stop the trials of a generation that can no longer matter.

The rule (``RacingRule``): within one batch of trials (an evolution generation), a genome's
*race time* at training step t is known once it has grokked on every one of its n seeds by step t
(``leader="all"``, the default) and is then its median steps_to_grok; with ``leader="majority"`` it
is known once quorum = n // 2 + 1 of its seeds grokked, and is the quorum-th smallest (its upper
median). The *leader time* L(t) is the smallest race time of any genome. The stop step S is the
first evaluation step t with

    t >= floor   and   t >= factor x L(t)

and every trial still training at S stops there with status ``censored`` ("not grokked by step
S"). With no leader before the cap nothing is stopped. S depends only on the trials' own outcomes,
so it is the same however the trials are split into populations, chunks or workers, and on a
resume: ``Race.finalize`` computes it from every result at the end and relabels any trial that
ran past it (a chunk that did not yet know a later chunk's fast genomes stops later, never
earlier, so the online stop is always at or after S). A censored trial is not a failure: it is an
unfinished experiment, recorded with its ``censored_at`` step and never taken by Smart Fill as a
full result.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lab.arenas.base import TrialResult

CENSORED = "censored"
GROKKED = ("grokked", "ok")
LEADERS = ("all", "majority")


@dataclasses.dataclass(frozen=True)
class RacingRule:
    """Stop step S = the first evaluation step t >= ``floor`` with t >= ``factor`` x L(t) (see above)."""

    factor: float = 2.0
    floor: int = 400
    leader: str = "all"    # "all": a leader grokked on every seed; "majority": on a majority of them

    def __post_init__(self) -> None:
        problems = []
        if self.leader not in LEADERS:
            problems.append(f"racing leader must be one of {', '.join(LEADERS)}, got {self.leader!r}")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or \
                not math.isfinite(self.factor) or self.factor < 1.0:
            problems.append(f"racing factor must be a number >= 1, got {self.factor!r}")
        if isinstance(self.floor, bool) or not isinstance(self.floor, int) or self.floor < 0:
            problems.append(f"racing floor must be a whole number of steps >= 0, got {self.floor!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def describe(self) -> str:
        who = "of genomes that grokked on every seed" if self.leader == "all" else \
            "(upper median of a majority of seeds)"
        return (f"stop trials at S = max({self.floor}, {self.factor:g} x the best median steps_to_grok "
                f"{who} so far)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def quorum(n_seeds: int) -> int:
    return n_seeds // 2 + 1


class Race:
    """The racing state of one batch of trials: the rule, how many seeds each genome runs (for its
    quorum), the task's cap and evaluation interval, and the grok steps seen so far."""

    def __init__(self, rule: RacingRule, seeds_per_genome: Mapping[str, int], step_cap: int, eval_interval: int):
        self.rule, self.cap, self.interval = rule, int(step_cap), max(1, int(eval_interval))
        self.counts = {gid: int(n) for gid, n in seeds_per_genome.items()}
        self.grok_steps: dict[str, dict[int, int]] = {}   # genome id -> seed -> steps_to_grok

    @classmethod
    def for_pairs(cls, rule: RacingRule, pairs: Sequence[tuple[Any, int]], step_cap: int,
                  eval_interval: int) -> Race:
        counts: dict[str, set[int]] = {}
        for g, s in pairs:
            counts.setdefault(g.id, set()).add(int(s))
        return cls(rule, {gid: len(s) for gid, s in counts.items()}, step_cap, eval_interval)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a worker process (``from_dict`` rebuilds it there, with nothing observed)."""
        return {"rule": self.rule.to_dict(), "counts": dict(self.counts), "cap": self.cap,
                "interval": self.interval}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Race:
        return cls(RacingRule(**data["rule"]), data["counts"], data["cap"], data["interval"])

    def observe(self, result: TrialResult) -> None:
        """A trial finished (in this batch, an earlier chunk, or read from the registry)."""
        g = result.metrics.get("steps_to_grok") if result.status in GROKKED else None
        if g is not None and result.genome_id in self.counts:
            self.grok_steps.setdefault(result.genome_id, {})[result.seed] = int(g)

    def leader(self, step: int) -> float:
        """L(step): the smallest race time of the genomes whose race time is known by ``step`` (inf if none)."""
        best = math.inf
        for gid, by_seed in self.grok_steps.items():
            done = sorted(g for g in by_seed.values() if g <= step)
            n = self.counts[gid]
            if self.rule.leader == "all":
                if len(done) >= n:
                    best = min(best, (done[(n - 1) // 2] + done[n // 2]) / 2)
            elif len(done) >= quorum(n):
                best = min(best, done[quorum(n) - 1])
        return best

    def should_stop(self, step: int) -> bool:
        """Whether trials still training at evaluation step ``step`` stop now (as ``censored``)."""
        if step >= self.cap or step < self.rule.floor or step % self.interval:
            return False
        return step >= self.rule.factor * self.leader(step)

    def stop_step(self) -> int | None:
        """S over everything observed: the first evaluation step the rule stops at, or None."""
        first = max(self.interval, math.ceil(self.rule.floor / self.interval) * self.interval)
        for step in range(first, self.cap, self.interval):
            if self.should_stop(step):
                return step
        return None

    def finalize(self, results: Sequence[TrialResult]) -> list[TrialResult]:
        """The results as the rule labels them: every trial that grokked, diverged or was stopped
        after S becomes ``censored`` at S (its last evaluation at or before S kept as the
        ``censored_val_acc``). Call it with every result of the batch; the input is not changed."""
        for r in results:
            self.observe(r)
        stop = self.stop_step()
        if stop is None:
            return list(results)
        return [censor(r, stop) if _ended_after(r, stop) else r for r in results]


def _ended_after(r: TrialResult, stop: int) -> bool:
    if r.status == "cancelled":
        return False
    if r.status in GROKKED:
        return (r.metrics.get("steps_to_grok") or 0) > stop
    if r.status == "diverged":
        return (r.metrics.get("diverged_step") or r.metrics.get("steps") or 0) > stop
    if r.status == CENSORED:
        return (r.metrics.get("censored_at") or 0) > stop
    return True   # capped / failed: ran to the cap, past any stop below it


def censor(r: TrialResult, stop: int) -> TrialResult:
    """``r`` as a trial stopped at step ``stop``: status censored, its curve cut at ``stop``."""
    steps = list(r.curve.get("step", []))
    keep = sum(1 for s in steps if s <= stop)
    curve = {k: list(v)[:keep] if len(v) == len(steps) else list(v) for k, v in r.curve.items()}
    val = curve.get("val_acc") or [None]
    metrics = {**r.metrics, "steps_to_grok": None, "steps": stop, "censored_at": stop,
               "censored_val_acc": val[-1], "diverged_step": None}
    return dataclasses.replace(r, status=CENSORED, metrics=metrics, curve=curve)


def censored_key(trials: Sequence[TrialResult]) -> tuple[int, float]:
    """How censored genomes rank among themselves, best first when sorted descending: trials grokked
    (by the stop step), then the mean validation accuracy of the censored trials at the stop step."""
    grokked = sum(t.status in GROKKED for t in trials)
    accs = [t.metrics.get("censored_val_acc") for t in trials if t.status == CENSORED]
    accs = [a for a in accs if isinstance(a, (int, float)) and math.isfinite(a)]
    return grokked, (sum(accs) / len(accs) if accs else 0.0)
