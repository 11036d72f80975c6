"""CIFAR-10 from its "python version" batch files, read WITHOUT unpickling them.

The batches are pickles; :func:`read_python_batch` walks their opcodes as a small stack machine that builds
dicts, lists, strings and numpy arrays itself and refuses any other global, so a hostile file cannot run code.
"""
from __future__ import annotations

import io
import math
import os
import pickletools
import re
from pathlib import Path
from typing import Any

import numpy as np

from lab.data import DataError, Dataset, read_data_file

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_SUBFOLDER = "cifar-10-batches-py"   # what the official archive unpacks to
CIFAR10_IMAGE_SHAPE = (3, 32, 32)           # a 3072-byte row is the R plane, then G, then B, each row-major

# The only names a batch may refer to, and what each stands for. Nothing is imported: the machine below
# builds the result itself. numpy 2 renamed numpy.core to numpy._core; protocol 5 arrays use _frombuffer;
# Python 3 writes bytes as _codecs.encode(str, "latin1") under protocol 2 (and b"" as bytes()).
_ALLOWED_GLOBALS: dict[tuple[str, str], str] = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
    ("__builtin__", "bytes"): "bytes",
    ("builtins", "bytes"): "bytes",
}
_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
             "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_PY2_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING"}   # Python 2 str: bytes, as pickle's encoding="bytes"
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_NUMERIC_DESCR = re.compile(r"[<>|=]?[biuf][1248]")


class _Global:
    """A name the pickle refers to, never imported: only REDUCE may consume it."""

    def __init__(self, module: str, name: str, role: str) -> None:
        self.module, self.name, self.role = module, name, role

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


class _Pending:
    """An ndarray or dtype that REDUCE created and BUILD has yet to fill in (the memo may already hold it)."""

    def __init__(self, role: str, value: Any = None) -> None:
        self.role, self.value, self.built = role, value, False

    def __repr__(self) -> str:
        return f"an unfinished numpy.{self.role}"


def read_python_batch(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The dict pickled in a CIFAR python batch (bytes keys become str), decoded without unpickling."""
    path = Path(path)
    raw = read_data_file(path)
    if not raw:
        raise DataError(f"{path} is empty, not a CIFAR batch")
    result = _BatchMachine(path).run(raw)
    if not isinstance(result, dict):
        raise DataError(f"{path} is not a CIFAR batch: it holds a {type(result).__name__}, not a dict")
    batch: dict[str, Any] = {}
    for key, value in result.items():
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        if not isinstance(key, str):
            raise DataError(f"{path} is not a CIFAR batch: it has the key {key!r}, not a string")
        batch[key] = value
    return batch


def load_cifar10(folder: str | os.PathLike[str]) -> Dataset:
    """CIFAR-10 from ``folder`` (or its ``cifar-10-batches-py``): every data_batch_N to train, test_batch to test."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"CIFAR-10 folder {folder} does not exist" if not folder.exists()
                        else f"CIFAR-10 folder {folder} is a file, not a folder")
    base = next((f for f in (folder, folder / CIFAR10_SUBFOLDER) if (f / "test_batch").is_file()), None)
    if base is None:
        raise DataError(f"{folder} holds no CIFAR-10 test_batch (nor does {folder / CIFAR10_SUBFOLDER}): "
                        f"expected the python-version files data_batch_1..data_batch_5, test_batch, batches.meta")
    numbered = [(int(m.group(1)), p) for p in base.iterdir()
                if (m := re.fullmatch(r"data_batch_(\d+)", p.name)) and p.is_file()]
    if not numbered:
        raise DataError(f"{base} has test_batch but no data_batch_N files to train on")
    train = [_read_images(p) for _, p in sorted(numbered)]
    x_test, y_test = _read_images(base / "test_batch")
    classes = _read_class_names(base / "batches.meta")
    return Dataset(name="cifar10",
                   x_train=np.concatenate([x for x, _ in train]).astype(np.float32),
                   y_train=np.concatenate([y for _, y in train]),
                   x_test=x_test.astype(np.float32), y_test=y_test,
                   classes=classes, pixel_max=255.0)


