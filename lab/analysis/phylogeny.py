"""Phylogeny: genomes of one gene spec mapped to 3D, clustered into species at seven taxonomy levels.

1. **Space.** Every genome is its genes in the spec's normalised [0, 1] space, then standardised per
   gene over the genomes being mapped (mean 0, standard deviation 1; a gene that never varies stays 0),
   so every gene counts alike whatever its range.
2. **Map.** PCA (scikit-learn) of that space to 3 components; ``explained`` is the share of the total
   variance each component carries. PCA's signs are made deterministic (scikit-learn's ``svd_flip``).
3. **Tree.** Ward linkage (scipy) in the full standardised space, not in the 3D map.
4. **Taxonomy.** The tree is cut into ``counts[i]`` clusters at level ``LEVELS[i]``, Domain (coarsest)
   to Genus (finest). Each cut keeps the first n - k merges of the same tree, so a finer level only
   splits clusters of the coarser one: the clusters nest and their number never decreases. ``counts``
   defaults to 2, 3, 5, 8, 13, 21, 34, capped by the number of distinct genomes.
5. **Names.** A species is named by its most deviating genes: the mean standardised value of its
   members, gene by gene (population mean 0). The two genes furthest from 0 (at least
   ``NAME_THRESHOLD`` = 0.1 standard deviation) give "High-LR / Low-WD"; a species with no such gene is
   "Typical". Within a level, a name already taken gets the next gene ("High-LR / Low-WD / High-Beta1"),
   and when the genes run out a numeral ("Typical II"). Species are numbered and named in a fixed
   order (largest first, ties by the smallest member id) and the genomes are sorted by id first, so
   the same genomes always give the same species and names, in whatever order they were listed.
6. **Default level.** Views open at the finest level whose median species has two or more members
   (``default_level``): with 10 genomes Family and Genus would be 10 one-genome species.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from lab.genome import GeneSpec, Genome

LEVELS = ("Domain", "Kingdom", "Phylum", "Class", "Order", "Family", "Genus")
DEFAULT_COUNTS = (2, 3, 5, 8, 13, 21, 34)
NAME_GENES = 2
NAME_THRESHOLD = 0.1
TYPICAL = "Typical"
UNCLASSIFIED = "unclassified"
SCOPES = ("all", "hall", "tag")   # which genomes a map covers: see select_genomes
NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


class PhylogenyError(ValueError):
    """The genomes cannot be mapped (none, mixed specs, bad level counts); the message says why."""


@dataclasses.dataclass(frozen=True)
class Species:
    level: str
    index: int                      # 0 = the largest species of its level
    name: str
    members: tuple[str, ...]        # genome ids, sorted
    parent: int | None              # index of the species one level up that contains it (None at Domain)
    signature: tuple[tuple[str, float], ...]   # (gene key, mean standardised value), furthest from 0 first

    @property
    def size(self) -> int:
        return len(self.members)


@dataclasses.dataclass(frozen=True)
class Phylogeny:
    spec: GeneSpec
    genomes: tuple[Genome, ...]     # sorted by id
    coords: np.ndarray              # (n, 3) PCA coordinates
    explained: tuple[float, float, float]   # explained variance ratio of PC1..PC3
    assignment: Mapping[str, np.ndarray]    # level -> species index per genome (genomes' order)
    species: Mapping[str, tuple[Species, ...]]   # level -> its species, by index

    @property
    def ids(self) -> list[str]:
        return [g.id for g in self.genomes]

    def level_species(self, level: str) -> tuple[Species, ...]:
        if level not in self.species:
            raise PhylogenyError(f"unknown taxonomy level {level!r} (levels: {', '.join(LEVELS)})")
        return self.species[level]

    def species_of(self, genome_id: str, level: str) -> Species:
        index = self.ids.index(genome_id)
        return self.level_species(level)[int(self.assignment[level][index])]

    def names(self, level: str) -> dict[str, str]:
        """genome id -> its species' name at ``level``."""
        table = self.level_species(level)
        return {gid: table[int(k)].name for gid, k in zip(self.ids, self.assignment[level])}

    def labels(self) -> dict[str, dict[str, str]]:
        """genome id -> {level: species name}: what the registry stores."""
        per_level = {level: self.names(level) for level in LEVELS}
        return {gid: {level: per_level[level][gid] for level in LEVELS} for gid in self.ids}

    def counts(self) -> list[int]:
        return [len(self.species[level]) for level in LEVELS]

    def default_level(self) -> str:
        """The level a view opens at: see :func:`default_level`."""
        return default_level({level: [sp.size for sp in self.species[level]] for level in LEVELS})


