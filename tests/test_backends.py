"""Where trials run: threads (the default), a local process pool, and Dask (a LocalCluster of worker
processes here). Same results on every backend, no result lost or recorded twice when a worker
dies, and clear, bounded errors for bad settings and unreachable schedulers."""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import os
import signal
import threading
import time

import pytest

from lab import backends
from lab.arenas import get_arena
from lab.arenas.base import TrialFinished, TrialProgress
from lab.arenas.grokking.task import GrokTask
from lab import remote
from lab.backends import BackendConfig, BackendError, make_backend
from lab.remote import plan_batches
from lab.cli import main
from lab.evolution.population import Evolution
from lab.evolution.settings import EvolutionSettings
from lab.registry import Registry, founders
from tests.conftest import PROJECT

pytest.importorskip("distributed")

ARENA = get_arena("grokking")
# small enough for a 2-core CI machine, big enough that a batch takes a second or two
TASK = GrokTask(modulus=23, train_fraction=0.6, d_model=16, heads=2, d_ff=32, batch_size=64, step_cap=120,
                eval_interval=20)


def pairs(seeds=(1, 2)):
    return [(g, s) for g in founders("grokking") for s in seeds]


def same_trials(a, b) -> bool:
    return len(a) == len(b) and all((x.genome_id, x.seed, x.status, dict(x.metrics), dict(x.curve)) ==
                                    (y.genome_id, y.seed, y.status, dict(y.metrics), dict(y.curve))
                                    for x, y in zip(a, b))


def recorded_keys(registry: Registry) -> collections.Counter:
    lines = registry.trials_path.read_text(encoding="utf-8").splitlines()
    return collections.Counter((d["genome_id"], d["task_id"], d["seed"]) for d in map(json.loads, lines))


@pytest.fixture(scope="module")
def reference():
    """The threads backend's results for the usual pairs (computed once)."""
    return ARENA.run_pairs(pairs((1, 2, 3)), TASK, device="cpu")


@pytest.fixture(scope="module")
def dask_local():
    backend = make_backend(BackendConfig("dask", cluster="local:2"))
    yield backend
    backend.close()


# ---- plain parts ------------------------------------------------------------------------------------
def test_batches_one_per_worker_split_by_the_cap():
    assert plan_batches(10, 2, 128) == [(0, 5), (5, 10)]
    assert plan_batches(11, 2, 128) == [(0, 6), (6, 11)]
    assert plan_batches(3, 8, 128) == [(0, 1), (1, 2), (2, 3)]          # never an empty batch
    assert [b - a for a, b in plan_batches(300, 2, 128)] == [100, 100, 100]  # the trainer's member cap
    assert plan_batches(0, 2, 128) == []
    for n, w, cap in ((17, 3, 4), (1, 1, 1), (129, 1, 128)):
        batches = plan_batches(n, w, cap)
        assert batches[0][0] == 0 and batches[-1][1] == n and all(b - a <= cap for a, b in batches)
        assert all(x[1] == y[0] for x, y in zip(batches, batches[1:]))


def test_gpu_workers_take_the_batches_at_the_gpu_cap():
    assert remote.placement("auto", 2, 0) == (False, 2, "auto", 128)
    assert remote.placement("auto", 3, 2) == (True, 2, "cuda", 2048)
    assert remote.placement("cuda:1", 0, 1) == (True, 1, "cuda:1", 2048)
    assert remote.placement("cpu", 3, 2) == (False, 5, "cpu", 128)   # every worker has a CPU


def test_gpu_batches_ask_dask_for_the_gpu_resource(dask_local):
    assert dask_local.executor(gpu=True)._kwargs == {"pure": False, "resources": {"GPU": 1}}
    assert dask_local.executor(gpu=False)._kwargs == {"pure": False}


@pytest.mark.parametrize("kw, message", [
    (dict(kind="mpi"), "backend 'mpi' is not one of threads, processes, dask"),
    (dict(kind="dask"), "the dask backend needs a cluster"),
    (dict(kind="dask", cluster="local:0"), "local:N needs a worker count from 1 to 256"),
    (dict(kind="dask", cluster="scheduler:8786"), "is not an address like tcp://HOST:8786"),
    (dict(kind="processes", cluster="local:2"), "a cluster address is for the dask backend"),
    (dict(kind="processes", workers=-1), "workers must be a whole number >= 0"),
    (dict(timeout=float("nan")), "timeout must be between 0 and 3600"),
    (dict(retries=11), "retries must be a whole number from 0 to 10"),
])
def test_bad_backend_settings_are_named(kw, message):
    with pytest.raises(BackendError, match=message):
        BackendConfig(**kw)


