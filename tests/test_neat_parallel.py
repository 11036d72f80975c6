"""The NEAT arena's parallel evaluation: configuration from the environment, the same results inline,
on threads and on processes, zero-copy shared arrays, fallbacks, pool lifetime, and no shared-memory
segment left behind whatever happens (normal run, cancel, crash, error, forgotten close)."""
from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lab.arenas.neat.parallel import Cancelled, EvaluationError, Evaluator, ParallelConfig
from lab.arenas.neat.parallel_config import ENV_VARS
from lab.arenas.neat.shared_arrays import SharedArrays, attach

PROJECT = Path(__file__).resolve().parent.parent
SHM = Path("/dev/shm")
FORK = ParallelConfig(workers=2, backend="process", start_method="fork")

pytestmark = pytest.mark.skipif(not SHM.is_dir(), reason="needs /dev/shm (Linux)")


# -- fns run in workers: module level, so that spawn can import them -----------------------------

def weighted_row_sum(item, arrays):
    return float(arrays["x"][item].sum() * item)


def view_facts(item, arrays):
    x = arrays["x"]
    return {"owndata": x.flags.owndata, "writeable": x.flags.writeable, "has_base": x.base is not None,
            "sum": float(x.sum())}


def worker_pid(item, arrays):
    return os.getpid()


def sleep_then_echo(item, arrays):
    time.sleep(0.2)
    return item


def die_on_two(item, arrays):
    if item == 2:
        os._exit(3)
    return item


def segfault_on_two(item, arrays):
    if item == 2:
        faulthandler.disable()  # pytest's handler, inherited through fork, would print a stack dump
        os.kill(os.getpid(), signal.SIGSEGV)
    return item


def reject_three(item, arrays):
    if item == 3:
        raise ValueError("item 3 is out of bounds")
    return item


def set_flag_at_three(item, arrays):
    index, flag, calls = item
    calls.append(index)
    if index == 3:
        flag.set()
    time.sleep(0.01)
    return index


# -- fixtures ---------------------------------------------------------------------------------------

def our_segments(owner: int | None = None) -> set[str]:
    """The shared-memory segments owned by process ``owner`` (default: this one): SharedArrays names
    them neat-<owner pid>-<random>, so test runs side by side do not see each other's."""
    prefix = f"neat-{os.getpid() if owner is None else owner}-"
    return {path.name for path in SHM.iterdir() if path.name.startswith(prefix)}


@pytest.fixture
def no_leaked_segments():
    before = our_segments()
    yield
    assert our_segments() == before


@pytest.fixture
def task_arrays() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(7).normal(size=(10, 50)), "labels": np.arange(10, dtype=np.int64)}


def expected_sums(arrays) -> list[float]:
    return [float(arrays["x"][i].sum() * i) for i in range(10)]


# -- configuration --------------------------------------------------------------------------------

@pytest.mark.parametrize("variable, raw, field, value", [
    ("NEAT_EVAL_WORKERS", "3", "workers", 3),
    ("NEAT_EVAL_BACKEND", "Process", "backend", "process"),
    ("NEAT_PROCESS_START_METHOD", "fork", "start_method", "fork"),
    ("NEAT_POOL_KEEPALIVE", "off", "keepalive", False),
    ("NEAT_POOL_KEEPALIVE", "YES", "keepalive", True),
    ("NEAT_POOL_KEEPALIVE", "0", "keepalive", False),
    ("NEAT_POOL_RESTART_EVERY", " 5 ", "restart_every", 5),
])
def test_from_env_reads_each_variable(variable, raw, field, value):
    base = ParallelConfig(workers=2, keepalive=not value if field == "keepalive" else True)
    config = ParallelConfig.from_env(base, {variable: raw})
    assert getattr(config, field) == value
    untouched = {f: getattr(base, f) for f in ("workers", "backend", "start_method", "keepalive",
                                               "restart_every") if f != field}
    assert all(getattr(config, f) == v for f, v in untouched.items())


def test_from_env_without_variables_keeps_the_base_and_blank_counts_as_unset():
    assert ParallelConfig.from_env(environ={}) == ParallelConfig()
    base = ParallelConfig(workers=4, backend="process")
    assert ParallelConfig.from_env(base, {name: " " for name in ENV_VARS}) == base


