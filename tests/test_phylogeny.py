"""Phylogeny analysis: PCA map, nested taxonomy at seven levels, deterministic unique species names,
species stored in the registry, the species grouping, the interactive page and its copy-only API."""
from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from lab.analysis.phylogeny import (DEFAULT_COUNTS, LEVELS, TYPICAL, UNCLASSIFIED, PhylogenyError, build_phylogeny,
                                    check_counts, performance)
from lab.analysis.phylogeny_html import build_html, page_ids, write_html
from lab.analysis.stress import group_genomes
from lab.analysis.webview import EXIT_NO_BACKEND, CopyApi
from lab.arenas.base import TrialResult
from lab.genome import Gene, GeneSpec, Genome, crossover, mutate, random_genome
from lab.registry import RegistryError, founders
from tests.conftest import snapshot


def random_population(spec, n, seed=0):
    rng = np.random.default_rng(seed)
    return [random_genome(spec, rng) for _ in range(n)]


def lineage_population(spec, generations=6, seed=0):
    """Genomes as an evolution makes them: the founders, then mutants and crosses of the last ones."""
    rng = np.random.default_rng(seed)
    pool = founders("grokking")
    everyone = list(pool)
    for _ in range(generations):
        children = []
        for _ in range(10):
            a, b = (pool[i] for i in rng.choice(len(pool), 2, replace=False))
            children.append(mutate(crossover(a, b, rng), rng, rate=0.3, sigma=0.1))
        pool = children
        everyone += children
    return everyone


def check_taxonomy(phylo):
    counts = phylo.counts()
    assert counts == sorted(counts), f"counts decrease somewhere: {counts}"
    for coarse, fine in zip(LEVELS, LEVELS[1:]):
        parent_of = {}
        for c, f in zip(phylo.assignment[coarse], phylo.assignment[fine]):
            assert parent_of.setdefault(int(f), int(c)) == int(c), f"a {fine} straddles two {coarse} species"
        for sp in phylo.species[fine]:
            assert sp.parent == parent_of[sp.index]
            assert set(sp.members) <= set(phylo.species[coarse][sp.parent].members)
    for level in LEVELS:
        species = phylo.species[level]
        names = [s.name for s in species]
        assert len(set(names)) == len(names), f"duplicate names at {level}: {names}"
        assert sorted(g for s in species for g in s.members) == sorted(phylo.ids)
        assert [s.size for s in species] == sorted((s.size for s in species), reverse=True)


@pytest.mark.parametrize("n,seed", [(1, 0), (2, 1), (3, 2), (7, 3), (40, 4), (150, 5)])
def test_levels_nest_and_counts_never_decrease_on_random_genomes(spec, n, seed):
    phylo = build_phylogeny(random_population(spec, n, seed))
    check_taxonomy(phylo)
    assert phylo.counts() == [min(k, n) for k in DEFAULT_COUNTS]
    assert phylo.coords.shape == (n, 3) and np.isfinite(phylo.coords).all()


def test_levels_nest_on_registry_data_read_back(spec, registry):
    genomes = lineage_population(spec)
    registry.add_genomes(genomes)
    stored = registry.list_genomes(spec="grokking")
    assert len(stored) == len({g.id for g in genomes})
    phylo = build_phylogeny(stored)
    check_taxonomy(phylo)
    assert phylo.counts()[-1] == DEFAULT_COUNTS[-1]


def test_duplicate_genomes_stay_together_and_identical_ones_form_one_species(spec):
    base = founders("grokking")[:3]
    clones = [g.replace(name=f"copy {i}") for i, g in enumerate(base)]   # same genes, other metadata: other ids
    phylo = build_phylogeny(base + clones)
    check_taxonomy(phylo)
    assert phylo.counts()[-1] == 3, "6 genomes with 3 distinct gene sets make at most 3 species"
    for g, c in zip(base, clones):
        assert phylo.species_of(g.id, "Genus") == phylo.species_of(c.id, "Genus")
    same = build_phylogeny([base[0], clones[0]])
    assert same.counts() == [1] * 7 and same.explained == (0.0, 0.0, 0.0)
    assert same.species["Genus"][0].name == TYPICAL


