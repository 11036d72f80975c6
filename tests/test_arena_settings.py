"""Engine settings generated from the gene tables (lab.arenas.settings): every engine's settings class
holds a field per gene with the gene's name and default, round-trips through the genes, and accepts
every value its gene table allows; a class that writes a gene again, or refuses part of a gene's
range, is refused when it is made."""
from __future__ import annotations

import dataclasses

import pytest

from lab.arenas.genreg.engine import GenregSettings
from lab.arenas.m2n2.engine import M2N2Settings
from lab.arenas.neat.engine import NeatSettings
from lab.arenas.settings import GeneSettings, gene_settings
from lab.genome import Gene, GeneSpec

SETTINGS = (M2N2Settings, GenregSettings, NeatSettings)


@pytest.mark.parametrize("settings_class", SETTINGS, ids=lambda c: c.__name__)
def test_fields_and_defaults_come_from_the_gene_table(settings_class):
    spec = settings_class.SPEC
    names = [f.name for f in dataclasses.fields(settings_class)]
    held = [g.key for g in spec.genes if g.key not in settings_class.REPLACED]
    assert names[:len(held)] == held, "the genes first, in the table's order"
    assert settings_class().to_genes() == spec.defaults()
    assert settings_class.from_genes(spec.defaults()) == settings_class()
    highs = {g.key: g.high for g in spec.genes}
    assert settings_class.from_genes(highs).to_genes() == {g.key: g.canonical(g.high) for g in spec.genes}


def test_missing_genes_are_named():
    with pytest.raises(ValueError, match="invalid GENREG settings: missing hidden"):
        GenregSettings.from_genes({k: v for k, v in GenregSettings.SPEC.defaults().items() if k != "hidden"})


SPEC = GeneSpec(name="settings-test", title="two genes", genes=(
    Gene("size", "Size", "G", 2, 50, "linear", "int", 10, "How many."),
    Gene("rate", "Rate", "G", 0.0, 1.0, "linear", "float", 0.5, "How often."),
))


def test_a_gene_written_again_in_the_class_is_refused():
    with pytest.raises(TypeError, match="size is a gene of settings-test"):
        @gene_settings(SPEC, title="Test")
        class Twice(GeneSettings):
            size: int = 10


def test_an_engine_that_refuses_part_of_a_genes_range_is_refused():
    with pytest.raises(TypeError, match="lets `size` be 50, which Narrow refuses"):
        @gene_settings(SPEC, title="Test")
        class Narrow(GeneSettings):
            def problems(self) -> list[str]:
                return [f"size must be at most 20, got {self.size}"] if self.size > 20 else []


def test_engine_only_fields_follow_the_genes():
    @gene_settings(SPEC, title="Test")
    class WithOption(GeneSettings):
        device: str = "cpu"   # not a gene

    assert [f.name for f in dataclasses.fields(WithOption)] == ["size", "rate", "device"]
    assert WithOption.from_genes({"size": 3.0, "rate": 0.25}, device="cuda") == WithOption(3, 0.25, "cuda")
