"""File I/O of the lab: atomic writes (whole or not at all), with temp files that end up with the
permissions of any file the user creates.

``tempfile.mkstemp`` creates its file readable by its owner only (0600), and ``os.replace`` keeps
that mode, so every genome, log, chart or model the lab wrote atomically was private. The temp
file here gets ``0666`` less the process's umask, as ``open(path, "w")`` would give."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    try:   # Linux: read it without changing it (os.umask is process-wide, not thread-safe)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_beside(path: Path) -> tuple[int, str]:
    """``(fd, name)`` of a new temp file in ``path``'s folder, mode 0666 less the umask."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (OSError, AttributeError):   # no fchmod (Windows): the default mode stands
        pass
    return fd, tmp


def atomic_write_text(path: Path, text: str) -> Path:
    """Write a file whole or not at all: temp file in the same folder, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems cannot fsync a directory; the replace is still atomic
        pass
    return path
