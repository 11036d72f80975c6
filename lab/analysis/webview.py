"""The interactive 3D phylogeny window: a pywebview window in a process of its own.

    python -m lab.analysis.webview PAGE.html [--title TITLE] [--width W] [--height H]

pywebview must own the main thread of its process, as Tk owns the lab's, so the Phylogeny tab starts
this module as a child process and reads what it says. The child speaks one JSON object per line on
stdout, and nothing else goes there:

    {"event": "started", "backend": "qt"}        the window is open
    {"event": "rendered"}                        plotly has drawn the page
    {"event": "copy", "ids": [...]}              the user clicked a genome or a species
    {"event": "failed", "reason": "..."}         no webview backend could start (exit status 3)

The page reaches Python only through :class:`CopyApi`, whose one public method, ``copy_ids``, accepts
genome ids that the page itself embeds and passes them on; the parent puts them on the clipboard.

On Linux the Qt backend (``pywebview[qt]``) is used. Under Xvfb, Chromium inside Qt block-lists
WebGL, which plotly's 3D scatter needs, unless told to use its software renderer: the flags in
``CHROMIUM_FLAGS`` are set unless ``QTWEBENGINE_CHROMIUM_FLAGS`` is set already.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

CHROMIUM_FLAGS = ("--no-sandbox --disable-gpu-compositing --ignore-gpu-blocklist --enable-unsafe-swiftshader "
                  "--use-angle=swiftshader-webgl")
EXIT_NO_BACKEND = 3
RENDER_TIMEOUT_S = 60.0
_ID = re.compile(r"^[0-9a-f]{16}$")
_print_lock = threading.Lock()


def say(event: str, **fields) -> None:
    """One JSON line to the parent."""
    with _print_lock:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


class CopyApi:
    """What the page may call: ``copy_ids`` and nothing else (pywebview exposes public attributes)."""

    def __init__(self, allowed_ids, emit=say):
        self._allowed = frozenset(allowed_ids)
        self._emit = emit

    def copy_ids(self, ids) -> int:
        """Hand the ids to the parent; only ids of genomes on the page, at most all of them."""
        if not isinstance(ids, list) or not ids or len(ids) > len(self._allowed):
            raise ValueError("copy_ids takes a non-empty list of the page's genome ids")
        bad = [i for i in ids if not isinstance(i, str) or not _ID.match(i) or i not in self._allowed]
        if bad:
            raise ValueError(f"not a genome id on this page: {str(bad[0])[:40]!r}")
        self._emit("copy", ids=list(dict.fromkeys(ids)))
        return len(set(ids))


def _watch_render(window, timeout: float = RENDER_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if window.evaluate_js("document.body && document.body.dataset.rendered || ''") == "1":
                say("rendered")
                return
        except Exception:   # noqa: BLE001 - the page may not be ready to evaluate yet
            pass
        time.sleep(0.25)
    say("render-timeout", seconds=timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.analysis.webview", description=__doc__.split("\n\n")[0])
    ap.add_argument("page", help="the HTML page (written by the Phylogeny tab or `phylogeny --html`)")
    ap.add_argument("--title", default="Speciation Lab: phylogeny")
    ap.add_argument("--width", type=int, default=1180)
    ap.add_argument("--height", type=int, default=760)
    args = ap.parse_args(argv)
    page = Path(args.page).resolve()
    if not page.is_file():
        say("failed", reason=f"no page at {page}")
        return 2
    from lab.analysis.phylogeny_html import page_ids
    try:
        allowed = page_ids(page.read_text(encoding="utf-8"))
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        say("failed", reason=f"{page} is not a phylogeny page ({exc})")
        return 2
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", CHROMIUM_FLAGS)
    try:
        import webview
    except ImportError as exc:
        say("failed", reason=f"pywebview is not installed ({exc})")
        return EXIT_NO_BACKEND
    try:
        window = webview.create_window(args.title, url=page.as_uri(), js_api=CopyApi(allowed),
                                       width=args.width, height=args.height, x=0, y=0)

        def started() -> None:
            guilib = getattr(webview, "guilib", None)   # the backend module pywebview chose
            say("started", backend=guilib.__name__.rsplit(".", 1)[-1] if guilib else "unknown")
            _watch_render(window)

        webview.start(started, gui="qt" if sys.platform.startswith("linux") else None)
    except Exception as exc:   # noqa: BLE001 - any backend failure means: fall back to the browser
        say("failed", reason=f"{type(exc).__name__}: {exc}")
        return EXIT_NO_BACKEND
    return 0


if __name__ == "__main__":
    sys.exit(main())