def _read_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 3, 32, 32] and labels int64 [n] of one batch, checked."""
    batch = read_python_batch(path)
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path} is not a CIFAR-10 batch: it has no 'data' and 'labels' entries "
                        f"(its keys: {', '.join(map(str, batch)) or 'none'})")
    data, labels = batch["data"], batch["labels"]
    row = math.prod(CIFAR10_IMAGE_SHAPE)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
        found = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' is {found}, not uint8 [n, {row}]")
    labels = np.asarray(labels) if isinstance(labels, (list, tuple, np.ndarray)) else None
    if labels is None or labels.ndim != 1 or (len(labels) and labels.dtype.kind not in "iu"):
        raise DataError(f"{path}: 'labels' is not a list of integers")
    if len(labels) != len(data):
        raise DataError(f"{path} has {len(data)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"{path} has labels {labels.min()}..{labels.max()}: CIFAR-10 labels are 0..9")
    return data.reshape(len(data), *CIFAR10_IMAGE_SHAPE), labels.astype(np.int64)


def _read_class_names(meta_path: Path) -> tuple[str, ...]:
    """``label_names`` from batches.meta, or the standard ten when the file is absent."""
    if not meta_path.exists():
        return CIFAR10_CLASSES
    names = read_python_batch(meta_path).get("label_names")
    if (not isinstance(names, list) or len(names) != len(CIFAR10_CLASSES)
            or not all(isinstance(n, (bytes, str)) for n in names)):
        raise DataError(f"{meta_path}: 'label_names' is not a list of {len(CIFAR10_CLASSES)} names")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)


class _BatchMachine:
    """The pickle virtual machine cut down to data: containers, scalars, strings, memo and numpy arrays."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    def refuse(self, why: str) -> DataError:
        return DataError(f"{self.path} is not a CIFAR batch: {why}")

    def run(self, raw: bytes) -> Any:
        pos = 0
        try:
            for opcode, arg, pos in pickletools.genops(io.BytesIO(raw)):
                if opcode.name == "STOP":
                    result = self.pop()
                    _check_plain(result, self)
                    return result
                self.step(opcode.name, arg)
        except DataError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            # genops on a truncated or garbled file, an unhashable key, a bad array argument
            raise DataError(f"{self.path} is truncated or corrupt (at byte {pos}): {exc}") from None
        raise DataError(f"{self.path} is truncated: the pickle has no STOP")  # unreachable: genops raises first

    def pop(self) -> Any:
        if not self.stack:
            raise self.refuse("its pickle pops an empty stack (corrupt)")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.refuse("its pickle closes a MARK it never opened (corrupt)")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def top(self) -> Any:
        if not self.stack:
            raise self.refuse("its pickle reads an empty stack (corrupt)")
        return self.stack[-1]

    def step(self, name: str, arg: Any) -> None:
        """Run one opcode; every opcode not named here is refused."""
        stack = self.stack
        if name in _PUSH_ARG:
            stack.append(arg)
        elif name in _PY2_STRINGS:
            stack.append(arg.encode("latin-1"))
        elif name == "BYTEARRAY8":
            stack.append(bytes(arg))
        elif name in _CONSTANTS:
            stack.append(_CONSTANTS[name])
        elif name in ("PROTO", "FRAME"):
            pass
        elif name == "MARK":
            self.marks.append(stack)
            self.stack = []
        elif name == "POP":
            self.pop()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            stack.append(self.top())
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self.pop() for _ in range(n)][::-1]
            self.stack.append(tuple(items))
        elif name == "TUPLE":
            items = self.pop_mark()
            self.stack.append(tuple(items))
        elif name == "LIST":
            items = self.pop_mark()
            self.stack.append(items)
        elif name == "DICT":
            items = self.pop_mark()
            self.stack.append(self.set_items({}, items))
        elif name in ("APPEND", "APPENDS"):
            items = [self.pop()] if name == "APPEND" else self.pop_mark()
            target = self.top()
            if not isinstance(target, list):
                raise self.refuse(f"its pickle appends to {_kind(target)}, not a list")
            target.extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            items = [self.pop(), self.pop()][::-1] if name == "SETITEM" else self.pop_mark()
            target = self.top()
            if not isinstance(target, dict):
                raise self.refuse(f"its pickle sets items on {_kind(target)}, not a dict")
            self.set_items(target, items)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[arg] = self.top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise self.refuse(f"its pickle reads the memo entry {arg} before writing it (corrupt)")
            value = self.memo[arg]
            stack.append(value.value if isinstance(value, _Pending) and value.built else value)
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, _, attr = arg.partition(" ")
            else:
                attr, module = self.pop(), self.pop()
                if not isinstance(module, str) or not isinstance(attr, str):
                    raise self.refuse("its pickle names a global with something other than strings")
            role = _ALLOWED_GLOBALS.get((module, attr))
            if role is None:
                raise self.refuse(f"it calls {module}.{attr}, which a CIFAR batch never does "
                                  f"(refused; nothing was run)")
            stack.append(_Global(module, attr, role))
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            if not isinstance(func, _Global) or not isinstance(args, tuple):
                raise self.refuse(f"its pickle calls {_kind(func)} (only numpy arrays are built here)")
            stack.append(self.reduce(func, args))
        elif name == "BUILD":
            state, target = self.pop(), self.top()
            if not isinstance(target, _Pending) or target.built:
                raise self.refuse(f"its pickle sets the state of {_kind(target)} (only numpy arrays are built here)")
            self.build(target, state)
            stack[-1] = target.value
        else:
            raise self.refuse(f"its pickle uses the opcode {name}, which a CIFAR batch never needs (refused)")

    def set_items(self, target: dict, items: list[Any]) -> dict:
        if len(items) % 2:
            raise self.refuse("its pickle gives a dict key without a value (corrupt)")
        for key, value in zip(items[::2], items[1::2]):
            target[key] = value
        return target

    def reduce(self, func: _Global, args: tuple) -> Any:
        """What calling ``func(*args)`` would give, computed here for the few allowed names."""
        role = func.role
        if role == "encode" and len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
            return args[0].encode("latin-1")
        if role == "bytes" and args == ():
            return b""
        if role == "dtype" and len(args) >= 1:
            return _Pending("dtype", self.numeric_dtype(args[0]))
        if role == "reconstruct" and len(args) == 3 and isinstance(args[0], _Global) and args[0].role == "ndarray":
            return _Pending("ndarray")
        if role == "frombuffer" and len(args) == 4:
            buffer, dtype, shape, order = args
            return self.array(buffer, self.as_dtype(dtype), shape, order == "F")
        if role == "scalar" and len(args) == 2:
            dtype = self.as_dtype(args[0])
            return self.array(args[1], dtype, (), False)[()]
        raise self.refuse(f"its pickle calls {func} with arguments a numpy array or string never has")

    def build(self, target: _Pending, state: Any) -> None:
        if not isinstance(state, tuple):
            raise self.refuse(f"its pickle gives {target} the state {_kind(state)}, not a tuple")
        if target.role == "dtype":
            endian = state[1] if len(state) > 4 else None
            endian = endian.decode("latin-1") if isinstance(endian, bytes) else endian
            if endian not in ("<", ">", "|", "=") or any(part is not None for part in state[2:5]):
                raise self.refuse(f"its pickle builds a structured or unknown dtype (state {state[:5]!r})")
            target.value = target.value.newbyteorder(endian) if endian in "<>" else target.value
        elif target.role == "ndarray":
            if len(state) == 5:
                state = state[1:]   # (version, shape, dtype, is_fortran, data); version 0 had no version field
            if len(state) != 4:
                raise self.refuse(f"its pickle gives a numpy array a state of {len(state)} items")
            shape, dtype, is_fortran, data = state
            target.value = self.array(data, self.as_dtype(dtype), shape, bool(is_fortran))
        target.built = True

    def numeric_dtype(self, descr: Any) -> np.dtype:
        descr = descr.decode("latin-1") if isinstance(descr, bytes) else descr
        if not isinstance(descr, str) or not _NUMERIC_DESCR.fullmatch(descr):
            raise self.refuse(f"it holds an array of dtype {descr!r}, not a plain numeric one")
        return np.dtype(descr)

    def as_dtype(self, value: Any) -> np.dtype:
        if isinstance(value, _Pending) and value.role == "dtype":
            return value.value
        if isinstance(value, np.dtype):
            return value
        raise self.refuse(f"its pickle gives {_kind(value)} where a numpy dtype belongs")

    def array(self, data: Any, dtype: np.dtype, shape: Any, fortran: bool) -> np.ndarray:
        """A fresh native-order array from raw bytes, refusing any size mismatch."""
        if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise self.refuse(f"its pickle gives a numpy array the shape {shape!r}")
        if not isinstance(data, bytes):
            raise self.refuse(f"its pickle gives a numpy array {_kind(data)} as data, not raw bytes")
        count = math.prod(shape)
        if len(data) != count * dtype.itemsize:
            raise self.refuse(f"an array of shape {list(shape)} and dtype {dtype.name} needs "
                              f"{count * dtype.itemsize} bytes, its pickle holds {len(data)}")
        flat = np.frombuffer(data, dtype=dtype, count=count)
        return np.array(flat.reshape(shape, order="F" if fortran else "C"), dtype=dtype.newbyteorder("="), order="C")


def _kind(value: Any) -> str:
    return repr(value) if isinstance(value, (_Global, _Pending)) else f"a {type(value).__name__}"


def _check_plain(result: Any, machine: _BatchMachine) -> None:
    """Refuse a result that still holds a bare global or an unfinished array (iterative: depth and cycles safe)."""
    todo, seen = [result], set()
    while todo:
        item = todo.pop()
        if isinstance(item, (_Global, _Pending)):
            raise machine.refuse(f"its pickle leaves {item!r} in the data")
        if isinstance(item, (list, tuple, dict)) and id(item) not in seen:
            seen.add(id(item))
            todo.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
