"""The lab's window: a notebook of tabs, a menu bar whose commands and shortcuts come from one
table (lab.gui.commands; tabs add theirs with ``app.add_command``), a status bar (lab.gui.status_bar),
a log panel, the event hub the tabs talk through, and the one bridge from threads to Tk: job events,
log lines and calls posted on ``app.bridge`` are run by one poller on the Tk thread every 50 ms.

Tabs are modules with ``build(app, parent) -> tab`` (an object with a ``frame``; optionally
``export_charts(folder) -> [paths]``, ``close()``, ``load_prefs(prefs)`` / ``store_prefs(prefs)`` for
the settings kept between sessions (lab.gui.prefs), and ``quit_note()``, what closing now keeps of
its running job); a tab not built yet shows what it will hold. A tab's menu commands are declared in
its module's ``COMMANDS`` and bound in its build; ``app.show_tab(title)`` brings a tab forward.
"""
from __future__ import annotations

import importlib
import logging
import os
import queue
import signal
import sys
import tkinter as tk
import traceback
from collections.abc import Callable
from tkinter import ttk

from lab import __version__
from lab.backends import Backend, BackendConfig
from lab.gui.app_files import FileMenu
from lab.gui.app_jobs import Jobs
from lab.gui.app_keeping import Keeping
from lab.gui.commands import MENUS, Command, CommandTable
from lab.gui.dialogs import Dialogs
from lab.gui.hub import EventHub, ThreadBridge
from lab.gui.layout import restore_sashes
from lab.gui.prefs import LOG_HEIGHT, Prefs, SettingsFile, fit_geometry
from lab.gui.shortcuts import ShortcutsDialog, bind_field_keys, shortcut_table
from lab.gui.status_bar import StatusBar
from lab.gui.theme import apply_theme, colours
from lab.gui.widgets import fit_dropdowns_everywhere
from lab.jobs import JobRunner
from lab.registry import Registry

log = logging.getLogger("lab.gui")
POLL_MS = 50

# tab title -> (module with build(app, parent), or None while not built; what it is for)
TABS = {
    "Evolution Lab": ("lab.gui.evolution_lab", "Evolve populations of genomes in a chosen arena: selection, "
                      "crossover, cloning, mutation, aliens, elites with senescence and a Hall of Fame, watched live."),
    "Gene Forge": ("lab.gui.gene_forge", "Edit and splice genomes by hand: radar view, per-gene editor, horizontal gene transfer."),
    "Stress Chamber": ("lab.gui.stress_chamber", "Peer review: Monte Carlo over seeds with Smart Fill, and seven charts."),
    "Phylogeny": ("lab.gui.phylogeny", "Genomes mapped to 3D by PCA and clustered into named species at seven taxonomy levels."),
    "Insights": ("lab.gui.insights", "Which genes matter over the whole registry, a run's genealogy, runs compared, proposals."),
}


# the app's own commands, in menu order: File and View first, then what the tabs add (their modules'
# COMMANDS, in tab order), then the last ones (the Run menu ends with where trials run; Help)
APP_COMMANDS = [
    Command("choose_registry", "File", "Choose registry folder...", "Ctrl+O"),
    Command("import_genomes", "File", "Import genomes...", "Ctrl+I"),
    Command("export_genome", "File", "Export selected genome...", "Ctrl+E"),
    Command("export_charts", "File", "Export charts of this tab...", "Ctrl+Shift+E"),
    Command("reset_settings", "File", "Reset settings to defaults..."),
    Command("quit", "File", "Quit", "Ctrl+Q"),
    *[Command(f"show_tab_{i + 1}", "View", title, f"Ctrl+{i + 1}") for i, title in enumerate(TABS)],
    Command("toggle_log", "View", "Show or hide the log", "Ctrl+L"),
    Command("toggle_theme", "View", "Switch between light and dark theme", "Ctrl+T"),
]
APP_COMMANDS_LAST = [
    Command("mechanism", "Run", "Mechanism of the selected genome...", "Ctrl+Shift+M"),
    Command("backend_settings", "Run", "Where trials run (threads, processes, Dask)...", "Ctrl+B"),
    Command("shortcuts", "Help", "Keyboard shortcuts", "F1"),
    Command("about", "Help", "About Speciation Lab"),
]


