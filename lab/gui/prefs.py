"""The user's settings, kept between sessions in one small versioned JSON file, ``settings.json`` in
the user's config folder (platformdirs' ``user_config_dir("speciation-lab")``, or the folder named by
``$SPECIATION_LAB_CONFIG_DIR``): last registry folder, window geometry and log pane, theme, each
arena's Evolution, Task and Stress settings, and the last export folder and formats.

Stored form values pass the same :class:`Field` checks as the forms they fill: one of the wrong type
or out of its bounds falls back to the form's default, an unknown key is ignored. A file that cannot
be settings at all (not JSON, not an object, a section of the wrong type, too big, a folder) is
moved aside as ``settings.json.corrupt-<timestamp>`` and the defaults take over; ``load`` returns
the one-line reason for the window to show.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lab.files import atomic_write_text
from lab.safe_read import FileProblem, load_json
from lab.gui.widgets.form import Field, task_fields

log = logging.getLogger("lab.gui.prefs")

VERSION = 1
FILE_NAME = "settings.json"
ENV_DIR = "SPECIATION_LAB_CONFIG_DIR"
APP_DIR = "speciation-lab"
MAX_BYTES = 256 * 1024       # a real settings file is a few kB; more is not ours
MAX_TEXT = 4096              # the longest text value kept (a folder path, a task's text setting)
THEMES = ("light", "dark")
DEFAULT_THEME = "light"
SECTIONS = ("evolution", "task", "stress", "stress_task")   # per arena
LOG_HEIGHT = Field("log_height", "Log pane height", "int", 120, 60, 2000)
GEOMETRY = re.compile(r"^(\d{2,5})x(\d{2,5})([+-]-?\d{1,5})([+-]-?\d{1,5})$")


def config_dir() -> Path:
    """Where the settings file lives: $SPECIATION_LAB_CONFIG_DIR, else the platform's user config folder."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_config_dir
    except ImportError:   # the fallback platformdirs itself uses on Linux
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_DIR
    return Path(user_config_dir(APP_DIR, appauthor=False))


def settings_path() -> Path:
    return config_dir() / FILE_NAME


class Unusable(ValueError):
    """The settings file cannot be read as settings at all."""


# ---- checking stored values against the forms' fields ----------------------------------------------
def check_value(f: Field, value: Any) -> Any:
    """``value`` as the form field ``f`` would accept it, or ValueError naming the problem."""
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{f.label}: {value!r} is not true or false")
        return value
    if f.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (f.kind == "int" and isinstance(value, float)):
            raise ValueError(f"{f.label}: {value!r} is not a {'whole number' if f.kind == 'int' else 'number'}")
        return f.parse(repr(value))
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{f.label}: {str(value)[:40]!r} is not a short text")
    return f.parse(value)


def clean_values(fields: Iterable[Field], stored: Any, where: str = "") -> dict[str, Any]:
    """The values of ``stored`` that pass their field's checks; the others are left out (their
    defaults stand) with a note in the log. Keys no field names are ignored."""
    if not isinstance(stored, Mapping):
        return {}
    out = {}
    for f in fields:
        if f.name in stored:
            try:
                out[f.name] = check_value(f, stored[f.name])
            except ValueError as exc:
                log.info("stored setting ignored (%s%s); its default stands", f"{where}: " if where else "", exc)
    return out


def clean_task(default_task: Any, stored: Any, where: str = "") -> dict[str, Any]:
    """Stored task settings that the task accepts, one by one on top of ``default_task``."""
    values = clean_values(task_fields(default_task), stored, where)
    kept: dict[str, Any] = {}
    for key, value in values.items():
        try:
            dataclasses.replace(default_task, **kept, **{key: value})
        except (TypeError, ValueError) as exc:
            log.info("stored setting ignored (%s: %s = %r: %s); its default stands", where, key, value, exc)
            continue
        kept[key] = value
    return kept


def clean_geometry(value: Any) -> str | None:
    """A Tk geometry string of sane numbers (``WxH+X+Y``), or None."""
    if not isinstance(value, str):
        return None
    m = GEOMETRY.match(value)
    if not m or not (200 <= int(m.group(1)) <= 20000 and 200 <= int(m.group(2)) <= 20000):
        return None
    return value


def fit_geometry(geometry: str | None, screen_width: int, screen_height: int) -> str | None:
    """A stored geometry made to fit this screen (a window closed on a larger or second monitor
    comes back whole and on screen), or None without a usable one."""
    geometry = clean_geometry(geometry)
    if geometry is None:
        return None
    w, h, x, y = GEOMETRY.match(geometry).groups()
    # "+X" is from the left (or top) edge, "+-X" off it; a position from the right edge ("-X") starts at 0
    w, h, x, y = int(w), int(h), *(int(v[1:]) if v.startswith("+") else 0 for v in (x, y))
    w, h = min(w, screen_width), min(h, screen_height)
    x = min(max(x, 0), max(screen_width - w, 0))
    y = min(max(y, 0), max(screen_height - h, 0))
    return f"{w}x{h}+{x}+{y}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


