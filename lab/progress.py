"""Progress as work done over work expected, and a time-left estimate from the measured rate of work.

A batch of trials trains as one population, so trial counts stand still until the end. The unit
of work is what one trial spends of its budget: a grokking member advancing one step (member-steps),
an M2N2 pass, a GENREG or NEAT generation. :class:`WorkTally` counts it where trials run (a trial
that ends early takes its unspent budget out of the expected total); :class:`ProgressReader`
follows the resulting ``TrialProgress`` events where they are shown (the GUI, the CLI bars).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

PROGRESS_EVERY_S = 0.25   # at most four progress events a second from one batch of trials
# the task field that holds a trial's budget -> (the work unit's name, the metric of a result that
# says how much of the budget the trial used)
WORK_UNITS = {"step_cap": ("member-steps", "steps"), "passes": ("passes", "passes"),
              "generations": ("generations", "generations")}


def trial_budget(task: Any) -> int:
    """Work units one trial of ``task`` may spend: its budget (the task's ``CAP_FIELD``)."""
    return max(1, int(getattr(task, task.CAP_FIELD)))


def work_unit(task: Any) -> str:
    return WORK_UNITS.get(task.CAP_FIELD, (task.CAP_FIELD.replace("_", " "), ""))[0]


def work_used(result: Any, task: Any) -> int:
    """Work units a finished trial spent (its budget when its result does not say)."""
    key = WORK_UNITS.get(task.CAP_FIELD, ("", ""))[1]
    used = result.metrics.get(key) if key else None
    if isinstance(used, bool) or not isinstance(used, (int, float)) or not math.isfinite(used):
        return 0 if result.status == "cancelled" else trial_budget(task)
    return max(0, min(trial_budget(task), int(used)))


class WorkTally:
    """Work of one call that runs trials (all its chunks or batches): every trial expects ``budget``
    units; ``advance`` counts units done; ``finish`` ends a trial, and the budget it did not spend
    leaves the expected total. ``done`` never decreases and never passes ``expected``; when every
    trial has finished the two are equal (100%)."""

    def __init__(self, budget: int, unit: str, trials: int = 0, every: float = PROGRESS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.budget, self.unit, self.every, self.clock = max(1, int(budget)), unit, every, clock
        self.trials = self.finished = self.done = self.expected = 0
        self._last = -math.inf
        self.add_trials(trials)

    @classmethod
    def for_task(cls, task: Any, trials: int = 0, **kw: Any) -> WorkTally:
        return cls(trial_budget(task), work_unit(task), trials, **kw)

    def add_trials(self, n: int) -> None:
        self.trials += n
        self.expected += n * self.budget

    def advance(self, units: int) -> None:
        """``units`` more work done by trials still running."""
        self.done = min(self.expected, self.done + max(0, int(units)))

    def finish(self, used: int, *, counted: bool = True) -> None:
        """A trial ended having spent ``used`` units. ``counted``: those units came through ``advance``
        already (False for a trial whose work is first heard of at its end, e.g. from a worker)."""
        used = max(0, min(self.budget, int(used)))
        self.expected -= self.budget - used
        if not counted:
            self.done += used
        self.done = min(self.done, self.expected)
        self.finished += 1

    def due(self, force: bool = False) -> bool:
        """Whether to send a progress event now (at most every ``every`` seconds, or when forced)."""
        now = self.clock()
        if force or now - self._last >= self.every:
            self._last = now
            return True
        return False

    def fields(self) -> dict[str, Any]:
        """The TrialProgress fields this tally fills: trials finished/total and work done/expected."""
        return {"finished": self.finished, "total": self.trials, "work_done": self.done,
                "work_total": self.expected, "unit": self.unit}


# ---- the side that shows progress --------------------------------------------------------------------
class EtaClock:
    """Time left from the measured rate of work: the work done over a recent window (the larger of
    ``min_window`` seconds and ``window_share`` of the time measured), so the estimate follows a
    batch that gets cheaper or dearer as its members leave. None until the rate is measured."""

    def __init__(self, window_share: float = 0.5, min_window: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.window_share, self.min_window, self.clock = window_share, min_window, clock
        self.samples: list[tuple[float, float]] = []

    def reset(self) -> None:
        self.samples = []

    def update(self, done: float, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        if self.samples and done < self.samples[-1][1]:
            self.samples = []          # another count started: measure afresh
        self.samples.append((now, float(done)))

    def rate(self) -> float | None:
        """Work units per second, or None while too little is measured."""
        if len(self.samples) < 2:
            return None
        # the clock starts at the first sample that had work done: setting up a batch is not work
        start = next((i for i, (_, d) in enumerate(self.samples) if d > 0), None)
        if start is None:
            return None
        start = max(0, start - 1)
        t_end, d_end = self.samples[-1]
        span = t_end - self.samples[start][0]
        if span <= 0:
            return None
        window = max(self.min_window, self.window_share * span)
        t0, d0 = next(s for s in self.samples[start:] if s[0] >= t_end - window)
        if t_end - t0 < 0.5 * min(window, span):   # too few samples in the window: use all of it
            t0, d0 = self.samples[start]
        if t_end <= t0 or d_end <= d0:
            return None
        return (d_end - d0) / (t_end - t0)

    def remaining(self, total: float) -> float | None:
        """Seconds until ``total`` units are done at the measured rate."""
        rate = self.rate()
        if rate is None or not self.samples:
            return None
        return max(0.0, total - self.samples[-1][1]) / rate


def format_duration(seconds: float) -> str:
    """"45 s", "3 min 05 s", "2 h 07 min"."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_count(n: float) -> str:
    return f"{int(n):,}"


class ProgressReader:
    """Follows the progress events of one call that runs trials (a stress test, a generation): the
    work fraction, what is left and when it will be done, and the trials finished beside it."""

    def __init__(self, trials: int = 0, task: Any = None, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.eta = EtaClock(clock=clock)
        self.reset(trials, task)

    def reset(self, trials: int = 0, task: Any = None) -> None:
        """Start afresh for ``trials`` trials; with their ``task``, the work expected is known at once."""
        self.work_done, self.work_total, self.unit = 0, 0, ""
        if task is not None and trials:
            self.work_total, self.unit = trials * trial_budget(task), work_unit(task)
        self.finished, self.trials, self.steps_text = 0, trials, ""
        self.eta.reset()

    def update(self, event: Any) -> bool:
        """Take one event; True if it was a progress event (what is shown changed)."""
        from lab.arenas.base import TrialProgress

        if not isinstance(event, TrialProgress):
            return False
        if event.work_total:
            self.work_total, self.unit = event.work_total, event.unit or self.unit
            self.work_done = max(self.work_done, min(event.work_done, event.work_total))
            self.eta.update(self.work_done)
        self.finished = max(self.finished, event.finished)
        self.trials = event.total or self.trials
        if event.step_cap:
            running = event.live if event.finished < (event.total or self.trials) else 0
            self.steps_text = (f"{budget_word(event.arena)} {event.steps_done:,} of {event.step_cap:,}"
                               + (f", {running} training" if running else ""))
        else:
            self.steps_text = event.message
        return True

    @property
    def fraction(self) -> float:
        return self.work_done / self.work_total if self.work_total else 0.0

    def seconds_left(self) -> float | None:
        if not self.work_total:
            return None
        if self.work_done >= self.work_total:
            return 0.0
        return self.eta.remaining(self.work_total)

    def time_left_text(self) -> str:
        left = self.seconds_left()
        if left is None:
            return "estimating time left..."
        return "done" if left == 0 and self.work_done >= self.work_total else f"about {format_duration(left)} left"

    def short_text(self) -> str:
        """"37%, 1 min 20 s left" (for a status bar)."""
        left = self.seconds_left()
        return f"{self.fraction:.0%}, " + ("estimating time left" if left is None else f"{format_duration(left)} left")

    def work_text(self) -> str:
        """"37% of 5,400 member-steps, about 1 min 20 s left"."""
        if not self.work_total:
            return "starting..."
        return f"{self.fraction:.0%} of {format_count(self.work_total)} {self.unit}, {self.time_left_text()}"

    def trials_text(self, finished: int | None = None) -> str:
        """"3 of 9 trials finished" (``finished`` overrides the count from the events)."""
        n = self.finished if finished is None else finished
        return f"{n} of {self.trials} trial{'s' * (self.trials != 1)} finished"


def budget_word(arena: str) -> str:
    """One unit of an arena's budget, for "step 900 of 2,500" / "pass 900 of 3,000"."""
    try:
        from lab.arenas import get_arena
        unit = get_arena(arena).default_task().UNIT
    except (KeyError, ValueError, AttributeError):
        return "step"
    return unit[:-2] if unit.endswith("sses") else unit[:-1] if unit.endswith("s") else unit


class TqdmWork:
    """A tqdm bar over work units (so tqdm's rate and its time left are about work, not trials),
    with the trials finished beside it. Feed it every event of the call it follows."""

    def __init__(self, task: Any, trials: int, *, desc: str | None = None, leave: bool = True,
                 file: Any = None):
        import sys

        from tqdm import tqdm
        self.reader = ProgressReader(trials, task)
        self.bar = tqdm(total=self.reader.work_total, unit=f" {self.reader.unit}", unit_scale=True, desc=desc,
                        leave=leave, disable=trials == 0, file=file or sys.stderr, dynamic_ncols=True,
                        postfix=self.reader.trials_text())
        self.finished = 0

    def update(self, event: Any) -> None:
        from lab.arenas.base import TrialFinished

        if isinstance(event, TrialFinished) and event.result.status != "cancelled":
            self.finished += 1
            self.bar.set_postfix_str(self.reader.trials_text(self.finished))
        if not self.reader.update(event) or not self.reader.work_total:
            return
        r, bar = self.reader, self.bar
        if bar.total != r.work_total:
            bar.total = r.work_total       # trials that ended early took their unspent budget out
        bar.set_postfix_str(r.trials_text(self.finished), refresh=False)
        bar.update(r.work_done - bar.n)

    def close(self) -> None:
        self.bar.close()
