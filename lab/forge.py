"""Genetic engineering by hand: the state behind the Gene Forge tab, with no tkinter in it.

A :class:`ForgeSession` holds a recipient, a donor, the genes ticked for transfer from the donor
(:func:`lab.genome.splice` semantics), hand edits typed as text, and an undo/redo history of all of
it; ``result()`` is the edited genome or one GenomeError naming every problem. The helpers below
save a result as a custom genome (saying first when its genes are those of a genome already known)
and search genome lists; forge_editor.py round-trips a genome through an editor.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lab.genome import MAX_GENOME_BYTES, Gene, Genome, GenomeError, GeneSpec, now_iso, splice
from lab.genome import diff as genome_diff
from lab.registry import Registry, RegistryError
from lab.safe_read import FileProblem, load_json

UNDO_LIMIT = 500
SOURCES = ("recipient", "donor", "edited", "invalid")


def format_value(gene: Gene, value: float | int) -> str:
    """The text an entry box shows for a gene value (6 significant digits, as genomes store them)."""
    return str(int(value)) if gene.kind == "int" else f"{float(value):g}"


def parse_value(gene: Gene, text: str) -> tuple[float | int | None, str | None]:
    """(value, None) for acceptable text, else (None, a message naming the gene, the value and the bound)."""
    raw = text.strip()
    if not raw:
        return None, f"gene `{gene.key}` is empty: type a number in {gene.describe_bounds()}"
    try:
        value: float | int = float(raw)
    except ValueError:
        return None, gene.check(raw)
    problem = gene.check(value)
    if problem:
        return None, problem
    return gene.canonical(value), None


@dataclasses.dataclass(frozen=True)
class ForgeState:
    """One point of the undo history: everything the result is made of."""

    recipient: Genome
    donor: Genome | None
    spliced: frozenset[str]                  # gene keys taken from the donor
    edits: tuple[tuple[str, str], ...]       # (gene key, text as typed), in table order


class ForgeSession:
    """Recipient + donor + splice selection + hand edits, with undo/redo.

    Every gene has one source: the recipient, the donor (ticked for transfer) or a hand edit.
    Ticking a gene for transfer drops its hand edit and editing a gene unticks it, so what the
    result holds for a gene is never ambiguous."""

    def __init__(self, recipient: Genome, donor: Genome | None = None):
        if donor is not None:
            _check_same_spec(recipient, donor)
        self.state = ForgeState(recipient, donor, frozenset(), ())
        self._undo: list[ForgeState] = []
        self._redo: list[ForgeState] = []
        self._last_edit: str | None = None  # typing into one gene is one undo step, not one per key

    # ---- reading ------------------------------------------------------------------------------
    @property
    def recipient(self) -> Genome:
        return self.state.recipient

    @property
    def donor(self) -> Genome | None:
        return self.state.donor

    @property
    def spec(self) -> GeneSpec:
        return self.state.recipient.spec

    @property
    def spliced(self) -> frozenset[str]:
        return self.state.spliced

    @property
    def edits(self) -> dict[str, str]:
        return dict(self.state.edits)

    def source(self, key: str) -> str:
        """Where gene ``key`` of the result comes from: one of SOURCES."""
        edits = self.edits
        if key in edits:
            return "invalid" if parse_value(self.spec.gene(key), edits[key])[1] else "edited"
        return "donor" if key in self.spliced else "recipient"

    def base_value(self, key: str) -> float | int:
        """The gene's value before any hand edit (the donor's when ticked, else the recipient's)."""
        if key in self.spliced and self.donor is not None:
            return self.donor.genes[key]
        return self.recipient.genes[key]

    def value(self, key: str) -> float | int | None:
        """The result's value of ``key``, or None while its hand edit is invalid."""
        text = self.edits.get(key)
        return self.base_value(key) if text is None else parse_value(self.spec.gene(key), text)[0]

    def text(self, key: str) -> str:
        """What the gene's entry box should show."""
        text = self.edits.get(key)
        return format_value(self.spec.gene(key), self.base_value(key)) if text is None else text

    def problems(self) -> dict[str, str]:
        """Gene key -> message for every invalid hand edit."""
        out = {}
        for key, text in self.state.edits:
            msg = parse_value(self.spec.gene(key), text)[1]
            if msg:
                out[key] = msg
        return out

    def preview(self) -> Genome:
        """The result with every invalid edit left at its base value: always a genome (for charts)."""
        return self._build({k: self.base_value(k) if v is None else v
                            for k, v in ((k, self.value(k)) for k in self.edits)}, {})

    def result(self, name: str = "", notes: str = "", tags: Iterable[str] = ()) -> Genome:
        """The edited genome, or GenomeError listing every problem (nothing else is touched)."""
        problems = list(self.problems().values())
        if problems:
            raise GenomeError(problems)
        values = {k: self.value(k) for k in self.edits}
        return self._build(values, {"name": name, "notes": notes, "tags": tuple(tags)})

    def _build(self, values: Mapping[str, float | int | None], meta: dict) -> Genome:
        r, d = self.recipient, self.donor
        keys = [k for k in self.spec.keys if k in self.spliced]
        base = splice(r, d, keys) if keys and d is not None else r
        parents = tuple(dict.fromkeys((r.id, d.id))) if keys and d is not None else (r.id,)
        genome = Genome(self.spec, {**base.genes, **values}, origin="forge", parents=parents, generation=None,
                        created=now_iso(), **meta)
        if genome.id in parents:   # the result is one of its parents: a genome is never its own parent
            genome = genome.replace(parents=tuple(p for p in parents if p != genome.id))
        return genome

    def diff(self) -> list[tuple[str, float | int, float | int, str]]:
        """(gene, recipient value, result value, source) for every gene the preview changes."""
        return [(k, a, b, self.source(k)) for k, a, b in genome_diff(self.recipient, self.preview())]

    # ---- actions (each one undoable) ---------------------------------------------------------
    def _commit(self, state: ForgeState, edit_of: str | None = None) -> bool:
        if state == self.state:
            return False
        if edit_of is None or edit_of != self._last_edit:
            self._undo.append(self.state)
            del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        self.state = state
        self._last_edit = edit_of
        return True

    def set_recipient(self, genome: Genome) -> None:
        """A new recipient (of the same spec): hand edits are dropped, as they were edits of the
        old one; the genes ticked for transfer stay ticked."""
        _check_same_spec(self.recipient, genome)
        self._commit(dataclasses.replace(self.state, recipient=genome, edits=()))

    def set_donor(self, genome: Genome) -> None:
        _check_same_spec(self.recipient, genome)
        self._commit(dataclasses.replace(self.state, donor=genome))

    def set_transfer(self, names: Iterable[str], on: bool) -> None:
        """Tick (or untick) genes or whole groups for transfer from the donor."""
        keys = self.spec.expand(names)
        if on and self.donor is None:
            raise GenomeError(["pick a donor first: genes are transferred from the donor"])
        spliced = self.spliced | set(keys) if on else self.spliced - set(keys)
        edits = tuple((k, t) for k, t in self.state.edits if not (on and k in keys))
        self._commit(dataclasses.replace(self.state, spliced=frozenset(spliced), edits=edits))

    def edit(self, key: str, text: str) -> bool:
        """Type ``text`` as gene ``key``'s value (valid or not: an invalid edit is shown, not saved).
        Consecutive edits of one gene are one undo step."""
        self.spec.expand([key])
        if key not in self.spec.keys:
            raise GenomeError([f"`{key}` is a gene group, not a gene"])
        edits = self.edits
        edits[key] = text
        state = dataclasses.replace(self.state, spliced=self.spliced - {key},
                                    edits=tuple((k, edits[k]) for k in self.spec.keys if k in edits))
        return self._commit(state, edit_of=key)

    def set_unit(self, key: str, u: float) -> str:
        """Set gene ``key`` from a position in its normalised [0, 1] space; returns the text set."""
        gene = self.spec.gene(key)
        text = format_value(gene, gene.from_unit(u))
        self.edit(key, text)
        return text

    def revert(self, key: str) -> None:
        """Gene ``key`` back to the recipient's value (no edit, not ticked)."""
        edits = tuple((k, t) for k, t in self.state.edits if k != key)
        self._commit(dataclasses.replace(self.state, spliced=self.spliced - {key}, edits=edits))

    def reset(self) -> None:
        """Every gene back to the recipient's value."""
        self._commit(dataclasses.replace(self.state, spliced=frozenset(), edits=()))

    def load_result(self, genome: Genome) -> None:
        """Make ``genome`` the result: every gene it changes becomes a hand edit of the recipient."""
        _check_same_spec(self.recipient, genome)
        edits = tuple((g.key, format_value(g, genome.genes[g.key])) for g in self.spec.genes
                      if genome.genes[g.key] != self.recipient.genes[g.key])
        self._commit(dataclasses.replace(self.state, spliced=frozenset(), edits=edits))

    # ---- history -----------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self.state)
        self.state = self._undo.pop()
        self._last_edit = None
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.state)
        self.state = self._redo.pop()
        self._last_edit = None
        return True


