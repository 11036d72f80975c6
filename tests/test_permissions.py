"""Files the lab writes for the user get the permissions of any file the user makes: 0666 less the
umask (0644 under the usual 022), never the 0600 that ``tempfile.mkstemp`` gives. Collaborators must
be able to read exported charts, custom genomes, checkpoints and the registry's files."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from lab.analysis.charts import CHARTS, ChartData, export_chart
from lab.analysis.export import export_figure
from lab.analysis.phylogeny import build_phylogeny, map_registry
from lab.analysis.phylogeny_html import write_html
from lab.analysis.run_charts import export_dashboard
from lab.arenas.weights_io import replace_together, weight_archive
from lab.genome import random_genome
from lab.registry import Registry
from tests.test_charts import Task, record_fake_trials
from tests.test_evolution import ToyArena, _run


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def modes(folder) -> dict[str, int]:
    """relative path -> permission bits of every file under ``folder`` (lock files aside: filelock's own)."""
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")
            if p.is_file() and p.suffix != ".lock"}


def test_every_kind_of_file_the_lab_writes_respects_the_umask(tmp_path, umask, spec):
    reg = Registry(tmp_path / "registry")
    # registry: genomes, trials.jsonl, hall_of_fame.json, runs/<id>/run.json and checkpoint.json
    evo = _run(reg, ToyArena(), generations=2)
    evo.run()
    reg.add_to_hall_of_fame(evo.population[0], note="for the permissions test")
    made = record_fake_trials(reg, spec)
    map_registry(reg, "grokking")                                              # species.json
    # exports: every chart in every format plus its CSV, the run dashboard, the 3D page, genomes
    data = ChartData.from_registry(reg, made, Task())
    out = tmp_path / "paper"
    for kind in CHARTS:
        export_chart(kind, data, out, formats=("png", "pdf", "svg"), dpi=50)
    export_dashboard(out, "run", evo.history, 400)
    export_figure(lambda fig: fig.add_subplot().plot([0, 1]), out, "figure", dpi=50)
    write_html(out / "map.html", build_phylogeny(made))
    random_genome(spec, np.random.default_rng(0), name="custom").save(tmp_path / "custom" / "custom.json")
    reg.export_genomes([made[0].id], tmp_path / "exported")
    replace_together({tmp_path / "weights" / "model.npz": weight_archive({"w": np.zeros(3)})})

    written = modes(tmp_path)
    expected = 0o666 & ~umask
    for must in ("registry/trials.jsonl", "registry/hall_of_fame.json", "registry/species.json",
                 "registry/runs/toy-run/checkpoint.json", "registry/runs/toy-run/run.json", "paper/survival.pdf",
                 "paper/survival.csv", "paper/genes.svg", "paper/phase.png", "paper/run.pdf", "paper/map.html",
                 "custom/custom.json", "weights/model.npz"):
        assert must in written, f"{must} was not written: {sorted(written)}"
    assert any(k.startswith("registry/genomes/") for k in written)
    assert any(k.startswith("exported/") for k in written)
    wrong = {k: oct(v) for k, v in written.items() if v != expected}
    assert not wrong, f"not {oct(expected)} under umask {oct(umask)}: {wrong}"


def test_the_charts_command_leaves_readable_files(tmp_path, spec, monkeypatch, capsys):
    from lab.arenas.grokking.arena import GrokkingArena
    from lab.cli import main
    from tests.test_stress import TINY
    monkeypatch.setattr(GrokkingArena, "default_task", lambda self: TINY)
    reg = Registry(tmp_path / "reg")
    record_fake_trials(reg, spec)
    previous = os.umask(0o022)
    try:
        assert main(["charts", "g0", "--kind", "speed", "--format", "png,pdf", "--dpi", "50",
                     "--out", str(tmp_path / "out"), "--registry", str(reg.root)]) == 0
    finally:
        os.umask(previous)
    assert modes(tmp_path / "out") == {"speed.png": 0o644, "speed.pdf": 0o644, "speed.csv": 0o644}
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_figure_never_leaves_a_private_temp_file_behind(tmp_path):
    export_figure(lambda fig: None, tmp_path, "empty", formats=("svg",))
    assert [p.name for p in tmp_path.iterdir()] == ["empty.svg"]   # no .empty.svg.*.tmp left over
