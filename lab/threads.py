"""How torch's CPU kernels use the cores, so that a shared machine does not slow the lab down.

When the lab gives OpenMP every core and anything else runs (a second lab process, a Dask worker, a
test run, a browser), every parallel region waits for its slowest thread, and a thread that shares
its core with a busy process is the slowest by far: a step takes as long as the most descheduled
thread's share, and the waiting threads spin on cores the other process wants.

:class:`Governor` follows the machine while the grokking trainer runs: every half second it reads
how busy the cores are (``/proc/stat``) less what this process used itself, and gives torch the
cores nobody else is using (at least one). On an idle machine that is every core, as before; with
one busy process on two cores it is one thread. The trainer's results do not depend on the thread
count (tested), so following the machine changes speed only. ``OMP_NUM_THREADS`` set by the user
fixes the count and turns the governor off.

OpenMP's wait policy stays its default (threads spin briefly, then sleep): making them sleep at once
(``OMP_WAIT_POLICY=PASSIVE``) was measured to cost an idle 2-core machine 15-35% of its speed, as
every one of a step's many small parallel regions then wakes its threads from sleep.
``bench/threads_under_load.py`` measures all of this.
"""
from __future__ import annotations

import os
import time

INTERVAL_S = 0.5          # how often the governor looks at the machine
FIRST_LOOK_S = 0.15       # its first look comes sooner: a busy machine is seen before much work is done
latest: Governor | None = None   # the last governor made (what a benchmark reports)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def user_fixed_threads() -> bool:
    return "OMP_NUM_THREADS" in os.environ


def configure(threads: int | None = None) -> int:
    """``threads`` torch threads (default: every core this process may use; the user's
    OMP_NUM_THREADS wins). Returns the count."""
    import torch

    if user_fixed_threads():
        return torch.get_num_threads()
    n = max(1, threads or cores())
    torch.set_num_threads(n)
    return n


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU jiffies of the whole machine since boot, or None where /proc/stat is absent."""
    try:
        with open("/proc/stat", "rb") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields[:8]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)   # idle + iowait
    return sum(values) - idle, sum(values)


class Governor:
    """Gives torch the cores other processes leave free; call :meth:`tick` often (it acts at most
    every ``interval`` seconds, from the thread that runs the torch work: OpenMP's thread count
    belongs to the calling thread). :meth:`restore` puts the count back as it was."""

    def __init__(self, interval: float = INTERVAL_S, ceiling: int | None = None,
                 first_look: float = FIRST_LOOK_S) -> None:
        import torch

        self.torch = torch
        self.interval = interval
        self.wait = min(first_look, interval)   # until the next look
        self.start_threads = torch.get_num_threads()
        self.ceiling = max(1, ceiling or self.start_threads)
        self.threads = self.start_threads
        self.enabled = not user_fixed_threads() and _busy_jiffies() is not None and cores() > 1
        self.ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.changes = 0
        self.used: list[int] = [self.threads]   # every count it set, for a benchmark to show
        self._mark()
        global latest
        latest = self

    def _mark(self) -> None:
        self.when = time.monotonic()
        self.own = time.process_time()
        self.machine = _busy_jiffies()

    def others_busy(self) -> float | None:
        """Cores other processes kept busy since the last look (None: cannot tell)."""
        now, own, machine = time.monotonic(), time.process_time(), _busy_jiffies()
        if machine is None or self.machine is None:
            return None
        wall = now - self.when
        if wall <= 0:
            return None
        total = machine[1] - self.machine[1]
        if total <= 0:
            return None
        machine_busy = (machine[0] - self.machine[0]) / total * cores()   # cores busy, on average
        mine = (own - self.own) / wall
        self.when, self.own, self.machine = now, own, machine
        return max(0.0, machine_busy - mine)

    def tick(self) -> int:
        """Look at the machine if ``interval`` has passed; returns the thread count in force."""
        if not self.enabled or time.monotonic() - self.when < self.wait:
            return self.threads
        self.wait = self.interval
        others = self.others_busy()
        if others is None:
            return self.threads
        free = cores() - others
        want = max(1, min(self.ceiling, int(free + 0.35)))   # a core counts as free when mostly idle
        if want != self.threads:
            self.torch.set_num_threads(want)
            self.threads = want
            self.changes += 1
            self.used.append(want)
        return self.threads

    def restore(self) -> None:
        if self.threads != self.start_threads:
            self.torch.set_num_threads(self.start_threads)
            self.threads = self.start_threads
