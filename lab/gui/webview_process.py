"""The Phylogeny tab's interactive 3D window as a child process (lab.analysis.webview): it writes JSON
lines, which reader threads hand to the Tk thread through the app's one bridge (lab.gui.hub.ThreadBridge)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

WEBVIEW_COMMAND = [sys.executable, "-m", "lab.analysis.webview"]


class WebviewProcess:
    """The interactive 3D window's child process; its JSON lines are read on threads and handed to
    ``on_message`` on the Tk thread through ``post`` (the app's ``bridge.post``)."""

    def __init__(self, post: Callable[..., None], page: Path, on_message: Callable[[dict], None], title: str,
                 command: list[str] | None = None):
        self.on_message = on_message
        self._closed = False
        self.process = subprocess.Popen(
            [*(command or WEBVIEW_COMMAND), str(page), "--title", title],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[2]))
        self.stderr_tail: list[str] = []
        threading.Thread(target=self._read_messages, args=(self.process.stdout, post), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True).start()

    def _read_messages(self, stream, post: Callable[..., None]) -> None:
        for line in stream:
            post(self._line, line)
        post(self._ended)

    def _read_stderr(self, stream) -> None:
        for line in stream:
            self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-20:]

    def _line(self, line: str) -> None:
        if self._closed:
            return
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return   # not ours (a library printing to stdout)
        if isinstance(message, dict):
            self.on_message(message)

    def _ended(self) -> None:
        if self._closed:
            return
        self._closed = True
        code = self.process.wait()
        self.on_message({"event": "exited", "code": code, "stderr": "\n".join(self.stderr_tail[-5:])})

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """End the window (if open) and stop listening to it."""
        self._closed = True
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