@pytest.mark.parametrize("variable, raw", [
    ("NEAT_EVAL_WORKERS", "two"), ("NEAT_EVAL_WORKERS", "0"), ("NEAT_EVAL_BACKEND", "gpu"),
    ("NEAT_PROCESS_START_METHOD", "teleport"), ("NEAT_POOL_KEEPALIVE", "maybe"),
    ("NEAT_POOL_RESTART_EVERY", "-1"), ("NEAT_POOL_RESTART_EVERY", "1.5"),
])
def test_from_env_names_the_bad_variable_and_value(variable, raw):
    with pytest.raises(ValueError) as caught:
        ParallelConfig.from_env(environ={variable: raw})
    assert f"{variable}={raw!r}" in str(caught.value)


@pytest.mark.parametrize("fields, named", [
    ({"workers": 0}, "workers"), ({"workers": 2.0}, "workers"), ({"backend": "gpu"}, "backend"),
    ({"start_method": "teleport"}, "start_method"), ({"keepalive": "yes"}, "keepalive"),
    ({"restart_every": -2}, "restart_every"),
])
def test_config_names_the_bad_field(fields, named):
    with pytest.raises(ValueError, match=named):
        ParallelConfig(**fields)


# -- same results everywhere ----------------------------------------------------------------------

@pytest.mark.usefixtures("no_leaked_segments")
def test_inline_thread_and_process_agree(task_arrays):
    results = {}
    for config in (ParallelConfig(workers=1, backend="process"), ParallelConfig(workers=2), FORK):
        with Evaluator(weighted_row_sum, task_arrays, config) as evaluator:
            results[evaluator.backend] = evaluator.map(range(10))
    assert set(results) == {"inline", "thread", "process"}
    assert results["inline"] == results["thread"] == results["process"] == expected_sums(task_arrays)


@pytest.mark.usefixtures("no_leaked_segments")
def test_spawned_workers_agree_and_read_shared_memory_zero_copy(task_arrays):
    config = ParallelConfig(workers=2, backend="process", start_method="spawn")
    with Evaluator(weighted_row_sum, task_arrays, config) as evaluator:
        assert evaluator.map(range(10)) == expected_sums(task_arrays)
    with Evaluator(view_facts, task_arrays, config) as evaluator:
        facts = evaluator.map([0, 1])
    assert facts[0] == {"owndata": False, "writeable": False, "has_base": True,
                        "sum": float(task_arrays["x"].sum())}


@pytest.mark.usefixtures("no_leaked_segments")
def test_forked_workers_see_read_only_views_on_shared_memory(task_arrays):
    with Evaluator(view_facts, task_arrays, FORK) as evaluator:
        facts = evaluator.map(range(4))
    assert all(f == {"owndata": False, "writeable": False, "has_base": True,
                     "sum": float(task_arrays["x"].sum())} for f in facts)


def test_shared_arrays_round_trip_and_unlink(task_arrays):
    with SharedArrays(task_arrays) as shared:
        names = shared.names
        assert set(names) <= our_segments() and len(names) == 2
        views, segments = attach(shared.handles)
        assert views["labels"].dtype == np.int64 and np.array_equal(views["x"], task_arrays["x"])
        del views, segments
    assert not set(names) & our_segments()
    shared.close()  # idempotent


def test_shared_arrays_refuse_python_objects():
    with pytest.raises(ValueError, match="'names' holds Python objects"):
        SharedArrays({"names": np.array(["a", None], dtype=object)})


# -- fallbacks --------------------------------------------------------------------------------------

def make_closure(offset):
    def shifted(item, arrays):
        return item + offset
    return shifted


@pytest.mark.usefixtures("no_leaked_segments")
@pytest.mark.parametrize("fn", [lambda item, arrays: item + 1, make_closure(1)], ids=["lambda", "closure"])
def test_unpicklable_fn_falls_back_to_threads(fn, task_arrays):
    messages = []
    with Evaluator(fn, task_arrays, FORK, warn=messages.append) as evaluator:
        assert evaluator.backend == "thread"
        assert evaluator.map(range(5)) == [1, 2, 3, 4, 5]
        assert evaluator.map(range(3)) == [1, 2, 3]
    assert len(messages) == 1
    assert fn.__qualname__ in messages[0] and "thread backend" in messages[0]


