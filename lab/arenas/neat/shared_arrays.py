"""Arrays in ``multiprocessing.shared_memory`` for the NEAT arena's process workers: the owner
copies a dict of numpy arrays once into named segments (:class:`SharedArrays`), each worker
attaches read-only, zero-copy views (:func:`attach`), and only the owner ever unlinks them.
"""
from __future__ import annotations

import os
import secrets
import sys
import weakref
from collections.abc import Mapping
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import NamedTuple

import numpy as np
from numpy.lib.format import descr_to_dtype, dtype_to_descr


class SegmentHandle(NamedTuple):
    """What a worker needs to find one shared array: the segment's name, the shape, the dtype."""

    segment: str
    shape: tuple[int, ...]
    dtype: str


class SharedArrays:
    """A dict of numpy arrays copied once into ``multiprocessing.shared_memory`` segments (one each),
    so process workers read them zero-copy.

    Only the creating process unlinks them: on close(), when the object is collected, or at
    interpreter exit if the owner forgot. Segments are named neat-<owner pid>-<random>, so one
    found left in /dev/shm names the process that made it."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._segments: list[SharedMemory] = []
        self._handles: dict[str, SegmentHandle] = {}
        # registered first, so segments made before a failure below are unlinked too
        self._release = weakref.finalize(self, _unlink_segments, self._segments, os.getpid())
        for key, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise ValueError(f"array {key!r} holds Python objects (dtype {array.dtype}); "
                                 "only plain numeric arrays can live in shared memory")
            segment = SharedMemory(name=f"neat-{os.getpid()}-{secrets.token_hex(6)}", create=True,
                                   size=max(array.nbytes, 1))
            self._segments.append(segment)
            np.ndarray(array.shape, array.dtype, buffer=segment.buf)[...] = array
            self._handles[key] = SegmentHandle(segment.name, array.shape, dtype_to_descr(array.dtype))
        self._names = [segment.name for segment in self._segments]

    @property
    def handles(self) -> dict[str, SegmentHandle]:
        return dict(self._handles)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def close(self) -> None:
        self._release()

    def __enter__(self) -> SharedArrays:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _unlink_segments(segments: list[SharedMemory], owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return  # a forked worker inherited the owner's object; the segments are not its to remove
    for segment in segments:
        try:
            segment.close()
        except BufferError:
            pass  # a view is still alive in this process; its mapping outlives the name, harmlessly
        try:
            segment.unlink()
        except FileNotFoundError:
            pass
    segments.clear()


def attach(handles: Mapping[str, SegmentHandle]) -> tuple[dict[str, np.ndarray], list[SharedMemory]]:
    """Read-only numpy views on the segments described by ``handles``, and the SharedMemory objects
    that must stay referenced while the views are used.

    The attachments are kept out of the resource tracker. Python 3.11 registers every attachment
    there, and the tracker is one process shared with the owner that keeps a *set* of names: a
    worker unregistering afterwards would erase the owner's own registration (and a second worker's
    unregister, or the owner's unlink, then prints a KeyError), while a worker that stays registered
    gets the segment unlinked under the owner's feet. Not registering at all leaves the owner the
    only one responsible, which is the truth."""
    arrays: dict[str, np.ndarray] = {}
    segments: list[SharedMemory] = []
    for key, handle in handles.items():
        segment = _attach_untracked(handle.segment)
        segments.append(segment)
        view = np.ndarray(tuple(handle.shape), descr_to_dtype(handle.dtype), buffer=segment.buf)
        view.flags.writeable = False
        arrays[key] = view
    return arrays, segments


def _attach_untracked(name: str) -> SharedMemory:
    if sys.version_info >= (3, 13):
        return SharedMemory(name=name, track=False)
    register = resource_tracker.register
    resource_tracker.register = lambda name, rtype: None  # SharedMemory looks it up at call time
    try:
        return SharedMemory(name=name)
    finally:
        resource_tracker.register = register