def _check_same_spec(a: Genome, b: Genome) -> None:
    """Genes move (crossover, splice, transfer) only between genomes of one spec."""
    if a.spec.name != b.spec.name:
        raise GenomeError([f"genome {b.label} is of spec {b.spec.name}; the forge is editing spec "
                           f"{a.spec.name} genomes, and genes move only between genomes of one spec "
                           f"(switch the forge to {b.spec.name} to edit it)"])


def starting_genome(spec: GeneSpec, candidates: Iterable[Genome] = ()) -> Genome:
    """The first of ``candidates`` of ``spec`` (e.g. the newest registry genome, then the founders),
    else a genome of the spec's default values: the forge always has a recipient."""
    for genome in candidates:
        if genome.spec.name == spec.name:
            return genome
    return Genome(spec, spec.defaults(), name=f"{spec.name}-defaults", origin="forge")


# ---- picking genomes --------------------------------------------------------------------------
def matches(genome: Genome, query: str, extra: Iterable[str] = ()) -> bool:
    """True if every word of ``query`` matches the genome's id (prefix), name, a tag, its origin or
    one of the ``extra`` texts (its species names)."""
    extra = [e.lower() for e in extra]
    for word in query.lower().split():
        if not (genome.id.startswith(word) or word in genome.name.lower() or word in genome.origin
                or any(word in t.lower() for t in genome.tags) or any(word in e for e in extra)):
            return False
    return True