def command_table() -> list[Command]:
    """Every command the window will have, in the order it adds them (for docs and checks that run
    without a window; a built app's own list is ``app.commands.commands``)."""
    tabs = [c for module, _purpose in TABS.values() if module
            for c in getattr(importlib.import_module(module), "COMMANDS", [])]
    return [*APP_COMMANDS, *tabs, *APP_COMMANDS_LAST]


def __getattr__(name: str):
    if name == "COMMANDS":   # the whole table, as the README's shortcut list shows it
        return command_table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_SIZE = (1280, 760)   # the window's size on a first start (then the size it was closed at)


class _QueueHandler(logging.Handler):
    """Log records from any thread go to a queue the Tk thread drains into the log panel."""

    def __init__(self, q: queue.SimpleQueue):
        super().__init__(logging.INFO)
        self.q = q
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.q.put(self.format(record))


class App(FileMenu, Jobs, Keeping):
    """The window and the services the tabs share (registry, hub, runner, dialogs, commands); the File
    menu, the jobs and where they run, and settings and closing are its parts in app_files, app_jobs
    and app_keeping."""

    def __init__(self, root: tk.Tk, registry: Registry, *, runner: JobRunner | None = None,
                 dialogs: Dialogs | None = None, device: str | None = None, settings: SettingsFile | None = None,
                 loaded: tuple[Prefs, str | None] | None = None):
        """``settings``: the file the window's settings are kept in (default: the user's, see
        lab.gui.prefs); ``loaded``: what ``settings.load()`` returned, when the caller read it first."""
        self.root = root
        self.registry = registry
        self.dialogs = dialogs or Dialogs(root)
        self.hub = EventHub(on_error=self.report_exception)
        self.bridge = ThreadBridge(on_error=self.report_exception)   # calls from other threads, run by _poll
        self.runner = runner or JobRunner()
        # short analysis jobs (a phylogeny map) run beside a long training job instead of queueing behind it
        self.quick_runner = JobRunner()
        self.backend: Backend = Backend()  # where trials run: the jobs' own thread until the user picks another
        self._polls = 0
        self.selected_genome: str | None = None
        self._closing = False
        self._log_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._log_handler = _QueueHandler(self._log_queue)
        logging.getLogger("lab").addHandler(self._log_handler)
        logging.getLogger("lab").setLevel(logging.INFO)
        root.report_callback_exception = lambda exc, val, tb: self.report_exception(val)

        root.title(f"Speciation Lab {__version__}")
        root.minsize(1100, 700)
        self.settings_file = settings or SettingsFile()
        self.prefs, settings_problem = loaded or self.settings_file.load()
        self.style = ttk.Style(root)
        self.theme = self.prefs.theme
        self.theme_in_use = apply_theme(root, self.theme)
        self.commands = CommandTable(root, self.invoke)
        self.menus, self.handlers = self.commands.menus, self.commands.handlers
        bind_field_keys(root)
        self.status = StatusBar(root, device, str(registry.root))
        for name in ("device_label", "registry_label", "registry_tip", "backend_label", "job_progress",
                     "job_label", "status_message", "status_label"):
            setattr(self, name, getattr(self.status, name))
        self.paned = ttk.PanedWindow(root, orient="vertical")
        self.paned.pack(fill="both", expand=True)
        self.notebook = ttk.Notebook(self.paned)
        self.paned.add(self.notebook, weight=1)
        # the log pane's height is set in pixels (a frame that does not propagate), so showing it
        # takes a known share of the window and the tab's own controls stay on screen
        self.log_pane = ttk.Frame(self.paned, height=self.prefs.log_height)
        self.log_pane.pack_propagate(False)
        self.log_text = tk.Text(self.log_pane, height=4, state="disabled", wrap="word", font=("TkFixedFont", 9),
                                borderwidth=0, highlightthickness=0, padx=4, pady=2)
        log_scroll = ttk.Scrollbar(self.log_pane, orient="vertical", command=self.log_text.yview)
        self.log_text.configure(yscrollcommand=log_scroll.set)
        log_scroll.pack(side="right", fill="y")
        self.log_text.pack(side="left", fill="both", expand=True)
        self._colour_log()
        self.log_visible = False
        self._shortcuts: ShortcutsDialog | None = None
        self.tabs: dict[str, object] = {}
        self.tab_frames: dict[str, ttk.Frame] = {}
        own = {
            "choose_registry": self.choose_registry, "import_genomes": self.import_genomes,
            "export_genome": self.export_genome, "export_charts": self.export_charts, "quit": self.request_quit,
            "toggle_log": self.toggle_log, "toggle_theme": self.toggle_theme, "shortcuts": self.show_shortcuts,
            "reset_settings": self.reset_settings,
            "about": self.show_about, "backend_settings": self.show_backend_dialog,
            "mechanism": lambda: importlib.import_module("lab.gui.mechanism_window").open_mechanism(self),
            **{f"show_tab_{i + 1}": (lambda t=title: self.show_tab(t)) for i, title in enumerate(TABS)},
        }
        self.add_commands(APP_COMMANDS, own)
        for title, (module, purpose) in TABS.items():
            frame = ttk.Frame(self.notebook)
            self.notebook.add(frame, text=title)
            self.tab_frames[title] = frame
            self.tabs[title] = self._build_tab(frame, title, module, purpose)
        self.add_commands(APP_COMMANDS_LAST, own)
        self.notebook.bind("<<NotebookTabChanged>>", lambda _e: self.hub.publish("tab_shown", title=self.shown_tab()),
                           add="+")
        self.hub.subscribe("genome_selected", self._on_genome_selected)
        self.hub.subscribe("status", lambda text: self.status_message.set(text))
        root.protocol("WM_DELETE_WINDOW", self.request_quit)
        self._poll_id = root.after(POLL_MS, self._poll)
        self._load_tab_prefs(self.prefs)
        restore_sashes(self.notebook, self.prefs.sashes)
        fit_dropdowns_everywhere(root)
        if self.prefs.log_visible:
            self.toggle_log()
        if settings_problem:
            log.warning("%s", settings_problem)
            self.status_message.set(settings_problem)

    # ---- construction ------------------------------------------------------------------------
    def _build_tab(self, frame: ttk.Frame, title: str, module: str | None, purpose: str) -> object:
        if module is not None:
            return importlib.import_module(module).build(self, frame)
        inner = ttk.Frame(frame, padding=24)
        inner.pack(fill="both", expand=True)
        ttk.Label(inner, text=title, style="Heading.TLabel").pack(anchor="w")
        ttk.Label(inner, text=purpose, wraplength=760, justify="left").pack(anchor="w", pady=(8, 16))
        ttk.Label(inner, text="This tab is not built yet. Its work can be done from the command line "
                              "(python main.py --help).", style="Muted.TLabel").pack(anchor="w")
        return None

    # ---- commands ----------------------------------------------------------------------------
    def add_command(self, name: str, label: str, callback: Callable[[], object], *, menu: str,
                    keys: str = "") -> Command:
        """Put a command in the one table: a ``menu`` item named ``label``, the shortcut ``keys`` (as
        people write it: "F5", "Ctrl+Shift+E") bound in the whole window, and a row of F1's list.
        A tab calls this from its build for each of its commands."""
        return self.commands.add(Command(name, menu, label, keys), callback)

    def add_commands(self, commands: list[Command], callbacks: dict[str, Callable[[], object]]) -> None:
        """:meth:`add_command` for each of ``commands`` (a module's declared table), callbacks by name."""
        for c in commands:
            self.add_command(c.name, c.label, callbacks[c.name], menu=c.menu, keys=c.shortcut)

    def show_tab(self, title: str) -> None:
        """Bring the tab ``title`` (one of TABS) forward, as View > its name does."""
        self.notebook.select(self.tab_frames[title])

    def shown_tab(self) -> str:
        """The title of the tab the notebook shows now."""
        return self.notebook.tab(self.notebook.select(), "text")

    def invoke(self, name: str) -> object:
        """Run a command as its menu item or shortcut would; errors go to the dialog and the log."""
        handler = self.handlers.get(name)
        if handler is None:
            self.status_message.set(f"'{name}' is not available yet")
            return None
        try:
            return handler()
        except Exception as exc:  # noqa: BLE001
            self.report_exception(exc)
            return None

    def report_exception(self, exc: BaseException) -> None:
        """A callback failed: log it (with the traceback) and tell the user; the app stays up. The
        lab's own errors about bad input (a damaged registry file, a hostile genome or data file)
        are a one-line dialog naming the file and the problem, not a crash report."""
        from lab.data import DataError
        from lab.genome import GenomeError
        from lab.registry import RegistryError
        from lab.safe_read import FileProblem
        if isinstance(exc, GenomeError):
            where = f"{exc.source}: " if exc.source else ""
            self.show_error("Bad genome file", where + "; ".join(exc.problems))
            return
        if isinstance(exc, (RegistryError, FileProblem, DataError)):
            self.show_error("Unusable file", " ".join(str(exc).split()))
            return
        details = "".join(traceback.format_exception(exc))
        log.error("%s: %s\n%s", type(exc).__name__, exc, details)
        self.dialogs.error("Something went wrong", f"{type(exc).__name__}: {exc}\n\nDetails are in the log "
                           "(View > Show or hide the log).")

    def show_error(self, title: str, message: str) -> None:
        """A problem the user can act on (bad input, missing file): a dialog and a log line."""
        log.warning("%s: %s", title, message)
        self.dialogs.error(title, message)

    # ---- View and Help -----------------------------------------------------------------------
    def toggle_log(self) -> None:
        if self.log_visible:
            self.prefs.log_height = self._log_height()
            self.paned.forget(self.log_pane)
        else:
            self.log_pane.configure(height=self.prefs.log_height)
            self.paned.add(self.log_pane, weight=0)
        self.log_visible = not self.log_visible

    def _log_height(self) -> int:
        """The log pane's height as the user left it (dragging the sash), within its bounds."""
        height = self.log_pane.winfo_height() if self.log_visible else self.prefs.log_height
        return int(min(max(height, LOG_HEIGHT.low), LOG_HEIGHT.high)) if height > 1 else self.prefs.log_height

    def toggle_theme(self) -> None:
        self.set_theme("dark" if self.theme == "light" else "light")

    def set_theme(self, name: str) -> None:
        """Show the ``light`` or ``dark`` look and remember the choice."""
        self.theme = name
        self.theme_in_use = apply_theme(self.root, name)
        self._colour_log()
        if not self.theme_in_use.startswith("sun-valley") and name == "dark":
            self.status_message.set("the dark theme needs the sv-ttk package (pip install sv-ttk)")
        self.prefs.theme = name
        self.save_settings()

    def _colour_log(self) -> None:
        c = colours(self.root, self.theme)
        self.log_text.configure(background=c["text_bg"], foreground=c["text_fg"], insertbackground=c["text_fg"])

    def shortcuts_text(self) -> str:
        """The shortcuts as plain text, one per line grouped by menu (for the log and tests)."""
        return "\n".join(f"{menu}:\n" + "\n".join(f"  {key:<14} {label}" for key, label in rows)
                         for menu, rows in shortcut_table(self.commands.commands, MENUS))

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help > Keyboard shortcuts: a window with a table of shortcut and command, by menu."""
        if self._shortcuts is not None and self._shortcuts.exists():
            self._shortcuts.window.lift()
        else:
            self._shortcuts = ShortcutsDialog(self.root, shortcut_table(self.commands.commands, MENUS))
        return self._shortcuts

    def show_about(self) -> None:
        self.dialogs.info("About Speciation Lab", f"Speciation Lab {__version__}\nA desktop laboratory for "
                          f"evolutionary deep learning.\nRegistry: {self.registry.root}")

    def _on_genome_selected(self, genome_id: str) -> None:
        self.selected_genome = genome_id

    # ---- the Tk side of the job runner -------------------------------------------------------
    def _poll(self) -> None:
        for runner in (self.runner, self.quick_runner):
            try:
                runner.poll()
            except Exception as exc:  # noqa: BLE001 - a listener failed; the loop must go on
                self.report_exception(exc)
        self.bridge.drain()
        self._drain_log()
        self.status.show_jobs(self.runner.active_jobs() or self.quick_runner.active_jobs())
        self._polls += 1
        if self._polls % 20 == 1:  # about once a second: workers come and go on a cluster
            self.status.show_backend(self.backend.status().text())
        if not self._closing or self.runner.active_jobs():
            self._poll_id = self.root.after(POLL_MS, self._poll)
        if self._closing and not self.runner.active_jobs():
            self._destroy()

    def _drain_log(self) -> None:
        lines = []
        while True:
            try:
                lines.append(self._log_queue.get_nowait())
            except queue.Empty:
                break
        if lines:
            self.log_text.configure(state="normal")
            self.log_text.insert("end", "\n".join(lines) + "\n")
            self.log_text.see("end")
            self.log_text.configure(state="disabled")


def no_display_reason() -> str | None:
    """Why no window can open here, or None if a display seems available."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display found (DISPLAY is not set)"
    return None


