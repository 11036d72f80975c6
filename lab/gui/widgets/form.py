"""A validated form: fields declared as data (name, label, kind, bounds or choices, help), laid out
in a grid, each with an inline message that names the problem and the bound. ``values()`` returns
the typed values or raises :class:`FormError` listing every problem, so callers (and tests) never
read raw widget text.
"""
from __future__ import annotations

import dataclasses
import math
import tkinter as tk
from tkinter import ttk
from typing import Any

from lab.gui.widgets.tooltip import Tooltip


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str                   # "int", "float", "choice", "text", "bool"
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def parse(self, raw: str) -> Any:
        """The typed value of ``raw``, or ValueError with a message a user can act on."""
        raw = raw.strip()
        if self.kind == "choice":
            if raw not in self.choices:
                raise ValueError(f"{self.label}: {raw!r} is not one of {', '.join(self.choices)}")
            return raw
        if self.kind == "text":
            return raw
        if self.kind == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError(f"{self.label}: {raw!r} is not true or false")
            return raw.lower() == "true"
        if self.kind == "int":
            try:
                value: float = int(raw)
            except ValueError:
                raise ValueError(f"{self.label}: {raw!r} is not a whole number") from None
        else:
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{self.label}: {raw!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{self.label}: {raw} is not a finite number")
        if self.low is not None and value < self.low:
            raise ValueError(f"{self.label}: {raw} is below its bound {self.low:g}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{self.label}: {raw} is above its bound {self.high:g}")
        return value


class FormError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class Form(ttk.Frame):
    """The fields of ``fields`` in a two-column grid (label, widget) with a message row under each."""

    def __init__(self, parent: tk.Misc, fields: list[Field], width: int = 8):
        super().__init__(parent)
        self.fields = {f.name: f for f in fields}
        self.vars: dict[str, tk.StringVar] = {}
        self.widgets: dict[str, ttk.Widget] = {}
        self.messages: dict[str, ttk.Label] = {}
        self.columnconfigure(1, weight=1)
        for row, f in enumerate(fields):
            label = ttk.Label(self, text=f.label)
            label.grid(row=2 * row, column=0, sticky="w", padx=(0, 6), pady=(1, 0))
            var = tk.StringVar(self, value=self._text(f.default))
            if f.kind == "choice":
                w = ttk.Combobox(self, textvariable=var, values=list(f.choices), state="readonly", width=width + 2)
            elif f.kind == "bool":
                w = ttk.Checkbutton(self, variable=var, onvalue="true", offvalue="false")
            elif f.kind == "int" and f.low is not None and f.high is not None:
                w = ttk.Spinbox(self, textvariable=var, from_=f.low, to=f.high, increment=1, width=width)
            else:
                w = ttk.Entry(self, textvariable=var, width=width + 2)
            w.grid(row=2 * row, column=1, sticky="w" if f.kind == "bool" else "ew", pady=(1, 0))
            msg = ttk.Label(self, text="", style="Error.TLabel", wraplength=260)
            msg.grid(row=2 * row + 1, column=0, columnspan=2, sticky="w")
            msg.grid_remove()
            if f.help:
                Tooltip(label, f.help)
                Tooltip(w, f.help)
            var.trace_add("write", lambda *_a, name=f.name: self.check(name))
            self.vars[f.name], self.widgets[f.name], self.messages[f.name] = var, w, msg

    @staticmethod
    def _text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"   # a check box's on and off values
        return f"{value:g}" if isinstance(value, float) else str(value)

    def check(self, name: str) -> str | None:
        """Validate one field now, show or clear its message; returns the problem or None."""
        try:
            self.fields[name].parse(self.vars[name].get())
        except ValueError as exc:
            self.messages[name].configure(text=str(exc))
            self.messages[name].grid()
            return str(exc)
        self.messages[name].configure(text="")
        self.messages[name].grid_remove()
        return None

    def set(self, name: str, value: Any) -> None:
        self.vars[name].set(self._text(value))

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.vars:
                self.set(name, value)

    def values(self) -> dict[str, Any]:
        problems, out = [], {}
        for name, f in self.fields.items():
            try:
                out[name] = f.parse(self.vars[name].get())
            except ValueError as exc:
                problems.append(str(exc))
            self.check(name)
        if problems:
            raise FormError(problems)
        return out

    def set_enabled(self, enabled: bool) -> None:
        for name, w in self.widgets.items():
            if self.fields[name].kind == "choice":
                w.configure(state="readonly" if enabled else "disabled")
            else:
                w.configure(state="normal" if enabled else "disabled")


DEVICE_HELP = "auto: the CUDA GPU when there is one, else the CPU. Only the devices the arena supports are offered."


def device_field(arena_name: str | None = None) -> Field:
    """The one Device field: the devices arena ``arena_name`` supports (``lab.arenas.device_choices``);
    with no arena, every device some arena supports (what stored settings are checked against)."""
    from lab.arenas import arena_names, device_choices
    names = [arena_name] if arena_name else arena_names()
    choices = tuple(dict.fromkeys(c for name in names for c in device_choices(name)))
    return Field("device", "Device", "choice", choices[0], choices=choices, help=DEVICE_HELP)


def offer_devices(form: Form, arena_name: str) -> None:
    """Make ``form``'s Device field offer what ``arena_name`` supports; a value no longer offered
    falls back to the first choice."""
    field = device_field(arena_name)
    form.fields["device"] = field
    form.widgets["device"].configure(values=list(field.choices))
    if form.vars["device"].get() not in field.choices:
        form.set("device", field.choices[0])
    form.check("device")


def task_fields(task: Any) -> list[Field]:
    """One field per scalar field of an arena's task dataclass, defaulting to the arena's value.
    Fields the task class lists in ``CHOICES`` are read-only choices from that same table (the
    tuples its validation checks against); ``BOUNDS`` and ``HELP`` give the rest their bounds and
    help, so a wrong value is named as it is typed, not at Start."""
    choices = getattr(type(task), "CHOICES", {})
    bounds = getattr(type(task), "BOUNDS", {})
    helps = getattr(type(task), "HELP", {})
    out = []
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else \
            "float" if isinstance(value, float) else "text" if isinstance(value, str) else None
        if not kind:
            continue
        options: tuple[str, ...] = ()
        if f.name in choices:
            options = tuple(choices[f.name])
            if str(value) not in options:          # a value set by hand stays offered
                options = (str(value),) + options
            kind = "choice"
        low, high = bounds.get(f.name, (None, None))
        label = type(task).label(f.name) if hasattr(type(task), "label") else f.name.replace("_", " ")
        out.append(Field(f.name, label, kind, value, low, high, options,
                         helps.get(f.name, "")))
    return out


def follow_task_defaults(form: Form, task: Any) -> None:
    """Where the task class resolves per-task defaults (NEAT's ``for_task``: budget, fitness, target
    and activations depend on the data set), choosing another ``task`` in ``form`` sets those
    fields to the new task's own values."""
    cls = type(task)
    if "task" not in form.vars or not hasattr(cls, "for_task"):
        return

    def changed(*_a) -> None:
        try:
            resolved = cls.for_task(form.vars["task"].get())
        except (ValueError, TypeError):
            return
        for name in ("generations", "fitness", "target_acc", "activations"):
            if name in form.vars:
                form.set(name, getattr(resolved, name))
    form.vars["task"].trace_add("write", changed)
