"""Image data sets the arenas train on: scikit-learn's bundled 8x8 digits, MNIST and CIFAR-10.

Every loader returns a :class:`Dataset` of raw pixel values; user files are parsed, never unpickled,
and anything wrong with them is a :class:`DataError` whose message names the file and the problem.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

# name -> (module, loader, needs a folder). The one list of data sets: CLI choices and errors read it.
_LOADERS: dict[str, tuple[str, str, bool]] = {
    "digits": ("lab.data.digits", "load_digits", False),
    "mnist": ("lab.data.idx", "load_mnist", True),
    "cifar10": ("lab.data.cifar", "load_cifar10", True),
    "letters": ("lab.data.alphabet", "load_letters_clean", False),
    "letters-augmented": ("lab.data.alphabet", "load_letters_augmented", False),
}
DATASET_NAMES: tuple[str, ...] = tuple(_LOADERS)
MAX_DATA_BYTES = 512 * 2**20   # one data file, and what a gzipped one unpacks to (MNIST's largest: 47 MiB)


class DataError(ValueError):
    """A data folder or file is missing, unreadable or malformed (message names it)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of labelled images, pixel values raw (0..``pixel_max``), not normalised."""

    name: str                 # "digits", "mnist", "cifar10"
    x_train: np.ndarray       # float32 [N, *shape]; images keep their shape, callers flatten
    y_train: np.ndarray       # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]  # class names, index = label
    pixel_max: float          # 16.0 for digits, 255.0 for MNIST and CIFAR-10
    note: str = ""            # how the split was made when it is not the published one

    def __post_init__(self) -> None:
        where = f"data set {self.name!r}"
        if not self.classes:
            raise DataError(f"{where} has no classes")
        if not self.pixel_max > 0:
            raise DataError(f"{where}: pixel_max must be positive, not {self.pixel_max}")
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.dtype != np.float32 or x.ndim < 2:
                raise DataError(f"{where}: x_{split} must be float32 [N, ...], not {x.dtype} {list(x.shape)}")
            if y.dtype != np.int64 or y.ndim != 1:
                raise DataError(f"{where}: y_{split} must be int64 [N], not {y.dtype} {list(y.shape)}")
            if len(x) != len(y):
                raise DataError(f"{where}: {len(x)} {split} images but {len(y)} {split} labels")
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise DataError(f"{where}: {split} labels run {y.min()}..{y.max()}, "
                                f"outside 0..{len(self.classes) - 1} for its {len(self.classes)} classes")
        if self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise DataError(f"{where}: test images are {list(self.x_test.shape[1:])}, "
                            f"train images {list(self.x_train.shape[1:])}")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (8, 8) or (3, 32, 32)."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        return math.prod(self.shape)

    def flat_train(self) -> np.ndarray:
        """``x_train`` as float32 [N, n_features] (a view where the layout allows)."""
        return self.x_train.reshape(len(self.x_train), self.n_features)

    def flat_test(self) -> np.ndarray:
        return self.x_test.reshape(len(self.x_test), self.n_features)


def load_dataset(name: str, folder: str | os.PathLike[str] | None = None, **kw: Any) -> Dataset:
    """The data set ``name`` (one of :data:`DATASET_NAMES`); MNIST and CIFAR-10 read ``folder``, digits ignore it."""
    if name not in _LOADERS:
        raise DataError(f"unknown data set {name!r}: choose one of {', '.join(DATASET_NAMES)}")
    module, function, needs_folder = _LOADERS[name]
    # imported here: the loaders import this module, and digits alone pulls in scikit-learn
    loader = getattr(importlib.import_module(module), function)
    if not needs_folder:
        return loader(**kw)
    if folder is None:
        raise DataError(f"data set {name!r} needs a folder holding its files (none given)")
    return loader(folder, **kw)


def read_data_file(path: Path) -> bytes:
    """All bytes of ``path``, or a :class:`DataError` saying why it cannot be read."""
    from lab.safe_read import FileProblem, read_bytes
    try:
        return read_bytes(path, max_bytes=MAX_DATA_BYTES, what="data file")
    except FileProblem as exc:
        raise DataError(f"{exc.where} {exc.problem}") from None
