"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, pixel values 0..16): the default data set.

Nothing is downloaded. The split is the M2N2 paper's: the first 80% in scikit-learn's order train, the rest test.
"""
from __future__ import annotations

import functools

import numpy as np

from lab.data import DIGIT_CLASSES, Dataset


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [1797, 8, 8] and labels int64 [1797], read-only: every Dataset shares them."""
    from sklearn.datasets import load_digits as sklearn_load_digits  # ~1 s to import; only when asked for

    bunch = sklearn_load_digits()
    images = bunch.images.astype(np.float32)
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_digits(train_fraction: float = 0.8) -> Dataset:
    """The digits, the first ``int(1797 * train_fraction)`` images (1,437 at 0.8) for training, no shuffling.

    The arrays are read-only views of one cached copy; callers that need to change them copy first.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1 (exclusive), not {train_fraction}")
    images, labels = _digits_arrays()
    n_train = int(len(images) * train_fraction)
    if n_train == 0 or n_train == len(images):
        raise ValueError(f"train_fraction {train_fraction} leaves an empty train or test split of {len(images)}")
    return Dataset(name="digits", x_train=images[:n_train], y_train=labels[:n_train],
                   x_test=images[n_train:], y_test=labels[n_train:], classes=DIGIT_CLASSES, pixel_max=16.0)
