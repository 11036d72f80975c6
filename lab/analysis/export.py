"""Paper export settings shared by every chart module: one place for the rcParams, metadata and
file writing that make exported figures deterministic (byte-identical) and editable (TrueType
fonts in PDF, text kept as text in SVG). Figures are rendered to memory, then written whole.
"""
from __future__ import annotations

import contextlib
import io
import logging
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


# matplotlib subsets fonts for PDF with fontTools, which logs about 55 INFO lines per file; where
# the app or a script logs INFO to the terminal, each export flooded it
QUIET_LOGGERS = ("fontTools", "fontTools.subset", "fontTools.ttLib")


def quiet_font_logs() -> None:
    """Set fontTools' loggers to WARNING (its warnings and errors still show)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_font_logs()   # also for the chart toolbar's own Save button, which does not come through here


def figure_bytes(fig: Figure, fmt: str, dpi: int) -> bytes:
    """The figure saved as ``fmt`` (call inside :func:`paper_context`)."""
    quiet_font_logs()
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


def short_folder(folder: str | Path, width: int = 48) -> str:
    """``folder`` for a status line: the home folder as ``~``, and at most ``width`` characters
    (the start elided: the end of a path is the part that tells folders apart)."""
    text = str(Path(folder).expanduser().resolve())
    home = str(Path.home())
    if text == home or text.startswith(home + os.sep):
        text = "~" + text[len(home):]
    return text if len(text) <= width else "…" + text[-(width - 1):]


def written_message(paths: Sequence[Path], folder: str | Path, what: str = "") -> str:
    """One short status line (the status bar is shared and narrow): how many files of what, and where."""
    n = len(paths)
    return f"exported {n} {what + ' ' if what else ''}file{'s' if n != 1 else ''} to {short_folder(folder, 40)}"
