"""Where trials run: in the job's own thread, in a local process pool, or on a Dask cluster.

A job (an evolution run, a stress test) stays on the lab's :class:`~lab.jobs.JobRunner`: it owns
the registry and talks to the window. What a backend distributes is the job's *trials*: the trials
runner (lab.trials) takes the backend as an argument and hands the pairs it must run to
:meth:`ExecutorBackend.run_remote`, so the evolution loop and Smart Fill do not know where their
trials run.

- ``threads`` (default): the arena runs its batched trainer in the job's thread, with step-level
  progress and an immediate cancel. Torch uses every core inside that one batch.
- ``processes``: a local ``concurrent.futures.ProcessPoolExecutor`` (spawned workers).
- ``dask``: a Dask distributed cluster, joined (``tcp://HOST:8786``) or started here
  (``local:N``, a ``LocalCluster`` of N single-threaded worker processes). Work goes through
  ``Client.get_executor(pure=False)``, a ``concurrent.futures.Executor``, so processes and Dask
  share one code path.

With ``processes`` and ``dask``, the pairs not yet in the registry are split into one batch per
worker (more if a batch would pass the trainer's member cap; a worker's GPU gets the GPU cap), and
every batch is shipped as plain data (genome JSON dicts, the task's fields, seeds) to the top-level
function :func:`lab.remote.run_batch`. Results come back as trial dicts; only this process writes the
registry, each trial once, as its batch arrives. A batch whose worker dies is resubmitted (at most
``retries`` times); Dask also reschedules it by itself. Every trial's randomness comes from its own
(genome, seed), and a trial's numbers do not depend on its batch mates (see the grokking model's
``_RowLookup``), so every backend gives identical results for the same run.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

from lab import remote
from lab.arenas.base import Cancel, EventSink, TaskConfig, TrialResult

log = logging.getLogger("lab.backends")

BACKENDS = {
    "threads": "run trials in the job's own thread (torch uses every core); the default",
    "processes": "a local pool of worker processes",
    "dask": "a Dask distributed cluster: --cluster tcp://HOST:8786 joins one, --cluster local:N starts N workers here",
}
CONNECT_TIMEOUT = 10.0   # seconds to reach a scheduler before giving up with a clear error
RETRIES = 2              # resubmissions of a batch whose worker died


class BackendError(RuntimeError):
    """The backend cannot be set up or used (bad address, unreachable scheduler, no workers)."""


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    """Which backend and how: ``kind`` threads|processes|dask, ``workers`` (processes: pool size,
    0 = one per core), ``cluster`` (dask: ``tcp://HOST:PORT`` or ``local:N``)."""

    kind: str = "threads"
    workers: int = 0
    cluster: str = ""
    timeout: float = CONNECT_TIMEOUT
    retries: int = RETRIES

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in BACKENDS:
            problems.append(f"backend {self.kind!r} is not one of {', '.join(BACKENDS)}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            problems.append(f"workers must be a whole number >= 0, got {self.workers!r}")
        if not isinstance(self.timeout, (int, float)) or not 0 < self.timeout <= 3600 or math.isnan(self.timeout):
            problems.append(f"timeout must be between 0 and 3600 seconds, got {self.timeout!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 10:
            problems.append(f"retries must be a whole number from 0 to 10, got {self.retries!r}")
        if self.kind == "dask":
            try:
                parse_cluster(self.cluster)
            except BackendError as exc:
                problems.append(str(exc))
        elif self.cluster:
            problems.append(f"a cluster address is for the dask backend, not {self.kind!r}")
        if problems:
            raise BackendError("invalid backend settings: " + "; ".join(problems))

    @property
    def label(self) -> str:
        if self.kind == "dask":
            return f"dask {self.cluster}"
        if self.kind == "processes":
            return f"processes x{self.workers or os.cpu_count() or 1}"
        return "threads"

    @classmethod
    def from_args(cls, backend: str | None, cluster: str | None = None, workers: int | None = None,
                  timeout: float | None = None) -> BackendConfig:
        """From command-line options: a cluster address alone means dask."""
        kind = backend or ("dask" if cluster else "threads")
        return cls(kind=kind, workers=workers or 0, cluster=cluster or "",
                   timeout=CONNECT_TIMEOUT if timeout is None else timeout)


def parse_cluster(address: str) -> tuple[str, Any]:
    """``local:N`` -> ("local", N); ``tcp://HOST:PORT`` (or tls://) -> ("remote", address)."""
    address = (address or "").strip()
    if not address:
        raise BackendError("the dask backend needs a cluster: tcp://HOST:8786 to join a scheduler, "
                           "or local:N to start N local workers")
    if address.startswith("local:"):
        n = address.partition(":")[2]
        if not n.isdigit() or not 1 <= int(n) <= 256:
            raise BackendError(f"cluster {address!r}: local:N needs a worker count from 1 to 256")
        return "local", int(n)
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "tls", "ucx", "inproc") or not rest:
        raise BackendError(f"cluster {address!r} is not an address like tcp://HOST:8786 or local:N")
    return "remote", address


# ---- backends --------------------------------------------------------------------------------------
@dataclasses.dataclass
class BackendStatus:
    """What the status bar shows: the backend, its workers and what went wrong so far."""

    label: str
    workers: int
    gpus: int = 0
    lost: int = 0          # workers that went away while connected
    retried: int = 0       # batches resubmitted after their worker died
    running: int = 0       # batches in flight
    error: str = ""

    def text(self) -> str:
        parts = [self.label, f"{self.workers} worker{'s' if self.workers != 1 else ''}"]
        if self.gpus:
            parts.append(f"{self.gpus} GPU")
        if self.running:
            parts.append(f"{self.running} batch{'es' if self.running != 1 else ''} running")
        if self.lost or self.retried:
            parts.append(f"{self.lost} lost, {self.retried} retried")
        if self.error:
            parts.append(self.error)
        return " · ".join(parts)


class Backend:
    """Base: the threads backend (trials run in the caller's thread, through the arena itself)."""

    kind = "threads"
    remote = False   # the trials runner (lab.trials) runs trials here, in the job's thread

    def __init__(self, config: BackendConfig | None = None):
        self.config = config or BackendConfig()
        self._status = BackendStatus(self.config.label, workers=1)
        self._lock = threading.Lock()

    def status(self) -> BackendStatus:
        with self._lock:
            return dataclasses.replace(self._status)

    def close(self) -> None:
        """Let go of workers and connections (the backend cannot be used afterwards)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ExecutorBackend(Backend):
    """Trials shipped in plain-data batches to a ``concurrent.futures.Executor``'s workers."""

    remote = True   # the trials runner hands its pairs to :meth:`run_remote`

    # what subclasses provide
    def executor(self, gpu: bool) -> concurrent.futures.Executor:
        raise NotImplementedError

    def worker_slots(self) -> tuple[int, int]:
        """(CPU workers, GPU workers) available now."""
        raise NotImplementedError

    def retryable(self, exc: BaseException) -> bool:
        """Did this batch fail because its worker (or the pool) died, not because of the trials?"""
        raise NotImplementedError

    def recover(self, exc: BaseException) -> bool:
        """Called once before resubmitting after a worker death. True if every batch still pending
        was lost with it (a process pool breaks as a whole and rebuilds itself)."""
        return False

    def abandon(self, futures: Sequence[concurrent.futures.Future]) -> None:
        """Cancelled: stop what can be stopped."""
        for f in futures:
            f.cancel()

    def _note(self, **changes: int) -> None:
        with self._lock:
            for key, delta in changes.items():
                setattr(self._status, key, getattr(self._status, key) + delta)

    def run_remote(self, arena: Any, todo: list[tuple[Any, int]], task: TaskConfig, *, device: str,
                   emit: EventSink, cancel: Cancel | None, race=None) -> list[TrialResult]:
        """Run ``todo`` in plain-data batches on the workers (lab.remote.run_remote)."""
        return remote.run_remote(self, arena, todo, task, device=device, emit=emit, cancel=cancel, race=race)


class ProcessBackend(ExecutorBackend):
    """A local process pool (spawned, so torch starts clean in every worker)."""

    kind = "processes"

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        self.workers = config.workers or os.cpu_count() or 1
        self._status = BackendStatus(config.label, workers=self.workers)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def executor(self, gpu: bool) -> concurrent.futures.Executor:
        if self._pool is None:
            import multiprocessing
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process_worker, initargs=(threads,))
        return self._pool

    def worker_slots(self) -> tuple[int, int]:
        return self.workers, 0

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, concurrent.futures.process.BrokenProcessPool)

    def recover(self, exc: BaseException) -> bool:
        self._note(lost=1)
        self._drop_pool()
        return True

    def abandon(self, futures: Sequence[concurrent.futures.Future]) -> None:
        super().abandon(futures)
        if any(not f.done() for f in futures):
            self._drop_pool()  # running batches cannot be cancelled: stop their processes

    def worker_pids(self) -> list[int]:
        return sorted(self._pool._processes) if self._pool is not None else []  # noqa: SLF001

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _init_process_worker(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


class DaskBackend(ExecutorBackend):
    """A Dask distributed client: joins ``tcp://...`` or starts a ``LocalCluster`` for ``local:N``."""

    kind = "dask"
    MONITOR_S = 1.0

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        try:
            import distributed
        except ImportError:
            raise BackendError("the dask backend needs the packages dask and distributed "
                               "(pip install -r requirements.txt)") from None
        how, value = parse_cluster(config.cluster)
        self.cluster = None
        try:
            if how == "local":
                self.cluster = distributed.LocalCluster(
                    n_workers=value, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster, timeout=config.timeout)
            else:
                self.client = distributed.Client(value, timeout=config.timeout)
        except (OSError, TimeoutError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            raise BackendError(f"cannot reach the Dask scheduler at {config.cluster} within "
                               f"{config.timeout:g} s ({type(exc).__name__}: {exc})") from None
        self._seen: set[str] = set()
        self._status = BackendStatus(config.label, workers=0)
        self._refresh()
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="lab-dask-monitor", daemon=True)
        self._monitor.start()

    def _refresh(self) -> None:
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # older distributed: no n_workers argument
            info = self.client.scheduler_info()
        except Exception as exc:  # noqa: BLE001 - shown in the status bar, never raised from a monitor
            with self._lock:
                self._status.error = f"scheduler unreachable ({type(exc).__name__})"
            return
        workers = info.get("workers", {})
        now = set(workers)
        gpus = sum(1 for w in workers.values() if (w.get("resources") or {}).get("GPU", 0) > 0)
        with self._lock:
            self._status.lost += len(self._seen - now)
            self._seen = now
            self._status.workers, self._status.gpus, self._status.error = len(now), gpus, ""

    def _watch(self) -> None:
        while not self._stop.wait(self.MONITOR_S):
            self._refresh()

    def worker_slots(self) -> tuple[int, int]:
        self._refresh()
        st = self.status()
        if st.workers == 0:
            raise BackendError(f"the Dask cluster at {self.config.cluster} has no workers")
        return st.workers - st.gpus, st.gpus

    def executor(self, gpu: bool) -> concurrent.futures.Executor:
        if gpu:
            return self.client.get_executor(pure=False, resources={"GPU": 1})
        return self.client.get_executor(pure=False)

    def retryable(self, exc: BaseException) -> bool:
        from distributed.comm.core import CommClosedError
        try:
            from distributed.scheduler import KilledWorker
        except ImportError:  # pragma: no cover - moved in some versions
            from distributed import KilledWorker
        return isinstance(exc, (KilledWorker, CommClosedError))

    def close(self) -> None:
        self._stop.set()
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def worker_probe() -> dict[str, Any]:
    """What a worker can do: run on any worker to check that it imports the lab and torch."""
    import torch

    import lab
    from lab.arenas import arena_names
    return {"worker": remote.worker_name(), "lab": lab.__version__, "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "arenas": arena_names(), "threads": torch.get_num_threads()}


def check_cluster(backend: Backend) -> list[str]:
    """Lines describing the backend's workers, after one probe task per worker came back."""
    lines = [backend.status().text()]
    if isinstance(backend, DaskBackend):
        info = backend.client.scheduler_info(n_workers=-1)
        for address, w in sorted(info.get("workers", {}).items()):
            future = backend.client.submit(worker_probe, pure=False, workers=[address], allow_other_workers=False)
            try:
                probe = future.result(timeout=backend.config.timeout * 3)
            except Exception as exc:  # noqa: BLE001 - reported as a clear error below
                raise remote.explain(exc) from exc
            lines.append(f"{address}: {w.get('nthreads', '?')} thread(s), resources {w.get('resources') or {}}; "
                         f"lab {probe['lab']}, torch {probe['torch']} ({probe['threads']} threads), "
                         f"CUDA {'yes' if probe['cuda'] else 'no'}")
    elif isinstance(backend, ProcessBackend):
        probes = [backend.executor(False).submit(worker_probe) for _ in range(backend.workers)]
        for p in probes:
            probe = p.result(timeout=backend.config.timeout * 6)
            lines.append(f"{probe['worker']}: lab {probe['lab']}, torch {probe['torch']} "
                         f"({probe['threads']} threads), CUDA {'yes' if probe['cuda'] else 'no'}")
    else:
        probe = worker_probe()
        lines.append(f"this process: lab {probe['lab']}, torch {probe['torch']} ({probe['threads']} threads), "
                     f"CUDA {'yes' if probe['cuda'] else 'no'}")
    return lines


def make_backend(config: BackendConfig | None = None) -> Backend:
    """Set up the backend ``config`` names (a Dask backend connects, or starts its cluster, here)."""
    config = config or BackendConfig()
    if config.kind == "processes":
        return ProcessBackend(config)
    if config.kind == "dask":
        return DaskBackend(config)
    return Backend(config)
