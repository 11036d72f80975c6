"""The Gene Forge's session (no GUI): splicing, hand edits, undo/redo, validation of every bad edit,
saving custom genomes, searching genome lists and the external-editor round trip."""
from __future__ import annotations

import json

import pytest

import lab.genome as genome_module
from lab.forge import (ForgeSession, SaveConflict, custom_path, known_genome, parse_value, same_genes_note,
                       save_custom, saving_adds, search_genomes)
from lab.forge_editor import editor_command, read_edited, write_for_editing
from lab.genome import Gene, Genome, GenomeError, GeneSpec, splice
from lab.registry import RegistryError, founders
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def founder():
    return {g.name: g for g in founders("grokking")}


@pytest.fixture
def session(founder):
    return ForgeSession(founder["classic-adamw"], founder["high-lr"])


@pytest.fixture
def other_spec():
    """A second, tiny gene spec, registered for one test only."""
    spec = genome_module.register_spec(GeneSpec("forge-test", "test", (
        Gene("x", "X", "G", 0.0, 1.0, "linear", "float", 0.5, "a gene"),)))
    yield spec
    genome_module._SPECS.pop("forge-test", None)


# ---- splice and undo/redo ---------------------------------------------------------------------
def test_transfer_of_a_group_and_a_gene_follows_splice(session, founder):
    recipient, donor = founder["classic-adamw"], founder["high-lr"]
    session.set_transfer(["Life Cycle", "learning_rate"], True)
    expected = splice(recipient, donor, ["Life Cycle", "learning_rate"])
    result = session.result()
    assert dict(result.genes) == dict(expected.genes)
    # high-lr is classic-adamw with its own learning rate and life cycle: the result IS the donor,
    # and a genome never lists itself among its parents
    assert result.id == donor.id and result.parents == (recipient.id,) and result.origin == "forge"
    session.set_transfer(["Life Cycle"], False)
    assert session.result().parents == (recipient.id, donor.id)
    session.set_transfer(["Life Cycle"], True)
    assert session.spliced == {"warmup_steps", "decay_trigger_var", "decay_rate", "learning_rate"}
    assert {k for k, *_ in session.diff()} == {k for k, a, b in genome_module.diff(recipient, expected)}
    assert all(src == "donor" for *_x, src in session.diff())


def test_undo_after_splice_restores_redo_reapplies_and_a_new_edit_clears_redo(session, founder):
    recipient = founder["classic-adamw"]
    session.set_transfer(["Metabolic Rate"], True)
    spliced = session.result()
    assert spliced.genes["learning_rate"] == 0.003
    assert session.undo()
    assert session.result().genes == recipient.genes and not session.spliced
    assert session.can_redo and session.redo()
    assert session.result() == spliced and not session.can_redo
    session.undo()
    session.edit("dropout", "0.2")
    assert not session.can_redo, "a new edit clears the redo history"
    assert not session.redo()


def test_typing_into_one_gene_is_one_undo_step(session, founder):
    for text in ("0", "0.", "0.3"):
        session.edit("dropout", text)
    session.edit("layer_scale", "2")
    assert session.value("dropout") == 0.3 and session.value("layer_scale") == 2.0
    session.undo()
    assert session.value("layer_scale") == 1.0 and session.value("dropout") == 0.3
    session.undo()
    assert session.value("dropout") == 0.0 and not session.edits
    assert not session.can_undo


def test_slider_sets_the_gene_at_its_unit_position(session):
    gene = session.spec.gene("learning_rate")
    text = session.set_unit("learning_rate", 0.5)
    assert session.value("learning_rate") == gene.from_unit(0.5) == pytest.approx(1e-3, rel=1e-5)
    assert text == "0.001" and session.source("learning_rate") == "edited"


def test_each_gene_has_one_source_tick_drops_the_edit_and_an_edit_unticks(session):
    session.edit("learning_rate", "0.02")
    session.set_transfer(["learning_rate"], True)
    assert session.source("learning_rate") == "donor" and session.value("learning_rate") == 0.003
    session.edit("learning_rate", "0.05")
    assert session.source("learning_rate") == "edited" and "learning_rate" not in session.spliced
    session.revert("learning_rate")
    assert session.source("learning_rate") == "recipient" and session.value("learning_rate") == 0.001


