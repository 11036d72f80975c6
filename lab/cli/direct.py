"""The one loop of every direct run (``python main.py m2n2|genreg|neat ...``): step an arena's engine
under a progress bar until it is done, then let the arena print what it reached and write its files;
Ctrl-C stops between steps, lets the arena say where it stopped (and save what it can), exit 130.
An arena's ``cli.py`` supplies only what differs, as a :class:`DirectRun`."""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable
from typing import Any, ContextManager

from lab.cli.common import EXIT_INTERRUPTED


@dataclasses.dataclass
class DirectRun:
    """What an arena's direct run differs in.

    ``step()`` advances the engine and returns the units it did (passes, generations); ``postfix()``
    the figures beside the bar; ``interrupted()`` what to say and save on Ctrl-C; ``finished(seconds)``
    the summary and the files at the end. ``context`` is held around the run (an engine that owns
    worker processes closes them)."""

    engine: Any
    total: int
    unit: str
    step: Callable[[], int]
    postfix: Callable[[], dict[str, Any]]
    interrupted: Callable[[], None]
    finished: Callable[[float], None]
    initial: int = 0
    context: ContextManager[Any] | None = None
    history: str | None = None   # --history: the run's per-generation history written there as CSV


def add_history_option(p: Any) -> None:
    p.add_argument("--history", metavar="FILE.csv", help="write the run's history there at the end (or on "
                   "Ctrl-C): a row per generation (pass) with the numbers the direct-run charts show")


def write_history(run: DirectRun) -> None:
    """The run's history table as CSV at ``run.history`` (replaced whole); a problem is one line."""
    if not run.history:
        return
    from pathlib import Path

    from lab.arenas.live_settings import engine_history_csv
    from lab.files import atomic_write_text
    try:
        atomic_write_text(Path(run.history), engine_history_csv(run.engine))
    except OSError as exc:
        print(f"error: the history was not written to {run.history}: {exc}", file=sys.stderr)
        return
    print(f"history ({run.unit}) written to {run.history}", file=sys.stderr)


def run_direct(run: DirectRun) -> int:
    """Run ``run`` to the end; 0 when done, 130 when stopped with Ctrl-C."""
    from tqdm import tqdm

    with run.context if run.context is not None else contextlib.nullcontext():
        t0 = time.perf_counter()
        bar = tqdm(total=run.total, initial=run.initial, unit=run.unit, file=sys.stderr, smoothing=0.1)
        try:
            while not run.engine.done:
                bar.update(run.step())
                bar.set_postfix(**run.postfix())
        except KeyboardInterrupt:
            bar.close()
            run.interrupted()
            write_history(run)
            return EXIT_INTERRUPTED
        bar.close()
        run.finished(time.perf_counter() - t0)
        write_history(run)
    return 0


def task_overrides(args: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The task fields given on the command line (options left unset keep the task's default)."""
    return {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
