"""The app's event hub: tabs announce things ("genome selected", "registry changed", "send these
genomes to the Stress Chamber") without knowing who listens. Topics are declared once, here; the hub
is used on the Tk thread only, and it has no tkinter in it.

:class:`ThreadBridge` is the one way from other threads to the Tk thread: workers only ``post`` a
call on its queue and the app's 50 ms poller runs it (jobs' events and log lines arrive the same way).
"""
from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

# topic -> what its payload carries
TOPICS = {
    "genome_selected": "genome_id: the genome the user selected last (any tab)",
    "registry_changed": "registry: the Registry now in use, or the same one with new content",
    "send_to_evolution_lab": "genome_ids: ancestors for the next run's generation 1",
    "send_to_gene_forge": "genome_id: open this genome in the Gene Forge",
    "send_to_stress_chamber": "genome_ids: genomes to stress-test",
    "status": "text: a short message for the status bar",
    "tab_shown": "title: the tab the notebook shows now",
}


class ThreadBridge:
    """Calls posted from any thread, run later on the Tk thread by :meth:`drain` (the app's poller)."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._on_error = on_error

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run ``fn(*args)`` on the Tk thread at the next poll."""
        self._calls.put((fn, args))

    def drain(self) -> int:
        """On the Tk thread: run what was posted, in order; returns how many ran. A call that raises is
        reported through ``on_error`` (or re-raised when there is none) and the rest still run."""
        ran = 0
        while True:
            try:
                fn, args = self._calls.get_nowait()
            except queue.Empty:
                return ran
            ran += 1
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001
                if self._on_error is None:
                    raise
                self._on_error(exc)


class EventHub:
    def __init__(self, on_error: Callable[[BaseException], None] | None = None):
        self._subscribers: dict[str, list[Callable[..., Any]]] = {t: [] for t in TOPICS}
        self._on_error = on_error

    def subscribe(self, topic: str, fn: Callable[..., Any]) -> Callable[[], None]:
        """Call ``fn(**payload)`` on every ``publish(topic, ...)``; returns a function that unsubscribes."""
        self._check(topic)
        self._subscribers[topic].append(fn)
        return lambda: self._subscribers[topic].remove(fn) if fn in self._subscribers[topic] else None

    def publish(self, topic: str, **payload: Any) -> int:
        """Deliver to every subscriber; returns how many there were. A subscriber that raises is
        reported through ``on_error`` (or re-raised when there is none) and the others still run."""
        self._check(topic)
        subscribers = list(self._subscribers[topic])
        for fn in subscribers:
            try:
                fn(**payload)
            except Exception as exc:  # noqa: BLE001
                if self._on_error is None:
                    raise
                self._on_error(exc)
        return len(subscribers)

    def listeners(self, topic: str) -> int:
        self._check(topic)
        return len(self._subscribers[topic])

    @staticmethod
    def _check(topic: str) -> None:
        if topic not in TOPICS:
            raise ValueError(f"unknown event topic {topic!r} (topics: {', '.join(TOPICS)})")
