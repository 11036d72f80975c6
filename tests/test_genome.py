"""The gene table, genomes, their JSON form, validation and operators."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.genome import (ORIGINS, Gene, Genome, GenomeError, clone, crossover, diff, distance, get_spec,
                        mutate, random_genome, round_sig, splice)
from lab.registry import FOUNDERS_DIR, founders, read_genome_file

GROUPS = {
    "Metabolic Rate": ("learning_rate", "weight_decay"),
    "Cognitive Reflexes": ("beta1", "beta2"),
    "Homeostasis": ("grad_clip", "adam_eps"),
    "Life Cycle": ("warmup_steps", "decay_trigger_var", "decay_rate"),
    "Signal Modulation": ("dropout", "layer_scale"),
    "Neural Plasticity": ("init_attn_qk", "init_attn_v", "init_ffn", "bias_scale"),
    "Sensory Sensitivity": ("init_embed", "embed_ratio"),
}


# ---- the gene table -------------------------------------------------------------------------------
def test_grokking_table_has_17_genes_in_7_groups(spec):
    assert len(spec.genes) == 17
    assert spec.groups == GROUPS


def test_every_gene_is_well_formed(spec):
    for g in spec.genes:
        assert g.low < g.high
        assert g.low <= g.default <= g.high, g.key
        assert g.check(g.default) is None
        assert g.label and g.doc and g.group
        assert g.scale in ("linear", "log", "log1m") and g.kind in ("float", "int")
        if g.scale == "log":
            assert g.low > 0
        # the unit mapping is monotone and hits both bounds
        assert g.from_unit(0.0) == g.low and g.from_unit(1.0) == g.high
        assert g.from_unit(0.25) < g.from_unit(0.75)


def test_documented_bounds_and_defaults(spec):
    lr, wd, b1, b2, er = (spec.gene(k) for k in ("learning_rate", "weight_decay", "beta1", "beta2", "embed_ratio"))
    assert (lr.low, lr.high, lr.scale, lr.default) == (1e-5, 1e-1, "log", 1e-3)
    assert (wd.low, wd.high, wd.scale, wd.default) == (1e-4, 10.0, "log", 1.0)
    assert (b1.default, b2.default, b2.scale) == (0.9, 0.98, "log1m")
    assert er.scale == "log" and er.high >= 32 and er.from_unit(er.to_unit(14.5)) == pytest.approx(14.5)
    assert spec.gene("warmup_steps").kind == "int"


def test_log1m_scale_is_uniform_in_log_one_minus_beta(spec):
    b2 = spec.gene("beta2")
    mid = b2.from_unit(0.5)  # halfway between 1-0.9=1e-1 and 1-0.9999=1e-4 in log is 1-10**-2.5
    assert mid == pytest.approx(1 - 10 ** -2.5, rel=1e-5)


def test_bad_gene_rows_are_refused():
    with pytest.raises(ValueError, match="default"):
        Gene("x", "X", "G", 0.0, 1.0, "linear", "float", 2.0, "doc")
    with pytest.raises(ValueError, match="positive lower bound"):
        Gene("x", "X", "G", 0.0, 1.0, "log", "float", 0.5, "doc")


def test_markdown_table_is_generated_from_the_spec_and_matches_the_grokking_page(spec):
    table = spec.markdown_table()
    assert all(f"`{k}`" in table for k in spec.keys)
    page = (FOUNDERS_DIR.parent / "docs" / "grokking.md").read_text(encoding="utf-8")
    assert table in page, "docs/grokking.md's gene table is stale: paste `python main.py genome spec --markdown`"


# ---- identity and JSON ----------------------------------------------------------------------------
def test_json_round_trip_preserves_id_and_metadata(spec):
    g = Genome(spec, spec.defaults(), name="classic", origin="founder", parents=("a" * 16,), generation=3,
               notes="n", tags=("x", "y"))
    back = Genome.from_json(g.to_json())
    assert back.id == g.id and back.to_json() == g.to_json()
    assert (back.name, back.origin, back.parents, back.generation, back.tags) == \
        ("classic", "founder", ("a" * 16,), 3, ("x", "y"))


def test_id_ignores_metadata(spec):
    a = Genome(spec, spec.defaults(), name="a", origin="founder", notes="one", tags=("t",))
    b = Genome(spec, spec.defaults(), name="b", origin="mutation", parents=("f" * 16,), generation=9)
    assert a.id == b.id and a == b and len({a, b}) == 1
    c = Genome(spec, {**spec.defaults(), "learning_rate": 2e-3})
    assert c.id != a.id


def test_id_is_taken_at_six_significant_digits(spec):
    a = Genome(spec, {**spec.defaults(), "learning_rate": 0.00123456789})
    b = Genome(spec, {**spec.defaults(), "learning_rate": 0.001234568})
    assert a.id == b.id and a.genes["learning_rate"] == 0.00123457
    assert round_sig(123456789.0) == 123457000.0


def test_genome_is_immutable(spec):
    g = Genome(spec, spec.defaults())
    with pytest.raises(TypeError):
        g.genes["learning_rate"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        g.name = "x"  # type: ignore[misc]


def test_founders_are_valid_and_distinct():
    fs = founders("grokking")
    assert len(fs) >= 5
    assert len({g.id for g in fs}) == len(fs)
    assert all(g.origin == "founder" and g.notes for g in fs)
    classic = [g for g in fs if g.name == "classic-adamw"][0]
    assert dict(classic.genes) == get_spec("grokking").defaults()


# ---- validation -----------------------------------------------------------------------------------
def _doc(spec, **genes):
    d = Genome(spec, spec.defaults(), name="x").to_dict()
    d["genes"].update(genes)
    return d


@pytest.mark.parametrize("change, message", [
    ({"genes": {"learning_rate": 1e-3}}, "missing gene `weight_decay`"),
    ({"extra_gene": 1.0}, "unknown field `extra_gene`"),
    ({"spec": "nope"}, "unknown spec 'nope'"),
    ({"schema_version": 99}, "unknown schema_version 99"),
    ({"origin": "lab accident"}, "`origin` 'lab accident' is not one of"),
    ({"tags": "not-a-list"}, "`tags` must be a list of text"),
    ({"generation": -1}, "`generation` must be a whole number"),
])
def test_each_bad_field_is_named(spec, change, message):
    d = Genome(spec, spec.defaults()).to_dict()
    d.update(change)
    with pytest.raises(GenomeError) as err:
        Genome.from_dict(d)
    assert message in str(err.value)


@pytest.mark.parametrize("gene, value, message", [
    ("beta2", 1.3, "gene `beta2` = 1.3 is above its upper bound 0.9999"),
    ("learning_rate", 1e-7, "gene `learning_rate` = 1e-07 is below its lower bound 1e-05"),
    ("weight_decay", "high", "gene `weight_decay` = 'high' is not a number"),
    ("dropout", True, "gene `dropout` = True is not a number"),
    ("dropout", None, "gene `dropout` = None is not a number"),
    ("grad_clip", float("nan"), "gene `grad_clip` = nan is not a finite number"),
    ("grad_clip", float("inf"), "gene `grad_clip` = inf is not a finite number"),
    ("warmup_steps", 10.5, "gene `warmup_steps` = 10.5 must be a whole number"),
])
def test_each_bad_gene_value_is_named_with_its_bound(spec, gene, value, message):
    with pytest.raises(GenomeError) as err:
        Genome.from_dict(_doc(spec, **{gene: value}))
    assert message in str(err.value)


def test_unknown_gene_is_named(spec):
    with pytest.raises(GenomeError, match="unknown gene `learning_rat`"):
        Genome.from_dict(_doc(spec, learning_rat=1e-3))


def test_one_error_lists_every_problem(spec):
    d = _doc(spec, beta2=1.3, dropout=float("nan"), bogus=1)
    del d["genes"]["init_ffn"]
    with pytest.raises(GenomeError) as err:
        Genome.from_dict(d)
    problems = err.value.problems
    assert len(problems) == 4
    text = str(err.value)
    for part in ("beta2", "dropout", "bogus", "init_ffn"):
        assert part in text


def test_nan_in_raw_json_text_is_rejected(spec):
    text = Genome(spec, spec.defaults()).to_json().replace('"dropout": 0.0', '"dropout": NaN')
    with pytest.raises(GenomeError, match="`dropout` = nan is not a finite number"):
        Genome.from_json(text)


def test_not_json_and_not_an_object(tmp_path):
    p = tmp_path / "g.json"
    p.write_text("{ not json")
    with pytest.raises(GenomeError, match="not valid JSON"):
        Genome.load(p)
    with pytest.raises(GenomeError, match="must be a JSON object"):
        Genome.from_json("[1, 2]")


def test_stale_id_in_a_hand_edited_file_is_recomputed(spec):
    d = _doc(spec, learning_rate=5e-3)  # genes edited, "id" left as it was
    g = Genome.from_dict(d)
    assert g.id != d["id"] and g.genes["learning_rate"] == 5e-3


# ---- operators ------------------------------------------------------------------------------------
def _in_bounds(g: Genome) -> bool:
    return all(g.spec.gene(k).check(v) is None for k, v in g.genes.items())


seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=150, deadline=None)
@given(seed=seeds)
def test_random_genomes_stay_in_bounds(seed):
    spec = get_spec("grokking")
    g = random_genome(spec, np.random.default_rng(seed))
    assert _in_bounds(g) and g.origin == "alien"
    assert isinstance(g.genes["warmup_steps"], int)


@settings(max_examples=150, deadline=None)
@given(seed=seeds, rate=st.floats(0, 1), sigma=st.floats(0, 2))
def test_mutation_stays_in_bounds(seed, rate, sigma):
    spec = get_spec("grokking")
    rng = np.random.default_rng(seed)
    parent = random_genome(spec, rng)
    child = mutate(parent, rng, rate=rate, sigma=sigma)
    assert _in_bounds(child)
    assert child.origin == "mutation" and child.parents == (parent.id,)


@settings(max_examples=150, deadline=None)
@given(seed=seeds, blend=st.booleans())
def test_crossover_stays_in_bounds_and_between_parents(seed, blend):
    spec = get_spec("grokking")
    rng = np.random.default_rng(seed)
    a, b = random_genome(spec, rng), random_genome(spec, rng)
    child = crossover(a, b, rng, blend=blend)
    assert _in_bounds(child) and child.parents == (a.id, b.id)
    for k in spec.keys:
        lo, hi = sorted((a.genes[k], b.genes[k]))
        if blend:
            assert lo * (1 - 1e-5) - 1 <= child.genes[k] <= hi * (1 + 1e-5) + 1  # int genes round
        else:
            assert child.genes[k] in (a.genes[k], b.genes[k])


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_splice_and_clone_and_distance(seed):
    spec = get_spec("grokking")
    rng = np.random.default_rng(seed)
    a, b = random_genome(spec, rng), random_genome(spec, rng)
    s = splice(a, b, ["Metabolic Rate", "dropout"])
    assert _in_bounds(s)
    for k in spec.keys:
        expected = b.genes[k] if k in ("learning_rate", "weight_decay", "dropout") else a.genes[k]
        assert s.genes[k] == expected
    c = clone(a)
    assert c.id == a.id and c.origin == "clone" and c.parents == (a.id,)
    assert distance(a, a) == 0.0
    assert 0.0 < distance(a, b) <= 1.0 and distance(a, b) == pytest.approx(distance(b, a))


def test_operators_are_deterministic_for_a_seeded_generator(spec):
    def run(seed):
        rng = np.random.default_rng(seed)
        a, b = random_genome(spec, rng), random_genome(spec, rng)
        return mutate(crossover(a, b, rng), rng).id
    assert run(7) == run(7) and run(7) != run(8)


def test_mutation_changes_at_least_one_gene(spec):
    g = Genome(spec, spec.defaults())
    for seed in range(20):
        assert diff(g, mutate(g, np.random.default_rng(seed), rate=0.0, sigma=0.2))


def test_splice_unknown_gene_and_cross_spec_are_refused(spec):
    g = Genome(spec, spec.defaults())
    with pytest.raises(GenomeError, match="no gene or group `lr`"):
        splice(g, g, ["lr"])


def test_unit_vector_round_trip(spec):
    g = random_genome(spec, np.random.default_rng(0))
    back = Genome.from_unit_vector(spec, g.unit_vector())
    assert back.id == g.id
    assert all(0.0 <= x <= 1.0 for x in g.unit_vector()) and not any(math.isnan(x) for x in g.unit_vector())


def test_origins_cover_the_lab(spec):
    assert set(ORIGINS) == {"founder", "alien", "crossover", "clone", "mutation", "forge", "proposed"}


def test_read_genome_file_reads_bundles_and_lists(tmp_path, spec):
    rng = np.random.default_rng(1)
    gs = [random_genome(spec, rng) for _ in range(3)]
    (tmp_path / "list.json").write_text(json.dumps([g.to_dict() for g in gs]))
    (tmp_path / "bundle.json").write_text(json.dumps({"kind": "genome-bundle", "schema_version": 1,
                                                      "genomes": [g.to_dict() for g in gs]}))
    assert [g.id for g in read_genome_file(tmp_path / "list.json")] == [g.id for g in gs]
    assert [g.id for g in read_genome_file(tmp_path / "bundle.json")] == [g.id for g in gs]
