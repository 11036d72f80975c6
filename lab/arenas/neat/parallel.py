"""Parallel evaluation for the NEAT arena: run ``fn(item, arrays)`` over a list of items, in order,
inline, on a thread pool or on worker processes that read the task arrays from shared memory.

It knows nothing of genomes: the engine hands it chunks of work and gets the results back in order.
The process backend uses its own workers (``multiprocessing.Process``, one duplex pipe each) rather
than ``concurrent.futures``: with one pipe per worker the owner always knows which item each worker
holds, so a dead worker (``os._exit``, a segfault) is named with its item, cancel can terminate
exactly the busy workers, and a rolling restart can swap one worker while the others keep their
pipes. A terminated worker cannot corrupt a lock shared with the others, because nothing is shared.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import pickle
import signal
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from lab.arenas.neat.parallel_config import ParallelConfig
from lab.arenas.neat.parallel_worker import STOP as _STOP
from lab.arenas.neat.parallel_worker import worker_main
from lab.arenas.neat.shared_arrays import SharedArrays

_POLL_S = 0.05            # how often a waiting map looks at the cancel flag
_STOP_GRACE_S = 5.0       # an idle worker asked to stop gets this long before it is terminated
_START_TIMEOUT_S = 120.0  # a replacement worker must be ready within this (spawn + torch import)


class EvaluationError(RuntimeError):
    """A worker crashed (its process died) or ``fn`` raised; the message says which and why."""


class Cancelled(Exception):
    """The cancel flag was set during a map: pending items were dropped, in-flight ones stopped."""


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, attached as its cause."""

    def __str__(self) -> str:
        return self.args[0]


def _failure(fn_name: str, index: int, what: str, cause: BaseException) -> EvaluationError:
    error = EvaluationError(f"{fn_name} failed on item {index}: {what}")
    error.__cause__ = cause
    return error


@dataclasses.dataclass(eq=False)
class _Worker:
    process: Any  # a multiprocessing Process of the evaluator's context
    conn: Any     # the owner's end of the worker's duplex pipe
    ready: bool = False
    task: int | None = None  # the index of the item it is evaluating


def _stop_workers(workers: list[_Worker]) -> None:
    """Stop every worker in ``workers`` and empty the list: idle ones are asked to exit, busy ones
    (whose item nobody waits for any more) are terminated at once."""
    for worker in workers:
        if worker.task is None:
            try:
                worker.conn.send_bytes(_STOP)
            except OSError:
                pass  # already gone
        else:
            worker.process.terminate()
    for worker in workers:
        worker.process.join(_STOP_GRACE_S)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        worker.process.close()
    workers.clear()


def _fn_name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', repr(fn))}"