def test_a_new_recipient_keeps_the_transfer_and_drops_edits_undoably(session, founder):
    session.set_transfer(["beta1"], True)
    session.edit("dropout", "0.1")
    session.set_recipient(founder["heavy-decay"])
    assert session.recipient == founder["heavy-decay"] and not session.edits and session.spliced == {"beta1"}
    session.undo()
    assert session.recipient == founder["classic-adamw"] and session.edits == {"dropout": "0.1"}


def test_reset_and_load_result(session, founder):
    session.load_result(founder["high-embed-ratio"])
    assert dict(session.result().genes) == dict(founder["high-embed-ratio"].genes)
    assert all(src == "edited" for *_x, src in session.diff())
    session.reset()
    assert session.result().genes == founder["classic-adamw"].genes
    session.undo()
    assert dict(session.result().genes) == dict(founder["high-embed-ratio"].genes)


# ---- every bad edit is refused with its message ------------------------------------------------
BAD_EDITS = [("learning_rate", "fast", "gene `learning_rate` = 'fast' is not a number"),
             ("learning_rate", "nan", "gene `learning_rate` = nan is not a finite number"),
             ("weight_decay", "inf", "gene `weight_decay` = inf is not a finite number"),
             ("beta1", "0.999", "gene `beta1` = 0.999 is above its upper bound 0.99"),
             ("learning_rate", "1e-9", "gene `learning_rate` = 1e-09 is below its lower bound 1e-05"),
             ("warmup_steps", "10.5", "gene `warmup_steps` = 10.5 must be a whole number"),
             ("dropout", "  ", "gene `dropout` is empty: type a number in 0..0.5 (linear, float)")]


@pytest.mark.parametrize("key,text,message", BAD_EDITS)
def test_a_bad_hand_edit_is_refused_with_its_message_and_nothing_is_written(session, registry, tmp_path,
                                                                             key, text, message):
    custom = tmp_path / "custom"
    custom.mkdir()
    registry.add_genome(session.recipient)
    before = (snapshot(custom), snapshot(registry.root))
    session.edit(key, text)
    assert session.source(key) == "invalid" and session.value(key) is None
    assert session.problems() == {key: message}
    assert session.preview().genes[key] == session.recipient.genes[key], "charts show the last good value"
    with pytest.raises(GenomeError) as err:
        save_custom(session.result(name="bad"), custom, registry)
    assert err.value.problems == [message]
    assert (snapshot(custom), snapshot(registry.root)) == before


def test_every_problem_is_listed_at_once(session):
    session.edit("beta2", "1.5")
    session.edit("grad_clip", "-1")
    with pytest.raises(GenomeError) as err:
        session.result()
    assert len(err.value.problems) == 2 and "beta2" in str(err.value) and "grad_clip" in str(err.value)
    session.edit("grad_clip", "2")
    assert list(session.problems()) == ["beta2"]


def test_parse_value_canonicalises():
    spec = genome_module.get_spec("grokking")
    assert parse_value(spec.gene("warmup_steps"), " 20 ") == (20, None)
    assert parse_value(spec.gene("learning_rate"), "0.00123456789") == (0.00123457, None)


def test_unknown_genes_other_specs_and_missing_donor_are_refused(founder, other_spec):
    s = ForgeSession(founder["classic-adamw"])
    with pytest.raises(GenomeError, match="pick a donor first"):
        s.set_transfer(["beta1"], True)
    with pytest.raises(GenomeError, match="no gene or group `speed`"):
        s.edit("speed", "1")
    with pytest.raises(GenomeError, match="no gene or group `Speed`"):
        s.set_transfer(["Speed"], False)
    alien = Genome(other_spec, {"x": 0.2})
    for action in (s.set_donor, s.set_recipient, s.load_result):
        with pytest.raises(GenomeError, match="is of spec forge-test"):
            action(alien)
    assert not s.can_undo and s.result().genes == founder["classic-adamw"].genes


