"""Which tasks the registry's trials were run on, and what each task is.

A trial names its task by ``task_id``, a hash of the task's settings, so trials run at another step
cap (or any other setting) belong to another task and views that show one task's trials would
silently show none of them. The registry therefore remembers each task that trials were run on, in
``tasks.json`` (task_id -> its arena's task class and settings), and every view that shows trials
says which task it shows and offers the tasks that have trials (``task_choices``).

``tasks.json`` is only a memory for naming tasks: a missing, unreadable or hostile file is named in
one log line and the views fall back to the arenas' default tasks and bare task ids.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

from lab.files import atomic_write_text
from lab.safe_read import FileProblem, load_json

log = logging.getLogger("lab.tasks")
TASKS_FILE = "tasks.json"
MAX_TASKS_BYTES = 4 << 20
DEFAULT_TEXT = "the arena's default task"


@dataclasses.dataclass(frozen=True)
class TaskChoice:
    """A task a view can show: its id, its arena, how many trials it has and a short description."""

    task_id: str
    arena: str
    trials: int
    text: str
    task: Any = None          # the TaskConfig, where the registry remembers its settings

    @property
    def label(self) -> str:
        """What a picker shows: what sets the task apart first (a narrow box still shows it), then
        the trials and the id, e.g. ``step cap 600: 36 trials [186e3c07dc1b]``."""
        short = self.text.removeprefix(f"{DEFAULT_TEXT} with ")
        short = "default task" if short == DEFAULT_TEXT else short
        return f"{short}: {self.trials} trial{'s' * (self.trials != 1)} [{self.task_id}]"


def _task_classes() -> dict[str, tuple[str, type]]:
    """task class name -> (arena name, class), from the registered arenas."""
    from lab.arenas import arena_names, get_arena
    out = {}
    for name in arena_names():
        cls = type(get_arena(name).default_task())
        out[cls.__name__] = (name, cls)
    return out


def _read(registry) -> dict[str, dict[str, Any]] | None:
    """The remembered tasks, or None (with a warning) when the file is there but unusable."""
    path = registry.root / TASKS_FILE
    if not os.path.lexists(path):
        return {}
    try:
        data = load_json(path, what="task list", max_bytes=MAX_TASKS_BYTES, inside=registry.root)
    except FileProblem as exc:
        log.warning("%s; tasks are shown by id and the file is left as it is", exc)
        return None
    if not isinstance(data, dict):
        log.warning("%s: not a JSON object; tasks are shown by id and the file is left as it is", path)
        return None
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)}


def remember(registry, task: Any) -> None:
    """Note ``task``'s settings under its task_id (once; under the registry's lock)."""
    try:
        with registry._acquire():
            known = _read(registry)
            if known is None or task.task_id in known:   # never overwrite a file it could not read
                return
            known[task.task_id] = {"class": type(task).__name__, "settings": task.to_dict()}
            atomic_write_text(registry.root / TASKS_FILE, json.dumps(known, indent=1, sort_keys=True) + "\n")
    except OSError as exc:  # a memory for naming tasks: never worth failing a run
        log.warning("could not note task %s in %s: %s", task.task_id, registry.root / TASKS_FILE, exc)


def known_tasks(registry) -> dict[str, tuple[str, Any]]:
    """task_id -> (arena, task) for the arenas' default tasks and every task the registry remembers."""
    classes = _task_classes()
    out: dict[str, tuple[str, Any]] = {}
    for arena, cls in classes.values():
        task = cls()
        out[task.task_id] = (arena, task)
    for task_id, entry in (_read(registry) or {}).items():
        found = classes.get(str(entry.get("class")))
        settings = entry.get("settings")
        if found is None or not isinstance(settings, dict):
            continue
        try:
            task = found[1](**settings)
        except (TypeError, ValueError):
            continue
        if task.task_id == task_id:  # settings edited by hand are not this task any more
            out[task_id] = (found[0], task)
    return out


def describe(task: Any, default: Any) -> str:
    """``task`` in words, against its arena's ``default`` task: "the arena's default task", or the
    default task with the settings that differ (the budget included)."""
    base = default.to_dict()
    cap_field = getattr(type(task), "CAP_FIELD", "")
    cap_label = getattr(type(task), "CAP_LABEL", "step cap").lower()
    changed = [f"{cap_label if k == cap_field else k.replace('_', ' ')} {v}"
               for k, v in task.to_dict().items() if base.get(k) != v]
    return DEFAULT_TEXT + (f" with {', '.join(changed)}" if changed else "")


def trial_counts(registry, genome_ids: Iterable[str] | None = None) -> Counter:
    """task_id -> finished trials (of ``genome_ids``, or of every genome)."""
    ids = set(genome_ids) if genome_ids is not None else None
    return Counter(t.task_id for t in registry.trials() if ids is None or t.genome_id in ids)


def task_choices(registry, arena: str | None = None, genome_ids: Iterable[str] | None = None,
                 include: Any = None) -> list[TaskChoice]:
    """The tasks that have trials (of ``genome_ids``; of ``arena``'s tasks where it is known), most
    trials first, plus ``include`` (a task to offer even without trials, e.g. the one a form shows)."""
    from lab.arenas import get_arena
    counts = trial_counts(registry, genome_ids)
    known = known_tasks(registry)
    arena_of = {t.task_id: t.arena for t in registry.trials() if t.arena}
    out: dict[str, TaskChoice] = {}
    for task_id, n in counts.items():
        owner, task = known.get(task_id, (arena_of.get(task_id, ""), None))
        if arena is not None and owner and owner != arena:
            continue
        if task is not None:
            text = describe(task, get_arena(owner).default_task())
        else:
            text = "a task whose settings this registry does not know"
        out[task_id] = TaskChoice(task_id, owner, n, text, task)
    if include is not None and include.task_id not in out:
        owner = known.get(include.task_id, (arena or "", None))[0] or (arena or "")
        default = get_arena(owner).default_task() if owner else include
        out[include.task_id] = TaskChoice(include.task_id, owner, 0, describe(include, default), include)
    return sorted(out.values(), key=lambda c: (-c.trials, c.task_id))
