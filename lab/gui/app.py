"""The lab's window: a notebook of tabs, a menu bar whose commands and shortcuts come from one
table, a status bar (device, registry, running job), a log panel, the event hub the tabs talk
through, and the job runner whose events the Tk thread drains every 50 ms.

Tabs are modules with ``build(app, parent) -> tab`` (an object with a ``frame``; optionally
``export_charts(folder) -> [paths]``, ``close()``, ``load_prefs(prefs)`` / ``store_prefs(prefs)`` for
the settings kept between sessions (lab.gui.prefs), and ``quit_note()``, what closing now keeps of
its running job); a tab not built yet shows what it will hold.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import queue
import signal
import sys
import tkinter as tk
import traceback
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from lab import __version__
from lab.backends import Backend, BackendConfig, BackendError, make_backend
from lab.gui.dialogs import Dialogs, default_folder
from lab.gui.hub import EventHub
from lab.gui.layout import restore_sashes, sash_positions
from lab.gui.prefs import LOG_HEIGHT, Prefs, SettingsFile, fit_geometry
from lab.gui.shortcuts import ShortcutsDialog, bind_field_keys, shortcut_table
from lab.gui.theme import apply_theme, colours
from lab.gui.widgets import fit_dropdowns_everywhere
from lab.gui.widgets.fit_label import FitLabel, cut_middle
from lab.jobs import JobEnded, JobRunner
from lab.registry import Registry, RegistryError

log = logging.getLogger("lab.gui")
POLL_MS = 50

# tab title -> (module with build(app, parent), or None while not built; what it is for)
TABS = {
    "Evolution Lab": ("lab.gui.evolution_lab", "Evolve populations of genomes in a chosen arena: selection, "
                      "crossover, cloning, mutation, aliens, elites with senescence and a Hall of Fame, watched live."),
    "Gene Forge": ("lab.gui.gene_forge", "Edit and splice genomes by hand: radar view, per-gene editor, horizontal gene transfer."),
    "Stress Chamber": ("lab.gui.stress_chamber", "Peer review: Monte Carlo over seeds with Smart Fill, and seven analysis charts "
                             "exported for papers."),
    "Phylogeny": ("lab.gui.phylogeny", "Genomes mapped to 3D by PCA and clustered into named species at seven taxonomy levels."),
}


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    menu: str
    label: str
    shortcut: str = ""     # as shown in the menu and the shortcuts dialog
    sequence: str = ""     # the Tk event sequence bound to it


# The one table of menu commands and keyboard shortcuts (menus are built from it, in this order).
COMMANDS = [
    Command("choose_registry", "File", "Choose registry folder...", "Ctrl+O", "<Control-o>"),
    Command("import_genomes", "File", "Import genomes...", "Ctrl+I", "<Control-i>"),
    Command("export_genome", "File", "Export selected genome...", "Ctrl+E", "<Control-e>"),
    Command("export_charts", "File", "Export charts of this tab...", "Ctrl+Shift+E", "<Control-E>"),
    Command("reset_settings", "File", "Reset settings to defaults..."),
    Command("quit", "File", "Quit", "Ctrl+Q", "<Control-q>"),
    *[Command(f"show_tab_{i + 1}", "View", title, f"Ctrl+{i + 1}", f"<Control-Key-{i + 1}>")
      for i, title in enumerate(TABS)],
    Command("toggle_log", "View", "Show or hide the log", "Ctrl+L", "<Control-l>"),
    Command("toggle_theme", "View", "Switch between light and dark theme", "Ctrl+T", "<Control-t>"),
    Command("start_run", "Run", "Start evolution", "F5", "<F5>"),
    Command("pause_run", "Run", "Pause after this generation", "F6", "<F6>"),
    Command("stop_run", "Run", "Stop now (keeps the last checkpoint)", "Shift+F5", "<Shift-F5>"),
    Command("resume_run", "Run", "Resume the chosen saved run", "F7", "<F7>"),
    Command("direct_run", "Run", "Direct run of the arena...", "Ctrl+D", "<Control-d>"),
    Command("backend_settings", "Run", "Where trials run (threads, processes, Dask)...", "Ctrl+B", "<Control-b>"),
    Command("shortcuts", "Help", "Keyboard shortcuts", "F1", "<F1>"),
    Command("about", "Help", "About Speciation Lab"),
]
MENUS = ("File", "View", "Run", "Help")
DEFAULT_SIZE = (1280, 760)   # the window's size on a first start (then the size it was closed at)


class _QueueHandler(logging.Handler):
    """Log records from any thread go to a queue the Tk thread drains into the log panel."""

    def __init__(self, q: queue.SimpleQueue):
        super().__init__(logging.INFO)
        self.q = q
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.q.put(self.format(record))


class App:
    """The window and the services the tabs share (registry, hub, runner, dialogs, commands)."""

    def __init__(self, root: tk.Tk, registry: Registry, *, runner: JobRunner | None = None,
                 dialogs: Dialogs | None = None, device: str | None = None, settings: SettingsFile | None = None,
                 loaded: tuple[Prefs, str | None] | None = None):
        """``settings``: the file the window's settings are kept in (default: the user's, see
        lab.gui.prefs); ``loaded``: what ``settings.load()`` returned, when the caller read it first."""
        self.root = root
        self.registry = registry
        self.dialogs = dialogs or Dialogs(root)
        self.hub = EventHub(on_error=self.report_exception)
        self.runner = runner or JobRunner()
        # short analysis jobs (a phylogeny map) run beside a long training job instead of queueing behind it
        self.quick_runner = JobRunner()
        self.backend: Backend = Backend()  # where trials run: the jobs' own thread until the user picks another
        self._polls = 0
        self.handlers: dict[str, Callable[[], object]] = {}
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
        self._build_menu()
        bind_field_keys(root)
        self._build_status(device)
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
        for title, (module, purpose) in TABS.items():
            frame = ttk.Frame(self.notebook)
            self.notebook.add(frame, text=title)
            self.tabs[title] = self._build_tab(frame, title, module, purpose)
        self.add_handlers({
            "choose_registry": self.choose_registry, "import_genomes": self.import_genomes,
            "export_genome": self.export_genome, "export_charts": self.export_charts, "quit": self.request_quit,
            "toggle_log": self.toggle_log, "toggle_theme": self.toggle_theme, "shortcuts": self.show_shortcuts,
            "reset_settings": self.reset_settings,
            "about": self.show_about, "backend_settings": self.show_backend_dialog,
            **{f"show_tab_{i + 1}": (lambda i=i: self.notebook.select(i)) for i in range(len(TABS))},
        })
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
    def _build_menu(self) -> None:
        menubar = tk.Menu(self.root)
        self.menus = {name: tk.Menu(menubar, tearoff=False) for name in MENUS}
        for cmd in COMMANDS:
            self.menus[cmd.menu].add_command(label=cmd.label, accelerator=cmd.shortcut,
                                             command=lambda n=cmd.name: self.invoke(n))
            if cmd.sequence:
                self.root.bind_all(cmd.sequence, lambda _e, n=cmd.name: (self.invoke(n), "break")[1])
        for name in MENUS:
            menubar.add_cascade(label=name, menu=self.menus[name])
        self.root.config(menu=menubar)

    def _build_status(self, device: str | None) -> None:
        bar = ttk.Frame(self.root, relief="sunken", padding=(6, 2))
        bar.pack(fill="x", side="bottom")
        if device is None:
            from lab.arenas.base import device_label, resolve_device
            device = device_label(resolve_device("auto"))
        self.device_label = ttk.Label(bar, text=f"Device: {device}")
        self.device_label.pack(side="left")
        ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)
        self.registry_label = ttk.Label(bar, text=f"Registry: {elide(str(self.registry.root))}")
        self.registry_label.pack(side="left")
        from lab.gui.widgets.tooltip import Tooltip
        self.registry_tip = Tooltip(self.registry_label, str(self.registry.root))   # the whole path
        ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)
        self.backend_label = ttk.Label(bar, text="Trials: threads")
        self.backend_label.pack(side="left")
        self.job_progress = ttk.Progressbar(bar, length=160, maximum=1.0)
        self.job_progress.pack(side="right")
        self.job_label = ttk.Label(bar, text="No job running")
        self.job_label.pack(side="right", padx=8)
        # the last message takes what room is left, cut in the middle with the whole in a tooltip
        self.status_message = tk.StringVar(self.root, value="")
        self.status_label = FitLabel(bar, self.status_message, style="Muted.TLabel", anchor="e")
        self.status_label.pack(side="right", padx=8, fill="x", expand=True)

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
    def add_handlers(self, handlers: dict[str, Callable[[], object]]) -> None:
        known = {c.name for c in COMMANDS}
        unknown = set(handlers) - known
        if unknown:
            raise ValueError(f"no such command(s): {', '.join(sorted(unknown))}")
        self.handlers.update(handlers)

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
        """A callback failed: log it (with the traceback) and tell the user; the app stays up."""
        details = "".join(traceback.format_exception(exc))
        log.error("%s: %s\n%s", type(exc).__name__, exc, details)
        self.dialogs.error("Something went wrong", f"{type(exc).__name__}: {exc}\n\nDetails are in the log "
                           "(View > Show or hide the log).")

    def show_error(self, title: str, message: str) -> None:
        """A problem the user can act on (bad input, missing file): a dialog and a log line."""
        log.warning("%s: %s", title, message)
        self.dialogs.error(title, message)

    # ---- File menu ---------------------------------------------------------------------------
    def set_registry(self, path: str | os.PathLike[str]) -> None:
        try:
            registry = Registry(path)
        except RegistryError as exc:
            self.show_error("Registry", str(exc))
            return
        self.registry = registry
        self.registry_label.configure(text=f"Registry: {elide(str(registry.root))}")
        self.registry_tip.text = str(registry.root)
        log.info("registry is now %s", registry.root)
        self.prefs.registry = str(registry.root)
        self.save_settings()
        self.hub.publish("registry_changed", registry=registry)

    def choose_registry(self) -> None:
        if self.runner.active_jobs():
            self.show_error("Registry", "A job is running on the current registry; stop it before switching.")
            return
        path = self.dialogs.ask_directory("Choose a registry folder", str(self.registry.root))
        if path:
            self.set_registry(path)

    def import_genomes(self) -> None:
        paths = self.dialogs.ask_open_files("Import genome files")
        if not paths:
            return
        report = self.registry.import_paths(paths)
        if report.ok:
            self.dialogs.info("Import", report.summary())
        else:
            self.show_error("Import", report.summary())
        if report.imported:
            self.hub.publish("registry_changed", registry=self.registry)

    def export_genome(self) -> None:
        if not self.selected_genome:
            self.show_error("Export genome", "Select a genome first (for example in the Evolution Lab's "
                                             "population table or Hall of Fame).")
            return
        dest = self.dialogs.ask_save_file("Export genome", f"{self.selected_genome}.json")
        if dest:
            written = self.registry.export_genomes([self.selected_genome], dest)
            self.status_message.set(f"exported {', '.join(p.name for p in written)}")

    def ask_export_folder(self, title: str) -> str | None:
        """The folder picker for exports: it opens in the last export folder (while it exists), and
        the folder chosen is remembered for next time."""
        last = self.prefs.export_folder
        folder = self.dialogs.ask_directory(title, last if last and os.path.isdir(last) else default_folder())
        if folder:
            self.prefs.export_folder = str(folder)
            self.save_settings()
        return folder

    def export_charts(self) -> None:
        tab = self.tabs[self.notebook.tab(self.notebook.select(), "text")]
        if tab is None or not hasattr(tab, "export_charts"):
            self.show_error("Export charts", "This tab has no charts to export.")
            return
        folder = self.ask_export_folder("Export charts to folder")
        if folder:
            paths = tab.export_charts(Path(folder))
            self.status_message.set(f"wrote {len(paths)} chart file(s) to {folder}")

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
                         for menu, rows in shortcut_table(COMMANDS, MENUS))

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help > Keyboard shortcuts: a window with a table of shortcut and command, by menu."""
        if self._shortcuts is not None and self._shortcuts.exists():
            self._shortcuts.window.lift()
        else:
            self._shortcuts = ShortcutsDialog(self.root, shortcut_table(COMMANDS, MENUS))
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
        self._drain_log()
        self._show_job_status()
        self._polls += 1
        if self._polls % 20 == 1:  # about once a second: workers come and go on a cluster
            self.backend_label.configure(text=f"Trials: {self.backend.status().text()}")
        if not self._closing or self.runner.active_jobs():
            self._poll_id = self.root.after(POLL_MS, self._poll)
        if self._closing and not self.runner.active_jobs():
            self._destroy()

    def _show_job_status(self) -> None:
        jobs = self.runner.active_jobs() or self.quick_runner.active_jobs()
        if not jobs:
            self.job_label.configure(text="No job running")
            self.job_progress.configure(value=0.0)
            return
        job = jobs[0]
        fraction, text = job.progress
        title = elide(job.title, 30)   # the status message beside it keeps what room is left
        self.job_label.configure(text=f"{title}: {text}" if text else title)
        self.job_progress.configure(value=fraction)

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

    def submit(self, fn, *args, title: str, on_event=None, quick: bool = False):
        """Run ``fn(job, *args)`` as a background job; ``on_event`` sees its events on the Tk thread.
        A job that fails shows its error in a dialog and the log. ``quick``: a short job (seconds) that
        runs on its own worker, beside a long one, instead of waiting for it."""
        if not quick:   # the settings a long job starts with are kept even if the lab is killed during it
            try:
                self.save_settings()
            except Exception as exc:  # noqa: BLE001 - a form that cannot be read must not stop the job
                log.warning("settings not saved: %s", exc)
        job = (self.quick_runner if quick else self.runner).submit(fn, *args, title=title, on_event=on_event)

        def on_end(event) -> None:
            if isinstance(event, JobEnded) and event.state == "failed":
                log.error("job %s failed: %s\n%s", title, event.error, event.details or "")
                self.dialogs.error(f"{title} failed", event.error or "unknown error")
        job.subscribe(on_end)
        return job

    # ---- where trials run ----------------------------------------------------------------------
    def show_backend_dialog(self):
        from lab.gui.backend_dialog import BackendDialog
        return BackendDialog(self)

    def apply_backend(self, config: BackendConfig, on_done: Callable[[bool, str], None] | None = None):
        """Set up the backend ``config`` names in a quick job and switch to it once it is up (the old
        one is closed). Refused while a job runs: its trials are on the current backend. Returns the
        job, or None if refused. ``on_done(ok, message)`` is called on the Tk thread."""
        if self.runner.active_jobs():
            self.dialogs.error("Where trials run", "A job is running on the current backend; stop it first.")
            return None

        def connect(job):
            try:
                return make_backend(config)
            except BackendError as exc:  # a bad address or no scheduler: the user's to fix, not a failure
                return exc

        def on_event(event) -> None:
            if not isinstance(event, JobEnded):
                return
            result = event.result
            if event.state == "done" and isinstance(result, Backend):
                old, self.backend = self.backend, result
                self.backend_label.configure(text=f"Trials: {self.backend.status().text()}")
                self.status_message.set(f"trials now run on {config.label}")
                log.info("trials now run on %s", self.backend.status().text())
                if old is not self.backend:
                    old.close()
                ok, text = True, ""
            else:
                text = str(result) if isinstance(result, BackendError) else (event.error or event.state)
                ok = False
                log.warning("trials stay on %s: %s", self.backend.config.label, text)
                if on_done is None:
                    self.dialogs.error("Where trials run", text)
            if on_done is not None:
                on_done(ok, text)
        return self.submit(connect, title=f"Connecting to {config.label}", on_event=on_event, quick=True)

    # ---- closing -----------------------------------------------------------------------------
    def request_quit(self) -> None:
        """Close the window; with a job running, ask first, then cancel it and wait for it to end
        (an evolution run keeps its last checkpoint) while the window keeps updating."""
        jobs = self.runner.active_jobs()
        if jobs:
            if not self.dialogs.ask_yes_no("Quit", self.quit_question(jobs)):
                return
            for job in jobs:
                job.cancel()
            self.job_label.configure(text="Stopping the running job; the window closes when it has ended...")
        self._closing = True
        if not jobs:
            self._destroy()

    def terminate(self) -> None:
        """Close without asking (SIGTERM or SIGHUP, as at logout): running jobs are cancelled and
        waited for (an evolution run keeps its last checkpoint), then the settings are saved."""
        if self._closing:
            return
        jobs = self.runner.active_jobs()
        for job in jobs:
            job.cancel()
        self._closing = True
        if not jobs:
            self._destroy()

    def quit_question(self, jobs) -> str:
        """What Quit asks with ``jobs`` running: each tab says what closing now keeps of its work
        (an evolution run with no finished generation has nothing checkpointed yet)."""
        names = ", ".join(j.title for j in jobs)
        notes = [note for tab in self.tabs.values() if (note := getattr(tab, "quit_note", lambda: "")())]
        kept = " ".join(notes) if notes else "Trials that have finished stay in the registry."
        return f"{names} {'is' if len(jobs) == 1 else 'are'} running. {kept}\n\nStop and quit?"

    # ---- settings kept between sessions ------------------------------------------------------
    def _load_tab_prefs(self, prefs: Prefs) -> None:
        for tab in self.tabs.values():
            load = getattr(tab, "load_prefs", None)
            if load:
                load(prefs)

    def collect_settings(self) -> Prefs:
        """The settings as the window shows them now (forms, theme, log pane, geometry)."""
        for tab in self.tabs.values():
            store = getattr(tab, "store_prefs", None)
            if store:
                store(self.prefs)
        self.prefs.theme = self.theme
        self.prefs.log_visible = self.log_visible
        self.prefs.log_height = self._log_height()
        self.prefs.registry = str(self.registry.root)
        if self.root.winfo_ismapped():
            self.prefs.geometry = self.root.geometry()
            self.prefs.sashes = {**self.prefs.sashes, **sash_positions(self.notebook)}
        return self.prefs

    def save_settings(self) -> bool:
        """Write the settings file now; a folder that cannot be written is said in one line."""
        try:
            self.settings_file.save(self.collect_settings())
        except OSError as exc:
            message = f"settings not saved to {self.settings_file.path}: {exc.strerror or exc}"
            log.warning("%s", message)
            self.status_message.set(message)
            return False
        return True

    def reset_settings(self) -> bool:
        """File > Reset settings to defaults: after a yes, every form, the theme, the log pane and
        the export choices show their defaults, and the settings file says so. The registry folder
        and the window's size stay as they are."""
        if self.runner.active_jobs():
            self.show_error("Reset settings", "A job is running; stop it before resetting the settings.")
            return False
        if not self.dialogs.ask_yes_no("Reset settings", "Put every setting (each arena's Evolution, Task and "
                                       "Stress settings, theme, log pane, export folder and formats) back to its "
                                       f"default?\n\nThey are kept in {self.settings_file.path}."):
            return False
        geometry = self.root.geometry() if self.root.winfo_ismapped() else self.prefs.geometry
        self.prefs = Prefs(registry=str(self.registry.root), geometry=geometry)
        self._load_tab_prefs(self.prefs)
        if self.log_visible:
            self.toggle_log()
        self.prefs.log_height = LOG_HEIGHT.default
        self.set_theme(self.prefs.theme)   # saves the file
        self.status_message.set("settings reset to their defaults")
        log.info("settings reset to their defaults (%s)", self.settings_file.path)
        return True

    def _destroy(self) -> None:
        try:
            self.save_settings()
        except Exception as exc:  # noqa: BLE001 - the window must close even if a form cannot be read
            log.warning("settings not saved: %s", exc)
        for tab in self.tabs.values():
            close = getattr(tab, "close", None)
            if close:
                close()
        logging.getLogger("lab").removeHandler(self._log_handler)
        self.runner.executor.shutdown(wait=False)
        self.quick_runner.executor.shutdown(wait=False)
        try:
            self.backend.close()
        except Exception as exc:  # noqa: BLE001 - closing must go on
            log.warning("closing the backend: %s", exc)
        try:
            self.root.after_cancel(self._poll_id)
        except tk.TclError:
            pass
        self.root.destroy()


def elide(text: str, width: int = 40) -> str:
    """``text`` cut in the middle to at most ``width`` characters (the status bar's long paths and ids)."""
    return text if len(text) <= width else cut_middle(text, width - 1)


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
    from lab.jobs import configure_torch_threads
    configure_torch_threads()
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
