"""Speciation Lab: a desktop laboratory for evolutionary deep learning.

The core (this package minus ``lab.gui``) never imports tkinter, so everything the
window does can also be done from Python and from the command line.
"""
from __future__ import annotations

import os as _os
import sys as _sys

__version__ = "0.1.0"

# OpenMP reads its wait policy once, when torch loads: waiting threads sleep instead of spinning on
# a core another process wants (lab.threads explains; a policy the user set wins)
if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