def test_unpicklable_fn_warns_with_a_runtime_warning_by_default(task_arrays):
    with pytest.warns(RuntimeWarning, match="thread backend"):
        Evaluator(make_closure(0), task_arrays, FORK).close()


@pytest.mark.usefixtures("no_leaked_segments")
def test_unpicklable_item_falls_back_to_threads(task_arrays):
    messages = []
    items = [(i, threading.Event(), []) for i in range(5)]
    with Evaluator(set_flag_at_three, task_arrays, FORK, warn=messages.append) as evaluator:
        assert evaluator.backend == "process"
        assert evaluator.map(items) == [0, 1, 2, 3, 4]
        assert evaluator.backend == "thread"
        evaluator.map(items)
    assert len(messages) == 1 and "item 0" in messages[0] and "thread backend" in messages[0]


# -- pool lifetime ----------------------------------------------------------------------------------

@pytest.mark.usefixtures("no_leaked_segments")
def test_keepalive_serves_successive_maps_with_the_same_workers(task_arrays):
    with Evaluator(worker_pid, task_arrays, FORK) as evaluator:
        first, second = set(evaluator.map(range(6))), set(evaluator.map(range(6)))
    assert len(first) == 2 and first == second and os.getpid() not in first


@pytest.mark.usefixtures("no_leaked_segments")
def test_without_keepalive_every_map_gets_fresh_workers(task_arrays):
    config = ParallelConfig(workers=2, backend="process", start_method="fork", keepalive=False)
    with Evaluator(worker_pid, task_arrays, config) as evaluator:
        first, second = set(evaluator.map(range(6))), set(evaluator.map(range(6)))
    assert len(first) == len(second) == 2 and not first & second


@pytest.mark.usefixtures("no_leaked_segments")
def test_rolling_restart_every_two_generations(task_arrays):
    config = ParallelConfig(workers=2, backend="process", start_method="fork", restart_every=2)
    pids = []
    with Evaluator(worker_pid, task_arrays, config) as evaluator:
        for _ in range(5):
            pids.append(set(evaluator.map(range(6))))
            evaluator.generation_done()
        assert evaluator.restarts == 4  # two rolling restarts (generations 2 and 4) of two workers
        with Evaluator(weighted_row_sum, task_arrays, config) as sums:
            sums.map(range(10))
            sums.generation_done()
            sums.generation_done()
            assert sums.restarts == 2 and sums.map(range(10)) == expected_sums(task_arrays)
    assert pids[0] == pids[1] and pids[2] == pids[3]
    assert not pids[1] & pids[2] and not pids[3] & pids[4] and not pids[0] & pids[4]


# -- cancel, crash, errors: nothing left in /dev/shm -----------------------------------------------

@pytest.mark.usefixtures("no_leaked_segments")
def test_cancel_mid_map_stops_process_workers_and_the_pool_recovers(task_arrays):
    cancel = threading.Event()
    with Evaluator(sleep_then_echo, task_arrays, FORK) as evaluator:
        evaluator.map([0, 1])  # workers started, so the timer below falls mid-map
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            evaluator.map(range(40), cancel)
        assert time.monotonic() - started < 2.0  # 40 items would take 4 s on two workers
        assert evaluator.map([5, 6]) == [5, 6]


def test_cancel_mid_map_on_threads_drops_pending_items(task_arrays):
    flag, calls = threading.Event(), []
    items = [(i, flag, calls) for i in range(200)]
    with Evaluator(set_flag_at_three, task_arrays, ParallelConfig(workers=2)) as evaluator:
        with pytest.raises(Cancelled):
            evaluator.map(items, flag)
    assert 4 <= len(calls) < 200


def test_cancel_inline_stops_before_the_next_item(task_arrays):
    flag, calls = threading.Event(), []
    with Evaluator(set_flag_at_three, task_arrays, ParallelConfig(workers=1)) as evaluator:
        with pytest.raises(Cancelled):
            evaluator.map([(i, flag, calls) for i in range(10)], flag)
    assert calls == [0, 1, 2, 3]


