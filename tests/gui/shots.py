"""Shared by the screenshot scripts: let the window settle, move the pointer off it, grab the screen."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
import tkinter as tk

from lab.gui.prefs import ENV_DIR

# a screenshot shows the defaults, whatever the user running the script has set
os.environ.setdefault(ENV_DIR, tempfile.mkdtemp(prefix="lab-shot-config-"))


def grab(root: tk.Tk, out: str, settle_s: float = 1.5) -> None:
    """Pump events for ``settle_s`` (deferred chart draws land), park the pointer on the status bar so
    no tooltip covers the window, then save the whole screen with ImageMagick's ``import``."""
    end = time.monotonic() + settle_s
    while time.monotonic() < end:
        root.update()
        time.sleep(0.02)
    root.event_generate("<Motion>", warp=True, x=1200, y=root.winfo_height() - 5)
    root.update()
    subprocess.run(["import", "-window", "root", out], check=True)
