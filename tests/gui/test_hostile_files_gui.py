"""Hostile files in the window: importing them shows one dialog naming each file and its problem;
a registry whose own files are hostile opens, every tab shows what it can, and nothing on disk
changes. No Tk callback raises (the session fixture fails the test if one does)."""
from __future__ import annotations

import os

from lab.arenas.base import TrialResult
from lab.registry import Registry, founders
from tests.fuzzing import snapshot
from tests.gui.conftest import wait_until
from tests.test_hostile_files import CORPUS


def test_importing_hostile_genome_files_shows_one_dialog_and_imports_nothing(lab_app, tmp_path):
    old = lab_app.registry
    lab_app.set_registry(tmp_path / "registry")
    try:
        paths = []
        for i, (case, payload) in enumerate(CORPUS.items()):
            path = tmp_path / "in" / f"hostile-{i}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(payload)
            paths.append(str(path))
        os.mkfifo(tmp_path / "in" / "pipe.json")
        paths.append(str(tmp_path / "in" / "pipe.json"))
        before = snapshot(tmp_path / "registry") if (tmp_path / "registry").exists() else {}
        lab_app.dialogs.answers["open_files"] = paths
        lab_app.import_genomes()
        (error,) = lab_app.dialogs.errors()
        lab_app.dialogs.shown.clear()
        lines = error[2].splitlines()
        assert lines[0] == f"imported 0 genome(s), 0 already present, {len(paths)} file(s) failed"
        assert len(lines) == 1 + len(paths) and all(len(line) < 400 for line in lines), "one short line a file"
        assert all(any(os.path.basename(p) + ":" in line for line in lines) for p in paths)
        after = snapshot(tmp_path / "registry") if (tmp_path / "registry").exists() else {}
        assert after == before
    finally:
        lab_app.dialogs.answers.pop("open_files", None)
        lab_app.set_registry(old.root)


def test_a_registry_with_hostile_files_opens_and_every_tab_shows_what_it_can(lab_app, tmp_path):
    root = tmp_path / "registry"
    registry = Registry(root)
    genomes = founders("grokking")[:3]
    registry.add_genomes(genomes)
    registry.record_trials([TrialResult(genome_id=g.id, task_id="t", seed=s, status="grokked",
                                        metrics={"steps_to_grok": 50}, curve={}, wall_time=0.1, arena="grokking")
                            for g in genomes for s in range(2)])
    with open(registry.trials_path, "ab") as fh:
        fh.write(CORPUS["deep list"] + b"\n" + CORPUS["duplicate key"].replace(b"\n", b" ") + b"\n")
    (root / "hall_of_fame.json").write_bytes(CORPUS["huge integer"])
    (root / "species.json").write_bytes(CORPUS["deep object"])
    (root / "names.json").write_bytes(CORPUS["latin-1 byte"])
    (root / "tasks.json").write_bytes(CORPUS["NaN literal"])
    before = snapshot(root)
    old = lab_app.registry
    lab_app.set_registry(root)
    try:
        for name in lab_app.tabs:
            lab_app.show_tab(name)
            lab_app.root.update()
        phylogeny = lab_app.tabs["Phylogeny"]
        wait_until(lab_app.root, lambda: phylogeny.job is None, timeout=60)   # its map job has reported
        assert any("Could not map the genomes" in e[2] and "species.json" in e[2] for e in lab_app.dialogs.errors())
        assert len(lab_app.registry.trials()) == 6, "every good record still reads"
        problems = " ".join(lab_app.registry.problems) + " " + " ".join(e[2] for e in lab_app.dialogs.errors())
        problems += " " + lab_app.status_message.get()
        assert "trials.jsonl line 7" in problems and "trials.jsonl line 8" in problems
        for name in ("names.json", "species.json"):
            assert name in problems
        hof_title = lab_app.tabs["Evolution Lab"].hof_title.cget("text")
        assert hof_title.startswith("hall_of_fame.json holds a number of 100000 digits"), hof_title
        for message in lab_app.registry.problems + [e[2] for e in lab_app.dialogs.errors()]:
            assert "\n" not in message and "Traceback" not in message
        lab_app.dialogs.shown.clear()
        assert snapshot(root) == before
    finally:
        wait_until(lab_app.root, lambda: lab_app.tabs["Phylogeny"].job is None, timeout=60)
        lab_app.set_registry(old.root)
        lab_app.dialogs.shown.clear()
