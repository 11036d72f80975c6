"""MNIST from its IDX files (the four official names, gzipped or not), parsed with numpy alone.

A folder with only the t10k files (the shared test data holds just those) is split into train and held-out
test at ``test_split``, and the Dataset's note says so.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from lab.data import DIGIT_CLASSES, MAX_DATA_BYTES, DataError, Dataset, read_data_file

# IDX type code -> element type (big-endian on disk)
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

# key -> (stem, kind): the official name is f"{stem}-{kind}"; "." for the last "-" and ".gz" are accepted too
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images", "idx3-ubyte"),
    "train_labels": ("train-labels", "idx1-ubyte"),
    "test_images": ("t10k-images", "idx3-ubyte"),
    "test_labels": ("t10k-labels", "idx1-ubyte"),
}
MNIST_FILE_NAMES: dict[str, tuple[str, ...]] = {  # key -> accepted names, official first, plain before gzip
    key: (f"{stem}-{kind}", f"{stem}.{kind}", f"{stem}-{kind}.gz", f"{stem}.{kind}.gz")
    for key, (stem, kind) in MNIST_FILES.items()
}
MNIST_IMAGE_SHAPE = (28, 28)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in an IDX file (plain or gzip, told apart by content), in native byte order."""
    path = Path(path)
    raw = read_data_file(path)
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, path)
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, an IDX header alone is at least 4")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file: it starts with {raw[:4].hex(' ')}, "
                        f"an IDX file with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path} has the unknown IDX element type 0x{code:02X} "
                        f"(known: {', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)})")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated inside its header: {ndim} dimensions need {header_size} bytes, "
                        f"the file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = _IDX_DTYPES[code]
    count = math.prod(dims)
    expected, found = count * dtype.itemsize, len(raw) - header_size
    if found != expected:
        problem = "is truncated" if found < expected else "has extra bytes after its data"
        raise DataError(f"{path} {problem}: its header declares {' x '.join(map(str, dims)) or 'a scalar'} "
                        f"of {dtype.name} = {expected} bytes of data, the file holds {found}")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header_size).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _gunzip(raw: bytes, path: Path) -> bytes:
    """One gzip stream unpacked, refused once it passes MAX_DATA_BYTES (a small file can unpack to gigabytes)."""
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = unpacker.decompress(raw, MAX_DATA_BYTES + 1)
    except zlib.error as exc:
        raise DataError(f"{path} is a damaged gzip file: {exc}") from None
    if len(out) > MAX_DATA_BYTES:
        raise DataError(f"{path} unpacks to more than {MAX_DATA_BYTES >> 20} MiB; it was not read")
    if not unpacker.eof:
        raise DataError(f"{path} is a damaged gzip file: it ends before its compressed data does")
    if unpacker.unused_data.strip(b"\0"):
        raise DataError(f"{path} is a damaged gzip file: it has {len(unpacker.unused_data)} bytes after its data")
    return out


def find_mnist_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """The MNIST files present in ``folder``, by key (train_images, train_labels, test_images, test_labels)."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for key, names in MNIST_FILE_NAMES.items():
        for name in names:
            if (folder / name).is_file():
                found[key] = folder / name
                break
    return found


def load_mnist(folder: str | os.PathLike[str], *, test_split: int = 8000) -> Dataset:
    """MNIST from ``folder``: train and t10k files as published, or only t10k split at ``test_split``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist" if not folder.exists()
                        else f"MNIST folder {folder} is a file, not a folder")
    files = find_mnist_files(folder)
    if not files:
        expected = ", ".join(names[0] for names in MNIST_FILE_NAMES.values())
        raise DataError(f"{folder} holds no MNIST files: expected {expected} "
                        f"(gzipped or not, or with '.' before idx)")
    for part in ("train", "test"):
        images, labels = files.get(f"{part}_images"), files.get(f"{part}_labels")
        if (images is None) != (labels is None):
            have, lacking = (images, "labels") if labels is None else (labels, "images")
            raise DataError(f"{folder} has {have.name} but not the matching {part} {lacking} file "
                            f"({MNIST_FILE_NAMES[f'{part}_{lacking}'][0]})")
    if "test_images" not in files:
        raise DataError(f"{folder} has the MNIST training files but not the t10k test files "
                        f"({MNIST_FILE_NAMES['test_images'][0]}, {MNIST_FILE_NAMES['test_labels'][0]})")
    x_test, y_test = _read_split(files["test_images"], files["test_labels"])
    if "train_images" in files:
        x_train, y_train = _read_split(files["train_images"], files["train_labels"])
        note = ""
    else:
        if not 0 < test_split < len(x_test):
            raise DataError(f"{files['test_images']} holds {len(x_test)} images: test_split={test_split} "
                            f"leaves no training or no held-out images")
        x_train, y_train = x_test[:test_split], y_test[:test_split]
        x_test, y_test = x_test[test_split:], y_test[test_split:]
        note = (f"MNIST test split only: first {len(x_train)} for training, "
                f"last {len(x_test)} held out")
    return Dataset(name="mnist", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   classes=DIGIT_CLASSES, pixel_max=255.0, note=note)


def _read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [N, 28, 28] (raw 0..255) and labels int64 [N], checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != MNIST_IMAGE_SHAPE:
        raise DataError(f"{images_path} holds {images.dtype} {list(images.shape)}, "
                        f"not MNIST images (uint8 [N, 28, 28])")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path} holds {labels.dtype} {list(labels.shape)}, not MNIST labels (uint8 [N])")
    if len(labels) != len(images):
        raise DataError(f"{labels_path} has {len(labels)} labels but {images_path.name} has {len(images)} images")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path} has the label {labels.max()}: MNIST labels are 0..9")
    return images.astype(np.float32), labels.astype(np.int64)
