"""Settings changed while a run runs, and a run's history as a table.

An engine with :class:`LiveSettings` takes new settings between generations (``change_settings``):
the fields that shape its state (``FIXED_SETTINGS``: the population's size, the hidden layer) stay
as they are, everything else takes effect from the next generation (pass), and the change is kept in
``settings_log`` as ``{"at": passes done when it took effect, "changes": {field: [old, new]}}``. The
engine's checkpoint saves the log with the current settings, so a saved run resumes exactly: a run
changed at pass k, saved and resumed equals one run straight through with the same change.

Every such engine also reports its per-generation history as a table (``history_table``: the
numbers its direct-run charts show, a row per generation or pass); :func:`history_csv` writes it
with a ``settings_change`` column naming what changed on the first row run under the new settings.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


def settings_diff(old: Any, new: Any, fixed: Sequence[str] = (), title: str = "") -> dict[str, list]:
    """The fields of two settings objects (dataclasses of one class) that differ, ``{name: [old, new]}``
    in field order; ValueError naming every ``fixed`` field that differs."""
    if type(old) is not type(new):
        raise ValueError(f"new settings must be {type(old).__name__}, got {type(new).__name__}")
    changes = {f.name: [getattr(old, f.name), getattr(new, f.name)] for f in dataclasses.fields(old)
               if getattr(old, f.name) != getattr(new, f.name)}
    frozen = [f"{name} ({changes[name][0]!r})" for name in fixed if name in changes]
    if frozen:
        who = f"a {title} run" if title else "a run"
        raise ValueError(f"{', '.join(frozen)} cannot change while {who} runs "
                         "(the population's size and shape, and how it started, are fixed)")
    return changes


def read_settings_log(value: Any, where: str) -> list[dict[str, Any]]:
    """A saved ``settings_log`` checked (missing: none); ValueError names what is wrong."""
    if value is None:
        return []
    ok = isinstance(value, list) and all(
        isinstance(e, dict) and isinstance(e.get("at"), int) and not isinstance(e.get("at"), bool)
        and e["at"] >= 0 and isinstance(e.get("changes"), dict)
        and all(isinstance(v, list) and len(v) == 2 for v in e["changes"].values()) for e in value)
    if not ok:
        raise ValueError(f"{where}: its settings_log is not a list of {{at, changes}} entries")
    return [{"at": e["at"], "changes": {k: list(v) for k, v in e["changes"].items()}} for e in value]


def read_history(value: Any, width: int, where: str) -> list[list[Any]]:
    """A saved history table (rows of ``width`` numbers or nulls; missing: none) checked."""
    if value is None:
        return []
    ok = isinstance(value, list) and all(
        isinstance(row, list) and len(row) == width
        and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in row) for row in value)
    if not ok:
        raise ValueError(f"{where}: its history is not a table of {width} numbers a row")
    return [list(row) for row in value]


class LiveSettings:
    """The half of an engine that takes new settings mid-run. The engine provides ``passes``,
    ``current_settings`` (its settings object), ``apply_settings(settings)`` (use them from the next
    generation on) and ``history_table()``."""

    FIXED_SETTINGS: ClassVar[tuple[str, ...]] = ()
    TITLE: ClassVar[str] = ""

    @property
    def settings_log(self) -> list[dict[str, Any]]:
        return self.__dict__.setdefault("_settings_log", [])

    @settings_log.setter
    def settings_log(self, log: list[dict[str, Any]]) -> None:
        self.__dict__["_settings_log"] = log

    def change_settings(self, settings: Any) -> dict[str, list]:
        """Use ``settings`` from the next generation on; returns what changed (empty: nothing, and
        nothing is recorded). ValueError (nothing changes) for a fixed field or settings the engine
        cannot run."""
        changes = settings_diff(self.current_settings, settings, self.FIXED_SETTINGS, self.TITLE)
        if changes:
            self.apply_settings(settings)
            self.settings_log.append({"at": int(self.passes), "changes": changes})
        return changes

    def history_table(self) -> tuple[tuple[str, ...], list[list[Any]]]:
        raise NotImplementedError


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def history_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]],
                settings_log: Sequence[Mapping[str, Any]] = ()) -> str:
    """The history as CSV text: ``columns`` (the first counts generations or passes) and a
    ``settings_change`` column, "field=new; ..." on the first row run under changed settings (a
    change made after the last row gets a row of its own)."""
    by_row: dict[int, list[str]] = {}
    for entry in settings_log:
        by_row.setdefault(int(entry["at"]) + 1, []).extend(
            f"{name}={new}" for name, (_, new) in entry["changes"].items())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, "settings_change"])
    seen = set()
    for row in rows:
        at = int(row[0])
        seen.add(at)
        writer.writerow([_cell(v) for v in row] + ["; ".join(by_row.get(at, []))])
    for at in sorted(set(by_row) - seen):
        writer.writerow([at] + [""] * (len(columns) - 1) + ["; ".join(by_row[at])])
    return out.getvalue()


def engine_history_csv(engine: Any) -> str:
    """An engine's history table and settings changes as CSV text."""
    columns, rows = engine.history_table()
    return history_csv(columns, rows, getattr(engine, "settings_log", ()))
