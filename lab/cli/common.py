"""What every command of the command line shares: the one-line usage error and its exit code,
opening the registry, reading a genome reference, parsing seeds, the "where trials run" options,
and options generated from an arena's gene table. Light: no torch, no plotting."""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from lab.genome import Gene, Genome, GeneSpec
from lab.registry import Registry, read_genome_file

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the command line: reported in one line with exit code 2."""


def open_registry(args: argparse.Namespace) -> Registry:
    return Registry(args.registry)


def load_ref(ref: str, args: argparse.Namespace) -> Genome:
    """A genome from a JSON file path, or from the registry by id or unique id prefix."""
    path = Path(ref)
    if path.suffix == ".json" or path.exists():
        genomes = read_genome_file(path)
        if len(genomes) != 1:
            raise UsageError(f"{ref} holds {len(genomes)} genomes; name one by id instead")
        return genomes[0]
    reg = open_registry(args)
    return reg.get_genome(reg.resolve(ref))


def load_arena_genome(ref: str, args: argparse.Namespace, spec_name: str, article: str = "a") -> Genome:
    """``--genome REF`` of an arena command: a genome of that arena's spec, else a usage error."""
    genome = load_ref(ref, args)
    if genome.spec.name != spec_name:
        raise UsageError(f"{ref} is a {genome.spec.name} genome, not {article} {spec_name} one")
    return genome


def parse_seeds(text: str) -> list[int]:
    """"5" -> 0..4; "10-14" -> 10..14; "1,3,7" -> those."""
    try:
        if "," in text:
            return [int(x) for x in text.split(",")]
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            if hi < lo:
                raise ValueError
            return list(range(lo, hi + 1))
        return list(range(int(text)))
    except ValueError:
        raise UsageError(f"--seeds {text!r}: give a count (5), a range (10-14) or a list (1,3,7)") from None


# ---- where trials run (lab.backends) ------------------------------------------------------------
def add_backend_options(p: argparse.ArgumentParser) -> None:
    """--backend, --cluster, --workers, --connect-timeout (shared by every command that runs trials)."""
    from lab.backends import BACKENDS, CONNECT_TIMEOUT
    g = p.add_argument_group("where trials run")
    g.add_argument("--backend", choices=list(BACKENDS), default=None,
                   help="threads (default: in this process), processes (a local pool) or dask (a cluster)")
    g.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="dask: tcp://HOST:8786 joins a running scheduler, local:N starts N workers here "
                        "(implies --backend dask)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes: pool size (default: one per core)")
    g.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                   help=f"seconds to reach the scheduler before giving up (default {CONNECT_TIMEOUT:g})")


def open_backend(args: argparse.Namespace):
    """The backend the options name, set up (a dask backend connects here); prints where trials run."""
    from lab.backends import BackendConfig, make_backend
    config = BackendConfig.from_args(args.backend, args.cluster, args.workers, args.connect_timeout)
    backend = make_backend(config)
    if config.kind != "threads":
        print(f"trials run on {backend.status().text()}", file=sys.stderr)
    return backend


# ---- choices held by heavy modules ---------------------------------------------------------------
class LazyChoices:
    """Choices of an option that live in a module heavy to import (one that loads torch): read on
    first use, so building the parser (and ``--help``) stays fast. Give the option a metavar, or
    argparse reads the choices at once to write one."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def _values(self) -> Sequence[str]:
        return getattr(importlib.import_module(self.module), self.name)

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())


# ---- options generated from a gene table ---------------------------------------------------------
def option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def gene_help(gene: Gene, extra: str = "") -> str:
    """Help of a gene's option: its meaning, bounds and default, all from the gene table."""
    doc = gene.doc.rstrip(".")
    return f"{doc}{extra} (default {gene.default:g}; gene range {gene.describe_bounds()})".replace("%", "%%")


def add_gene_options(p: argparse.ArgumentParser, spec: GeneSpec, keys: Iterable[str] | None = None,
                     extra: dict[str, str] | None = None, title: str | None = None) -> tuple[str, ...]:
    """One option per gene (``--child-mutation-rate`` for ``child_mutation_rate``), typed by the
    gene's kind, its help from the table; no default, so an unset option leaves the gene alone.
    Returns the keys given options (for :func:`gene_values`)."""
    keys = tuple(keys) if keys is not None else spec.keys
    group = p.add_argument_group(title or f"genes of the {spec.name} arena (checked against their bounds)")
    for key in keys:
        gene = spec.gene(key)
        group.add_argument(option_name(key), dest=key, type=int if gene.kind == "int" else float,
                           metavar="N" if gene.kind == "int" else "X", help=gene_help(gene, (extra or {}).get(key, "")))
    return keys


def gene_values(args: argparse.Namespace, spec: GeneSpec, keys: Iterable[str],
                check: bool = True) -> dict[str, float | int]:
    """The gene options the user gave, each checked against its gene's bounds (a usage error names
    the option, the value and the bound). ``check=False`` leaves the checking to the engine's
    settings, whose limits a direct run may stretch beyond the evolvable range."""
    values = {}
    for key in keys:
        value = getattr(args, key, None)
        if value is None:
            continue
        problem = spec.gene(key).check(value) if check else None
        if problem:
            raise UsageError(f"{option_name(key)}: {problem}")
        values[key] = value
    return values


def add_task_options(p: argparse.ArgumentParser, cap_help: str = "override the task's step cap (a different task_id)") -> None:
    """--step-cap and --precision: the task settings a command line changes (each makes another task_id)."""
    from lab.arenas.base import PRECISIONS
    p.add_argument("--step-cap", type=int, default=None, help=cap_help)
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="grokking: arithmetic of the trainer, float32 (default), tf32 or bf16 (a different task_id)")


def apply_task_options(task, args: argparse.Namespace):
    """``task`` with the --step-cap and --precision the command line gave."""
    import dataclasses

    from lab.arenas.base import with_cap
    if getattr(args, "step_cap", None) is not None:
        task = with_cap(task, args.step_cap)
    if getattr(args, "precision", None) is not None:
        if not any(f.name == "precision" for f in dataclasses.fields(task)):
            raise UsageError(f"--precision: the {type(task).__name__} has no precision setting (grokking has)")
        task = dataclasses.replace(task, precision=args.precision)
    return task
