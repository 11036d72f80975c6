"""The app is built once per test session under Xvfb (pytest-xvfb), with mainloop never called:
tests pump ``update()`` through ``wait_until``. Any Tk callback exception or error logged under
``lab`` fails the test that caused it. Dialogs are recorded instead of shown."""
from __future__ import annotations

import logging
import time
import tkinter as tk

import pytest


class RecordingDialogs:
    """Stands in for lab.gui.dialogs.Dialogs: records every dialog; answers from ``answers``."""

    def __init__(self):
        self.shown: list[tuple[str, str, str]] = []
        self.answers: dict[str, object] = {}

    def error(self, title, message):
        self.shown.append(("error", title, message))

    def info(self, title, message):
        self.shown.append(("info", title, message))

    def ask_yes_no(self, title, message):
        self.shown.append(("ask", title, message))
        return self.answers.get("yes_no", True)

    def ask_directory(self, title, initial=None, create=True):
        return self.answers.get("directory")

    def ask_open_files(self, title):
        return self.answers.get("open_files", [])

    def ask_save_file(self, title, initial):
        return self.answers.get("save_file")

    def errors(self):
        return [d for d in self.shown if d[0] == "error"]


class _ErrorLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def wait_until(root: tk.Tk, condition, timeout: float = 60.0, interval: float = 0.01) -> None:
    """Pump the Tk event loop until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {condition}")
        root.update()
        time.sleep(interval)


@pytest.fixture(scope="session", autouse=True)
def settings_dir(tmp_path_factory):
    """The user's settings (lab.gui.prefs) go to a temporary folder: tests never read or write the
    real config folder, and every session starts from the defaults."""
    from lab.gui.prefs import ENV_DIR
    patch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("config")
    patch.setenv(ENV_DIR, str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def tk_root():
    try:
        root = tk.Tk()
    except tk.TclError as exc:  # pragma: no cover - only without a display
        pytest.skip(f"no display: {exc}")
    root.mainloop = lambda *a, **k: None
    yield root
    try:
        root.destroy()
    except tk.TclError:
        pass


@pytest.fixture(scope="session")
def app(tk_root, tmp_path_factory, settings_dir):
    from lab.gui.app import App
    from lab.registry import Registry

    dialogs = RecordingDialogs()
    application = App(tk_root, Registry(tmp_path_factory.mktemp("gui") / "registry"), dialogs=dialogs, device="cpu")
    tk_root.geometry("1280x760")
    tk_root.update()
    application.callback_errors = []
    tk_root.report_callback_exception = lambda exc, val, tb: application.callback_errors.append(val)
    yield application


@pytest.fixture
def lab_app(app):
    """The session app, checked after each test: no callback exception, no error logged, no error
    dialog left unexamined (a test that expects one clears ``app.dialogs.shown``)."""
    handler = _ErrorLog()
    logging.getLogger("lab").addHandler(handler)
    app.dialogs.shown.clear()
    app.callback_errors.clear()
    yield app
    logging.getLogger("lab").removeHandler(handler)
    assert not app.callback_errors, app.callback_errors
    assert not handler.records, [r.getMessage() for r in handler.records]
    assert not app.dialogs.errors(), app.dialogs.errors()
    wait_until(app.root, lambda: not app.runner.active_jobs(), timeout=120)
