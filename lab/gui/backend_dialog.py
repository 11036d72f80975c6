"""Run > Where trials run...: choose the backend (threads, a local process pool, a Dask cluster).

The dialog only collects and checks the settings; :meth:`lab.gui.app.App.apply_backend` connects
in a quick job (joining a scheduler or starting a LocalCluster takes seconds; an unreachable one
fails after the connect timeout), so the window never freezes.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lab.backends import BACKENDS, BackendConfig, BackendError
from lab.gui.widgets.form import Field, Form, FormError


def backend_fields(current: BackendConfig) -> list[Field]:
    return [
        Field("kind", "Backend", "choice", current.kind, choices=tuple(BACKENDS),
              help="\n".join(f"{k}: {v}" for k, v in BACKENDS.items())),
        Field("cluster", "Cluster", "text", current.cluster,
              help="dask only: tcp://HOST:8786 joins a running `dask scheduler`; local:N starts N worker "
                   "processes on this machine."),
        Field("workers", "Workers", "int", current.workers, 0, 256,
              help="processes only: the pool size (0 = one per core)."),
        Field("timeout", "Connect timeout (s)", "float", current.timeout, 0.5, 600,
              help="How long to try to reach the scheduler before saying it cannot be reached."),
    ]


class BackendDialog:
    """A small modal window over the app; ``connect()`` is what its button does."""

    def __init__(self, app):
        self.app = app
        self.top = tk.Toplevel(app.root)
        self.top.title("Where trials run")
        self.top.transient(app.root)
        frame = ttk.Frame(self.top, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="Where trials run", style="Heading.TLabel").pack(anchor="w")
        ttk.Label(frame, text="Jobs stay in this window; their trials run on the backend chosen here. Results "
                              "are the same on every backend.", wraplength=380, justify="left").pack(anchor="w",
                                                                                                     pady=(4, 8))
        self.form = Form(frame, backend_fields(app.backend.config), width=22)
        self.form.pack(fill="x")
        self.form.vars["kind"].trace_add("write", lambda *_a: self._kind_changed())
        self._kind_changed()
        self.message = ttk.Label(frame, text="", style="Error.TLabel", wraplength=380, justify="left")
        self.message.pack(anchor="w", pady=(6, 0))
        self.current = ttk.Label(frame, text=f"Now: {app.backend.status().text()}", style="Muted.TLabel")
        self.current.pack(anchor="w", pady=(2, 8))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x")
        self.connect_button = ttk.Button(buttons, text="Connect", command=self.connect)
        self.connect_button.pack(side="right")
        ttk.Button(buttons, text="Close", command=self.close).pack(side="right", padx=6)
        self.top.bind("<Return>", lambda _e: self.connect())
        self.top.bind("<Escape>", lambda _e: self.close())
        self.job = None

    def _kind_changed(self) -> None:
        """Only the fields of the chosen backend can be edited."""
        kind = self.form.vars["kind"].get()
        for name, used in (("cluster", kind == "dask"), ("workers", kind == "processes"), ("timeout", kind == "dask")):
            self.form.widgets[name].configure(state="normal" if used else "disabled")

    def config(self) -> BackendConfig:
        """The settings as typed, checked; raises FormError/BackendError naming every problem."""
        v = self.form.values()
        kind = v["kind"]
        return BackendConfig(kind=kind, cluster=v["cluster"].strip() if kind == "dask" else "",
                             workers=v["workers"] if kind == "processes" else 0, timeout=v["timeout"])

    def connect(self):
        """Check the settings and hand them to the app; the dialog closes once the backend is up."""
        try:
            config = self.config()
        except FormError as exc:
            self.message.configure(text="\n".join(exc.problems))
            return None
        except BackendError as exc:
            self.message.configure(text=str(exc))
            return None
        self.message.configure(text="")
        self.connect_button.configure(state="disabled")
        self.current.configure(text=f"Connecting to {config.label}...")
        self.job = self.app.apply_backend(config, on_done=self._done)
        if self.job is None:
            self.connect_button.configure(state="normal")
        return self.job

    def _done(self, ok: bool, text: str) -> None:
        if not self.top.winfo_exists():
            return
        self.connect_button.configure(state="normal")
        if ok:
            self.close()
        else:
            self.message.configure(text=text)
            self.current.configure(text=f"Now: {self.app.backend.status().text()}")

    def close(self) -> None:
        if self.top.winfo_exists():
            self.top.destroy()