def run_gui(registry: str | None = None, backend: BackendConfig | None = None) -> int:
    from lab.cli import command_summary
    reason = no_display_reason()
    root = None
    if reason is None:
        try:
            root = tk.Tk(className="SpeciationLab")
        except tk.TclError as exc:
            reason = f"the window cannot open ({exc})"
    if root is None:
        print(f"Speciation Lab: {reason}.\n{command_summary()}", file=sys.stderr)
        return 1
    from lab.threads import configure
    configure()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)  # a LocalCluster's scheduler lives in this process
    settings = SettingsFile()
    loaded = settings.load()
    # --registry, else $SPECIATION_REGISTRY, else the folder used last (while it is one), else registry/
    last, gone = loaded[0].registry, ""
    if registry is None and not os.environ.get("SPECIATION_REGISTRY") and last:
        if os.path.isdir(last):
            registry = last
        else:
            gone = f"the last registry folder {last} is gone; using the default one"
    app = App(root, Registry(registry), settings=settings, loaded=loaded)
    if gone:
        log.info("%s", gone)
        app.status_message.set(gone)
    if backend is not None and backend.kind != "threads":
        app.apply_backend(backend)  # connects in a quick job; an unreachable cluster says so in a dialog
    # the menu bar sits above the geometry on X11: leave it and the window frame room on screen
    screen = root.winfo_screenwidth(), root.winfo_screenheight()
    width, height = min(DEFAULT_SIZE[0], screen[0]), min(DEFAULT_SIZE[1] + 40, screen[1]) - 40
    root.geometry(fit_geometry(loaded[0].geometry, *screen) or f"{width}x{height}+0+0")
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:   # the handler only schedules: Tk is touched from its own loop
            signal.signal(sig, lambda *_a: root.after_idle(app.terminate))
    root.after_idle(lambda: log.info("window open: registry %s, settings %s", app.registry.root, settings.path))
    root.mainloop()
    return 0