def _warn_runtime(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def _raise_if_cancelled(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("evaluation cancelled")


class Evaluator:
    """Runs ``fn(item, arrays)`` for each item of a list and returns the results in item order.

    ``fn`` must be a module-level function for the process backend. ``arrays`` are read-only in
    every backend (in process workers they are views on shared memory, attached once per worker),
    so an ``fn`` that writes to them fails the same way everywhere. ``workers == 1`` evaluates inline
    whatever the backend. If ``fn``, or an item, cannot be pickled, the process backend falls back to
    threads and says so once through ``warn``."""

    def __init__(self, fn: Callable[[Any, dict[str, np.ndarray]], Any], arrays: Mapping[str, np.ndarray],
                 config: ParallelConfig | None = None, *, warn: Callable[[str], None] | None = None):
        self._fn = fn
        self._fn_name = _fn_name(fn)
        self._config = config if config is not None else ParallelConfig.from_env()
        self._warn = warn if warn is not None else _warn_runtime
        self._arrays = {key: _read_only(value) for key, value in arrays.items()}
        self._context = multiprocessing.get_context(self._config.start_method)
        self._workers: list[_Worker] = []  # mutated in place: the finalizer holds this very list
        self._stop_pool = weakref.finalize(self, _stop_workers, self._workers)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._shared: SharedArrays | None = None
        self._generations = 0
        self._restarts = 0
        self._closed = False
        self._backend = "inline" if self._config.workers == 1 else self._config.backend
        if self._backend == "process":
            try:
                pickle.dumps(fn)
            except Exception as exc:
                self._fall_back_to_threads(f"{self._fn_name} cannot be pickled ({exc}), so worker "
                                           "processes cannot run it; define it at module level")
            else:
                self._shared = SharedArrays(arrays)

    @property
    def backend(self) -> str:
        """The backend in use: "inline", "thread" or "process"."""
        return self._backend

    @property
    def restarts(self) -> int:
        """Workers replaced by rolling restarts (replacing a crashed or cancelled worker is not one)."""
        return self._restarts

    def map(self, items: Sequence[Any], cancel: Any = None) -> list[Any]:
        """``fn`` over ``items``, one task per item, results in item order.

        If ``cancel.is_set()`` turns true, pending items are dropped, in-flight ones are stopped
        (process workers terminated, threads awaited) and Cancelled is raised. ``fn`` raising, or a
        worker process dying, raises EvaluationError; a lost worker is replaced on the next map."""
        if self._closed:
            raise RuntimeError("this Evaluator is closed; create a new one to evaluate again")
        items = list(items)
        if not items:
            return []
        if self._backend == "process":
            payloads = self._pickle_items(items)
            if payloads is not None:
                return self._map_processes(payloads, cancel)
        if self._backend == "thread":
            return self._map_threads(items, cancel)
        return self._map_inline(items, cancel)

    def generation_done(self) -> None:
        """Count a generation; every ``restart_every`` of them, replace the kept-alive process workers
        one at a time, each only after its replacement is ready, so the pool never runs empty
        (workers that grow with every generation, through leaks or caches, start afresh)."""
        self._generations += 1
        every = self._config.restart_every
        if (self._backend == "process" and self._config.keepalive and every
                and self._generations % every == 0):
            for old in list(self._workers):
                new = self._start_worker()
                self._workers.append(new)
                self._await_ready(new)
                self._workers.remove(old)
                _stop_workers([old])
                self._restarts += 1

    def close(self) -> None:
        """Stop the workers and unlink the shared memory. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop_pool()
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
        if self._shared is not None:
            self._shared.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- fallback -------------------------------------------------------------------------------

    def _fall_back_to_threads(self, reason: str) -> None:
        self._warn(f"{reason}; using the thread backend ({self._config.workers} threads) instead")
        self._backend = "thread"
        _stop_workers(self._workers)
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def _pickle_items(self, items: list[Any]) -> list[bytes] | None:
        """Every item pickled once, up front, so an unpicklable one is found before any is sent;
        None after falling back to threads because one could not be."""
        payloads = []
        for index, item in enumerate(items):
            try:
                payloads.append(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
            except Exception as exc:
                self._fall_back_to_threads(f"item {index} ({type(item).__name__}) for "
                                           f"{self._fn_name} cannot be pickled ({exc}), so it "
                                           "cannot be sent to worker processes")
                return None
        return payloads

    # -- inline and threads ---------------------------------------------------------------------

    def _map_inline(self, items: list[Any], cancel: Any) -> list[Any]:
        results = []
        for index, item in enumerate(items):
            _raise_if_cancelled(cancel)
            try:
                results.append(self._fn(item, self._arrays))
            except Exception as exc:
                raise _failure(self._fn_name, index, f"{type(exc).__name__}: {exc}", exc) from exc
        return results

    def _map_threads(self, items: list[Any], cancel: Any) -> list[Any]:
        executor = self._executor or concurrent.futures.ThreadPoolExecutor(
            self._config.workers, thread_name_prefix="neat-eval")
        if self._config.keepalive:
            self._executor = executor
        futures = [executor.submit(self._fn, item, self._arrays) for item in items]
        index_of = {future: index for index, future in enumerate(futures)}
        try:
            not_done = set(futures)
            while not_done:
                _raise_if_cancelled(cancel)
                done, not_done = concurrent.futures.wait(
                    not_done, _POLL_S, return_when=concurrent.futures.FIRST_EXCEPTION)
                failed = sorted((index_of[f] for f in done if f.exception() is not None))
                if failed:
                    exc = futures[failed[0]].exception()
                    raise _failure(self._fn_name, failed[0], f"{type(exc).__name__}: {exc}", exc)
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures)  # a running thread cannot be stopped, only awaited
            raise
        finally:
            if not self._config.keepalive:
                executor.shutdown()

    # -- processes ------------------------------------------------------------------------------

    def _map_processes(self, payloads: list[bytes], cancel: Any) -> list[Any]:
        self._fill_pool()
        results: list[Any] = [None] * len(payloads)
        pending = collections.deque(range(len(payloads)))
        remaining = len(payloads)
        try:
            while remaining:
                _raise_if_cancelled(cancel)
                for worker in self._workers:
                    if worker.task is None and pending:
                        worker.task = pending.popleft()
                        self._send(worker, payloads[worker.task])
                busy = [worker for worker in self._workers if worker.task is not None]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], _POLL_S)
                for worker in busy:
                    reply = self._receive(worker)
                    if reply is None:
                        continue
                    index, worker.task = worker.task, None
                    kind, body = reply
                    if kind == "error":
                        what, exc, remote_traceback = body
                        remote = _RemoteTraceback(remote_traceback)
                        if exc is not None:
                            exc.__cause__ = remote
                        raise _failure(self._fn_name, index, what, exc if exc is not None else remote)
                    results[index] = body
                    remaining -= 1
        except BaseException:
            busy = [worker for worker in self._workers if worker.task is not None]
            self._workers[:] = [worker for worker in self._workers if worker.task is None]
            _stop_workers(busy)
            raise
        finally:
            if not self._config.keepalive:
                _stop_workers(self._workers)
        return results

    def _fill_pool(self) -> None:
        """Replace workers lost since the last map (crashed, cancelled) and start missing ones."""
        lost = [worker for worker in self._workers if worker.process.exitcode is not None]
        self._workers[:] = [worker for worker in self._workers if worker not in lost]
        _stop_workers(lost)
        while len(self._workers) < self._config.workers:
            self._workers.append(self._start_worker())

    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(theirs, self._fn, self._shared.handles),
                                        name="neat-eval", daemon=True)
        process.start()
        theirs.close()  # only the worker holds its end now, so its death reads as EOF here
        return _Worker(process, ours)

    def _await_ready(self, worker: _Worker) -> None:
        if not wait([worker.conn, worker.process.sentinel], _START_TIMEOUT_S):
            raise EvaluationError(f"a replacement worker for {self._fn_name} was not ready "
                                  f"within {_START_TIMEOUT_S:.0f} s")
        self._receive(worker)  # takes the "ready" message, or raises if the worker died starting

    def _send(self, worker: _Worker, payload: bytes) -> None:
        try:
            worker.conn.send_bytes(payload)
        except OSError:
            raise self._died(worker) from None

    def _receive(self, worker: _Worker) -> tuple[str, Any] | None:
        """The worker's next reply, or None if it has none yet; EvaluationError if it died."""
        while worker.conn.poll():
            try:
                kind, body = pickle.loads(worker.conn.recv_bytes())
            except (EOFError, OSError):
                raise self._died(worker) from None
            if kind == "ready":
                worker.ready = True
                continue
            return kind, body
        if worker.process.exitcode is None:
            return None
        raise self._died(worker)

    def _died(self, worker: _Worker) -> EvaluationError:
        worker.process.join(_STOP_GRACE_S)
        code = worker.process.exitcode
        if code is None:
            how = "stopped answering"
        elif code < 0:
            how = f"was killed by signal {_signal_name(-code)}"
        else:
            how = f"exited with code {code}"
        doing = (f"while evaluating item {worker.task}" if worker.ready
                 else "while starting (its traceback, if any, is on stderr)")
        return EvaluationError(f"worker process {worker.process.pid} running {self._fn_name} died: "
                               f"it {how} {doing}; the pool is rebuilt on the next map")


def _read_only(value: np.ndarray) -> np.ndarray:
    view = np.asarray(value).view()
    view.flags.writeable = False
    return view


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
