"""Data sets: the digits split and its cache, IDX files, MNIST folders, CIFAR batches read without unpickling.

Every file here is synthetic and written by the test (tests may pickle; lab code never unpickles), except the
shared MNIST test split, which is read where it lies ($MNIST_DIR, else ../shared/data/mnist) and never copied.
"""
from __future__ import annotations

import gzip
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import find_shared_data

from lab.data import DATASET_NAMES, DataError, Dataset, load_dataset
from lab.data.cifar import CIFAR10_CLASSES, load_cifar10, read_python_batch
from lab.data.digits import load_digits
from lab.data.idx import find_mnist_files, load_mnist, read_idx

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
             np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}
# per-digit counts of the official MNIST test split (its README)
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---- digits -------------------------------------------------------------------------------------
def test_digits_are_split_as_in_the_paper():
    from sklearn.datasets import load_digits as sklearn_load_digits
    reference = sklearn_load_digits()
    ds = load_digits()
    assert (len(ds.x_train), len(ds.x_test)) == (1437, 360)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.shape == (8, 8) and ds.n_features == 64 and ds.flat_train().shape == (1437, 64)
    assert ds.n_classes == 10 and ds.classes == tuple("0123456789") and ds.pixel_max == 16.0
    np.testing.assert_array_equal(ds.x_train[0], reference.images[0])
    np.testing.assert_array_equal(ds.x_test[0], reference.images[1437])
    np.testing.assert_array_equal(np.concatenate([ds.y_train, ds.y_test]), reference.target)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 16 and ds.x_test.max() <= 16


def test_digits_cache_cannot_be_corrupted_by_a_caller():
    ds = load_digits()
    first = ds.x_train[0].copy()
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0] = 99
    with pytest.raises(ValueError):
        ds.flat_train()[0, 0] = 99
    with pytest.raises(ValueError):
        ds.y_test[0] = 3
    with pytest.raises(ValueError):
        ds.x_train.flags.writeable = True
    np.testing.assert_array_equal(load_digits().x_train[0], first)
    assert len(load_digits(0.5).x_train) == 898
    with pytest.raises(ValueError, match="train_fraction"):
        load_digits(1.0)


# ---- IDX ----------------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool | None = None) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if (path.name.endswith(".gz") if gz is None else gz) else data)
    return path


ROUND_TRIP = {
    "uint8 3d": np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    "int8 1d": np.array([-128, -1, 0, 127], dtype=np.int8),
    "int16 2d": np.array([[-300, 2], [32767, -32768]], dtype=np.int16),
    "int32 2d": np.array([[-70000, 1, 2_000_000_000]], dtype=np.int32),
    "float32 1d": np.array([0.5, -1e30, np.inf], dtype=np.float32),
    "float64 3d": np.linspace(-1, 1, 8).reshape(2, 2, 2),
    "empty": np.zeros((0, 28, 28), dtype=np.uint8),
}


@pytest.mark.parametrize("name", ["plain-idx", "zipped-idx.gz"])
@pytest.mark.parametrize("case", ROUND_TRIP)
def test_idx_round_trip(tmp_path, case, name):
    array = ROUND_TRIP[case]
    back = read_idx(write_idx(tmp_path / name, array))
    assert back.dtype == array.dtype and back.dtype.isnative and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_gzip_is_told_apart_by_content_not_name(tmp_path):
    array = ROUND_TRIP["int16 2d"]
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "zipped-no-suffix", array, gz=True)), array)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "plain-named.gz", array, gz=False)), array)


