"""The registry's shelves beside genomes and trials: the Hall of Fame (``hall_of_fame.json``),
the Phylogeny tab's species names (``species.json``), each rewritten atomically under the
registry's lock, the trash that deleted genomes go to, and importing and exporting genome files. Mixed into :class:`lab.registry.Registry`."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lab.files import atomic_write_text
from lab.safe_read import FileProblem, load_json
from lab.genome import SCHEMA_VERSION, Genome, GenomeError, now_iso
from lab.registry_base import ID_PATTERN, ImportReport, RegistryError, expand_paths, read_genome_file

HOF_SCHEMA_VERSION = 1
SPECIES_SCHEMA_VERSION = 1


def _sound_entry(entry: Any) -> bool:
    """One Hall of Fame entry: a genome id, text fields as text, evidence as an object."""
    return (isinstance(entry, dict) and isinstance(entry.get("genome_id"), str)
            and all(isinstance(entry.get(k) or "", str) for k in ("name", "added", "note", "spec"))
            and isinstance(entry.get("evidence", {}), dict)
            and (entry.get("task_id") is None or isinstance(entry.get("task_id"), str)))


def _sound_taxonomy(entry: Any) -> bool:
    """One spec's entry of species.json: levels (names), counts (whole numbers), genomes {id: {level: name}}."""
    if not isinstance(entry, dict):
        return False
    levels, counts, genomes = entry.get("levels"), entry.get("counts"), entry.get("genomes")
    return (isinstance(levels, list) and all(isinstance(x, str) for x in levels)
            and isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts)
            and isinstance(genomes, dict)
            and all(isinstance(names, dict) and all(isinstance(v, str) for v in names.values())
                    for names in genomes.values()))