# ---- re-importing an edited file ----------------------------------------------------------------
def _edited(tmp_path, genome, change):
    path = write_for_editing(genome, tmp_path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change,words", [
    (lambda d: d["genes"].update(speed=3), ["unknown gene `speed`"]),
    (lambda d: d["genes"].update(beta1=float("nan")), ["gene `beta1` = nan is not a finite number"]),
    (lambda d: d["genes"].update(beta1=2, dropout="lots"), ["gene `beta1` = 2 is above", "gene `dropout` = 'lots'"]),
    (lambda d: d["genes"].pop("dropout"), ["missing gene `dropout`"]),
    (lambda d: d.update(spec="nonsense"), ["unknown spec 'nonsense'"]),
])
def test_a_bad_edit_of_the_file_is_reported_gene_by_gene_and_changes_nothing(session, tmp_path, change, words):
    session.edit("dropout", "0.1")
    path = _edited(tmp_path, session.result(), change)
    state = session.state
    with pytest.raises(GenomeError) as err:
        read_edited(path, session.spec)
    assert len(err.value.problems) == len(words)
    for problem, word in zip(err.value.problems, words):
        assert word in problem
    assert session.state is state


def test_a_file_of_another_spec_or_with_two_genomes_is_refused(session, tmp_path, other_spec):
    path = tmp_path / "other.json"
    path.write_text(Genome(other_spec, {"x": 0.3}).to_json())
    with pytest.raises(GenomeError, match="spec forge-test, not grokking"):
        read_edited(path, session.spec)
    two = tmp_path / "two.json"
    two.write_text(json.dumps([session.recipient.to_dict(), session.donor.to_dict()]))
    with pytest.raises(GenomeError, match="holds 2 genomes"):
        read_edited(two, session.spec)


def test_a_good_edit_of_the_file_becomes_the_result(session, tmp_path):
    path = _edited(tmp_path, session.result(), lambda d: d["genes"].update(weight_decay=0.5, warmup_steps=40))
    session.load_result(read_edited(path, session.spec))
    assert session.edits == {"weight_decay": "0.5", "warmup_steps": "40"}
    session.undo()
    assert not session.edits


def test_editor_command_prefers_visual_then_editor_then_xdg_open(tmp_path):
    p = tmp_path / "g.json"
    assert editor_command(p, {"VISUAL": "code --wait", "EDITOR": "vi"}) == ["code", "--wait", str(p)]
    assert editor_command(p, {"EDITOR": "gedit"}) == ["gedit", str(p)]
    assert editor_command(p, {"VISUAL": " "}) == ["xdg-open", str(p)]


# ---- saving -----------------------------------------------------------------------------------
def test_save_writes_the_custom_file_and_the_registry_and_asks_before_replacing(session, registry, tmp_path):
    custom = tmp_path / "custom"
    session.set_transfer(["Metabolic Rate"], True)
    genome = session.result(name="fast start", notes="lr from high-lr", tags=("forge",))
    path, written = save_custom(genome, custom, registry)
    assert written and path == custom / "fast-start.json"
    assert Genome.load(path) == genome and Genome.load(path).tags == ("forge",)
    assert registry.get_genome(genome.id).name == "fast start"
    # the same genome again (a new `created` stamp only): nothing to replace
    assert save_custom(session.result(name="fast start", notes="lr from high-lr", tags=("forge",)),
                       custom, registry) == (path, False)
    # a different genome under the same name: refused until the caller says to overwrite
    session.edit("dropout", "0.1")
    other = session.result(name="fast start")
    before = (snapshot(custom), snapshot(registry.root))
    with pytest.raises(SaveConflict, match=genome.id):
        save_custom(other, custom, registry)
    assert (snapshot(custom), snapshot(registry.root)) == before
    save_custom(other, custom, registry, overwrite=True)
    assert Genome.load(path) == other and registry.has_genome(other.id)