def test_pca_reports_explained_variance_per_component_in_order(spec):
    phylo = build_phylogeny(random_population(spec, 60, 9))
    ex = phylo.explained
    assert len(ex) == 3 and ex[0] >= ex[1] >= ex[2] > 0 and sum(ex) < 1
    var = phylo.coords.var(axis=0)
    assert var[0] >= var[1] >= var[2]


def test_names_are_deterministic_whatever_the_order_and_name_the_deviating_genes(spec):
    genomes = random_population(spec, 30, 11)
    # a tight family: mid-range genes except the highest learning rate and the lowest weight decay
    u = np.full(len(spec.genes), 0.5)
    u[list(spec.keys).index("learning_rate")], u[list(spec.keys).index("weight_decay")] = 1.0, 0.0
    rng = np.random.default_rng(12)
    fast = [mutate(Genome.from_unit_vector(spec, u, name=f"fast {i}"), rng, rate=1.0, sigma=0.02) for i in range(8)]
    a = build_phylogeny(genomes + fast)
    b = build_phylogeny(list(reversed(fast + genomes)))
    assert a.labels() == b.labels()
    assert np.allclose(a.coords, b.coords)
    kingdom = a.species_of(fast[0].id, "Kingdom")
    assert {g.id for g in fast} <= set(kingdom.members)
    assert re.fullmatch(r"(High|Low)-[\w-]+( / (High|Low)-[\w-]+)*", kingdom.name)
    family = a.species_of(fast[0].id, "Family")
    assert set(family.members) == {g.id for g in fast}
    assert set(family.name.split(" / ")) == {"High-LR", "Low-WD"}, family.name


@pytest.mark.parametrize("counts,message", [
    ((2, 3, 5), "need 7 cluster counts"),
    ((2, 3, 5, 4, 13, 21, 34), "must not decrease"),
    ((0, 3, 5, 8, 13, 21, 34), "whole number >= 1"),
    ((2, 3, 5, 8.5, 13, 21, 34), "whole number >= 1"),
])
def test_bad_level_counts_are_refused(spec, counts, message):
    with pytest.raises(PhylogenyError, match=message):
        check_counts(counts)


def test_no_genomes_and_mixed_specs_are_clear_errors(spec):
    with pytest.raises(PhylogenyError, match="no genomes to map"):
        build_phylogeny([])
    other = GeneSpec("toy", "Toy", (Gene("x", "X", "G", 0.0, 1.0, "linear", "float", 0.5, "x"),))
    with pytest.raises(PhylogenyError, match="one gene spec only.*grokking, toy"):
        build_phylogeny(founders("grokking")[:2] + [Genome(other, {"x": 0.2})])


# ---- the registry and the species grouping ----------------------------------------------------------
def test_species_labels_round_trip_through_the_registry_and_group_the_stress_charts(spec, registry):
    genomes = random_population(spec, 20, 3)
    phylo = build_phylogeny(genomes)
    registry.set_species("grokking", LEVELS, phylo.counts(), phylo.labels())
    assert registry.species_labels("grokking") == phylo.labels()
    assert registry.species_taxonomy("grokking")["counts"] == phylo.counts()
    outsider = random_population(spec, 1, 99)[0]
    groups = group_genomes("species", genomes + [outsider], registry, "Class")
    assert groups[outsider.id] == UNCLASSIFIED
    assert {groups[g.id] for g in genomes} == {s.name for s in phylo.species["Class"]}
    with pytest.raises(ValueError, match="unknown taxonomy level 'Tribe'"):
        group_genomes("species", genomes, registry, "Tribe")