def default_level(sizes: Mapping[str, Sequence[int]]) -> str:
    """The finest level whose median species has at least two members, else Domain. The level
    counts are fixed (2, 3, 5, ... 34) and capped by the number of genomes, so with a few genomes the
    fine levels are one genome per species, which says nothing; with many, Genus groups them."""
    for level in reversed(LEVELS):
        members = sorted(sizes.get(level, ()))
        if members and float(np.median(members)) >= 2:
            return level
    return LEVELS[0]


def default_level_of_labels(labels: Mapping[str, Mapping[str, str]]) -> str:
    """:func:`default_level` of a stored taxonomy (genome id -> {level: species name})."""
    sizes: dict[str, list[int]] = {}
    for level in LEVELS:
        names = [row[level] for row in labels.values() if level in row]
        sizes[level] = [names.count(n) for n in dict.fromkeys(names)]
    return default_level(sizes)


def standardise(units: np.ndarray) -> np.ndarray:
    """Per-column z-scores; a column with no spread becomes 0."""
    mean = units.mean(axis=0)
    std = units.std(axis=0)
    return (units - mean) / np.where(std > 1e-12, std, 1.0)


def project(z: np.ndarray, dims: int = 3) -> tuple[np.ndarray, tuple[float, ...]]:
    """PCA of the standardised genes to ``dims`` coordinates (zero-padded when the data has fewer)."""
    from sklearn.decomposition import PCA
    n, d = z.shape
    coords = np.zeros((n, dims))
    explained = [0.0] * dims
    k = min(dims, n, d)
    if n >= 2 and float(np.square(z).sum()) > 1e-12:
        pca = PCA(n_components=k, svd_solver="full")
        coords[:, :k] = pca.fit_transform(z)
        explained[:k] = [float(x) for x in np.nan_to_num(pca.explained_variance_ratio_)]
    return coords, tuple(explained)


def check_counts(counts: Sequence[int]) -> tuple[int, ...]:
    if len(counts) != len(LEVELS):
        raise PhylogenyError(f"need {len(LEVELS)} cluster counts ({', '.join(LEVELS)}), got {len(counts)}")
    out = []
    for level, k in zip(LEVELS, counts):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise PhylogenyError(f"cluster count for {level} must be a whole number >= 1, got {k!r}")
        if out and k < out[-1]:
            raise PhylogenyError(f"cluster counts must not decrease from one level to the next: "
                                 f"{level} has {k} < {out[-1]}")
        out.append(int(k))
    return tuple(out)


def cut_tree(merges: np.ndarray, n: int, k: int) -> np.ndarray:
    """Cluster label per point after the first ``n - k`` merges of a scipy linkage (k clusters)."""
    parent = list(range(2 * n - 1))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for step in range(n - k):
        a, b = int(merges[step, 0]), int(merges[step, 1])
        parent[root(a)] = n + step
        parent[root(b)] = n + step
    roots = [root(i) for i in range(n)]
    relabel: dict[int, int] = {}
    return np.array([relabel.setdefault(r, len(relabel)) for r in roots], dtype=int)


