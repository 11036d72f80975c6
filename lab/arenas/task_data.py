"""A classification task's data as tensors on one device, shared by the M2N2 and GENREG arenas:
flattened float32 inputs, int64 labels, the class names and (for 2-D images) the image shape.
Loads are cached per (data set, folder, device, scaling), so trials of one task read their files once.
"""
from __future__ import annotations

import dataclasses
import functools

import torch


@dataclasses.dataclass(frozen=True, eq=False)
class TaskData:
    """Flattened float32 inputs and int64 labels on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    note: str = ""
    image_shape: tuple[int, int] | None = None   # (rows, cols) of one image, when inputs are 2-D images

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@functools.lru_cache(maxsize=8)
def load_tensors(dataset: str, folder: str, device: str, unit_scale: bool) -> TaskData:
    """``dataset`` (see lab.data) as a TaskData on ``device``: raw pixel values, or divided by the
    data set's ``pixel_max`` (so in [0, 1]) with ``unit_scale``."""
    from lab.data import load_dataset

    data = load_dataset(dataset, folder or None)
    scale = 1.0 / float(data.pixel_max) if unit_scale else None

    def x(a):
        t = torch.tensor(a.reshape(len(a), -1), dtype=torch.float32, device=device)
        return t * scale if scale is not None else t

    def y(a):
        return torch.tensor(a, dtype=torch.int64, device=device)

    shape = tuple(data.shape) if len(data.shape) == 2 else None
    return TaskData(x(data.x_train), y(data.y_train), x(data.x_test), y(data.y_test), tuple(data.classes),
                    data.note, shape)