class RegistryShelves:
    """Hall of Fame and species methods of a Registry (which provides the paths, the lock, the
    mutex, ``_inside``, ``add_genome``, ``get_genome``, ``has_genome`` and ``check_id``)."""

    # ---- Hall of Fame ------------------------------------------------------------------------
    def _read_hof(self) -> list[dict[str, Any]]:
        if not os.path.lexists(self.hof_path):
            return []
        try:
            data = load_json(self.hof_path, what="Hall of Fame file", inside=self.root, allow_nan=True)
        except FileProblem as exc:
            raise RegistryError(f"{exc}; fix or move it, nothing was changed") from None
        if not isinstance(data, dict) or data.get("schema_version") != HOF_SCHEMA_VERSION \
                or not isinstance(data.get("entries"), list) \
                or not all(_sound_entry(e) for e in data["entries"]) \
                or len({e["genome_id"] for e in data["entries"]}) != len(data["entries"]):
            raise RegistryError(f"{self.hof_path} is not a Hall of Fame file of schema_version "
                                f"{HOF_SCHEMA_VERSION}; fix or move it, nothing was changed")
        return data["entries"]

    def _write_hof(self, entries: list[dict[str, Any]]) -> None:
        text = json.dumps({"schema_version": HOF_SCHEMA_VERSION, "entries": entries}, indent=2, sort_keys=True)
        atomic_write_text(self._inside(self.hof_path), text + "\n")

    def hall_of_fame(self) -> list[dict[str, Any]]:
        """Hall of Fame entries, oldest first: genome_id, name, spec, added, task_id, evidence, note."""
        return self._read_hof()

    def hall_of_fame_genomes(self) -> list[Genome]:
        return [self.get_genome(e["genome_id"]) for e in self._read_hof() if self.has_genome(e["genome_id"])]

    def add_to_hall_of_fame(self, genome: Genome, task_id: str | None = None,
                            evidence: dict[str, Any] | None = None, note: str = "") -> bool:
        """Admit a genome (stored in the registry too). False if it was already there (by id)."""
        self.add_genome(genome)
        with self._mutex, self._acquire():
            entries = self._read_hof()
            if any(e.get("genome_id") == genome.id for e in entries):
                return False
            entries.append({"genome_id": genome.id, "name": genome.name, "spec": genome.spec.name,
                            "added": now_iso(), "task_id": task_id, "evidence": evidence or {}, "note": note})
            self._write_hof(entries)
        return True

    def remove_from_hall_of_fame(self, genome_id: str) -> bool:
        self.check_id(genome_id)
        with self._mutex, self._acquire():
            entries = self._read_hof()
            kept = [e for e in entries if e.get("genome_id") != genome_id]
            if len(kept) == len(entries):
                return False
            self._write_hof(kept)
        return True

    # ---- species (written by the Phylogeny tab, read by the Stress Chamber) -------------------
    def _read_species(self) -> dict[str, Any]:
        if not os.path.lexists(self.species_path):
            return {}
        try:
            data = load_json(self.species_path, what="species file", inside=self.root)
        except FileProblem as exc:
            raise RegistryError(f"{exc}; fix or delete it (the Phylogeny tab writes it again), "
                                "nothing was changed") from None
        specs = data.get("specs") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("schema_version") != SPECIES_SCHEMA_VERSION \
                or not isinstance(specs, dict) or not all(_sound_taxonomy(v) for v in specs.values()):
            raise RegistryError(f"{self.species_path} is not a species file of schema_version "
                                f"{SPECIES_SCHEMA_VERSION}; fix or delete it, nothing was changed")
        return specs

    def species_taxonomy(self, spec: str) -> dict[str, Any] | None:
        """The stored taxonomy of one spec: levels, counts, computed (ISO time), genomes {id: {level: name}}."""
        return self._read_species().get(spec)

    def species_labels(self, spec: str | None = None) -> dict[str, dict[str, str]]:
        """genome id -> {level: species name}, over one spec or all of them."""
        out: dict[str, dict[str, str]] = {}
        for name, entry in self._read_species().items():
            if spec is None or name == spec:
                out.update(entry["genomes"])
        return out

    def set_species(self, spec: str, levels: Sequence[str], counts: Sequence[int],
                    labels: dict[str, dict[str, str]]) -> None:
        """Replace one spec's taxonomy (other specs' are kept). Every genome id and level is checked first."""
        problems = []
        for gid, names in labels.items():
            if not isinstance(gid, str) or not ID_PATTERN.match(gid):
                problems.append(f"{gid!r} is not a genome id")
            elif not isinstance(names, dict) or set(names) != set(levels) or \
                    not all(isinstance(v, str) and v for v in names.values()):
                problems.append(f"genome {gid}: needs one species name per level ({', '.join(levels)})")
        if problems:
            raise RegistryError("species labels not stored: " + "; ".join(problems[:5]))
        with self._mutex, self._acquire():
            specs = self._read_species()
            specs[spec] = {"levels": list(levels), "counts": [int(c) for c in counts], "computed": now_iso(),
                           "genomes": {gid: dict(labels[gid]) for gid in sorted(labels)}}
            text = json.dumps({"schema_version": SPECIES_SCHEMA_VERSION, "specs": specs}, indent=1, sort_keys=True)
            atomic_write_text(self._inside(self.species_path), text + "\n")

    # ---- trash ---------------------------------------------------------------------------------
    def delete_genome(self, genome_id: str) -> Path:
        """Move a genome (and its Hall of Fame entry, if any) to the trash; restorable."""
        src = self.genome_path(genome_id)
        if not src.is_file():
            raise RegistryError(f"no genome {genome_id} in registry {self.root}")
        dest = self._inside(self.trash_dir / "genomes" / src.name)
        with self._mutex, self._acquire():
            entries = self._read_hof()
            mine = [e for e in entries if e.get("genome_id") == genome_id]
            dest.parent.mkdir(parents=True, exist_ok=True)
            if mine:
                atomic_write_text(self.trash_dir / "hall_of_fame" / src.name, json.dumps(mine[0], indent=2) + "\n")
                self._write_hof([e for e in entries if e.get("genome_id") != genome_id])
            os.replace(src, dest)
            self._genome_cache.pop(genome_id, None)
        return dest

    def trash_ids(self) -> list[str]:
        folder = self.trash_dir / "genomes"
        return sorted(p.stem for p in folder.glob("*.json") if ID_PATTERN.match(p.stem)) if folder.is_dir() else []

    def restore_genome(self, genome_id: str) -> Genome:
        src = self._inside(self.trash_dir / "genomes" / f"{self.check_id(genome_id)}.json")
        if not src.is_file():
            raise RegistryError(f"genome {genome_id} is not in the trash of {self.root}")
        genome = Genome.load(src, inside=self.root)
        hof_src = self.trash_dir / "hall_of_fame" / src.name
        with self._mutex, self._acquire():
            entry = None
            if os.path.lexists(hof_src):
                try:
                    entry = load_json(hof_src, what="Hall of Fame entry", inside=self.root, allow_nan=True)
                except FileProblem as exc:
                    raise RegistryError(f"{exc}; fix or move it, nothing was restored") from None
                if not isinstance(entry, dict) or entry.get("genome_id") != genome_id:
                    raise RegistryError(f"{hof_src} is not the Hall of Fame entry of {genome_id}; fix or move "
                                        "it, nothing was restored")
            dest = self.genome_path(genome_id)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
            if entry is not None:
                entries = self._read_hof()
                if not any(e.get("genome_id") == genome_id for e in entries):
                    self._write_hof(entries + [entry])
                hof_src.unlink()
        return genome

    # ---- import / export ---------------------------------------------------------------------
    def import_paths(self, paths: Iterable[str | os.PathLike[str]]) -> ImportReport:
        """Import genome JSON files and folders (searched recursively for *.json).

        Every file is validated first; a file with any problem imports nothing and is reported;
        good files are imported. File names and ids inside files are never used as write paths:
        a genome is stored under the id computed from its genes."""
        report = ImportReport()
        staged: list[Genome] = []
        for path in expand_paths(paths, report):
            try:
                staged += read_genome_file(path)
            except GenomeError as exc:
                report.failures.append((str(path), str(exc).removeprefix(f"{path}: ")))
        for genome in staged:
            present = self.has_genome(genome.id)
            try:
                self.add_genome(genome)   # a genome already here keeps the file's name and tags as well
            except RegistryError as exc:
                report.failures.append((genome.label, str(exc)))
                continue
            if not present:
                report.imported.append(genome.id)
            elif genome.id not in report.imported and genome.id not in report.already_present:
                report.already_present.append(genome.id)
        return report

    def export_genomes(self, genome_ids: Iterable[str], dest: str | os.PathLike[str]) -> list[Path]:
        """Export to ``dest``: a ``.json`` path gets one bundle file, anything else a folder of <id>.json."""
        genomes = [self.get_genome(self.resolve(i)) for i in genome_ids]
        dest = Path(dest)
        if dest.suffix == ".json":
            bundle = {"schema_version": SCHEMA_VERSION, "kind": "genome-bundle",
                      "genomes": [g.to_dict() for g in genomes]}
            return [atomic_write_text(dest, json.dumps(bundle, indent=2, sort_keys=True) + "\n")]
        return [g.save(dest / f"{g.id}.json") for g in genomes]
