"""Run > Where trials run (Ctrl+B): bad settings and an unreachable scheduler are named and change
nothing; a LocalCluster is joined in a job while the window stays live, the status bar shows its
workers, an Evolution Lab run trains on it, and switching back closes it."""
from __future__ import annotations

import pytest

from lab.backends import BackendConfig
from tests.gui.conftest import wait_until
from tests.gui.test_evolution_lab import TINY_TASK, tab  # noqa: F401 - the Evolution Lab fixture

pytest.importorskip("distributed")


@pytest.fixture
def threads_after(lab_app):
    """Whatever a test does, the session app goes back to the threads backend."""
    yield lab_app
    if lab_app.backend.kind != "threads":
        job = lab_app.apply_backend(BackendConfig())
        wait_until(lab_app.root, lambda: not job.active, timeout=60)
    assert lab_app.backend.kind == "threads"


def open_dialog(app):
    dialog = app.invoke("backend_settings")
    app.root.update()
    assert dialog.top.winfo_exists() and dialog.form.vars["kind"].get() == app.backend.kind
    return dialog


def test_bad_settings_are_named_and_start_nothing(threads_after):
    app = threads_after
    dialog = open_dialog(app)
    assert str(dialog.form.widgets["cluster"].cget("state")) == "disabled"   # threads: nothing to set
    dialog.form.set_values({"kind": "dask", "cluster": ""})
    assert str(dialog.form.widgets["cluster"].cget("state")) == "normal"
    assert str(dialog.form.widgets["workers"].cget("state")) == "disabled"
    assert dialog.connect() is None
    assert "needs a cluster" in dialog.message.cget("text")
    dialog.form.set_values({"cluster": "local:2", "timeout": "nan"})
    assert dialog.connect() is None and "not a finite number" in dialog.message.cget("text")
    assert not app.quick_runner.active_jobs() and app.backend.kind == "threads"
    dialog.close()


def test_an_unreachable_scheduler_is_an_error_after_the_timeout(threads_after):
    app = threads_after
    dialog = open_dialog(app)
    dialog.form.set_values({"kind": "dask", "cluster": "tcp://127.0.0.1:9", "timeout": 1})
    job = dialog.connect()
    assert job is not None and str(dialog.connect_button.cget("state")) == "disabled"
    wait_until(app.root, lambda: not job.active, timeout=30)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in dialog.message.cget("text")
    assert str(dialog.connect_button.cget("state")) == "normal"
    assert app.backend.kind == "threads" and dialog.top.winfo_exists()
    dialog.close()


def test_a_local_cluster_runs_an_evolution_and_switching_back_closes_it(threads_after, tab):  # noqa: F811
    app = threads_after
    dialog = open_dialog(app)
    dialog.form.set_values({"kind": "dask", "cluster": "local:2"})
    job = dialog.connect()
    wait_until(app.root, lambda: not job.active, timeout=90)
    assert app.backend.kind == "dask" and not dialog.top.winfo_exists()
    wait_until(app.root, lambda: "dask local:2 · 2 workers" in app.backend_label.cget("text"), timeout=10)
    # a job on the cluster: switching now is refused
    tab.start_button.invoke()
    assert tab.running
    assert app.apply_backend(BackendConfig()) is None
    assert [d[1] for d in app.dialogs.errors()] == ["Where trials run"]
    app.dialogs.shown.clear()
    texts = set()
    wait_until(app.root, lambda: texts.add(tab.gen_label.cget("text")) or not tab.running, timeout=180)
    assert tab.outcome == "finished" and len(tab.history) == 2
    assert any("from tcp://" in t for t in texts), texts  # generation progress came from the workers
    task_id = tab.evo.task.task_id
    assert all(app.registry.trials_for(g["id"], task_id) for g in tab.history[-1]["genomes"])
    cluster_backend = app.backend
    job = app.apply_backend(BackendConfig())
    wait_until(app.root, lambda: not job.active, timeout=60)
    assert app.backend.kind == "threads" and cluster_backend.client.status == "closed"
    wait_until(app.root, lambda: app.backend_label.cget("text") == "Trials: threads · 1 worker", timeout=10)
