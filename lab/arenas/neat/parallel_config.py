"""How the NEAT arena spreads one generation's evaluations (inline, threads or worker
processes), read from a :class:`ParallelConfig` whose every field can also be set from the
environment (``NEAT_EVAL_WORKERS``, ``NEAT_EVAL_BACKEND``, ...). Light: no torch, no processes.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Mapping
from typing import Any

BACKENDS = ("thread", "process")


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """How the evaluations of one generation are spread; every field can be set from the environment.

    Defaults: one worker (no pool, the safe choice), threads (torch releases the GIL in its kernels
    and nothing must be picklable), spawn (safe after threads or torch have started), a pool kept
    alive (process workers pay their imports once) and no restarts."""

    workers: int = 1
    backend: str = "thread"
    start_method: str = "spawn"
    keepalive: bool = True
    restart_every: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {self.workers!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        methods = multiprocessing.get_all_start_methods()
        if self.start_method not in methods:
            raise ValueError(f"start_method {self.start_method!r} is not available here "
                             f"(available: {', '.join(methods)})")
        if not isinstance(self.keepalive, bool):
            raise ValueError(f"keepalive must be True or False, got {self.keepalive!r}")
        if (isinstance(self.restart_every, bool) or not isinstance(self.restart_every, int)
                or self.restart_every < 0):
            raise ValueError(f"restart_every must be a whole number >= 0 (0 = never), "
                             f"got {self.restart_every!r}")

    @classmethod
    def from_env(cls, base: ParallelConfig | None = None,
                 environ: Mapping[str, str] | None = None) -> ParallelConfig:
        """``base`` (or the defaults) overridden by whichever NEAT_* variables are set and not blank.

        A bad value raises ValueError naming the variable and its value."""
        config = base if base is not None else cls()
        environ = os.environ if environ is None else environ
        for variable, (field, parse) in _ENV_FIELDS.items():
            raw = environ.get(variable, "")
            if not raw.strip():
                continue
            try:
                config = dataclasses.replace(config, **{field: parse(raw.strip())})
            except ValueError as exc:
                raise ValueError(f"{variable}={raw!r}: {exc}") from None
        return config


def _parse_whole(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None


_SWITCH = {"1": True, "true": True, "yes": True, "on": True,
           "0": False, "false": False, "no": False, "off": False}


def _parse_switch(raw: str) -> bool:
    if raw.lower() not in _SWITCH:
        raise ValueError(f"not one of {'/'.join(_SWITCH)}")
    return _SWITCH[raw.lower()]


# environment variable -> (ParallelConfig field, parser); ranges are checked by ParallelConfig itself
_ENV_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "NEAT_EVAL_WORKERS": ("workers", _parse_whole),
    "NEAT_EVAL_BACKEND": ("backend", str.lower),
    "NEAT_PROCESS_START_METHOD": ("start_method", str.lower),
    "NEAT_POOL_KEEPALIVE": ("keepalive", _parse_switch),
    "NEAT_POOL_RESTART_EVERY": ("restart_every", _parse_whole),
}
ENV_VARS = tuple(_ENV_FIELDS)