_HEADER_2x3 = b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3)
BAD_IDX = {
    "truncated header": (b"\x00\x00", "truncated"),
    "truncated sizes": (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated inside its header"),
    "bad magic": (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    "unknown type": (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX element type 0x07"),
    "data too short": (_HEADER_2x3 + bytes(5), "truncated"),
    "data too long": (_HEADER_2x3 + bytes(7), "extra bytes"),
    "corrupt gzip": (b"\x1f\x8b\x08\x00" + b"not really deflate data" * 3, "damaged gzip"),
    "truncated gzip": (gzip.compress(_HEADER_2x3 + bytes(6))[:-12], "damaged gzip"),
}


@pytest.mark.parametrize("case", BAD_IDX)
def test_bad_idx_files_are_refused_by_name(tmp_path, case):
    content, problem = BAD_IDX[case]
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_idx_file_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        read_idx(tmp_path / "nowhere-idx1-ubyte.gz")
    assert "nowhere-idx1-ubyte.gz" in str(info.value)


# ---- MNIST --------------------------------------------------------------------------------------
def write_mnist(folder: Path, split: str, n: int, *, style: str = "-", gz: bool = False,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n synthetic 28x28 images and labels as ``split`` ("train" or "t10k") files named in ``style``."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{split}-images{style}idx3-ubyte{suffix}", images)
    write_idx(folder / f"{split}-labels{style}idx1-ubyte{suffix}", labels)
    return images, labels


def test_mnist_folder_with_train_and_test_files(tmp_path):
    train_x, train_y = write_mnist(tmp_path, "train", 12, style=".", seed=1)
    test_x, test_y = write_mnist(tmp_path, "t10k", 5, gz=True, seed=2)
    assert set(find_mnist_files(tmp_path)) == {"train_images", "train_labels", "test_images", "test_labels"}
    ds = load_mnist(tmp_path)
    assert ds.name == "mnist" and ds.note == "" and ds.pixel_max == 255.0 and ds.shape == (28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.n_classes == 10
    np.testing.assert_array_equal(ds.x_train, train_x)
    np.testing.assert_array_equal(ds.y_train, train_y)
    np.testing.assert_array_equal(ds.x_test, test_x)
    np.testing.assert_array_equal(ds.y_test, test_y)


def test_mnist_folder_with_only_the_test_files_is_split(tmp_path):
    x, y = write_mnist(tmp_path, "t10k", 10, gz=True)
    assert set(find_mnist_files(tmp_path)) == {"test_images", "test_labels"}
    ds = load_mnist(tmp_path, test_split=7)
    assert (len(ds.x_train), len(ds.x_test)) == (7, 3)
    np.testing.assert_array_equal(ds.x_train, x[:7])
    np.testing.assert_array_equal(ds.y_test, y[7:])
    assert "first 7 for training" in ds.note and "last 3 held out" in ds.note
    with pytest.raises(DataError, match="test_split=10") as info:
        load_mnist(tmp_path, test_split=10)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)


def _shared_mnist_folder() -> Path | None:
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"])
    shared = find_shared_data()
    return None if shared is None else shared / "mnist"


def test_shared_mnist_test_split_loads_as_8000_and_2000():
    folder = _shared_mnist_folder()
    if folder is None or not folder.is_dir():
        pytest.skip("no MNIST folder ($MNIST_DIR or ../shared/data/mnist)")
    ds = load_dataset("mnist", folder)
    assert ds.x_train.shape == (8000, 28, 28) and ds.x_test.shape == (2000, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() == 255.0 and ds.x_train.min() == 0.0
    assert "first 8000 for training" in ds.note
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
    assert counts.tolist() == MNIST_TEST_COUNTS


def test_mnist_folder_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        load_mnist(tmp_path / "no-such-folder")
    assert "no-such-folder" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no MNIST files") as info:
        load_mnist(tmp_path / "empty")
    assert "t10k-images-idx3-ubyte" in str(info.value) and "train-labels-idx1-ubyte" in str(info.value)

    write_mnist(tmp_path / "no-labels", "t10k", 3)
    (tmp_path / "no-labels" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte but not the matching test labels"):
        load_mnist(tmp_path / "no-labels", test_split=1)

    write_mnist(tmp_path / "train-only", "train", 3)
    with pytest.raises(DataError, match="not the t10k test files"):
        load_mnist(tmp_path / "train-only")


@pytest.mark.parametrize("images, labels, problem", [
    (np.zeros((3, 28, 27), np.uint8), np.zeros(3, np.uint8), "t10k-images-idx3-ubyte holds uint8 .3, 28, 27."),
    (np.zeros((3, 28, 28), np.int32), np.zeros(3, np.uint8), "not MNIST images"),
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 10, 1], np.uint8), "t10k-labels-idx1-ubyte has the label 10"),
    (np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8), "has 4 labels but t10k-images-idx3-ubyte has 3"),
])
def test_mnist_files_that_are_not_mnist_are_refused(tmp_path, images, labels, problem):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=problem):
        load_mnist(tmp_path, test_split=2)