def search_genomes(genomes: Iterable[Genome], query: str = "", only_ids: set[str] | None = None,
                   keep: Callable[[Genome], bool] | None = None,
                   species: Mapping[str, Iterable[str]] | None = None) -> list[Genome]:
    """The genomes matching ``query`` (``species``: genome id -> its species names, searched too),
    restricted to ``only_ids`` (e.g. the Hall of Fame) and to those ``keep`` accepts, without
    duplicate ids, order kept."""
    out, seen = [], set()
    for g in genomes:
        if g.id in seen or (only_ids is not None and g.id not in only_ids) or (keep and not keep(g)):
            continue
        if matches(g, query, (species or {}).get(g.id, ())):
            seen.add(g.id)
            out.append(g)
    return out


# ---- saving -----------------------------------------------------------------------------------
class SaveConflict(Exception):
    """The custom file exists and holds something else; saving needs ``overwrite=True``."""

    def __init__(self, path: Path, detail: str):
        super().__init__(f"{path} already exists and holds {detail}")
        self.path = path


def custom_path(genome: Genome, folder: str | os.PathLike[str]) -> Path:
    """``folder/<name>.json`` (the name made safe as a file name), or ``<id>.json`` without a name."""
    stem = re.sub(r"[^A-Za-z0-9_.+-]+", "-", genome.name).strip("-.")[:80]
    return Path(folder) / f"{stem or genome.id}.json"


def _same_file(a: dict, b: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k != "created"}  # noqa: E731
    return strip(a) == strip(b)


def known_genome(genome: Genome, registry: Registry, known: Iterable[Genome] = ()) -> Genome | None:
    """The genome with ``genome``'s genes (its id) that the registry holds, else the one among ``known``
    (e.g. the founders), else None. An unreadable registry file counts as not holding it."""
    try:
        if registry.has_genome(genome.id):
            return registry.get_genome(genome.id)
    except (GenomeError, RegistryError):
        pass
    return next((g for g in known if g.id == genome.id), None)


def saving_adds(result: Genome, existing: Genome, registry: Registry) -> tuple[list[str], list[str], list[str]]:
    """(names, tags, notes) that saving ``result`` adds to ``existing``, the genome with its genes."""
    names = registry.names(existing.id) if registry.has_genome(existing.id) else [existing.name]
    return Registry.new_metadata(existing, result, names)


def same_genes_note(result: Genome, existing: Genome, registry: Registry) -> str:
    """What saving ``result`` does to ``existing``, the genome that already has its genes (one
    paragraph for the Gene Forge to show before saving)."""
    stored = registry.has_genome(existing.id)
    new_names, new_tags, new_notes = saving_adds(result, existing, registry)
    head = (f"The result has the genes of the {existing.origin} genome {existing.label}"
            f"{', already in the registry' if stored else ''}, so it is that genome.")
    added = ([f"the name {new_names[0]!r}"] if new_names else []) + \
        ([f"the tag{'s' * (len(new_tags) > 1)} {', '.join(new_tags)}"] if new_tags else []) + \
        (["your notes"] if new_notes else [])
    if not added:
        return head + " Saving adds nothing new to it in the registry."
    return (head + f"\n\nSaving adds {' and '.join(added)} to {existing.name or existing.id[:8]} (whose name "
            "stays); search finds it by any of them.")


def save_custom(genome: Genome, folder: str | os.PathLike[str], registry: Registry,
                overwrite: bool = False, same_as: Genome | None = None) -> tuple[Path, bool]:
    """Write ``genome`` to the custom folder (atomically) and add it to the registry (where a genome
    already stored with its genes gains its name, tags and notes: see ``Registry.add_genome``).
    ``same_as``: the genome with the same genes the caller named to the user (``known_genome``);
    if it is not in the registry yet (a founder) it is stored first, so its name stays the name.
    Returns (path, whether the file was written: False when it already held this genome).
    Raises SaveConflict, writing nothing, when the file holds something else and not ``overwrite``."""
    path = custom_path(genome, folder)
    written = True
    if path.exists():
        try:
            existing = load_json(path, what="genome file", max_bytes=MAX_GENOME_BYTES)
        except FileProblem:
            existing = None
        if isinstance(existing, dict) and _same_file(existing, genome.to_dict()):
            written = False
        elif not overwrite:
            other = (f"genome {existing.get('id')} ({existing.get('name') or 'no name'})"
                     if isinstance(existing, dict) else "a file that is not a genome")
            raise SaveConflict(path, other)
    if same_as is not None and same_as.id == genome.id and not registry.has_genome(same_as.id):
        registry.add_genome(same_as)
    registry.add_genome(genome)   # first: a registry that refuses (a damaged names.json) leaves no file
    if written:
        genome.save(path)
    return path, written
