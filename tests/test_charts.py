"""The seven Stress Chamber charts: drawn from registry trials, hidden groups left out, empty data
said plainly, paper export deterministic and editable, and the ``charts`` command."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from tests.conftest import snapshot
from tests.test_stress import TINY

from lab.analysis.chart_data import genes_data, survival_data, wilson_interval
from lab.analysis.charts import CHARTS, NO_TRIALS, ChartData, ChartStyle, draw_chart, export_chart
from lab.arenas.base import TrialResult
from lab.arenas.grokking.arena import GrokkingArena
from lab.cli import main
from lab.genome import random_genome
from lab.registry import Registry

CAP = 400
CSV_COLUMNS = {
    "phase": ["group", "genome_id", "label", "seed", "step", "train_loss", "val_acc", "val_loss"],
    "speed": ["group", "trials", "grokked", "min", "q1", "median", "q3", "max"],
    "success": ["group", "trials", "successes", "success_rate", "ci_low", "ci_high"],
    "curves": ["group", "step", "trials", "mean_val_acc", "ci_low", "ci_high"],
    "survival": ["group", "step", "trials", "grokked", "share_grokked", "ci_low", "ci_high"],
    "genes": ["gene", "spearman_steps_to_grok", "spearman_success", "grokked", "trials", "chosen"],
    "spread": ["group", "genome_id", "label", "seed", "status", "steps_to_grok"],
}


def record_fake_trials(registry, spec, task_id=TINY.task_id, genomes=3, seeds=5):
    """Genomes named g0.. (g0, g2 tagged "fast"); genome i groks seed s at 100 + 40 i + 20 s,
    except every third (i + s), which ends capped; curves every 20 steps."""
    rng = np.random.default_rng(0)
    made = registry.add_genomes(random_genome(spec, rng, name=f"g{i}", tags=["fast"] if i % 2 == 0 else [])
                                for i in range(genomes))
    results = []
    for i, g in enumerate(made):
        for s in range(seeds):
            grok = (i + s) % 3 != 0
            end = 100 + 40 * i + 20 * s if grok else CAP
            steps = list(range(20, end + 1, 20))
            curve = {"step": steps, "train_loss": [2.0 * np.exp(-k / 80) for k in steps],
                     "train_acc": [min(1.0, k / 150) for k in steps],
                     "val_loss": [4.0 * np.exp(-k / 250) for k in steps],
                     "val_acc": [min(0.995 if grok else 0.5, k / end) for k in steps], "lr": [1e-3] * len(steps)}
            results.append(TrialResult(g.id, task_id, s, "grokked" if grok else "capped",
                                       {"steps_to_grok": end if grok else None, "steps": end}, curve, arena="grokking"))
    registry.record_trials(results)
    return made


class Task:
    task_id, step_cap = TINY.task_id, CAP


@pytest.fixture
def data(registry, spec):
    return ChartData.from_registry(registry, record_fake_trials(registry, spec), Task())


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        out += [t.get_text() for t in ax.get_yticklabels()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return "\n".join(out)


def test_the_chart_table_has_the_seven_charts():
    assert list(CHARTS) == ["phase", "speed", "success", "curves", "survival", "genes", "spread"]
    assert all(k.name == name and k.title and k.panels in (1, 2) for name, k in CHARTS.items())


@pytest.mark.parametrize("name", list(CHARTS))
def test_each_chart_draws_from_registry_trials_and_hides_groups(data, name):
    fig = draw_chart(name, Figure(figsize=(7, 4)), data)
    text = _texts(fig)
    assert CHARTS[name].title in text and NO_TRIALS not in text
    assert fig.axes and any(ax.lines or ax.collections or ax.patches or ax.images for ax in fig.axes)
    table = CHARTS[name].data(data, ChartStyle())
    assert list(table.columns) == CSV_COLUMNS[name] and len(table) > 0
    hidden = data.groups[1]
    less = ChartData(data.trials, data.curves, data.step_cap, frozenset({hidden}))
    if "group" in table.columns:
        assert hidden in set(table["group"])
        assert hidden not in set(CHARTS[name].data(less, ChartStyle())["group"])
    assert hidden not in _texts(draw_chart(name, Figure(figsize=(7, 4)), less))


@pytest.mark.parametrize("name", list(CHARTS))
def test_no_trials_and_all_hidden_say_so(registry, spec, name):
    genomes = record_fake_trials(registry, spec, task_id="other-task")
    empty = ChartData.from_registry(registry, genomes, Task())
    assert empty.trials.empty and list(empty.trials.columns[:3]) == ["genome_id", "name", "label"]
    assert "no trials" in _texts(draw_chart(name, Figure(), empty))
    assert list(CHARTS[name].data(empty, ChartStyle()).columns) == CSV_COLUMNS[name]
    full = ChartData.from_registry(registry, genomes, type("T", (), {"task_id": "other-task", "step_cap": CAP})())
    hidden = ChartData(full.trials, full.curves, CAP, frozenset(full.groups))
    assert "every group is hidden" in _texts(draw_chart(name, Figure(), hidden))


@pytest.mark.parametrize("name", list(CHARTS))
def test_export_writes_valid_deterministic_editable_files(data, tmp_path, name):
    a = export_chart(name, data, tmp_path / "a", dpi=100)
    b = export_chart(name, data, tmp_path / "b", dpi=100)
    assert [p.name for p in a] == [f"{name}.png", f"{name}.pdf", f"{name}.svg", f"{name}.csv"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two exports"
    png, pdf, svg, csv = (p.read_bytes() for p in a)
    assert png.startswith(b"\x89PNG")
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType, text as text
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(CHARTS[name].title in t for t in texts), texts[:5]
    assert list(pd.read_csv(a[3]).columns) == CSV_COLUMNS[name]


def test_export_sizes_and_bad_options(data, tmp_path):
    from PIL import Image

    (single,) = export_chart("success", data, tmp_path, formats=["png"], dpi=100, stem="s1")[:1]
    (double,) = export_chart("success", data, tmp_path, formats=["png"], dpi=100, size="double", stem="s2")[:1]
    assert Image.open(single).size[0] == 350 and Image.open(double).size[0] == 720
    before = snapshot(tmp_path)
    for kwargs, fragment in [({"kind": "pie"}, "unknown chart 'pie' (charts: phase, speed"),
                             ({"formats": ["gif"]}, "unknown format 'gif' (formats: png, pdf, svg)"),
                             ({"size": "huge"}, "unknown size 'huge' (sizes: single, double)"),
                             ({"dpi": 0}, "dpi must be"), ({"stem": "../x"}, "file stem")]:
        args = {"kind": "speed", **kwargs}
        with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            export_chart(args.pop("kind"), data, tmp_path / "bad", **args)
    assert snapshot(tmp_path) == before and not (tmp_path / "bad").exists()


def test_statistics_behind_the_charts(data):
    low, high = wilson_interval(np.array([0, 5]), np.array([3, 10]))
    assert low == pytest.approx([0.0, 0.2366], abs=1e-4) and high == pytest.approx([0.5615, 0.7634], abs=1e-4)
    survival = survival_data(data)
    ends = survival.groupby("group", sort=False).last()
    success = data.trials.groupby("group", sort=False)["success"].mean()
    assert list(ends["share_grokked"]) == pytest.approx(list(success)) and (ends["share_grokked"] < 1).all()
    table = genes_data(data)
    strongest = table.loc[table["spearman_steps_to_grok"].abs().idxmax(), "gene"]
    assert table.loc[table["chosen"], "gene"].tolist() == [strongest]
    assert genes_data(data, ChartStyle(gene="dropout")).loc[lambda t: t["chosen"], "gene"].tolist() == ["dropout"]
    with pytest.raises(ValueError, match="unknown gene 'wings'"):
        draw_chart("genes", Figure(), data, ChartStyle(gene="wings"))


# ---- the charts command ---------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, capsys, monkeypatch, spec):
    monkeypatch.setattr(GrokkingArena, "default_task", lambda self: TINY)
    reg = Registry(tmp_path / "reg")
    record_fake_trials(reg, spec)

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--registry", str(reg.root)])
        out = capsys.readouterr()
        return code, out.out, out.err
    _run.registry = reg
    return _run


def test_charts_command_writes_every_chart_in_every_format(cli, tmp_path):
    out_dir = tmp_path / "paper"
    code, out, err = cli("charts", "fast", "--tag", "--kind", "all", "--format", "png,pdf", "--format", "svg",
                         "--dpi", "60", "--out", str(out_dir), "--group-by", "tag", "--runs", "4")
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(f"{k}.{f}" for k in CHARTS for f in ("png", "pdf", "svg", "csv"))
    assert "8 trial(s) of 2 genome(s) in 1 group(s)" in out
    assert set(pd.read_csv(out_dir / "success.csv")["group"]) == {"fast"}
    code, _, _ = cli("charts", "g1", "--kind", "speed,spread", "--out", str(out_dir / "one"), "--seeds", "1,3")
    assert code == 0 and sorted(p.name for p in (out_dir / "one").iterdir()) == [
        "speed.csv", "speed.pdf", "spread.csv", "spread.pdf"]


@pytest.mark.parametrize("argv, fragment", [
    (["g0", "--kind", "pie"], "unknown chart 'pie' (charts: phase, speed, success"),
    (["g0", "--format", "gif"], "unknown format 'gif'"),
    (["g0", "--size", "poster"], "unknown size 'poster'"),
    (["nosuch"], "no genome 'nosuch'"),
    (["g0", "--runs", "0"], "--runs must be >= 1"),
    (["g0", "--step-cap", "7"], "no recorded trials of these 1 genome(s)"),
    (["g0", "--gene", "wings"], "unknown gene 'wings'"),
    (["g0", "--group-by", "colour"], "unknown grouping 'colour' (groupings: genome, tag, species)"),
    (["g0", "--out-file"], "cannot write charts to"),
])
def test_charts_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, argv, fragment):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = ["--out", str(tmp_path / "out")] if "--out-file" not in argv else ["--out", str(blocker / "sub")]
    argv = [a for a in argv if a != "--out-file"]
    before = snapshot(tmp_path)
    code, _, err = cli("charts", *argv, *out)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and fragment in err, err
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


def test_charts_group_by_the_species_the_phylogeny_command_stored(cli, tmp_path):
    code, out, _ = cli("phylogeny", "--level", "Domain", "--html", str(tmp_path / "map.html"))
    assert code == 0 and "species stored in" in out and "Domain 2  Kingdom 3" in out
    assert (tmp_path / "map.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    labels = cli.registry.species_labels("grokking")
    out_dir = tmp_path / "charts"
    code, out, err = cli("charts", "g0", "g1", "g2", "--kind", "speed", "--format", "png", "--dpi", "60",
                         "--out", str(out_dir), "--group-by", "species", "--level", "Genus", "--runs", "4")
    assert code == 0, err
    csv = (out_dir / "speed.csv").read_text(encoding="utf-8")
    genus = {labels[g.id]["Genus"] for g in cli.registry.list_genomes() if g.name in ("g0", "g1", "g2")}
    assert genus and all(name in csv for name in genus)


@pytest.mark.parametrize("argv,fragment", [
    (["phylogeny", "--level", "Tribe"], "unknown taxonomy level 'Tribe'"),
    (["phylogeny", "--spec", "nope"], "unknown gene spec 'nope'"),
    (["phylogeny", "--tag", "absent"], "no genomes to map"),
    (["phylogeny", "--html", "map.txt"], "does not end in .html"),
    (["charts", "g0", "--group-by", "species", "--level", "Tribe", "--out", "x"], "unknown taxonomy level"),
])
def test_phylogeny_bad_input_exits_2_and_stores_nothing(cli, argv, fragment):
    code, _, err = cli(*argv)
    assert code == 2 and fragment in err
    assert not cli.registry.species_path.exists()


# ---- ready for a paper ------------------------------------------------------------------------------
def _grouped(trials: list[tuple[str, float | None]], cap: int = CAP) -> ChartData:
    """ChartData from (group, steps_to_grok or None for not grokked) pairs, one genome per trial."""
    rows = [{"genome_id": f"{i:016x}", "name": g, "label": g, "group": g, "seed": i,
             "status": "grokked" if s else "capped",
             "success": s is not None, "steps_to_grok": float("nan") if s is None else float(s)}
            for i, (g, s) in enumerate(trials)]
    return ChartData(pd.DataFrame(rows), {}, cap)


def test_survival_is_kaplan_meier_with_a_log_log_band_only_where_it_is_defined():
    data = _grouped([("half", 100), ("half", 200), ("half", None), ("half", None),
                     ("none", None), ("none", None), ("none", None), ("none", None),
                     ("all", 50), ("all", 150), ("all", 250), ("all", 350)])
    table = survival_data(data).set_index(["group", "step"])
    # half: S(100) = 3/4, Greenwood 1/(4*3); log-log interval S^exp(+-z sqrt(V)/|ln S|)
    s, v = 0.75, 1 / 12
    half = 1.959964 * np.sqrt(v) / abs(np.log(s))
    row = table.loc[("half", 100)]
    assert row["share_grokked"] == pytest.approx(0.25)
    assert row["ci_low"] == pytest.approx(1 - s ** np.exp(-half))
    assert row["ci_high"] == pytest.approx(1 - s ** np.exp(half))
    assert table.loc[("half", CAP), "share_grokked"] == pytest.approx(0.5)
    # 0 of 4 grokked: the share is 0 all along, with no band (it was a Wilson block 0..49% over the plot)
    none = table.loc["none"]
    assert (none["share_grokked"] == 0).all() and none["ci_low"].isna().all() and none["ci_high"].isna().all()
    # 4 of 4: a band while some are at risk, none once all grokked
    every = table.loc["all"]
    assert every.loc[150, "ci_low"] < 0.5 < every.loc[150, "ci_high"]
    assert every.loc[350:, "ci_low"].isna().all() and every.loc[CAP, "share_grokked"] == 1
    # the drawn bands: light, and none spans the plot for the group that never grokked
    fig = draw_chart("survival", Figure(figsize=(5, 4)), data)
    ax = fig.axes[0]
    bands = [c for c in ax.collections if len(c.get_paths())]
    assert bands and all(c.get_alpha() <= 0.15 for c in bands)
    colours = data.colours()
    none_colour = np.array(colours["none"])
    assert not any(np.allclose(c.get_facecolor()[0][:3], none_colour) for c in bands), "a band for 0 of 4 grokked"


def test_genes_heatmap_text_reads_on_every_cell_and_shows_n(data):
    from matplotlib.colors import to_rgb

    def luminance(rgb):
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    fig = draw_chart("genes", Figure(figsize=(7, 4)), data)
    heat = fig.axes[1]
    image = heat.images[0]
    matrix = image.get_array()
    assert heat.texts
    for text in heat.texts:
        col, row = (int(round(v)) for v in text.get_position())
        cell = image.cmap.get_bad() if np.ma.is_masked(matrix[row, col]) else image.cmap(image.norm(matrix[row, col]))
        lighter, darker = sorted([luminance(to_rgb(cell)), luminance(to_rgb(text.get_color()))], reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, f"{text.get_text()} on {cell}: contrast too low"
    ticks = [t.get_text() for t in heat.get_xticklabels()]
    grokked, trials = int(data.trials["success"].sum()), len(data.trials)
    assert ticks == [f"steps to grok\nn={grokked} grokked", f"success\nn={trials} trials"]
    assert "Learning rate" in [t.get_text() for t in heat.get_yticklabels()]   # gene words, not keys


@pytest.mark.parametrize("name", list(CHARTS))
def test_charts_speak_words_not_keys_hashes_or_penalties(data, name):
    text = _texts(draw_chart(name, Figure(figsize=(7, 4)), data))
    assert "steps_to_grok" not in text and "learning_rate" not in text
    assert not re.search(r"\b[0-9a-f]{8}\b", text), "a hash id where the genome's name belongs"
    assert str(2 * CAP) not in text   # a failed trial's penalty is never a step count
    assert {"g0", "g1", "g2"} <= set(data.groups)


def test_pdf_export_logs_no_font_subsetting_lines(data, tmp_path, caplog):
    import logging
    for name in ("fontTools", "fontTools.subset"):
        logging.getLogger(name).setLevel(logging.NOTSET)   # as if something had reset them
    caplog.set_level(logging.DEBUG)
    export_chart("success", data, tmp_path, formats=["pdf"])
    chatter = [r for r in caplog.records if r.name.startswith("fontTools") and r.levelno < logging.WARNING]
    assert not chatter, f"{len(chatter)} fontTools lines, e.g. {chatter[0].getMessage()}"
    assert (tmp_path / "success.pdf").read_bytes().startswith(b"%PDF")


def test_export_message_names_count_kinds_and_folder(tmp_path):
    from pathlib import Path

    from lab.analysis.export import written_message
    text = written_message([Path("a/x.png"), Path("a/x.csv")], tmp_path, "speed")
    assert text.startswith("exported 2 speed files to ") and text.endswith(tmp_path.name)
    deep = written_message([Path("x.pdf")], tmp_path / ("deep/" * 30) / "end")
    assert deep.startswith("exported 1 file to …") and deep.endswith("deep/end") and len(deep) <= 60


def test_charts_on_a_task_without_trials_lists_the_tasks_that_have_some(cli, tmp_path):
    code, _, err = cli("charts", "g0", "--step-cap", "7", "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1
    assert "step cap 7" in err and f"{TINY.task_id} (" in err and ": 5 trials" in err and "--task-id" in err
    assert "run `python main.py stress` first" not in err
    code, out, err = cli("charts", "g0", "--task-id", TINY.task_id[:6], "--kind", "speed", "--format", "png",
                         "--dpi", "50", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert f"5 trial(s) of 1 genome(s) in 1 group(s) on task {TINY.task_id}" in out
    code, _, err = cli("charts", "g0", "--task-id", "zz", "--out", str(tmp_path / "out"))
    assert code == 2 and "--task-id 'zz' matches no task" in err and f"{TINY.task_id} (15 trials)" not in err
    code, _, err = cli("charts", "g0", "--task-id", "ab", "--step-cap", "9", "--out", str(tmp_path / "out"))
    assert code == 2 and "not both" in err
    # with no trials anywhere, the old advice stands
    code, _, err = cli("charts", "g0", "--task-id", TINY.task_id, "--runs", "2", "--seed-start", "50",
                       "--out", str(tmp_path / "out"))
    assert code == 2 and "for those seeds" in err