# ---- CIFAR-10 -----------------------------------------------------------------------------------
def cifar_images(n: int, seed: int) -> np.ndarray:
    """n rows of 3072 bytes; image 0 has a flat R plane of 10, G of 20 and B of 30 to pin the channel order."""
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 10, 20, 30
    return data


def write_batch(path: Path, data: np.ndarray, labels: list[int], protocol: int) -> None:
    batch = {b"batch_label": b"synthetic batch", b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [b"img_%d.png" % i for i in range(len(data))]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def write_cifar(folder: Path, *, n: int = 6, batches: int = 2, protocol: int = 2,
                meta: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A tiny CIFAR-10 folder; returns train data/labels (batches in order) and test data/labels."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for number in range(1, batches + 1):
        data, labels = cifar_images(n, seed=number), np.arange(number, number + n) % 10
        write_batch(folder / f"data_batch_{number}", data, labels, protocol)
        parts.append((data, labels))
    test_data, test_labels = cifar_images(n, seed=99), np.arange(n) % 10
    write_batch(folder / "test_batch", test_data, test_labels, protocol)
    if meta:
        with open(folder / "batches.meta", "wb") as f:
            pickle.dump({b"label_names": [b"class%d" % i for i in range(10)], b"num_cases_per_batch": n,
                         b"num_vis": 3072}, f, protocol=protocol)
    return (np.concatenate([d for d, _ in parts]), np.concatenate([y for _, y in parts]), test_data, test_labels)


def py2_batch_pickle(data: np.ndarray, labels: list[int], filenames: list[bytes]) -> bytes:
    """The opcodes of the official files: Python 2, protocol 2, str as (SHORT_)BINSTRING, numpy.core names."""
    def string(b: bytes) -> bytes:
        if len(b) < 256:
            return pickle.SHORT_BINSTRING + bytes([len(b)]) + b
        return pickle.BINSTRING + struct.pack("<i", len(b)) + b

    def integer(n: int) -> bytes:
        return pickle.BININT + struct.pack("<i", n)

    dtype = [pickle.GLOBAL, b"numpy\ndtype\n", string(b"u1"), integer(0), integer(1), pickle.TUPLE3, pickle.REDUCE,
             pickle.BINPUT, b"\x03", pickle.MARK, integer(3), string(b"|"), pickle.NONE * 3,
             integer(-1), integer(-1), integer(0), pickle.TUPLE, pickle.BUILD]
    array = [pickle.GLOBAL, b"numpy.core.multiarray\n_reconstruct\n", pickle.BINPUT, b"\x01",
             pickle.GLOBAL, b"numpy\nndarray\n", pickle.BINPUT, b"\x02", integer(0), pickle.TUPLE1, string(b"b"),
             pickle.TUPLE3, pickle.REDUCE, pickle.MARK, integer(1), *map(integer, data.shape), pickle.TUPLE2,
             *dtype, pickle.NEWFALSE, string(data.tobytes()), pickle.TUPLE, pickle.BUILD]
    parts = [pickle.PROTO, b"\x02", pickle.EMPTY_DICT, pickle.BINPUT, b"\x00", pickle.MARK,
             string(b"data"), *array,
             string(b"labels"), pickle.EMPTY_LIST, pickle.MARK, *map(integer, labels), pickle.APPENDS,
             string(b"batch_label"), string(b"training batch 1 of 5"),
             string(b"filenames"), pickle.EMPTY_LIST, pickle.MARK, *map(string, filenames), pickle.APPENDS,
             pickle.SETITEMS, pickle.STOP]
    return b"".join(parts)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_python3_batches_parse_to_exactly_what_was_written(tmp_path, protocol):
    data, labels = cifar_images(6, seed=protocol), [3, 1, 4, 1, 5, 9]
    write_batch(tmp_path / "data_batch_1", data, labels, protocol)
    batch = read_python_batch(tmp_path / "data_batch_1")
    assert set(batch) == {"batch_label", "labels", "data", "filenames"}
    assert batch["data"].dtype == np.uint8 and batch["data"].shape == (6, 3072)
    np.testing.assert_array_equal(batch["data"], data)
    assert batch["labels"] == labels and batch["batch_label"] == b"synthetic batch"
    assert batch["filenames"] == [b"img_%d.png" % i for i in range(6)]


def test_python2_layout_of_the_official_files_is_read(tmp_path):
    data = cifar_images(6, seed=7)
    blob = py2_batch_pickle(data, [0, 1, 2, 7, 8, 9], [b"a.png"] * 6)
    (tmp_path / "data_batch_1").write_bytes(blob)
    batch = read_python_batch(tmp_path / "data_batch_1")
    with warnings.catch_warnings():  # numpy 2 warns that numpy.core is now numpy._core
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = pickle.loads(blob, encoding="bytes")  # the test's own bytes: proves the opcodes are a real pickle
    np.testing.assert_array_equal(batch["data"], reference[b"data"])
    assert batch["labels"] == reference[b"labels"] == [0, 1, 2, 7, 8, 9]
    assert batch["batch_label"] == b"training batch 1 of 5" and batch["filenames"] == [b"a.png"] * 6


def test_fortran_and_big_endian_arrays_keep_their_values(tmp_path):
    array = np.asfortranarray(np.arange(12, dtype=">f4").reshape(3, 4) / 7)
    for protocol in (2, 5):
        with open(tmp_path / "odd", "wb") as f:
            pickle.dump({"a": array, "n": np.int16(-3)}, f, protocol=protocol)
        batch = read_python_batch(tmp_path / "odd")
        np.testing.assert_array_equal(batch["a"], array)
        assert batch["a"].dtype.isnative and batch["n"] == -3


@pytest.mark.parametrize("protocol, nested", [(2, False), (4, False), (5, True)])
def test_cifar_folder_loads_with_channels_in_order(tmp_path, protocol, nested):
    folder = tmp_path / "cifar-10-batches-py" if nested else tmp_path
    train_x, train_y, test_x, test_y = write_cifar(folder, protocol=protocol)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.x_train.shape == (12, 3, 32, 32) and ds.x_test.shape == (6, 3, 32, 32) and ds.n_features == 3072
    assert ds.x_train.dtype == np.float32 and ds.pixel_max == 255.0
    assert ds.classes == tuple(f"class{i}" for i in range(10))
    assert (ds.x_train[0, 0] == 10).all() and (ds.x_train[0, 1] == 20).all() and (ds.x_train[0, 2] == 30).all()
    # a 3072 row is R, G, B planes of 32 rows of 32: pixel (row 1, column 2) of channel c is byte c*1024 + 34
    assert [ds.x_train[7, c, 1, 2] for c in range(3)] == [train_x[7, c * 1024 + 34] for c in range(3)]
    np.testing.assert_array_equal(ds.flat_train(), train_x)
    np.testing.assert_array_equal(ds.flat_test(), test_x)
    np.testing.assert_array_equal(ds.y_train, train_y)
    np.testing.assert_array_equal(ds.y_test, test_y)


def test_cifar_without_meta_uses_the_standard_names(tmp_path):
    write_cifar(tmp_path, batches=1, meta=False)
    assert load_cifar10(tmp_path).classes == CIFAR10_CLASSES


class _RunsAShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_malicious_batch_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar"
    write_cifar(folder, batches=1, protocol=protocol)
    hostile = {b"labels": [0], b"data": cifar_images(1, 0), b"batch_label": _RunsAShellCommand(marker)}
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump(hostile, f, protocol=protocol)
    with pytest.raises(DataError, match=r"data_batch_1 is not a CIFAR batch: it calls posix\.system"):
        load_cifar10(folder)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump([_Evaluates()], f, protocol=protocol)
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR batch: it calls (builtins|__builtin__)\.eval"):
        read_python_batch(folder / "test_batch")
    assert not marker.exists()


def test_arrays_of_python_objects_and_other_instances_are_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.array([1, "x"], dtype=object)}, f, protocol=2)
    with pytest.raises(DataError, match="dtype 'O8', not a plain numeric one"):
        read_python_batch(path)
    with open(path, "wb") as f:
        pickle.dump({b"data": Path("x")}, f, protocol=4)
    with pytest.raises(DataError, match=r"it calls pathlib\.(Posix)?Path"):
        read_python_batch(path)