# ---- the settings --------------------------------------------------------------------------------
@dataclasses.dataclass
class Prefs:
    """What the window remembers. ``arenas[name][section]`` holds one form's values (sections:
    ``evolution``, ``task``, ``stress``, ``stress_task``), already checked on load."""
    registry: str | None = None
    geometry: str | None = None
    log_visible: bool = False
    log_height: int = LOG_HEIGHT.default
    theme: str = DEFAULT_THEME
    evolution_arena: str | None = None
    stress_arena: str | None = None
    forge_arena: str | None = None
    arenas: dict[str, dict[str, dict[str, Any]]] = dataclasses.field(default_factory=dict)
    export_folder: str | None = None
    export: dict[str, Any] = dataclasses.field(default_factory=dict)   # formats, dpi, size
    sashes: dict[str, list[int]] = dataclasses.field(default_factory=dict)   # pane dividers (lab.gui.layout)

    def section(self, arena: str, name: str) -> dict[str, Any]:
        return dict(self.arenas.get(arena, {}).get(name, {}))

    def set_section(self, arena: str, name: str, values: Mapping[str, Any]) -> None:
        self.arenas.setdefault(arena, {})[name] = dict(values)

    def arenas_section(self, *names: str) -> dict[str, dict[str, dict[str, Any]]]:
        """arena -> {section: values} for the sections ``names`` (a form's memory, as tabs keep it)."""
        return {arena: {n: dict(s[n]) for n in names if n in s} for arena, s in self.arenas.items()}

    def set_arenas_section(self, memory: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        """Merge a tab's memory (arena -> {section: values}) into the settings."""
        for arena, sections in memory.items():
            for name, values in sections.items():
                self.set_section(arena, name, values)

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Prefs:
        """Settings from a parsed file; Unusable when its shape is not that of a settings file."""
        from lab.arenas import arena_names, get_arena
        if not isinstance(data, dict):
            raise Unusable(f"holds {type(data).__name__}, not a settings object")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise Unusable(f"has no settings version (found {str(version)[:20]!r})")
        if version > VERSION:
            raise Unusable(f"was written by a newer Speciation Lab (settings version {version}, this one reads {VERSION})")
        for key in ("arenas", "export"):
            if not isinstance(data.get(key, {}), dict):
                raise Unusable(f"has `{key}` as {type(data[key]).__name__}, not an object")
        prefs = cls()
        prefs.registry = _text(data.get("registry"))
        prefs.geometry = clean_geometry(data.get("geometry"))
        if isinstance(data.get("log_visible"), bool):
            prefs.log_visible = data["log_visible"]
        prefs.log_height = clean_values([LOG_HEIGHT], data).get("log_height", LOG_HEIGHT.default)
        if data.get("theme") in THEMES:
            prefs.theme = data["theme"]
        names = arena_names()
        prefs.evolution_arena = data.get("evolution_arena") if data.get("evolution_arena") in names else None
        prefs.stress_arena = data.get("stress_arena") if data.get("stress_arena") in names else None
        prefs.forge_arena = data.get("forge_arena") if data.get("forge_arena") in names else None
        from lab.gui.evolution_settings import SETTING_FIELDS
        from lab.gui.insights import FIELDS as INSIGHT_FIELDS
        from lab.gui.mechanism_window import FIELDS as MECHANISM_FIELDS
        from lab.gui.stress_chamber import run_fields
        for name, sections in data.get("arenas", {}).items():
            if name not in names or not isinstance(sections, dict):
                continue
            arena = get_arena(name)
            task = arena.default_task()
            checks = {"evolution": lambda v, w: clean_values(SETTING_FIELDS, v, w),
                      "task": lambda v, w: clean_task(task, v, w),
                      "stress": lambda v, w: clean_values(run_fields(task), v, w),
                      "stress_task": lambda v, w: clean_task(task, v, w),
                      "mechanism": lambda v, w: clean_values(MECHANISM_FIELDS, v, w),
                      "insights": lambda v, w: clean_values(INSIGHT_FIELDS, v, w)}
            for section, check in checks.items():
                if section in sections:
                    prefs.set_section(name, section, check(sections[section], f"{name} {section}"))
        prefs.export_folder = _text(data.get("export_folder"))
        prefs.export = clean_export(data.get("export", {}))
        from lab.gui.layout import clean_sashes
        prefs.sashes = clean_sashes(data.get("sashes"))
        return prefs


def clean_export(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Export formats, dpi and size that the export options accept."""
    from lab.analysis.charts import SIZES
    from lab.analysis.export import FORMATS
    from lab.gui.widgets.chart_controls import DPI_FIELD
    out: dict[str, Any] = {}
    formats = stored.get("formats")
    if isinstance(formats, list) and formats and all(f in FORMATS for f in formats):
        out["formats"] = list(dict.fromkeys(formats))
    out.update(clean_values([DPI_FIELD], stored, "export"))
    if stored.get("size") in SIZES:
        out["size"] = stored["size"]
    return out


class SettingsFile:
    """The settings file: ``load`` (setting an unusable one aside) and atomic ``save``."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else settings_path()

    def load(self) -> tuple[Prefs, str | None]:
        """The stored settings (defaults when there is no file) and, when the file was unusable,
        one line saying what was wrong and where it was moved."""
        try:
            data = self._read()
            if data is None:
                return Prefs(), None
            return Prefs.from_dict(data), None
        except Unusable as exc:
            problem = str(exc)
        aside = self._set_aside()
        where = f"moved to {aside.name}" if aside else "it could not be moved aside"
        return Prefs(), f"settings file {self.path} {problem}; {where}, defaults are used"

    def _read(self) -> Any:
        if not os.path.lexists(self.path):
            return None
        try:
            return load_json(self.path, what="settings file", max_bytes=MAX_BYTES)
        except FileProblem as exc:
            raise Unusable(exc.problem) from None

    def _set_aside(self) -> Path | None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}"), 2
        while aside.exists():
            aside, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}"), n + 1
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            log.warning("could not move the settings file %s aside: %s", self.path, exc)
            return None
        return aside

    def save(self, prefs: Prefs) -> None:
        """Write the whole file atomically (normal permissions); OSError when the folder is not writable."""
        atomic_write_text(self.path, json.dumps(prefs.to_dict(), indent=2, sort_keys=True) + "\n")
