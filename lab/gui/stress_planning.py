"""The Stress Chamber's task and plan (the task chosen or edited, the seeds, what Smart Fill will
run) and its settings kept per arena and between sessions (part of lab.gui.stress_chamber)."""
from __future__ import annotations

import dataclasses
import tkinter as tk
from tkinter import ttk
from typing import Any

from lab.analysis.export import FORMATS
from lab.analysis.stress import StressPlan, plan_stress
from lab.arenas import arena_names, get_arena
from lab.arenas.base import TaskConfig, with_cap
from lab.gui.stress_layout import ARENA, describe_task, run_fields
from lab.gui.widgets.chart_controls import DPI_FIELD
from lab.gui.widgets.form import Form, FormError, follow_task_defaults, offer_devices, task_fields
from lab.registry import RegistryError
from lab.tasks import task_choices


class StressPlanning:
    # ---- settings kept per arena and between sessions (lab.gui.prefs) --------------------------
    def remember(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Keep the shown arena's settings in ``memory`` (returned): "stress" holds runs, first seed
        and device, "stress_task" the task settings (the budget included) that differ from the
        arena's defaults. A value being typed that is not valid yet is left out."""
        default_task = self.arena.default_task()
        form = {}
        for f in run_fields(default_task):
            if f.name == default_task.CAP_FIELD:
                continue
            try:
                value = f.parse(self.form.vars[f.name].get())
            except ValueError:
                continue
            if value != f.default:
                form[f.name] = value
        try:
            task = self._task(self.form.values())
        except ValueError:
            task = self.base_task
        overrides = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)
                     if isinstance(getattr(task, f.name), (bool, int, float, str))
                     and getattr(task, f.name) != getattr(default_task, f.name)}
        self.memory[self.arena.name] = {"stress": form, "stress_task": overrides}
        return self.memory

    def _show_remembered(self) -> None:
        remembered = self.memory.get(self.arena.name, {})
        default_task = self.arena.default_task()
        try:
            task = dataclasses.replace(default_task, **remembered.get("stress_task", {}))
        except (TypeError, ValueError):
            task = default_task
        self._build_form(task)
        for f in run_fields(default_task):
            if f.name != task.CAP_FIELD:
                self.form.set(f.name, remembered.get("stress", {}).get(f.name, f.default))
        offer_devices(self.form, self.arena.name)   # a remembered device the arena lacks falls back
        self.set_task(task)

    def load_prefs(self, prefs) -> None:
        """Show the stored settings (``prefs.Prefs``; defaults where none are stored)."""
        self.memory = prefs.arenas_section("stress", "stress_task")
        name = prefs.stress_arena if prefs.stress_arena in arena_names() else ARENA
        self.arena = get_arena(name)
        self.arena_name.set(name)
        self.choice.set_spec(self.arena.gene_spec.name)
        self._show_remembered()
        export = {"formats": list(FORMATS), "dpi": DPI_FIELD.default, "size": "single", **prefs.export}
        self.export_options.set_values(**export)

    def store_prefs(self, prefs) -> None:
        prefs.stress_arena = self.arena.name
        prefs.set_arenas_section(self.remember())
        try:
            prefs.export = self.export_options.values()
        except FormError:
            pass   # a half-typed dpi: the stored choice stands

    # ---- the task and the plan ---------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.chart_picker.kind

    def set_chart(self, kind: str) -> None:
        self.chart_picker.set_kind(kind)
        self.redraw()

    def set_task(self, task: TaskConfig) -> None:
        """Stress-test on ``task`` (its step cap stays editable); scripts and tests set a small one."""
        self.base_task = task
        if task.CAP_FIELD in self.form.vars:
            self.form.set(task.CAP_FIELD, getattr(task, task.CAP_FIELD))
        self._changed()

    def _refresh_task_choices(self, task: TaskConfig) -> None:
        try:
            self._task_choices = task_choices(self.app.registry, self.arena.name, include=task)
        except (OSError, RegistryError) as exc:
            self._task_choices = []
            self.app.status_message.set(f"tasks with trials: {exc}")
        self.task_box.configure(values=[c.label for c in self._task_choices])
        current = next((c.label for c in self._task_choices if c.task_id == task.task_id), "")
        self.task_choice.set(current)

    def choose_task(self, label: str) -> bool:
        """Show (and run on) the task offered as ``label`` in the tasks-with-trials list."""
        choice = next((c for c in self._task_choices if c.label == label), None)
        if choice is None:
            return False
        if self.running:
            self.app.show_error("Stress test", "A stress test is running: cancel it before switching tasks.")
            self.update_plan()
            return False
        if choice.task is None:
            self.app.show_error("Stress test", f"Task {choice.task_id} has {choice.trials} trial(s), but this "
                                               "registry does not know its settings (tasks.json), so it cannot be shown.")
            self.update_plan()
            return False
        self.set_task(choice.task)
        return True

    def edit_task(self) -> tk.Toplevel:
        """A small dialog with one validated field per task setting; OK applies a valid task."""
        dialog = tk.Toplevel(self.frame)
        dialog.title("Stress test task")
        dialog.transient(self.frame.winfo_toplevel())
        current = self._task(self.form.values()) if not self._form_problems() else self.base_task
        form = Form(dialog, task_fields(current), width=10)
        form.pack(fill="x", padx=10, pady=8)
        follow_task_defaults(form, current)

        def apply() -> None:
            try:
                task = dataclasses.replace(self.base_task, **form.values())
            except FormError as exc:
                self.app.show_error("Task", "\n".join(exc.problems))
                return
            except (ValueError, TypeError) as exc:
                self.app.show_error("Task", str(exc))
                return
            self.set_task(task)
            dialog.destroy()

        buttons = ttk.Frame(dialog)
        buttons.pack(fill="x", padx=10, pady=(0, 8))
        ttk.Button(buttons, text="OK", command=apply).pack(side="right")
        ttk.Button(buttons, text="Cancel", command=dialog.destroy).pack(side="right", padx=4)
        ttk.Button(buttons, text="Arena default", command=lambda: form.set_values(
            self.arena.default_task().to_dict())).pack(side="left")
        dialog.task_form, dialog.apply = form, apply  # for tests and scripts
        return dialog

    def _form_problems(self) -> bool:
        try:
            self.form.values()
        except FormError:
            return True
        return False

    def _task(self, values: dict[str, Any]) -> TaskConfig:
        if self.base_task.CAP_FIELD in values:
            return with_cap(self.base_task, values[self.base_task.CAP_FIELD])
        return self.base_task

    def _changed(self) -> None:
        self.update_plan()
        self.redraw_soon()

    def update_plan(self) -> StressPlan | None:
        """Smart Fill's count for the current choice and settings: X recorded, Y to run (cheap)."""
        self.plan = None
        try:
            values = self.form.values()
            task = self._task(values)
        except FormError as exc:
            return self._say_plan("; ".join(exc.problems), error=True)
        except ValueError as exc:
            return self._say_plan(str(exc), error=True)
        self.task_label.configure(text=f"Task {task.task_id}: {describe_task(task, self.arena.default_task())}")
        self._refresh_task_choices(task)
        self.task_tip.text = f"{self.arena.title}\n" + "\n".join(f"{k} = {v}" for k, v in task.to_dict().items())
        genomes = self.choice.genomes()
        if not genomes:
            return self._say_plan("Choose genomes to plan a stress test.")
        self.plan = plan_stress(self.app.registry, genomes, task, values["runs"], values["seed_start"])
        p = self.plan
        self._say_plan(f"{p.existing} trials already in the registry, {p.to_run} will run",
                       f"{len(p.genomes)} genome{'s' * (len(p.genomes) != 1)} \u00d7 seeds {p.seeds[0]}\u2013"
                       f"{p.seeds[-1]} = {p.total} trials")
        return p

    def _say_plan(self, text: str, detail: str = "", error: bool = False) -> None:
        self.plan_label.configure(text=text, foreground="#b00020" if error else "")
        self.plan_detail.configure(text=detail)