def test_options_a_cluster_alone_means_dask():
    assert BackendConfig.from_args(None, "local:3").kind == "dask"
    assert BackendConfig.from_args(None).kind == "threads"
    assert BackendConfig.from_args("processes", workers=2).label == "processes x2"


def test_a_trial_does_not_depend_on_its_batch_mates():
    """The premise of identical results on any backend: a trial's numbers are the same whatever
    batch it trains in (sizes 3 and 5 once differed in the last bits through the embedding
    gradient's accumulation)."""
    ps, task = pairs((1, 2)), dataclasses.replace(TASK, d_model=32, heads=4, d_ff=64, batch_size=128, step_cap=60)
    whole = ARENA.run_pairs(ps, task, device="cpu")
    split = ARENA.run_pairs(ps[:3], task, device="cpu") + ARENA.run_pairs(ps[3:8], task, device="cpu") + \
        ARENA.run_pairs(ps[8:], task, device="cpu")
    assert same_trials(whole, split)
    two_blocks = dataclasses.replace(TASK, layers=2, step_cap=20)
    assert same_trials(ARENA.run_pairs(ps[:5], two_blocks, device="cpu"),
                       ARENA.run_pairs(ps[:2], two_blocks, device="cpu") + ARENA.run_pairs(ps[2:5], two_blocks,
                                                                                          device="cpu"))


def test_the_embedding_gradient_of_a_member_is_the_same_in_any_batch():
    """The default task's shapes (vocab 98, d_model 64, batch 512): each member's gradient through
    the token lookup is bit-identical alone and in batches of 3 and 8."""
    import torch

    from lab.arenas.grokking.model import _gather_rows
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(8, 98, 64, generator=gen)
    tokens = torch.randint(0, 98, (8, 512, 2), generator=gen)
    grad_out = torch.randn(8, 512, 2, 64, generator=gen)

    def grad(lo, hi):
        t = table[lo:hi].clone().requires_grad_()
        _gather_rows(t, tokens[lo:hi]).backward(grad_out[lo:hi])
        return t.grad
    whole, first3 = grad(0, 8), grad(0, 3)
    for i in range(8):
        assert torch.equal(whole[i], grad(i, i + 1)[0])
    assert torch.equal(whole[:3], first3)


def test_the_learning_rate_decay_of_a_member_is_the_same_in_any_batch():
    """The decayed learning rate (1 - decay_rate) ** k per member: torch's vectorised pow and its
    scalar tail differ in the last bit for some values, so the lab computes it member by member."""
    import torch

    from lab.arenas.grokking.optim import LifeCycle
    gen = torch.Generator().manual_seed(2)
    M = 200
    rate = torch.rand(M, generator=gen) * 0.05
    triggered = torch.randint(1, 1500, (M,), generator=gen)   # each member's decay armed at its own step

    def lr(lo, hi):
        n = hi - lo
        life = LifeCycle(torch.full((n,), 1e-3), torch.zeros(n), torch.zeros(n), rate[lo:hi], window=2)
        life.triggered_at = triggered[lo:hi].clone()
        return life.lr_for_step(2000)
    whole = lr(0, M)
    for lo, hi in [(16, 32), (0, 16), (3, 10), (5, 200)] + [(i, i + 1) for i in range(M)]:
        assert torch.equal(lr(lo, hi), whole[lo:hi]), (lo, hi)


def test_a_worker_without_the_lab_is_explained():
    exc = remote.explain(ModuleNotFoundError("No module named 'lab'", name="lab"))
    assert isinstance(exc, BackendError) and "PYTHONPATH" in str(exc)
    other = ValueError("x")
    assert remote.explain(other) is other


# ---- Dask -----------------------------------------------------------------------------------------
def test_a_local_cluster_evolution_matches_the_thread_backend(dask_local, tmp_path):
    task = tuple(sorted((k, v) for k, v in TASK.to_dict().items() if getattr(GrokTask(), k) != v))
    settings = EvolutionSettings(population=5, seeds_per_genome=2, generations=2, aliens=1, elites=1, run_seed=7,
                                 device="cpu", task=task, seed_from=("founders",))
    local_reg, dask_reg = Registry(tmp_path / "threads"), Registry(tmp_path / "dask")
    local = Evolution(settings, local_reg, run_id="same")
    local.run()
    events = []
    remote = Evolution(settings, dask_reg, run_id="same", backend=dask_local)
    remote.run(on_event=events.append)
    assert remote.history == local.history      # fitness, ranking, Hall of Fame, deaths, diversity
    assert [g.id for g in remote.population] == [g.id for g in local.population]
    a, b = local_reg.trials(), dask_reg.trials()
    assert len(a) >= 5 * 2 and sorted(r.key for r in a) == sorted(r.key for r in b)
    by_key = {r.key: r for r in a}
    assert all(dict(by_key[r.key].metrics) == dict(r.metrics) for r in b)
    # the trials ran on the cluster's workers, and each was recorded once
    assert any(isinstance(e, TrialProgress) and "from tcp://" in e.message for e in events)
    assert max(recorded_keys(dask_reg).values()) == 1
    assert dask_local.status().workers == 2


