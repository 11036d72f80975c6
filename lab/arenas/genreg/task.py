"""The GENREG task: which data, the generation budget and the success target.

Inputs are scaled to [0, 1] (pixel / pixel_max). The default is scikit-learn's bundled digits (8x8,
64 inputs, the paper split of lab.data); MNIST comes from a folder of IDX files, and the rendered
capital letters from lab.data.alphabet.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar


from lab.arenas.base import TaskConfig, data_task_problems
from lab.arenas.task_data import TaskData, load_tensors

DATASETS = ("digits", "mnist", "letters", "letters-augmented")
SAMPLINGS = ("softmax", "argmax")


@dataclasses.dataclass(frozen=True)
class GenregTask(TaskConfig):
    """Task settings of the GENREG arena.

    A run evolves for ``generations`` generations; every ``eval_interval`` generations the genome
    with the highest trust is evaluated on the held-out test split (argmax predictions). A run
    succeeds (status ``ok``) when that accuracy reaches ``target_acc``; the generations it took are
    its ``steps_to_grok`` (the lab's "budget used to succeed"). ``sampling`` is how a genome answers
    during evolution: drawn from its softmax (the published code) or its argmax; ``crossover`` turns
    on the two-parent uniform crossover of the later published code.
    """

    CAP_FIELD: ClassVar[str] = "generations"
    CAP_LABEL: ClassVar[str] = "Budget (generations)"
    UNIT: ClassVar[str] = "generations"
    GOAL: ClassVar[str] = "reach the target"
    DONE: ClassVar[str] = "at target"
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS, "sampling": SAMPLINGS}
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "generations": (1, 10_000_000), "target_acc": (0.001, 1.0), "eval_interval": (1, 1_000_000)}
    HELP: ClassVar[dict[str, str]] = {
        "dataset": "digits: scikit-learn's 8x8 digits; mnist: a folder of MNIST IDX files; letters: capital "
                   "letters rendered with matplotlib's fonts (augmented: shifted and rotated copies).",
        "data_folder": "The folder of MNIST IDX files (dataset mnist only).",
        "sampling": "How a genome answers during evolution: drawn from its softmax (published) or its argmax.",
        "target_acc": "Test accuracy at which a run counts as a success.",
        "crossover": "Two-parent uniform crossover (the later published code)."}

    dataset: str = "digits"
    data_folder: str = ""
    generations: int = 300
    target_acc: float = 0.8
    eval_interval: int = 10
    sampling: str = "softmax"
    crossover: bool = False

    def __post_init__(self) -> None:
        problems = data_task_problems(self, DATASETS, ("generations", "eval_interval"))
        if self.sampling not in SAMPLINGS:
            problems.append(f"sampling {self.sampling!r} is not softmax or argmax")
        if not isinstance(self.crossover, bool):
            problems.append(f"crossover must be true or false, got {self.crossover!r}")
        if problems:
            raise ValueError("invalid genreg task: " + "; ".join(problems))

    @property
    def step_cap(self) -> int:
        return self.generations


def load_genreg_data(task: GenregTask, device: str = "cpu") -> TaskData:
    """The task's data on ``device``, inputs scaled to [0, 1] (cached per dataset)."""
    return load_tensors(task.dataset, task.data_folder, device, unit_scale=True)
