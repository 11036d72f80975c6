"""The M2N2 task: which data, the MLP's hidden width, the forward-pass budget and the success target.

``M2N2Task`` is content-hashed to a ``task_id`` like every arena's task. The default is the paper's
"MNIST" experiment: scikit-learn's bundled 8x8 digits (first 1,437 images train, last 360 test, raw
0-16 pixels) and a 64-256-10 MLP (19,210 parameters), 50,000 forward passes over the training set.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar


from lab.arenas.base import TaskConfig, data_task_problems
from lab.arenas.task_data import TaskData, load_tensors

DATASETS = ("digits", "mnist")


@dataclasses.dataclass(frozen=True)
class M2N2Task(TaskConfig):
    """Task settings of the M2N2 arena.

    ``passes`` is the budget in forward passes over the whole training set (one per child, as in
    the paper); ``target_acc`` is the test accuracy at which a run counts as a success, and the
    passes needed to reach it are its ``steps_to_grok`` (the lab's name for "steps to success"), so
    the Evolution Lab's landscapes and the Stress Chamber's charts read M2N2 runs as they read
    grokking runs. The reported model is the archive member with the best training accuracy.
    """

    CAP_FIELD: ClassVar[str] = "passes"
    CAP_LABEL: ClassVar[str] = "Budget (passes)"
    UNIT: ClassVar[str] = "passes"
    GOAL: ClassVar[str] = "reach the target"
    DONE: ClassVar[str] = "at target"
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "hidden": (1, 100_000), "passes": (1, 100_000_000), "target_acc": (0.001, 1.0), "eval_interval": (1, 1_000_000)}
    HELP: ClassVar[dict[str, str]] = {
        "dataset": "digits: scikit-learn's 8x8 digits (built in); mnist: a folder of MNIST IDX files.",
        "data_folder": "The folder of MNIST IDX files (dataset mnist only).",
        "passes": "Budget in forward passes over the training set (one per child).",
        "target_acc": "Test accuracy at which a run counts as a success.",
        "eval_interval": "Passes between test evaluations of the reported model."}

    dataset: str = "digits"
    data_folder: str = ""          # a folder of MNIST IDX files when dataset is "mnist"
    hidden: int = 256
    passes: int = 50_000
    target_acc: float = 0.85
    eval_interval: int = 250       # passes between test evaluations of the reported model

    def __post_init__(self) -> None:
        problems = data_task_problems(self, DATASETS, ("hidden", "passes", "eval_interval"))
        if problems:
            raise ValueError("invalid m2n2 task: " + "; ".join(problems))

    @property
    def step_cap(self) -> int:
        """The budget in the lab's common unit (a failed run counts against it in the landscapes)."""
        return self.passes


def load_task_data(task: M2N2Task, device: str = "cpu") -> TaskData:
    """The task's data on ``device`` (raw pixel values, as in the paper; cached per dataset)."""
    return load_tensors(task.dataset, task.data_folder, device, unit_scale=False)


def n_params(n_inputs: int, hidden: int, n_classes: int) -> int:
    """Parameters of the n_inputs-hidden-n_classes MLP (64-256-10: 19,210)."""
    return (n_inputs + 1) * hidden + (hidden + 1) * n_classes
