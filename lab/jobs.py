"""Background jobs: long work (training, evolution, stress tests) runs on a ``concurrent.futures``
executor while the window stays responsive.

A job function is called as ``fn(job, *args)``; it reports through ``job.emit(event)`` (any plain
object, usually an arena or evolution event) and checks ``job.cancel_token.is_set()`` between steps.
Workers only ever put messages on one queue; whoever owns the user interface (the Tk thread, via
``after``) calls :meth:`JobRunner.poll` to deliver them to the job's listeners, in order, on its own
thread. Nothing else crosses threads. An exception inside a job becomes the job's ``error``; it
never reaches the poller's caller.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclasses.dataclass(frozen=True)
class JobStarted:
    job_id: int


@dataclasses.dataclass(frozen=True)
class JobEnded:
    """The last event of every job: ``state`` is done, failed or cancelled."""

    job_id: int
    state: str
    result: Any = None
    error: str | None = None        # one line for the user
    details: str | None = None      # the traceback, for the log


class Job:
    """A handle on submitted work: progress events, cancel, and (once ended) result or error."""

    def __init__(self, runner: JobRunner, job_id: int, title: str):
        self.id = job_id
        self.title = title
        self.state = "queued"
        self.result: Any = None
        self.error: str | None = None
        self.details: str | None = None
        self.cancel_token = threading.Event()
        self.progress: tuple[float, str] = (0.0, "")  # fraction 0..1 and a short text, set by the job
        self._runner = runner
        self._listeners: list[Callable[[Any], None]] = []
        self._ended = threading.Event()
        self.future: concurrent.futures.Future | None = None

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.title!r}, {self.state})"

    # ---- worker side -----------------------------------------------------------------------
    def emit(self, event: Any) -> None:
        """Queue an event for the listeners (safe from any thread)."""
        self._runner._queue.put((self, event))

    def report(self, fraction: float, text: str = "") -> None:
        """Queue a progress report (0..1 and a short text) shown in the status bar."""
        self.emit(JobProgress(self.id, max(0.0, min(1.0, float(fraction))), text))

    # ---- owner side --------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[Any], None]) -> None:
        """``listener(event)`` is called by :meth:`JobRunner.poll` for every event, ending with JobEnded."""
        self._listeners.append(listener)

    def cancel(self) -> None:
        """Ask the job to stop: a queued job never starts; a running one sees its cancel token."""
        self.cancel_token.set()
        if self.future is not None and self.future.cancel():
            self.emit(JobEnded(self.id, "cancelled"))
            self._ended.set()

    @property
    def active(self) -> bool:
        """Not yet ended as the owner sees it (its JobEnded has not been delivered)."""
        return self.state in ("queued", "running")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job function returned (events may still be queued). True if it did."""
        return self._ended.wait(timeout)


@dataclasses.dataclass(frozen=True)
class JobProgress:
    job_id: int
    fraction: float
    text: str = ""


class JobRunner:
    """Runs jobs on an executor (a thread pool of ``workers`` by default) and delivers their events."""

    def __init__(self, executor: concurrent.futures.Executor | None = None, workers: int = 1):
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                                          thread_name_prefix="lab-job")
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._ids = itertools.count(1)
        self.jobs: list[Job] = []

    def submit(self, fn: Callable[..., Any], *args: Any, title: str = "job",
               on_event: Callable[[Any], None] | None = None) -> Job:
        job = Job(self, next(self._ids), title)
        if on_event is not None:
            job.subscribe(on_event)
        self.jobs.append(job)
        job.future = self.executor.submit(self._run, job, fn, args)
        return job

    def _run(self, job: Job, fn: Callable[..., Any], args: tuple) -> None:
        if job.cancel_token.is_set():
            job.emit(JobEnded(job.id, "cancelled"))
            job._ended.set()
            return
        job.emit(JobStarted(job.id))
        try:
            result = fn(job, *args)
        except BaseException as exc:  # noqa: BLE001 - a job's failure is reported, never raised here
            end = JobEnded(job.id, "failed", error=f"{type(exc).__name__}: {exc}",
                           details="".join(traceback.format_exception(exc)))
        else:
            end = JobEnded(job.id, "cancelled" if job.cancel_token.is_set() else "done", result=result)
        job.emit(end)
        job._ended.set()

    def poll(self, limit: int = 1000) -> int:
        """Deliver queued events to their jobs' listeners (call on the owner's thread). Returns how
        many were delivered. A listener that raises does not stop the others; its exception is
        re-raised after the batch so the owner can report it."""
        delivered, first_error = 0, None
        while delivered < limit:
            try:
                job, event = self._queue.get_nowait()
            except queue.Empty:
                break
            delivered += 1
            if isinstance(event, JobStarted):
                job.state = "running"
            elif isinstance(event, JobProgress):
                job.progress = (event.fraction, event.text)
            elif isinstance(event, JobEnded):
                if not job.active:
                    continue  # a cancelled queued job may report twice
                job.state, job.result, job.error, job.details = event.state, event.result, event.error, event.details
            for listener in list(job._listeners):
                try:
                    listener(event)
                except Exception as exc:  # noqa: BLE001
                    first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return delivered

    def active_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.active]

    def wait_all(self, timeout: float | None = None, poll: bool = True) -> bool:
        """Wait until every job has ended (delivering events if ``poll``); for scripts and tests."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.active_jobs():
            if deadline is not None and time.monotonic() > deadline:
                return False
            if poll:
                self.poll()
            time.sleep(0.01)
        return True

    def shutdown(self, cancel: bool = True) -> None:
        if cancel:
            for job in self.active_jobs():
                job.cancel()
        self.executor.shutdown(wait=True, cancel_futures=cancel)