@pytest.mark.usefixtures("no_leaked_segments")
@pytest.mark.parametrize("fn, how", [(die_on_two, "exited with code 3"),
                                     (segfault_on_two, "killed by signal SIGSEGV")])
def test_worker_crash_raises_and_the_pool_is_rebuilt(fn, how, task_arrays):
    with Evaluator(fn, task_arrays, FORK) as evaluator:
        with pytest.raises(EvaluationError) as caught:
            evaluator.map(range(6))
        message = str(caught.value)
        assert "died" in message and how in message and "item 2" in message
        assert evaluator.map([0, 1, 3]) == [0, 1, 3]


@pytest.mark.usefixtures("no_leaked_segments")
@pytest.mark.parametrize("config", [ParallelConfig(workers=1), ParallelConfig(workers=2), FORK],
                         ids=["inline", "thread", "process"])
def test_fn_raising_becomes_an_evaluation_error_naming_it(config, task_arrays):
    with Evaluator(reject_three, task_arrays, config) as evaluator:
        with pytest.raises(EvaluationError, match="reject_three failed on item 3: ValueError: item 3 is out"
                           ) as caught:
            evaluator.map(range(6))
        assert isinstance(caught.value.__cause__, ValueError)
        assert evaluator.map([0, 1]) == [0, 1]


@pytest.mark.usefixtures("no_leaked_segments")
def test_owner_exception_between_maps_still_unlinks(task_arrays):
    with pytest.raises(KeyError):
        with Evaluator(weighted_row_sum, task_arrays, FORK) as evaluator:
            evaluator.map(range(4))
            assert our_segments()
            raise KeyError("the engine failed between generations")


def test_close_is_idempotent_and_map_after_close_is_refused(task_arrays):
    evaluator = Evaluator(weighted_row_sum, task_arrays, FORK)
    evaluator.close()
    evaluator.close()
    with pytest.raises(RuntimeError, match="closed"):
        evaluator.map([0])


# -- whole interpreters: forgotten close, and no resource-tracker noise ---------------------------

def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT)})


def test_forgotten_segments_are_unlinked_at_exit():
    done = run_python("import numpy as np\n"
                      "from lab.arenas.neat.shared_arrays import SharedArrays\n"
                      "shared = SharedArrays({'x': np.ones(3), 'y': np.zeros((2, 2))})\n"
                      "print(' '.join(shared.names))\n")
    assert done.returncode == 0, done.stderr
    names = done.stdout.split()
    assert len(names) == 2 and not set(names) & {path.name for path in SHM.iterdir()}
    assert done.stderr == ""


@pytest.mark.parametrize("start_method, closes", [("fork", True), ("forkserver", True), ("fork", False)],
                         ids=["fork", "forkserver", "fork-never-closed"])
def test_process_runs_leave_no_resource_tracker_warnings(start_method, closes):
    """Worker attachments must not disturb the owner's resource-tracker registration (a KeyError or a
    "leaked shared_memory objects" warning on stderr), with a rolling restart, closed or not."""
    done = run_python(
        "import numpy as np\n"
        "from lab.arenas.neat.parallel import Evaluator, ParallelConfig\n"
        "from tests.test_neat_parallel import weighted_row_sum\n"
        "import os\n"
        "if __name__ == '__main__':\n"
        "    print(os.getpid())\n"
        f"    config = ParallelConfig(workers=2, backend='process', start_method={start_method!r},\n"
        "                            restart_every=1)\n"
        "    evaluator = Evaluator(weighted_row_sum, {'x': np.ones((4, 3))}, config)\n"
        "    print(evaluator.map(range(4)))\n"
        "    evaluator.generation_done()\n"
        "    print(evaluator.map(range(4)))\n"
        f"    if {closes}:\n"
        "        evaluator.close()\n")
    assert done.returncode == 0, done.stderr
    pid, *printed = done.stdout.split("\n")
    assert printed[:2] == ["[0.0, 3.0, 6.0, 9.0]"] * 2
    assert done.stderr == "" and not our_segments(int(pid))
