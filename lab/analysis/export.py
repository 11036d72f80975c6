"""Paper export settings shared by every chart module: one place for the rcParams, metadata and
file writing that make exported figures deterministic (byte-identical) and editable (TrueType
fonts in PDF, text kept as text in SVG). Figures are rendered to memory, then written whole.
"""
from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from lab.files import temp_beside

FORMATS = ("png", "pdf", "svg")
PAPER_RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "speciation-lab",
            "font.size": 9}
# dates left out (None) so two exports of the same chart are the same bytes
METADATA = {"png": {"Software": "Speciation Lab"}, "pdf": {"Creator": "Speciation Lab", "CreationDate": None},
            "svg": {"Creator": "Speciation Lab", "Date": None}}


@contextlib.contextmanager
def paper_context() -> Iterator[None]:
    """matplotlib rcParams for publication under seaborn's "paper" context; build and save inside."""
    import matplotlib as mpl
    import seaborn as sns

    with mpl.rc_context(PAPER_RC), sns.plotting_context("paper"):
        yield


def check_formats(formats: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format {', '.join(map(repr, bad)) or '(none given)'} "
                         f"(formats: {', '.join(FORMATS)})")
    return tuple(dict.fromkeys(formats))


def figure_bytes(fig: Figure, fmt: str, dpi: int) -> bytes:
    """The figure saved as ``fmt`` (call inside :func:`paper_context`)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt])
    return buffer.getvalue()


def write_files(files: Mapping[Path, bytes]) -> list[Path]:
    """Write each file whole or not at all (temp file in the same folder, then ``os.replace``)."""
    written = []
    for path, payload in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_beside(path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written


def export_figure(draw: Callable[[Figure], object], folder: str | Path, stem: str,
                  formats: Sequence[str] = FORMATS, figsize: tuple[float, float] = (8.0, 6.0),
                  dpi: int = 200) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each format: ``draw(fig)`` on a fresh figure under paper settings
    (embedded TrueType fonts, editable SVG text, fixed metadata, so the files are reproducible)."""
    folder = Path(folder)
    with paper_context():
        fig = Figure(figsize=figsize)
        draw(fig)
        files = {folder / f"{stem}.{fmt}": figure_bytes(fig, fmt, dpi=dpi) for fmt in check_formats(list(formats))}
    return write_files(files)
