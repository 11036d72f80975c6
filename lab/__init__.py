"""Speciation Lab: a desktop laboratory for evolutionary deep learning.

The core (this package minus ``lab.gui``) never imports tkinter, so everything the
window does can also be done from Python and from the command line.
"""
from __future__ import annotations

__version__ = "0.1.0"