@pytest.mark.parametrize("keep", [3, 0.5, -1])
def test_truncated_batch_is_refused_by_name(tmp_path, keep):
    path = tmp_path / "data_batch_1"
    write_batch(path, cifar_images(6, 0), [0] * 6, protocol=4)
    blob = path.read_bytes()
    path.write_bytes(blob[:int(len(blob) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(DataError, match="truncated") as info:
        read_python_batch(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("data, labels, problem", [
    (np.zeros((6, 100), np.uint8), [0] * 6, r"'data' is uint8 \[6, 100\], not uint8 \[n, 3072\]"),
    (np.zeros((6, 3072), np.float32), [0] * 6, r"'data' is float32"),
    (np.zeros((6, 3072), np.uint8), [0, 1, 2, 3, 4, 10], "labels 0..10: CIFAR-10 labels are 0..9"),
    (np.zeros((6, 3072), np.uint8), [0] * 5, "has 6 images but 5 labels"),
])
def test_batches_that_are_not_cifar10_are_refused(tmp_path, data, labels, problem):
    write_cifar(tmp_path, batches=1)
    write_batch(tmp_path / "data_batch_1", data, labels, protocol=2)
    with pytest.raises(DataError, match=problem) as info:
        load_cifar10(tmp_path)
    assert str(tmp_path / "data_batch_1") in str(info.value)


def test_cifar_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no-such-folder does not exist"):
        load_cifar10(tmp_path / "no-such-folder")
    with pytest.raises(DataError, match="no CIFAR-10 test_batch"):
        load_cifar10(tmp_path)
    write_cifar(tmp_path, batches=1)
    (tmp_path / "data_batch_1").unlink()
    with pytest.raises(DataError, match="no data_batch_N"):
        load_cifar10(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(b"")
    with pytest.raises(DataError, match="data_batch_1 is empty"):
        load_cifar10(tmp_path)


# ---- the Dataset and the dispatcher -------------------------------------------------------------
def test_load_dataset_dispatches_and_explains_its_errors(tmp_path):
    assert DATASET_NAMES == ("digits", "mnist", "cifar10", "letters", "letters-augmented")
    assert len(load_dataset("digits", tmp_path / "ignored").x_train) == 1437
    assert len(load_dataset("digits", train_fraction=0.5).x_test) == 899
    write_mnist(tmp_path / "mnist", "t10k", 4)
    assert len(load_dataset("mnist", tmp_path / "mnist", test_split=3).x_test) == 1
    with pytest.raises(DataError, match="unknown data set 'fashion': choose one of digits, mnist, cifar10, letters, letters-augmented"):
        load_dataset("fashion")
    with pytest.raises(DataError, match="'cifar10' needs a folder"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="elsewhere does not exist"):
        load_dataset("mnist", tmp_path / "elsewhere")


def test_dataset_checks_itself():
    x, y = np.zeros((4, 2, 2), np.float32), np.array([0, 1, 2, 1])
    ds = Dataset("toy", x, y, x[:1], y[:1], classes=("a", "b", "c"), pixel_max=1.0)
    assert ds.shape == (2, 2) and ds.n_features == 4 and ds.flat_test().shape == (1, 4) and ds.n_classes == 3
    with pytest.raises(DataError, match="4 train images but 3 train labels"):
        Dataset("toy", x, y[:3], x, y, classes=("a", "b", "c"), pixel_max=1.0)
    with pytest.raises(DataError, match="labels run 0..2, outside 0..1"):
        Dataset("toy", x, y, x, y, classes=("a", "b"), pixel_max=1.0)
    with pytest.raises(DataError, match="x_train must be float32"):
        Dataset("toy", x.astype(np.float64), y, x, y, classes=("a", "b", "c"), pixel_max=1.0)
    with pytest.raises(DataError, match="test images are"):
        Dataset("toy", x, y, x.reshape(4, 4), y, classes=("a", "b", "c"), pixel_max=1.0)