def test_m2n2_trials_on_the_cluster_equal_the_threads_ones(dask_local):
    """An M2N2 run gives the same numbers alone or batched, so on any worker: split 2/1 over two workers."""
    arena = get_arena("m2n2")
    task = dataclasses.replace(arena.default_task(), passes=40, eval_interval=20)
    genomes = founders("m2n2")[:3]
    local = arena.run_trials(genomes, [5], task, device="cpu")
    remote = arena.run_trials(genomes, [5], task, device="cpu", backend=dask_local)
    assert [r.key for r in remote] == [r.key for r in local]
    assert [(dict(r.metrics), dict(r.curve)) for r in remote] == [(dict(r.metrics), dict(r.curve)) for r in local]


def test_joining_a_running_scheduler_by_address(dask_local, reference):
    address = dask_local.cluster.scheduler_address
    with make_backend(BackendConfig("dask", cluster=address)) as joined:
        assert joined.cluster is None and joined.status().workers == 2
        got = ARENA.run_pairs(pairs((1, 2, 3))[:6], TASK, device="cpu", backend=joined)
    assert same_trials(got, reference[:6])
    assert dask_local.status().workers == 2, "closing a client that joined leaves the cluster up"


def test_a_wrong_cluster_address_is_a_clear_error_not_a_hang():
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 within 1 s"):
        make_backend(BackendConfig("dask", cluster="tcp://127.0.0.1:9", timeout=1))
    assert time.monotonic() - t0 < 20


def test_cancel_keeps_what_finished_and_smart_fill_completes_it(dask_local, reference, registry, monkeypatch):
    monkeypatch.setitem(remote.BATCH_CAP, "cpu", 3)      # 6 batches of 3 on 2 workers
    stop = threading.Event()
    first = []

    def on_event(event):
        if isinstance(event, TrialFinished):
            first.append(event.result)
            stop.set()
    got = ARENA.run_pairs(pairs((1, 2, 3)), TASK, device="cpu", registry=registry, on_event=on_event, cancel=stop,
                          backend=dask_local)
    finished = [r for r in got if r.status != "cancelled"]
    assert 3 <= len(finished) < len(got)
    assert sorted(r.key for r in registry.trials()) == sorted(r.key for r in finished)
    again = ARENA.run_pairs(pairs((1, 2, 3)), TASK, device="cpu", registry=registry, backend=dask_local)
    assert same_trials(again, reference)
    assert max(recorded_keys(registry).values()) == 1 and len(recorded_keys(registry)) == len(reference)


def _kill_when(condition, kill, timeout=60.0):
    """Call ``kill()`` once ``condition()`` holds (from a thread); returns the thread and what was killed."""
    killed = []

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                killed.append(kill())
                return
            time.sleep(0.05)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t, killed


def test_a_dask_worker_killed_mid_batch_loses_no_results(reference, registry):
    with make_backend(BackendConfig("dask", cluster="local:2")) as backend:
        client = backend.client

        def busy():
            return sum(len(v) for v in client.processing().values()) >= 2

        def kill():
            address, pid = sorted(client.run(os.getpid).items())[0]
            os.kill(pid, signal.SIGKILL)
            return address
        watcher, killed = _kill_when(busy, kill)
        got = ARENA.run_pairs(pairs((1, 2, 3)), TASK, device="cpu", registry=registry, backend=backend)
        watcher.join(5)
        assert killed, "no worker was killed"
        backend._refresh()
        assert backend.status().lost >= 1
    assert same_trials(got, reference)
    counts = recorded_keys(registry)
    assert len(counts) == len(reference) and max(counts.values()) == 1


