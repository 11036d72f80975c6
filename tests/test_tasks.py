"""Which task trials are on: the registry remembers tasks, views describe them and offer those
with trials (trials at another step cap are another task's and must not vanish without a word)."""
from __future__ import annotations

import os

from lab.arenas import get_arena
from lab.arenas.base import TrialResult, with_cap
from lab.arenas.grokking.task import GrokTask
from lab.arenas.m2n2.task import M2N2Task
from lab.gui.widgets.form import task_fields
from lab.tasks import TASKS_FILE, describe, known_tasks, remember, task_choices


def _trial(genome: str, task, seed: int, arena: str = "grokking") -> TrialResult:
    return TrialResult(genome, task.task_id, seed, "ok", {"steps_to_grok": 100 + seed}, arena=arena)


def test_describe_names_every_setting_that_differs_the_budget_included():
    default = GrokTask()
    assert describe(default, default) == "the arena's default task"
    assert describe(with_cap(default, 600), default) == "the arena's default task with step cap 600"
    assert describe(GrokTask(step_cap=600, modulus=59), default) == \
        "the arena's default task with modulus 59, step cap 600"
    assert describe(M2N2Task(passes=3000), M2N2Task()) == "the arena's default task with budget (passes) 3000"


def test_tasks_with_trials_are_offered_most_first_and_described(registry):
    default, capped = GrokTask(), with_cap(GrokTask(), 600)
    remember(registry, capped)
    registry.record_trials([_trial("a" * 16, capped, s) for s in range(3)] + [_trial("b" * 16, default, 0)])
    choices = task_choices(registry, "grokking")
    assert [(c.task_id, c.trials) for c in choices] == [(capped.task_id, 3), (default.task_id, 1)]
    assert choices[0].task == capped and "step cap 600" in choices[0].label and "3 trials" in choices[0].label
    assert choices[1].text == "the arena's default task"
    # per genome: only the tasks that genome has trials on; another arena's tasks are left out
    assert [c.task_id for c in task_choices(registry, "grokking", ["b" * 16])] == [default.task_id]
    assert task_choices(registry, "m2n2") == []
    # a task to show even without trials (the one a form is set to)
    other = with_cap(GrokTask(), 900)
    assert task_choices(registry, "grokking", include=other)[-1].task_id == other.task_id


def test_a_task_the_registry_does_not_know_is_still_offered_by_id(registry):
    unknown = GrokTask(step_cap=777)           # trials recorded, settings never remembered
    registry.record_trials([_trial("a" * 16, unknown, 0)])
    (choice,) = task_choices(registry, "grokking")
    assert choice.task_id == unknown.task_id and choice.task is None and "does not know" in choice.text


def test_remember_writes_once_with_normal_permissions_and_survives_a_hostile_file(registry, caplog):
    old = os.umask(0o022)
    try:
        task = with_cap(GrokTask(), 600)
        remember(registry, task)
        remember(registry, task)
        path = registry.root / TASKS_FILE
        assert oct(path.stat().st_mode & 0o777) == oct(0o644)
        assert known_tasks(registry)[task.task_id] == ("grokking", task)
        # hand-edited settings no longer hash to their id: not that task any more
        path.write_text(path.read_text().replace('"step_cap": 600', '"step_cap": 601'))
        assert task.task_id not in known_tasks(registry)
        for hostile in ("[" * 100_000, "{not json", "[]", '{"x": 1}', "\ud800"):
            path.write_text(hostile, encoding="utf-8", errors="surrogatepass")
            known = known_tasks(registry)           # the arenas' defaults stay known
            assert GrokTask().task_id in known and M2N2Task().task_id in known
    finally:
        os.umask(old)
    assert any("tasks.json" in r.message for r in caplog.records)


def test_form_fields_offer_the_choices_the_task_validates_against():
    fields = {f.name: f for f in task_fields(GrokTask())}
    assert fields["operation"].kind == "choice" and fields["operation"].choices == ("+", "-", "*", "/")
    assert fields["step_cap"].label == "Step cap" and fields["step_cap"].low == 1
    neat = {f.name: f for f in task_fields(get_arena("neat").default_task())}
    assert neat["task"].kind == "choice" and "spiralz" not in neat["task"].choices
    assert neat["fitness"].choices == ("classic", "backprop")
    assert neat["generations"].default == 100 and neat["target_acc"].default == 1.0   # resolved, not 0 ("auto")
    assert fields["d_model"].label == "Model width" and fields["train_fraction"].label == "Train fraction"
    assert fields["d_model"].help, "a renamed field still says what it is"
    genreg = {f.name: f for f in task_fields(get_arena("genreg").default_task())}
    assert genreg["sampling"].choices == ("softmax", "argmax") and genreg["dataset"].kind == "choice"


def test_every_task_field_label_is_words_starting_with_a_capital():
    from lab.arenas import arena_names
    for name in arena_names():
        for f in task_fields(get_arena(name).default_task()):
            assert "_" not in f.label.split("(")[0] and f.label[0].isupper(), (name, f.name, f.label)