def test_a_result_with_the_genes_of_a_founder_is_named_before_saving_and_keeps_the_users_name(
        session, founder, registry, tmp_path):
    """Issue 21, item 1: classic-adamw with high-lr's learning rate and life cycle is high-lr."""
    session.set_transfer(["Metabolic Rate", "Life Cycle"], True)
    result = session.result(name="newcomer-lr3", tags=("newcomer", "test"))
    assert result.id == founder["high-lr"].id and result.parents == (founder["classic-adamw"].id,)
    # said before saving: which genome it is, and what saving adds to it
    known = known_genome(result, registry, founders("grokking"))
    assert known is not None and known.name == "high-lr" and known.origin == "founder"
    note = same_genes_note(result, known, registry)
    assert "founder genome high-lr (31b0ca78)" in note and "'newcomer-lr3'" in note and "newcomer, test" in note
    assert saving_adds(result, known, registry) == (["newcomer-lr3"], ["newcomer", "test"], [])
    custom = tmp_path / "custom"
    path, written = save_custom(result, custom, registry, same_as=known)
    # the file holds what the user typed, and is not its own parent
    saved = json.loads(path.read_text())
    assert written and path.name == "newcomer-lr3.json" and saved["name"] == "newcomer-lr3"
    assert saved["tags"] == ["newcomer", "test"] and saved["id"] not in saved["parents"]
    # the registry: the founder keeps its name, the user's name and tags are kept and found
    assert registry.get_genome(result.id).name == "high-lr"
    assert registry.names(result.id) == ["high-lr", "newcomer-lr3"]
    assert [g.id for g in registry.list_genomes(tag="newcomer")] == [result.id]
    assert search_genomes(registry.list_genomes(), "newcomer", species=registry.aliases()) == [known]
    # once kept, saving it again adds nothing and says so
    again = known_genome(result, registry)
    assert saving_adds(result, again, registry) == ([], [], []) and "adds nothing new" in same_genes_note(
        result, again, registry)
    assert known_genome(session.result().replace(genes={"dropout": 0.3}), registry, founders("grokking")) is None


def test_a_damaged_names_file_stops_the_save_before_any_file_is_written(session, founder, registry, tmp_path):
    registry.add_genome(founder["high-lr"])
    registry.names_path.write_text("{oops")
    session.set_transfer(["Metabolic Rate", "Life Cycle"], True)
    custom = tmp_path / "custom"
    before = snapshot(registry.root)
    with pytest.raises(RegistryError, match="names.json"):
        save_custom(session.result(name="newcomer-lr3"), custom, registry)
    assert not custom.exists() and snapshot(registry.root) == before


def test_custom_file_names_stay_inside_the_folder(session, tmp_path):
    genome = session.result(name="../../etc/passwd")
    assert custom_path(genome, tmp_path).parent == tmp_path
    assert custom_path(session.result(), tmp_path).name == f"{session.result().id}.json"


# ---- searching ---------------------------------------------------------------------------------
def test_search_by_id_prefix_name_tag_origin_and_filters(founder):
    genomes = list(founder.values())
    tagged = founder["high-lr"].replace(genes={"dropout": 0.1}, name="lr-dropout", origin="forge", tags=("mine",))
    genomes.append(tagged)
    ids = lambda gs: [g.id for g in gs]  # noqa: E731
    assert ids(search_genomes(genomes, founder["heavy-decay"].id[:5])) == [founder["heavy-decay"].id]
    assert {g.name for g in search_genomes(genomes, "EMBED")} == {"high-embed-ratio", "high-embed-variance"}
    assert ids(search_genomes(genomes, "mine")) == [tagged.id]
    assert ids(search_genomes(genomes, "forge")) == [tagged.id]
    assert len(search_genomes(genomes, "founder")) == 6 and len(search_genomes(genomes, "")) == 7
    assert ids(search_genomes(genomes, "high ratio")) == [founder["high-embed-ratio"].id]
    assert ids(search_genomes(genomes, "", only_ids={tagged.id})) == [tagged.id]
    assert ids(search_genomes(genomes, "high", keep=lambda g: g.name.endswith("lr"))) == [founder["high-lr"].id]
    assert len(search_genomes(genomes + genomes, "")) == 7, "duplicates are listed once"
    species = {founder["heavy-decay"].id: ["High-WD / Low-Beta2", "Low-LR / High-WD"], tagged.id: ["Typical"]}
    assert ids(search_genomes(genomes, "high-wd", species=species)) == [founder["heavy-decay"].id]
    assert ids(search_genomes(genomes, "typical mine", species=species)) == [tagged.id]
    assert search_genomes(genomes, "high-wd") == [], "without species names nothing matches a species"


