"""Insights over the registry: the genome table (Kaplan-Meier medians, filters), the gene-importance
model checked on synthetic trials whose outcome depends on known genes, interactions, slices and
proposals, and ``--seed-from proposed:N``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lab.analysis.insight_model import contour_grid, fit_outcome, h_statistic, propose, slice_curve
from lab.analysis.insights import Filters, InsightError, insight_data, km_median
from lab.arenas import get_arena
from lab.arenas.base import TrialResult
from lab.genome import Genome, random_genome

ARENA = get_arena("grokking")
SPEC = ARENA.gene_spec
TASK = ARENA.default_task()
CAP = TASK.step_cap


def synthetic_registry(registry, n=90, seeds=4, seed=0, interact=False):
    """Genomes whose trials depend on learning_rate and weight_decay only: success when lr's unit
    value is above 0.35; steps fall with lr and with wd (or with their product, ``interact``)."""
    rng = np.random.default_rng(seed)
    genomes = [random_genome(SPEC, rng, name=f"syn{i}") for i in range(n)]
    registry.add_genomes(genomes)
    results = []
    for g in genomes:
        u = dict(zip([x.key for x in SPEC.genes], g.unit_vector()))
        lr, wd = u["learning_rate"], u["weight_decay"]
        steps = 300 + 1500 * (1 - lr * wd) if interact else 300 + 1200 * (1 - lr) + 800 * (1 - wd)
        for s in range(seeds):
            ok = lr > 0.35
            noisy = int(steps * rng.uniform(0.95, 1.05))
            results.append(TrialResult(g.id, TASK.task_id, s, "grokked" if ok else "failed",
                                       {"steps_to_grok": noisy if ok else None, "steps": noisy if ok else CAP},
                                       arena="grokking"))
    registry.record_trials(results)
    return genomes


def test_km_median_handles_censoring():
    assert km_median([100, 200, 300], []) == (200.0, False)
    # two of four failed at the cap: the median is the second success's time... or not reached
    assert km_median([100, 200], [2500, 2500]) == (200.0, False)
    assert km_median([100], [2500, 2500]) == (2500.0, True)
    # a trial stopped early at 150 leaves the risk set: 100 (S=3/4), 200 (S=3/4*1/2) -> median 200
    assert km_median([100, 200, 400], [150]) == (200.0, False)
    assert math.isnan(km_median([], [])[0])


def test_genome_table_filters_and_ranks(registry):
    genomes = synthetic_registry(registry, n=20)
    data = insight_data(registry, SPEC, TASK)
    assert len(data.frame) == 20 and [o.key for o in data.outcomes] == ["success", "median_steps"]
    assert data.frame["success"].is_monotonic_decreasing
    top = insight_data(registry, SPEC, TASK, Filters(top_k=5))
    assert list(top.frame["genome_id"]) == list(data.frame["genome_id"][:5])
    registry.add_genome(genomes[3].replace(tags=("keep",)))
    tagged = insight_data(registry, SPEC, TASK, Filters(tag="keep"))
    assert tagged.genome_ids() == [genomes[3].id]
    with pytest.raises(InsightError, match="no grokking genome"):
        insight_data(registry, SPEC, TASK, Filters(tag="nothing-has-this"))
    with pytest.raises(ValueError, match="top-k"):
        Filters(top_k=-1)


def test_the_two_genes_that_decide_rank_first_and_the_score_is_held_out(registry):
    synthetic_registry(registry)
    data = insight_data(registry, SPEC, TASK)
    for key, truth in (("success", {"learning_rate"}), ("median_steps", {"learning_rate", "weight_decay"})):
        fit = fit_outcome(data, key, seed=0, interactions=False)
        assert fit.trusted and fit.score > 0.5, fit.describe()
        assert set(fit.ranked_genes()[:len(truth)]) == truth
    # a model of noise says it predicts nothing
    noise = data.frame.assign(success=np.random.default_rng(1).random(len(data.frame)))
    fit = fit_outcome(type(data)(data.spec, data.task_id, data.step_cap, noise, data.outcomes), "success",
                      interactions=False)
    assert not fit.trusted and "NOT predict" in fit.describe()


def test_interaction_of_a_product_is_found(registry):
    synthetic_registry(registry, interact=True)
    data = insight_data(registry, SPEC, TASK)
    fit = fit_outcome(data, "median_steps", seed=0)
    pair = max(fit.interactions, key=fit.interactions.get)
    assert set(pair) == {"learning_rate", "weight_decay"}
    assert 0 <= h_statistic(fit, "learning_rate", "dropout") < fit.interactions[pair]


def test_slice_contour_and_proposals(registry):
    synthetic_registry(registry)
    data = insight_data(registry, SPEC, TASK)
    fits = {k: fit_outcome(data, k, interactions=False) for k in ("success", "median_steps")}
    grid, mean, sd = slice_curve(fits["median_steps"], "learning_rate")
    assert mean[0] > mean[-1] and (sd >= 0).all()     # more learning rate, fewer steps (log10)
    ga, gb, z = contour_grid(fits["median_steps"], "learning_rate", "weight_decay", points=10)
    assert z.shape == (10, 10) and z[0, 0] > z[-1, -1]
    proposals = propose(data, fits, 4, seed=3)
    again = propose(data, fits, 4, seed=3)
    assert [p.genome.id for p in proposals] == [p.genome.id for p in again]
    assert len({p.genome.id for p in proposals}) == 4
    for p in proposals:
        u = dict(zip(data.genes, p.genome.unit_vector()))
        assert u["learning_rate"] > 0.35 and p.predicted["success"][0] > 0.8
        assert p.genome.origin == "proposed" and "predicted" in p.genome.notes
        assert p.objective_sd >= 0


def test_too_few_genomes_is_one_clear_message(registry):
    synthetic_registry(registry, n=5)
    data = insight_data(registry, SPEC, TASK)
    with pytest.raises(InsightError, match="at least 8"):
        fit_outcome(data, "success")


def test_evolution_seeds_from_proposals(registry):
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings
    synthetic_registry(registry)
    settings = EvolutionSettings(population=6, generations=1, seed_from=("proposed:3",), run_seed=4)
    evolution = Evolution(settings, registry, run_id="seeded")
    proposed = [g for g in evolution.population if g.origin == "proposed"]
    assert len(proposed) == 3 and all("proposed" in g.tags for g in proposed)
    with pytest.raises(ValueError, match="proposed:N"):
        EvolutionSettings(population=6, seed_from=("proposed:7",))
    with pytest.raises(ValueError, match="proposed:N"):
        EvolutionSettings(population=6, seed_from=("proposed:x",))


def test_proposals_on_an_empty_registry_write_no_run(registry):
    from lab.evolution.population import Evolution
    from lab.evolution.settings import EvolutionSettings
    with pytest.raises(InsightError):
        Evolution(EvolutionSettings(population=4, seed_from=("proposed:2",)), registry, run_id="none")
    assert not registry.run_dir("none").exists()


def test_proposed_genome_round_trips():
    g = Genome(SPEC, SPEC.defaults(), origin="proposed")
    assert Genome.from_json(g.to_json()).origin == "proposed"


def test_the_insights_commands_end_to_end(run, tmp_path):
    from lab.registry import Registry
    synthetic_registry(Registry(run.registry), n=40, seeds=3)
    out = tmp_path / "out"
    code, text, err = run("insights", "importance", "--out", str(out), "--format", "png")
    assert code == 0, err
    assert "held-out R²" in text and "Learning rate" in text
    assert {p.name for p in out.iterdir()} == {"insights-importance.csv", "insights-interactions.csv",
                                              "insights-importance.png"}
    code, text, err = run("insights", "parallel", "--brush", "learning_rate=0.01:0.1", "--top-k", "20")
    assert code == 0 and "inside the brushes" in text
    code, text, err = run("insights", "propose", "--n", "2", "--save")
    assert code == 0 and text.count("predicted success") == 2
    assert len(Registry(run.registry).list_genomes(tag="proposed")) == 2


@pytest.mark.parametrize("argv, message", [
    (["slice", "--gene", "nope"], "no gene 'nope'"),
    (["parallel", "--brush", "learning_rate=a:b"], "must be numbers"),
    (["parallel", "--brush", "learning_rate"], "GENE=LOW:HIGH"),
    (["contour", "--genes", "dropout", "dropout"], "two different genes"),
    (["importance", "--tag", "nothing"], "no grokking genome"),
    (["importance", "--top-k", "-1"], "top-k"),
    (["propose", "--n", "0"], "--n must be at least 1"),
])
def test_bad_insights_input_is_one_line_and_writes_nothing(run, tmp_path, argv, message):
    from lab.registry import Registry
    synthetic_registry(Registry(run.registry), n=12, seeds=2)
    out = tmp_path / "out"
    code, text, err = run("insights", *argv, "--out", str(out))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_insights_on_an_empty_registry(run):
    code, _, err = run("insights", "importance")
    assert code == 2 and "run trials first" in err


def test_success_by_the_racing_horizon_uses_the_stopped_trials():
    from lab.analysis.insights import success_horizon, summarise

    def trial(status, steps_to_grok=None, censored_at=None):
        metrics = {"steps_to_grok": steps_to_grok, "steps": censored_at or steps_to_grok or CAP}
        if censored_at:
            metrics["censored_at"] = censored_at
        return TrialResult("g", TASK.task_id, 0, status, metrics)

    finished = [trial("grokked", 400), trial("grokked", 1200), trial("failed")]
    stopped = [trial("censored", censored_at=1000), trial("censored", censored_at=300)]
    row = summarise(finished, stopped, CAP, horizon=900)
    # known by step 900: the three finished and the one stopped at 1000 (the one stopped at 300 is not)
    assert row["known_by_h"] == 4 and row["success_by_h"] == pytest.approx(1 / 4)
    assert row["success"] == pytest.approx(2 / 3) and row["stopped"] == 2
    assert success_horizon({"g": stopped}) == int(np.percentile([1000, 300], 10))
    assert success_horizon({}) == 0