def test_a_process_pool_worker_killed_mid_batch_is_resubmitted(reference, registry):
    with make_backend(BackendConfig("processes", workers=2)) as backend:
        seen = {}

        def starting():  # the pool's workers exist and are still importing: both batches are in flight
            if len(backend.worker_pids()) == 2 and "at" not in seen:
                seen["at"] = time.monotonic()
            return "at" in seen and time.monotonic() - seen["at"] > 0.3

        def kill():
            in_flight = backend.status().running
            os.kill(backend.worker_pids()[0], signal.SIGKILL)
            return in_flight
        watcher, killed = _kill_when(starting, kill, timeout=120)
        got = ARENA.run_pairs(pairs((1, 2, 3)), TASK, device="cpu", registry=registry, backend=backend)
        watcher.join(5)
        status = backend.status()
    assert killed == [2], "the worker must die while both batches are in flight"
    assert status.lost == 1 and status.retried >= 1
    assert same_trials(got, reference)
    counts = recorded_keys(registry)
    assert len(counts) == len(reference) and max(counts.values()) == 1


# ---- the command line -------------------------------------------------------------------------------
def test_stress_on_a_local_cluster_records_what_threads_would(tmp_path, capsys, monkeypatch):
    from lab.arenas.grokking.arena import GrokkingArena
    monkeypatch.setattr(GrokkingArena, "default_task", lambda self: TASK)
    files = [str(PROJECT / "genomes" / f) for f in ("high-lr.json", "classic-adamw.json")]
    assert main(["stress", *files, "--runs", "3", "--device", "cpu", "--registry", str(tmp_path / "a")]) == 0
    assert main(["stress", *files, "--runs", "3", "--device", "cpu", "--cluster", "local:2",
                 "--registry", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "trials run on dask local:2" in err
    a, b = Registry(tmp_path / "a").trials(), Registry(tmp_path / "b").trials()
    assert len(a) == len(b) == 6
    assert {r.key: dict(r.metrics) for r in a} == {r.key: dict(r.metrics) for r in b}


@pytest.mark.parametrize("argv, message", [
    (["cluster", "--cluster", "tcp://127.0.0.1:9", "--connect-timeout", "1"], "cannot reach the Dask scheduler"),
    (["cluster", "--cluster", "local:x"], "local:N needs a worker count"),
    (["cluster"], "name the cluster"),
    (["evolve", "--backend", "processes", "--cluster", "local:2"], "a cluster address is for the dask backend"),
])
def test_cluster_options_bad_input_exits_2(argv, message, tmp_path, capsys):
    assert main([*argv, "--registry", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json"))


def test_cluster_command_lists_workers(dask_local, capsys):
    assert main(["cluster", "--cluster", dask_local.cluster.scheduler_address]) == 0
    out = capsys.readouterr().out
    assert out.count("thread(s)") == 2 and "lab 0." in out and "CUDA" in out


def test_the_window_can_start_on_a_backend(monkeypatch, capsys):
    import lab.gui.app
    started = []
    monkeypatch.setattr(lab.gui.app, "run_gui", lambda registry=None, backend=None: started.append(backend) or 0)
    assert main(["gui", "--cluster", "local:2"]) == 0
    assert main([]) == 0
    assert started == [BackendConfig("dask", cluster="local:2"), BackendConfig()]
    assert main(["gui", "--cluster", "bogus"]) == 2 and started[2:] == []
    assert "is not an address like tcp://HOST:8786" in capsys.readouterr().err


class _ThreadPoolBackend(backends.ExecutorBackend):
    """Batches shipped as plain data, as to worker processes, but to a pool of threads (cheap to start)."""

    def __init__(self, workers: int = 2):
        super().__init__(BackendConfig())
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.workers = workers

    def executor(self, gpu):
        return self.pool

    def worker_slots(self):
        return self.workers, 0

    def retryable(self, exc):
        return False

    def close(self):
        self.pool.shutdown()


def test_batches_count_their_work_when_they_come_back_and_the_count_ends_at_full():
    events = []
    with _ThreadPoolBackend(2) as backend:
        todo = pairs((1,))
        results = ARENA.run_pairs(todo, TASK, device="cpu", on_event=events.append, backend=backend)
    progress = [e for e in events if isinstance(e, TrialProgress)]
    assert len(progress) == 3, "one at the start, one per batch (workers say nothing while a batch trains)"
    first, last = progress[0], progress[-1]
    assert (first.work_done, first.work_total, first.unit) == (0, len(todo) * TASK.step_cap, "member-steps")
    assert [e.work_done for e in progress] == sorted(e.work_done for e in progress)
    assert 0 < progress[1].work_done < progress[1].work_total
    assert last.work_done == last.work_total == sum(r.metrics["steps"] for r in results)
    assert (last.finished, last.total) == (len(todo), len(todo))
