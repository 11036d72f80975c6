"""The status bar along the window's foot: the device, the registry folder (whole path in a tooltip),
where trials run, the last status message, and the running job with its progress."""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lab.gui.widgets.fit_label import FitLabel, cut_middle
from lab.gui.widgets.tooltip import Tooltip


def elide(text: str, width: int = 40) -> str:
    """``text`` cut in the middle to at most ``width`` characters (the status bar's long paths and ids)."""
    return text if len(text) <= width else cut_middle(text, width - 1)


class StatusBar:
    def __init__(self, root: tk.Misc, device: str | None, registry_root: str):
        bar = ttk.Frame(root, relief="sunken", padding=(6, 2))
        bar.pack(fill="x", side="bottom")
        self.frame = bar
        if device is None:
            from lab.arenas.base import device_label, resolve_device
            device = device_label(resolve_device("auto"))
        self.device_label = ttk.Label(bar, text=f"Device: {device}")
        self.device_label.pack(side="left")
        ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)
        self.registry_label = ttk.Label(bar, text=f"Registry: {elide(registry_root)}")
        self.registry_label.pack(side="left")
        self.registry_tip = Tooltip(self.registry_label, registry_root)   # the whole path
        ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)
        self.backend_label = ttk.Label(bar, text="Trials: threads")
        self.backend_label.pack(side="left")
        self.job_progress = ttk.Progressbar(bar, length=160, maximum=1.0)
        self.job_progress.pack(side="right")
        self.job_label = ttk.Label(bar, text="No job running")
        self.job_label.pack(side="right", padx=8)
        # the last message takes what room is left, cut in the middle with the whole in a tooltip
        self.status_message = tk.StringVar(root, value="")
        self.status_label = FitLabel(bar, self.status_message, style="Muted.TLabel", anchor="e")
        self.status_label.pack(side="right", padx=8, fill="x", expand=True)

    def show_registry(self, root_path: str) -> None:
        self.registry_label.configure(text=f"Registry: {elide(root_path)}")
        self.registry_tip.text = root_path

    def show_backend(self, text: str) -> None:
        self.backend_label.configure(text=f"Trials: {text}")

    def show_jobs(self, jobs) -> None:
        """The first running job's title and progress, or that none runs."""
        if not jobs:
            self.job_label.configure(text="No job running")
            self.job_progress.configure(value=0.0)
            return
        job = jobs[0]
        fraction, text = job.progress
        title = elide(job.title, 30)   # the status message beside it keeps what room is left
        self.job_label.configure(text=f"{title}: {text}" if text else title)
        self.job_progress.configure(value=fraction)