def test_a_corrupt_species_file_is_a_clear_error_and_is_left_as_it_was(spec, registry):
    registry.set_species("grokking", LEVELS, [1] * 7, {})
    registry.species_path.write_text('{"schema_version": 1, "specs": {"grokking": ', encoding="utf-8")
    before = snapshot(registry.root)
    with pytest.raises(RegistryError, match="species.json is not valid JSON"):
        registry.species_labels()
    genomes = random_population(spec, 4)
    phylo = build_phylogeny(genomes)
    with pytest.raises(RegistryError, match="not valid JSON"):
        registry.set_species("grokking", LEVELS, phylo.counts(), phylo.labels())
    assert snapshot(registry.root) == before


def test_bad_species_labels_are_refused_before_anything_is_written(registry):
    with pytest.raises(RegistryError, match="'nope' is not a genome id"):
        registry.set_species("grokking", LEVELS, [1] * 7, {"nope": {lv: "A" for lv in LEVELS}})
    with pytest.raises(RegistryError, match="needs one species name per level"):
        registry.set_species("grokking", LEVELS, [1] * 7, {"0123456789abcdef": {"Domain": "A"}})
    assert not registry.species_path.exists()


def test_performance_summarises_recorded_trials(spec, registry):
    g = founders("grokking")[0]

    def trial(seed, status, steps):
        return TrialResult(g.id, "t1", seed, status, {"steps_to_grok": steps}, {}, 1.0, "cpu")
    registry.record_trials([trial(0, "grokked", 300), trial(1, "grokked", 500), trial(2, "capped", None)])
    perf = performance(registry, [g], "t1")[g.id]
    assert perf.trials == 3 and perf.success == pytest.approx(2 / 3) and perf.median_steps == 400
    assert "3 trials, 67% success, median 400 steps" == perf.describe()
    assert performance(registry, [g], "other")[g.id].describe() == "no trials recorded"
    # trials racing stopped are neither finished nor missing: they are counted apart and said
    registry.record_trials([TrialResult(g.id, "t2", s, "censored", {"steps_to_grok": None, "censored_at": 650}, {},
                                        1.0, "cpu") for s in (0, 1)])
    stopped = performance(registry, [g], "t2")[g.id]
    assert (stopped.trials, stopped.stopped) == (0, 2)
    assert stopped.describe() == "2 trial(s) stopped early by racing, none finished"


# ---- the interactive page --------------------------------------------------------------------------
def test_the_page_embeds_plotly_with_no_network_script_and_hover_text(spec, tmp_path):
    genomes = founders("grokking")
    phylo = build_phylogeny(genomes)
    text = build_html(phylo, level="Class")
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I), "a script is loaded from elsewhere"
    assert not re.search(r"""src\s*=\s*["']https?:""", text, re.I)
    assert len(text) > 1_000_000 and "Plotly.newPlot" in text
    assert sorted(page_ids(text)) == sorted(g.id for g in genomes)
    for g in genomes:
        assert g.id in text and g.name in text
    assert "pywebview.api" in text and "copy_ids" in text
    path = write_html(tmp_path / "map.html", phylo)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match="does not end in .html"):
        write_html(tmp_path / "map.txt", phylo)
    with pytest.raises(PhylogenyError, match="unknown taxonomy level 'Species'"):
        build_html(phylo, level="Species")


def test_the_copy_api_exposes_only_copy_ids_and_hands_out_only_the_page_ids():
    sent = []
    ids = ["0123456789abcdef", "fedcba9876543210"]
    api = CopyApi(ids, emit=lambda event, **f: sent.append((event, f)))
    public = [name for name in dir(api) if not name.startswith("_")]
    assert public == ["copy_ids"]
    assert api.copy_ids([ids[1], ids[1]]) == 1
    assert sent == [("copy", {"ids": [ids[1]]})]
    for bad in (["0000000000000000"], "0123456789abcdef", [], [ids[0], 7], ["../etc/passwd"], ids * 2):
        with pytest.raises(ValueError):
            api.copy_ids(bad)
    assert len(sent) == 1


def run_webview(args, env=None, timeout=60):
    import subprocess
    return subprocess.run([sys.executable, "-m", "lab.analysis.webview", *args], capture_output=True, text=True,
                           timeout=timeout, env=env)


