"""What runs inside a NEAT evaluation worker process (lab.arenas.neat.parallel): attach the shared
task arrays once, then evaluate one pickled item per message from the owner, replying with the
pickled result or the error and its traceback, until told to stop or the owner is gone. The
pipe carries only what the owner process itself pickled; no file is ever unpickled.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from lab.arenas.neat.shared_arrays import SegmentHandle, attach

STOP = b""   # the stop message: pickled items are never empty


def worker_main(conn, fn: Callable, handles: Mapping[str, SegmentHandle]) -> None:
    """A worker process: attach the shared arrays once, then evaluate one item per message until
    told to stop, or until the owner process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle; it stops us
    arrays, _segments = attach(handles)  # _segments keeps the mappings under the views alive
    parent = multiprocessing.parent_process()
    watched = [conn] if parent is None else [conn, parent.sentinel]
    conn.send_bytes(pickle.dumps(("ready", os.getpid())))
    while conn in wait(watched):
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        if message == STOP:
            return
        conn.send_bytes(_evaluate(fn, pickle.loads(message), arrays))


def _evaluate(fn: Callable, item: Any, arrays: dict[str, np.ndarray]) -> bytes:
    """One reply, pickled: ("result", value) or ("error", (what went wrong, exception, traceback))."""
    try:
        result = fn(item, arrays)
    except Exception as exc:
        return _error_reply(f"{type(exc).__name__}: {exc}", exc)
    try:
        return pickle.dumps(("result", result), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return _error_reply(f"its result ({type(result).__name__}) cannot be pickled "
                            f"({type(exc).__name__}: {exc})", exc)


def _error_reply(what: str, exc: Exception) -> bytes:
    try:
        portable: Exception | None = pickle.loads(pickle.dumps(exc))
    except Exception:
        portable = None  # the message and the traceback text still travel
    return pickle.dumps(("error", (what, portable, "".join(traceback.format_exception(exc)))))