def taxonomy(z: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """One raw cluster label array per level, nested, from one Ward tree."""
    from scipy.cluster.hierarchy import linkage
    n = len(z)
    distinct = len(np.unique(np.round(z, 12), axis=0))
    if n == 1:
        return [np.zeros(1, dtype=int) for _ in counts]
    merges = linkage(z, method="ward")
    return [cut_tree(merges, n, min(k, distinct)) for k in counts]


def _canonical(raw: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Renumber clusters: largest first, ties by the smallest member id (ids are sorted)."""
    order = sorted(set(raw.tolist()), key=lambda c: (-int((raw == c).sum()), int(np.argmax(raw == c))))
    mapping = {c: i for i, c in enumerate(order)}
    return np.array([mapping[c] for c in raw.tolist()], dtype=int)


def _name(signature: Sequence[tuple[str, float]], spec: GeneSpec, genes: int) -> str:
    parts = [f"{'High' if v > 0 else 'Low'}-{spec.gene(k).abbr}" for k, v in signature[:genes]
             if abs(v) >= NAME_THRESHOLD]
    return " / ".join(parts) if parts else TYPICAL


def name_species(signatures: Sequence[Sequence[tuple[str, float]]], spec: GeneSpec) -> list[str]:
    """Unique names within one level, in the given (canonical) order."""
    taken: set[str] = set()
    names = []
    for sig in signatures:
        chosen = None
        for genes in range(NAME_GENES, len(sig) + 1):
            name = _name(sig, spec, genes)
            if name not in taken:
                chosen = name
                break
        if chosen is None:
            base = _name(sig, spec, len(sig))
            for i in range(2, 10_000):
                numeral = NUMERALS[i - 1] if i <= len(NUMERALS) else str(i)
                if f"{base} {numeral}" not in taken:
                    chosen = f"{base} {numeral}"
                    break
        taken.add(chosen)
        names.append(chosen)
    return names


def build_phylogeny(genomes: Iterable[Genome], counts: Sequence[int] = DEFAULT_COUNTS) -> Phylogeny:
    """Map, cluster and name ``genomes`` (one spec; duplicates by id are dropped)."""
    counts = check_counts(counts)
    unique = {g.id: g for g in genomes}
    if not unique:
        raise PhylogenyError("no genomes to map: the registry (or the chosen subset) is empty")
    specs = sorted({g.spec.name for g in unique.values()})
    if len(specs) > 1:
        raise PhylogenyError(f"genomes of one gene spec only can share a map; got {', '.join(specs)}")
    ordered = tuple(unique[i] for i in sorted(unique))
    spec = ordered[0].spec
    ids = [g.id for g in ordered]
    z = standardise(np.array([g.unit_vector() for g in ordered]))
    coords, explained = project(z)
    raw_levels = taxonomy(z, counts)
    assignment: dict[str, np.ndarray] = {}
    species: dict[str, tuple[Species, ...]] = {}
    previous = None
    for level, raw in zip(LEVELS, raw_levels):
        labels = _canonical(raw, ids)
        k = int(labels.max()) + 1
        signatures = []
        for c in range(k):
            mean = z[labels == c].mean(axis=0)
            order = sorted(range(len(spec.genes)), key=lambda j: (-round(abs(float(mean[j])), 9), j))
            signatures.append(tuple((spec.genes[j].key, float(mean[j])) for j in order))
        names = name_species(signatures, spec)
        species[level] = tuple(
            Species(level=level, index=c, name=names[c],
                    members=tuple(gid for gid, lab in zip(ids, labels) if lab == c),
                    parent=None if previous is None else int(previous[np.argmax(labels == c)]),
                    signature=signatures[c])
            for c in range(k))
        assignment[level] = labels
        previous = labels
    return Phylogeny(spec=spec, genomes=ordered, coords=coords, explained=explained,  # type: ignore[arg-type]
                     assignment=assignment, species=species)


# ---- performance (marker size) --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Performance:
    trials: int
    success: float              # share of trials that succeeded
    median_steps: float | None  # median steps_to_grok over successful trials (None: no success)
    stopped: int = 0            # trials racing stopped early (censored: not finished, not failures)

    @property
    def fitness(self) -> float:
        """Inverse speed weighted by reliability: success / median steps (0 without a success)."""
        return self.success / self.median_steps if self.median_steps else 0.0

    def describe(self) -> str:
        if not self.trials:
            return f"{self.stopped} trial(s) stopped early by racing, none finished" if self.stopped else \
                "no trials recorded"
        med = f"median {self.median_steps:.0f} steps" if self.median_steps is not None else "never succeeded"
        return f"{self.trials} trials, {self.success:.0%} success, {med}"


def performance(registry, genomes: Iterable[Genome], task_id: str | None = None) -> dict[str, Performance]:
    """Each genome's recorded trials (of ``task_id``, or all tasks) summarised for sizing and hover text."""
    from lab.evolution.landscapes import SUCCESS
    out = {}
    stopped: dict[str, int] = {}
    for t in registry.censored_trials():
        if task_id is None or t.task_id == task_id:
            stopped[t.genome_id] = stopped.get(t.genome_id, 0) + 1
    for g in genomes:
        trials = registry.trials_for(g.id, task_id)
        ok = [float(t.metrics["steps_to_grok"]) for t in trials
              if t.status in SUCCESS and t.metrics.get("steps_to_grok") is not None]
        success = float(np.mean([t.status in SUCCESS for t in trials])) if trials else 0.0
        out[g.id] = Performance(len(trials), success, float(np.median(ok)) if ok else None, stopped.get(g.id, 0))
    return out


def marker_sizes(perf: Sequence[Performance | None], smallest: float = 12.0, largest: float = 120.0) -> np.ndarray:
    """Marker areas from fitness, scaled to [smallest, largest]; a genome without a success is smallest."""
    fit = np.array([p.fitness if p is not None else 0.0 for p in perf], dtype=float)
    top = fit.max() if len(fit) else 0.0
    return smallest + (largest - smallest) * (fit / top if top > 0 else fit)


def key_genes(genome: Genome, species: Species, genes: int = 3) -> list[tuple[str, str]]:
    """(label, value) of the genes that most set the genome's species apart, for hover text."""
    from lab.genome import _fmt
    keys = [k for k, _ in species.signature[:genes]]
    return [(genome.spec.gene(k).label, _fmt(genome.genes[k])) for k in keys]


# ---- colours ----------------------------------------------------------------------------------------
def species_colours(k: int) -> list[str]:
    """k distinct hex colours: tab10, then tab20, then evenly spaced hues."""
    import matplotlib
    from matplotlib.colors import to_hex
    if k <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [to_hex(cmap(i)) for i in range(k)]
    if k <= 20:
        cmap = matplotlib.colormaps["tab20"]
        return [to_hex(cmap(i)) for i in range(k)]
    import colorsys
    return [to_hex(colorsys.hls_to_rgb(i / k, 0.5, 0.65)) for i in range(k)]


# ---- the registry's genomes -------------------------------------------------------------------------
def task_id_for(spec: str) -> str | None:
    """The default task of the arena that evolves ``spec`` (its trials size the markers); None: all trials."""
    from lab.arenas import arena_names, get_arena
    for name in arena_names():
        arena = get_arena(name)
        if arena.gene_spec.name == spec:
            return arena.default_task().task_id
    return None


def select_genomes(registry, spec: str, scope: str = "all", tag: str = "") -> list[Genome]:
    """The genomes a map covers. ``all``: every genome of ``spec`` in the registry plus the shipped
    founders; ``hall``: the Hall of Fame; ``tag``: the registry's genomes carrying ``tag``."""
    from lab.registry import founders
    if scope not in SCOPES:
        raise PhylogenyError(f"unknown scope {scope!r} (scopes: {', '.join(SCOPES)})")
    if scope == "hall":
        return [g for g in registry.hall_of_fame_genomes() if g.spec.name == spec]
    if scope == "tag":
        if not tag.strip():
            raise PhylogenyError("type a tag to map the genomes that carry it")
        return registry.list_genomes(spec=spec, tag=tag.strip())
    genomes = {g.id: g for g in founders(spec)}
    genomes.update({g.id: g for g in registry.list_genomes(spec=spec)})
    return list(genomes.values())


def map_registry(registry, spec: str, scope: str = "all", tag: str = "", counts: Sequence[int] = DEFAULT_COUNTS,
                 report: Callable[[float, str], object] | None = None) -> tuple[Phylogeny, dict[str, Performance]]:
    """Map the chosen genomes, summarise their trials, and store the species labels in the registry
    (replacing that spec's previous taxonomy: genomes outside this map become unclassified)."""
    report = report or (lambda fraction, text: None)
    report(0.1, f"reading the {spec} genomes")
    genomes = select_genomes(registry, spec, scope, tag)
    report(0.4, f"mapping {len(genomes)} genomes")
    phylo = build_phylogeny(genomes, counts)
    perf = performance(registry, phylo.genomes, task_id_for(spec))
    report(0.9, "storing the species in the registry")
    registry.set_species(spec, LEVELS, phylo.counts(), phylo.labels())
    return phylo, perf
