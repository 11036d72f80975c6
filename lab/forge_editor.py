"""The Gene Forge's round trip through another program: write a genome to a fresh JSON file, open
it with $VISUAL, $EDITOR or xdg-open without waiting, and read back the one genome of the spec
being edited (or one GenomeError naming every problem)."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lab.genome import Genome, GenomeError, GeneSpec
from lab.registry import read_genome_file


def editor_command(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that opens ``path`` for editing: $VISUAL, else $EDITOR, else xdg-open."""
    env = os.environ if environ is None else environ
    for var in ("VISUAL", "EDITOR"):
        if env.get(var, "").strip():
            return shlex.split(env[var]) + [str(path)]
    return ["xdg-open", str(path)]


def launch_detached(argv: list[str]) -> None:
    """Start an editor without waiting for it (the forge stays usable while you edit)."""
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def write_for_editing(genome: Genome, folder: str | os.PathLike[str] | None = None) -> Path:
    """Write ``genome`` to a fresh JSON file for an editor (in a new temp folder by default)."""
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="gene-forge-"))
    return genome.save(folder / f"forge-{genome.id}.json")


def read_edited(path: str | os.PathLike[str], spec: GeneSpec) -> Genome:
    """The one genome of ``spec`` in an edited file, or GenomeError naming every problem."""
    genomes = read_genome_file(path)
    if len(genomes) != 1:
        raise GenomeError([f"the file holds {len(genomes)} genomes; the forge re-imports exactly one"],
                          str(path))
    if genomes[0].spec.name != spec.name:
        raise GenomeError([f"the file holds a genome of spec {genomes[0].spec.name}, not {spec.name}"],
                          str(path))
    return genomes[0]