# ---- every arena's gene spec ------------------------------------------------------------------
@pytest.mark.parametrize("arena", ["m2n2", "genreg", "neat"])
def test_forge_operations_on_other_arenas_keep_every_gene_in_bounds(arena, registry, tmp_path):
    """Transfer, hand edits, slider extremes, crossover loaded as the result, undo/redo and saving,
    on genomes of another arena's spec: after every operation the result is a valid genome of it."""
    import numpy as np

    from lab.arenas import get_arena
    from lab.forge import starting_genome
    from lab.genome import crossover, random_genome

    spec = get_arena(arena).gene_spec
    shipped = founders(spec.name)
    assert len(shipped) >= 2 and starting_genome(spec, shipped) == shipped[0]
    rng = np.random.default_rng(7)
    recipient, donor = shipped[0], random_genome(spec, rng, name="wild")
    s = ForgeSession(recipient, donor)

    def in_bounds() -> None:
        """The preview (invalid edits at their base value) always, the result when it can be saved."""
        genome = s.preview() if s.problems() else s.result()
        assert genome.spec is spec and not spec.check_values(dict(genome.genes)), spec.check_values(genome.genes)
        assert all(isinstance(genome.genes[g.key], int) for g in spec.genes if g.kind == "int")

    first_group, *_ = spec.groups
    s.set_transfer([first_group], True)
    in_bounds()
    assert all(s.value(k) == donor.genes[k] for k in spec.groups[first_group])
    for gene in spec.genes:          # both ends of every slider, and past them
        for u in (0.0, 1.0, -3.0, 7.5, float(rng.random())):
            s.set_unit(gene.key, u)
            in_bounds()
        s.edit(gene.key, format(gene.high * 10 + 1, "g"))   # out of bounds: shown, never in the result
        assert gene.key in s.problems() and s.preview().genes[gene.key] == s.base_value(gene.key)
        s.edit(gene.key, format(gene.low, "g"))
        in_bounds()
    ints = [g for g in spec.genes if g.kind == "int"]
    if ints:
        s.edit(ints[0].key, "0.5" if ints[0].high - ints[0].low >= 1 else "x")
        assert "whole number" in s.problems()[ints[0].key] or "not a number" in s.problems()[ints[0].key]
        s.revert(ints[0].key)
    child = crossover(recipient, donor, rng)
    s.load_result(child)
    assert s.result().genes == child.genes
    in_bounds()
    while s.undo():
        in_bounds()
    while s.redo():
        in_bounds()
    path, written = save_custom(s.result(name=f"{arena}-forged"), tmp_path / "custom", registry)
    assert written and registry.get_genome(s.result().id).spec.name == spec.name
    assert read_edited(path, spec).genes == s.result().genes


def test_genes_move_only_between_genomes_of_one_spec():
    m2n2, genreg = founders("m2n2")[0], founders("genreg")[0]
    s = ForgeSession(m2n2)
    before = s.state
    with pytest.raises(GenomeError, match="genes move only between genomes of one spec"):
        s.set_donor(genreg)
    with pytest.raises(GenomeError, match="is of spec genreg"):
        ForgeSession(m2n2, genreg)
    with pytest.raises(GenomeError, match="switch the forge to genreg"):
        s.load_result(genreg)
    assert s.state is before and not s.can_undo


def test_a_spec_without_founders_starts_from_its_defaults(other_spec):
    from lab.forge import starting_genome
    genome = starting_genome(other_spec, founders("grokking"))
    assert genome.spec is other_spec and genome.genes == other_spec.defaults()
