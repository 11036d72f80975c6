"""The shared on-disk registry that every tab, command and job reads and writes.

Layout of the folder (default ``registry/``)::

    genomes/<id>.json     one genome per file, named by its content hash, written once
    trials.jsonl          append-only, one TrialResult per line (a "censored" line, a trial racing
                          stopped, is kept apart and never read as a finished result)
    hall_of_fame.json     {"schema_version", "entries": [...]}, rewritten atomically
    species.json          {"schema_version", "specs": {spec: {"levels", "counts", "computed", "genomes":
                          {id: {level: species name}}}}}: the Phylogeny tab's last taxonomy per spec
    names.json            {"schema_version", "genomes": {id: {"names", "tags", "notes"}}}: what users gave a
                          genome after its file was written (see :meth:`Registry.add_genome`)
    runs/<run-id>/        run config, checkpoints, engine state (lab.evolution.run_files owns the format)
    trash/                deleted genomes (and their Hall of Fame entries), restorable

The Hall of Fame, species and trash methods live in registry_shelves.py; the error, the paths and
reading genome files in registry_base.py.

Writes are atomic (temp file, fsync, ``os.replace``); appends and rewrites hold ``.lock`` (filelock),
so threads and processes can share one folder. Reading never writes: a torn or corrupt line in
``trials.jsonl`` is skipped and reported in :attr:`Registry.problems`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from lab.arenas import load_gene_specs
from lab.arenas.base import TrialError, TrialResult
from lab.files import atomic_write_text
from lab.genome import Genome, GenomeError
from lab.genome_names import NAME_FIELDS, NAMES_SCHEMA_VERSION, parse_names, with_names
# founders, read_genome_file, ImportReport and the folders are imported from here by callers
from lab.registry_base import (CUSTOM_DIR, DEFAULT_ROOT, FOUNDERS_DIR, ID_PATTERN, MAX_IMPORT_BYTES,  # noqa: F401
                               ImportReport, RegistryError, founders, read_genome_file)
from lab.registry_shelves import RegistryShelves
from lab.safe_read import FileProblem, check_inside, parse_json

load_gene_specs()   # genome files name their spec: every arena's gene table is registered before one is read

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 60.0
_ID_PREFIX = re.compile(r"^[0-9a-f]{1,16}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class Registry(RegistryShelves):
    """One registry folder. Cheap to construct; creates its folders on the first write only."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root if root is not None else os.environ.get("SPECIATION_REGISTRY", DEFAULT_ROOT))
        self.root = self.root.expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(f"registry path {self.root} is a file, not a folder")
        self.genomes_dir = self.root / "genomes"
        self.trials_path = self.root / "trials.jsonl"
        self.hof_path = self.root / "hall_of_fame.json"
        self.species_path = self.root / "species.json"
        self.names_path = self.root / "names.json"
        self.runs_dir = self.root / "runs"
        self.trash_dir = self.root / "trash"
        self._lock = FileLock(str(self.root / ".lock"), timeout=LOCK_TIMEOUT_S, preserve_lock_file=True)
        self._mutex = threading.RLock()  # guards the in-memory caches below
        self._genome_cache: dict[str, tuple[tuple[int, int], Genome]] = {}
        self._names_cache: tuple[tuple[int, int], dict[str, dict[str, list[str]]], list[str]] | None = None
        self._trials: dict[tuple[str, str, int], TrialResult] = {}
        self._censored: dict[tuple[str, str, int], TrialResult] = {}   # racing's stopped trials
        self._trial_offset = 0
        self._trial_line = 0
        self.problems: list[str] = []  # what reading skipped (torn lines, corrupt files), newest last

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # ---- helpers -----------------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)
            log.warning(message)

    def _inside(self, path: Path) -> Path:
        """Refuse any write target that would resolve outside the registry folder."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise RegistryError(f"refusing to write {path}: it lies outside the registry {self.root}")
        return path

    @contextlib.contextmanager
    def _acquire(self) -> Iterator[None]:
        """Hold the registry's file lock (creating the folder on the first write)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise RegistryError(f"registry {self.root} stayed locked for {LOCK_TIMEOUT_S:.0f} s (another "
                                f"process is writing; remove {self._lock.lock_file} if none is)") from None
        try:
            yield
        finally:
            self._lock.release()

    @staticmethod
    def check_id(genome_id: str) -> str:
        if not isinstance(genome_id, str) or not ID_PATTERN.match(genome_id):
            raise RegistryError(f"{genome_id!r} is not a genome id (16 hex digits)")
        return genome_id

    # ---- genomes -----------------------------------------------------------------------------
    def genome_path(self, genome_id: str) -> Path:
        return self._inside(self.genomes_dir / f"{self.check_id(genome_id)}.json")

    def has_genome(self, genome_id: str) -> bool:
        return self.genome_path(genome_id).is_file()

    def add_genome(self, genome: Genome) -> Genome:
        """Store a genome and return it as the registry now holds it.

        A genome's file is written once, under its id (the hash of its spec and genes). When the id
        is already here the stored genome keeps its name, origin and parents, and what ``genome``
        brings that the registry does not hold yet is kept in ``names.json``: another name becomes
        an alias, tags join the genome's tags, notes are added to its notes. Nothing a user typed is
        dropped; search and ``registry list`` find a genome by any of its names and tags.
        Raises RegistryError (writing nothing) if ``names.json`` must grow but cannot be read."""
        path = self.genome_path(genome.id)
        with self._mutex, self._acquire():
            if not path.exists():
                atomic_write_text(path, genome.to_json())
                record = self._read_names()[0].get(genome.id)   # a genome restored by hand, say
                return with_names(genome, record) if record else genome
            held = self.get_genome(genome.id)
            names, tags, notes = self.new_metadata(held, genome, self.names(genome.id))
            if not (names or tags or notes):
                return held
            records, problems = self._read_names(fresh=True)   # under the lock: what other writers added too
            if problems:
                raise RegistryError(f"{self.names_path} cannot be read ({problems[0]}); fix or move it: the "
                                    f"name and tags of {genome.label} were not stored, nothing was changed")
            records = {gid: {k: list(v) for k, v in r.items()} for gid, r in records.items()}  # not the cache's
            record = records.setdefault(genome.id, {key: [] for key in NAME_FIELDS})
            for key, new in zip(NAME_FIELDS, (names, tags, notes)):
                record[key] = list(dict.fromkeys(record.get(key, []) + new))
            text = json.dumps({"schema_version": NAMES_SCHEMA_VERSION, "genomes": records}, indent=1,
                              sort_keys=True, ensure_ascii=False)
            atomic_write_text(self._inside(self.names_path), text + "\n")
            return self.get_genome(genome.id)

    @staticmethod
    def new_metadata(held: Genome, given: Genome, known_names: Iterable[str] = ()) -> tuple[list[str], list[str],
                                                                                            list[str]]:
        """(names, tags, notes) that ``given`` would add to ``held``, the genome of the same id as the
        registry holds it, whose names are ``known_names`` (see ``names``)."""
        known = {held.name, *known_names}
        names = [given.name] if given.name.strip() and given.name not in known else []
        tags = [t for t in dict.fromkeys(given.tags) if t not in held.tags]
        notes = [given.notes] if given.notes.strip() and given.notes not in held.notes else []
        return names, tags, notes

    def add_genomes(self, genomes: Iterable[Genome]) -> list[Genome]:
        return [self.add_genome(g) for g in genomes]

    def get_genome(self, genome_id: str) -> Genome:
        """The genome as stored, with the tags and notes ``names.json`` adds (see ``add_genome``); all
        its names are ``names(genome_id)``."""
        genome = self._stored_genome(genome_id)
        record = self._read_names()[0].get(genome_id)
        return with_names(genome, record) if record else genome

    def _stored_genome(self, genome_id: str) -> Genome:
        path = self.genome_path(genome_id)
        with self._mutex:
            try:
                st = path.stat()
            except FileNotFoundError:
                raise RegistryError(f"no genome {genome_id} in registry {self.root}") from None
            stamp = (st.st_mtime_ns, st.st_size)  # a file edited by hand is read again
            cached = self._genome_cache.get(genome_id)
            if cached and cached[0] == stamp:
                return cached[1]
            genome = Genome.load(path, inside=self.root)
            if genome.id != genome_id:
                raise RegistryError(f"{path} holds genome {genome.id}, not {genome_id} (genes edited by hand? "
                                    "import the file instead)")
            self._genome_cache[genome_id] = (stamp, genome)
            return genome

    def names(self, genome_id: str) -> list[str]:
        """Every name a genome has in this registry: its own first, then the others users gave it."""
        genome = self.get_genome(genome_id)
        record = self._read_names()[0].get(genome_id) or {"names": []}
        return [n for n in dict.fromkeys((genome.name, *record["names"])) if n]

    def aliases(self) -> dict[str, list[str]]:
        """genome id -> its other names (beyond ``genome.name``), for every genome that has some."""
        out = {}
        for gid in self._read_names()[0]:
            try:
                others = self.names(gid)[1:] if self.has_genome(gid) else []
            except (GenomeError, RegistryError):
                continue
            if others:
                out[gid] = others
        return out

    def _read_names(self, fresh: bool = False) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
        """(valid records by genome id, problems). A problem is also reported in ``problems``; the
        caller that would rewrite the file must refuse, so a damaged file is never overwritten.
        ``fresh``: read the file even if it looks unchanged (a writer, whose stamp may be stale)."""
        with self._mutex:
            try:
                st = self.names_path.stat()
            except FileNotFoundError:
                self._names_cache = None
                return {}, []
            stamp = (st.st_mtime_ns, st.st_size)
            if not fresh and self._names_cache is not None and self._names_cache[0] == stamp:
                return self._names_cache[1], self._names_cache[2]
            records, problems = parse_names(self.names_path, st.st_size, MAX_IMPORT_BYTES)
            self._names_cache = (stamp, records, problems)
            for problem in problems:
                self._warn(f"{self.names_path}: {problem} (other names and tags read from it may be missing; "
                           "fix or move the file)")
            return records, problems

    def resolve(self, ref: str) -> str:
        """A full genome id from an id or a unique id prefix."""
        if not isinstance(ref, str) or not _ID_PREFIX.match(ref):
            raise RegistryError(f"{ref!r} is not a genome id or id prefix (hex digits)")
        if len(ref) == 16:
            return ref
        hits = sorted(p.stem for p in self.genomes_dir.glob(f"{ref}*.json")) if self.genomes_dir.is_dir() else []
        if not hits:
            raise RegistryError(f"no genome id starts with {ref!r} in registry {self.root}")
        if len(hits) > 1:
            raise RegistryError(f"id prefix {ref!r} is ambiguous: {', '.join(hits[:5])}")
        return hits[0]

    def genome_ids(self) -> list[str]:
        if not self.genomes_dir.is_dir():
            return []
        return sorted(p.stem for p in self.genomes_dir.glob("*.json") if ID_PATTERN.match(p.stem))

    def list_genomes(self, spec: str | None = None, tag: str | None = None, origin: str | None = None,
                     name: str | None = None) -> list[Genome]:
        """Every readable genome, oldest first, filtered by spec, tag, origin and name (substring of
        any of its names, case-insensitive). Unreadable files are skipped and reported in ``problems``."""
        out = []
        aliases = self.aliases() if name else {}
        for gid in self.genome_ids():
            try:
                g = self.get_genome(gid)
            except (GenomeError, RegistryError) as exc:
                self._warn(f"skipped unreadable genome file {gid}.json: {exc}")
                continue
            if spec and g.spec.name != spec or origin and g.origin != origin:
                continue
            if tag and tag not in g.tags or name and not any(name.lower() in n.lower()
                                                              for n in (g.name, *aliases.get(gid, ()))):
                continue
            out.append(g)
        return sorted(out, key=lambda g: (g.created, g.id))

    # ---- trials ------------------------------------------------------------------------------
    def record_trial(self, result: TrialResult | dict) -> None:
        self.record_trials([result])

    def record_trials(self, results: Sequence[TrialResult | dict]) -> int:
        """Append results to trials.jsonl under the lock (one write, one fsync). Returns how many."""
        results = [r if isinstance(r, TrialResult) else TrialResult.from_dict(r) for r in results]
        if not results:
            return 0
        lines = "".join(r.to_json_line() + "\n" for r in results)
        with self._acquire():
            path = self._inside(self.trials_path)
            if os.path.lexists(path) and not path.is_file():
                raise RegistryError(f"{path} is not a regular file; no trial was recorded")
            with open(path, "a+b") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    # a torn last line (a writer died mid-line) must not swallow our first record
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        lines = "\n" + lines
                fh.write(lines.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        return len(results)

    def _load_trials(self) -> None:
        """Read lines appended since the last call. A last line without newline is left for later."""
        with self._mutex:
            try:
                readable = self.trials_path.is_file() and bool(check_inside(self.trials_path, self.root))
            except FileProblem as exc:   # a symlink out of the registry: nothing of it is read
                self._warn(str(exc))
                readable = False
            if not readable:
                self._trials, self._trial_offset, self._trial_line = {}, 0, 0
                self._censored = {}
                return
            size = self.trials_path.stat().st_size
            if size < self._trial_offset:  # replaced or truncated by hand: start over
                self._trials, self._trial_offset, self._trial_line = {}, 0, 0
                self._censored = {}
            if size == self._trial_offset:
                return
            with open(self.trials_path, "rb") as fh:
                fh.seek(self._trial_offset)
                chunk = fh.read(size - self._trial_offset)
            complete, newline, torn = chunk.rpartition(b"\n")
            if torn:
                self._warn(f"{self.trials_path.name}: skipped a torn last line ({len(torn)} bytes, "
                           "a write was interrupted); later appends start on a new line")
            if not newline:
                return
            for raw in complete.split(b"\n"):
                self._trial_line += 1
                if not raw.strip():
                    continue
                where = f"{self.trials_path.name} line {self._trial_line}"
                try:
                    result = TrialResult.from_dict(parse_json(raw, where))
                except FileProblem as exc:
                    self._warn(f"{where}: skipped a corrupt record ({exc.problem})")
                    continue
                except (TrialError, TypeError, ValueError, KeyError, AttributeError) as exc:
                    self._warn(f"{where}: skipped a corrupt record ({exc})")
                    continue
                if result.status == "censored":   # kept apart: never a full result (Smart Fill)
                    old = self._censored.get(result.key)
                    if old is None or (result.metrics.get("censored_at") or 0) > (old.metrics.get("censored_at") or 0):
                        self._censored[result.key] = result
                else:
                    self._trials.setdefault(result.key, result)
            self._trial_offset += len(complete) + 1

    def trials(self) -> list[TrialResult]:
        """Every readable finished trial, one per (genome_id, task_id, seed) (the first recorded wins).
        Censored trials (stopped by racing) are not finished experiments: see ``censored_trials``."""
        self._load_trials()
        return list(self._trials.values())

    def censored_trials(self) -> list[TrialResult]:
        """Trials that racing stopped and that no full run has finished since, one per (genome,
        task, seed): the one stopped latest."""
        self._load_trials()
        return [r for key, r in self._censored.items() if key not in self._trials]

    def trials_for(self, genome_id: str, task_id: str | None = None) -> list[TrialResult]:
        return sorted((t for t in self.trials() if t.genome_id == genome_id and (task_id is None or t.task_id == task_id)),
                      key=lambda t: t.seed)

    def get_trial(self, genome_id: str, task_id: str, seed: int) -> TrialResult | None:
        self._load_trials()
        return self._trials.get((genome_id, task_id, seed))

    def has_trial(self, genome_id: str, task_id: str, seed: int) -> bool:
        self._load_trials()
        return (genome_id, task_id, seed) in self._trials

    def missing_seeds(self, genome_id: str, task_id: str, seeds: Iterable[int]) -> list[int]:
        """The seeds (in the order given) whose trial is not yet recorded: what Smart Fill must run."""
        self._load_trials()
        return [s for s in seeds if (genome_id, task_id, s) not in self._trials]

    # ---- runs --------------------------------------------------------------------------------
    def run_dir(self, run_id: str, create: bool = False) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or ".." in run_id:
            raise RegistryError(f"{run_id!r} is not a valid run id (letters, digits, '_', '-', '.')")
        path = self._inside(self.runs_dir / run_id)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def run_ids(self) -> list[str]:
        return sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if self.runs_dir.is_dir() else []