def test_the_window_process_says_why_when_the_page_is_missing_or_foreign(tmp_path):
    out = run_webview([str(tmp_path / "none.html")])
    assert out.returncode == 2 and json.loads(out.stdout)["event"] == "failed"
    assert "no page at" in json.loads(out.stdout)["reason"]
    foreign = tmp_path / "foreign.html"
    foreign.write_text("<html>hello</html>", encoding="utf-8")
    out = run_webview([str(foreign)])
    assert out.returncode == 2 and "is not a phylogeny page" in json.loads(out.stdout)["reason"]


def test_the_window_process_reports_a_missing_webview_backend(tmp_path, monkeypatch, capsys):
    from lab.analysis import webview
    page = write_html(tmp_path / "map.html", build_phylogeny(founders("grokking")))
    monkeypatch.setitem(sys.modules, "webview", None)   # as if pywebview were not installed
    assert webview.main([str(page)]) == EXIT_NO_BACKEND
    message = json.loads(capsys.readouterr().out)
    assert message["event"] == "failed" and "pywebview is not installed" in message["reason"]


# ---- the default level and the map's legend ---------------------------------------------------------
def test_the_default_level_is_the_finest_whose_median_species_has_two_members(spec):
    from lab.analysis.phylogeny import default_level, default_level_of_labels
    assert default_level({"Domain": [5, 5], "Kingdom": [4, 3, 3], "Phylum": [3, 2, 2, 2, 1],
                          "Class": [2, 2, 1, 1, 1, 1, 1, 1]}) == "Phylum"
    assert default_level({"Domain": [1, 1]}) == "Domain"   # two genomes: nothing to group, the coarsest level
    ten = build_phylogeny(random_population(spec, 10, seed=3))
    level = ten.default_level()
    sizes = [s.size for s in ten.species[level]]
    assert float(np.median(sizes)) >= 2, (level, sizes)
    assert ten.counts()[LEVELS.index("Family")] == 10            # what the tab used to open at: 10 of one
    finer = LEVELS[LEVELS.index(level) + 1:]
    assert all(float(np.median([s.size for s in ten.species[lv]])) < 2 for lv in finer)
    many = build_phylogeny(random_population(spec, 120, seed=4))
    assert many.default_level() == "Genus"                      # 34 species of 120: Genus groups them
    assert default_level_of_labels(ten.labels()) == level       # the same rule on a stored taxonomy


@pytest.mark.parametrize("n, size", [(10, (6.0, 5.0)), (30, (4.0, 3.5)), (40, (9.0, 5.0))])
def test_the_map_legend_sits_beside_the_axes_not_on_them(spec, n, size):
    from matplotlib.figure import Figure

    from lab.analysis.phylogeny_plot import LEGEND_MAX, draw_phylogeny, legend_overlaps_axes
    phylo = build_phylogeny(random_population(spec, n, seed=n))
    fig = Figure(figsize=size)
    level = phylo.default_level()
    draw_phylogeny(fig, phylo, level)
    assert not legend_overlaps_axes(fig)
    if size[0] >= 6:   # room for a legend: beside the map or below it (on a small figure it may go away)
        assert len(fig.legends) == (1 if len(phylo.species[level]) <= LEGEND_MAX else 0)
    for key in fig.legends:
        texts = [t.get_text() for t in key.get_texts()]
        assert texts == [f"{s.name} ({s.size})" for s in phylo.species[level]]


def test_the_phylogeny_command_lists_the_default_level_when_none_is_given(run, spec):
    from lab.registry import Registry
    reg = Registry(run.registry)
    reg.add_genomes(random_population(spec, 10, seed=3))
    code, out, err = run("phylogeny", "--tag", "none-such")
    assert code == 2
    code, out, err = run("phylogeny")
    assert code == 0, err
    listed = out.split("\n\n")[1].splitlines()
    level = listed[0].split(" ")[0]
    assert level in LEVELS and "the finest level whose median species has 2+ members" in listed[0]
    sizes = [int(line.split()[0]) for line in listed[1:] if line.strip()]
    assert float(np.median(sizes)) >= 2
