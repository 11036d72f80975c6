"""The Phylogeny tab: the genomes of one spec mapped to 3D by PCA and clustered into species at seven
taxonomy levels (lab.analysis.phylogeny). Inside the tab: a rotatable matplotlib 3D scatter, a level
selector, the species with their counts and the genomes. "Open interactive 3D" starts the plotly page
in a pywebview window of its own process (lab.analysis.webview), or in the system browser when no
webview backend starts. Clicking a genome copies its id, clicking a species copies all its ids; the
chosen genomes can be sent to the Evolution Lab and the Stress Chamber. Each map stores its species
in the registry, where the Stress Chamber's "species" grouping reads them.
"""
from __future__ import annotations

import tempfile
import tkinter as tk
import webbrowser
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from lab.analysis.phylogeny import LEVELS, Performance, Phylogeny, PhylogenyError, map_registry, species_colours
from lab.analysis.phylogeny_plot import MapArtists, current_view, draw_phylogeny, ring_genomes
from lab.arenas import arena_names, get_arena, load_gene_specs
from lab.gui.phylogeny_layout import PhylogenyLayout
from lab.gui.webview_process import WEBVIEW_COMMAND, WebviewProcess
from lab.gui.widgets import descendants
from lab.gui.widgets.table import fit_columns
from lab.jobs import JobEnded
from lab.registry import RegistryError


def map_job(job, registry, spec: str, scope: str, tag: str) -> tuple[Phylogeny, dict[str, Performance]] | str:
    """Build the map, size it by recorded trials and store the species labels in the registry. A problem
    the user can fix (no genomes, an unreadable species file) comes back as its message."""
    try:
        return map_registry(registry, spec, scope, tag, report=job.report)
    except (PhylogenyError, RegistryError) as exc:
        return str(exc)


class PhylogenyTab(PhylogenyLayout):
    """The tab; its panels are built by :class:`lab.gui.phylogeny_layout.PhylogenyLayout`."""

    def __init__(self, app, parent: ttk.Frame):
        self.app = app
        self.frame = parent
        self.phylo: Phylogeny | None = None
        self.perf: dict[str, Performance] = {}
        self.selection: list[str] = []      # the chosen genome ids (a species, a genome, or the webview's copy)
        self.job = None
        self.webview: WebviewProcess | None = None
        self.page_dir = Path(tempfile.mkdtemp(prefix="speciation-phylogeny-"))
        self.browser_open: Callable[[str], object] = webbrowser.open   # tests replace it
        self.webview_command = list(WEBVIEW_COMMAND)                   # the window process (PAGE --title T follow)
        self.artists = MapArtists([])
        self._swatches: dict[str, tk.PhotoImage] = {}
        self._mapped_once = False
        self._publishing = False
        self._sort: tuple[str, bool] | None = None
        self._fell_back = False
        self.webview_rendered = False
        self.page: Path | None = None

        outer = ttk.PanedWindow(parent, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(2, 0))
        outer.add(left, weight=0)
        load_gene_specs()
        self._build_source(left)
        self._build_species(left)
        middle = ttk.Frame(outer, padding=(4, 0))
        outer.add(middle, weight=1)
        self._build_map(middle)
        right = ttk.Frame(outer, padding=(4, 0))
        outer.add(right, weight=0)
        self._build_genomes(right)
        for w in descendants(parent):
            if not isinstance(w, (ttk.Entry, ttk.Combobox)):
                w.bind("<plus>", lambda _e: (self.step_level(+1), "break")[1])
                w.bind("<minus>", lambda _e: (self.step_level(-1), "break")[1])
            w.bind("<Control-c>", lambda _e: (self.copy_selection(), "break")[1])
        app.hub.subscribe("registry_changed", self._on_registry_changed)
        app.hub.subscribe("tab_shown", self._on_tab_shown)
        self.redraw()

    # ---- mapping -----------------------------------------------------------------------------
    def map(self) -> bool:
        if self.job is not None:
            return False
        if self.scope.get() == "tag" and not self.tag.get().strip():
            self.app.show_error("Phylogeny", "Type a tag to map the genomes that carry it.")
            return False
        self._mapped_once = True
        self.map_button.state(["disabled"])
        self.progress.configure(value=0)
        self.job = self.app.submit(map_job, self.app.registry, self.spec.get(), self.scope.get(), self.tag.get(),
                                   title="Phylogeny map", on_event=self._on_event, quick=True)
        return True

    def _on_event(self, event) -> None:
        if isinstance(event, JobEnded):
            self.job = None
            self.map_button.state(["!disabled"])
            self.progress.configure(value=1.0 if event.state == "done" else 0)
            if event.state == "done" and isinstance(event.result, str):
                self.app.show_error("Phylogeny", f"Could not map the genomes: {event.result}")
            elif event.state == "done":
                self.phylo, self.perf = event.result
                self._offer_tasks()
                self.stale_label.configure(text="")
                if not self._level_chosen:
                    self.level.set(self.phylo.default_level())
                self.show_level()
                n = len(self.phylo.genomes)
                counts = ", ".join(f"{lv} {k}" for lv, k in zip(LEVELS, self.phylo.counts()))
                self.app.status_message.set(f"mapped {n} genome(s); species stored in the registry ({counts})")
                self._publishing = True   # our own news: the map is not stale
                try:
                    self.app.hub.publish("registry_changed", registry=self.app.registry)
                finally:
                    self._publishing = False
        elif hasattr(event, "fraction") and event.fraction is not None:
            self.progress.configure(value=event.fraction)

    def _on_registry_changed(self, registry) -> None:
        if self._publishing:
            return
        if self.phylo is not None:
            self.stale_label.configure(text="The registry changed since this map: press Map genomes to update it.")

    def _on_tab_shown(self, title: str) -> None:
        if title == "Phylogeny" and not self._mapped_once:
            self.map()

    # ---- which task's trials -----------------------------------------------------------------
    def _offer_tasks(self) -> None:
        """Offer the tasks that have trials of the mapped genomes; keep the chosen one if it still has
        some, else take the one with the most (so the columns are not blank when trials exist)."""
        from lab.analysis.phylogeny import task_id_for
        from lab.tasks import task_choices
        arena = next((name for name in arena_names() if get_arena(name).gene_spec.name == self.phylo.spec.name), None)
        try:
            self._task_choices = [c for c in task_choices(self.app.registry, arena, [g.id for g in self.phylo.genomes])
                                  if c.trials]
        except (OSError, RegistryError) as exc:
            self._task_choices = []
            self.app.status_message.set(f"tasks with trials: {exc}")
        self.task_box.configure(values=[c.label for c in self._task_choices])
        ids = [c.task_id for c in self._task_choices]
        chosen = self._task_chosen if self._task_chosen in ids else None   # the user's choice stays
        keep = chosen or (ids[0] if ids else task_id_for(self.phylo.spec.name))
        self._use_task(keep)

    def _use_task(self, task_id: str | None) -> None:
        from lab.analysis.phylogeny import performance
        self.task_id = task_id
        self.task_choice.set(next((c.label for c in self._task_choices if c.task_id == task_id),
                                  "no trials of these genomes yet"))
        self.perf = performance(self.app.registry, self.phylo.genomes, task_id) if task_id else {}

    def choose_task(self, label: str) -> bool:
        """Read Success and Median from the trials of the task offered as ``label``."""
        choice = next((c for c in self._task_choices if c.label == label), None)
        if choice is None or self.phylo is None:
            return False
        self._task_chosen = choice.task_id
        self._use_task(choice.task_id)
        self.show_level()
        return True

    # ---- views -------------------------------------------------------------------------------
    def step_level(self, step: int) -> None:
        i = max(0, min(len(LEVELS) - 1, LEVELS.index(self.level.get()) + step))
        self.choose_level(LEVELS[i])

    def choose_level(self, level: str) -> None:
        """The user's level: kept across maps (until then a map opens at its default level)."""
        self._level_chosen = True
        self.level.set(level)
        self.show_level()

    def show_level(self) -> None:
        """Fill the species and genome lists for the chosen level and redraw."""
        self.species_tree.delete(*self.species_tree.get_children())
        self.genome_tree.delete(*self.genome_tree.get_children())
        if self.phylo is None:
            self.level_count.configure(text="")
            self.redraw()
            return
        level = self.level.get()
        species = self.phylo.level_species(level)
        self.level_count.configure(text=f"{len(species)} species")
        colours = species_colours(len(species))
        for sp in species:
            self.species_tree.insert("", "end", iid=f"sp{sp.index}", text=sp.name, values=(sp.size,),
                                     image=self._swatch(colours[sp.index]))
        fit_columns(self.species_tree)
        names = self.phylo.names(level)
        for g in self.phylo.genomes:
            p = self.perf.get(g.id)
            self.genome_tree.insert("", "end", iid=g.id, values=(
                g.label, names[g.id], f"{p.success:.0%} of {p.trials}" if p and p.trials else
                f"{p.stopped} stopped early" if p and p.stopped else "no trials",
                f"{p.median_steps:,.0f}" if p and p.median_steps is not None else ("failed" if p and p.trials else "")))
        fit_columns(self.genome_tree)
        self.selection = [gid for gid in self.selection if gid in names]
        self._show_selection()
        self.redraw()

    def _swatch(self, colour: str) -> tk.PhotoImage:
        if colour not in self._swatches:
            image = tk.PhotoImage(master=self.frame, width=12, height=12)
            image.put("#333333", to=(0, 0, 12, 12))
            image.put(colour, to=(1, 1, 11, 11))
            self._swatches[colour] = image
        return self._swatches[colour]

    def redraw(self) -> None:
        view = current_view(self.panel.figure)
        self.panel.redraw(lambda fig: setattr(self, "artists", draw_phylogeny(
            fig, self.phylo, self.level.get(), self.perf, self.selection, view)))

    def sort_genomes(self, column: str) -> None:
        """Sort the genome list by ``column`` (numbers by value, empty cells last); the same heading
        clicked again reverses the order."""
        reverse = self._sort == (column, False)
        self._sort = (column, reverse)

        def key(iid: str):
            text = self.genome_tree.set(iid, column).split(" of ")[0].rstrip("%").replace(",", "")
            if text in ("failed", "no trials") or text.endswith("stopped early"):
                text = ""
            try:
                return (0, float(text), "")
            except ValueError:
                return (0 if text else 1, 0.0, text.lower())
        rows = sorted(self.genome_tree.get_children(), key=key, reverse=reverse)
        if reverse:   # empty cells stay last
            rows = [i for i in rows if self.genome_tree.set(i, column)] + \
                   [i for i in rows if not self.genome_tree.set(i, column)]
        for n, iid in enumerate(rows):
            self.genome_tree.move(iid, "", n)

    # ---- choosing and copying ----------------------------------------------------------------
    def choose(self, ids: list[str], what: str, copy: bool = True) -> None:
        """Make ``ids`` the chosen genomes, ring them on the map and (by default) copy them."""
        self.selection = list(dict.fromkeys(ids))
        if copy:
            self.copy_to_clipboard(self.selection, what)
        self._show_selection()
        ring_genomes(self.artists, self.selection)   # in place: a drag that began on a point keeps rotating
        self.panel.canvas.draw_idle()
        if len(self.selection) == 1:
            self.app.hub.publish("genome_selected", genome_id=self.selection[0])

    def _show_selection(self) -> None:
        n = len(self.selection)
        self.selection_label.configure(text="Nothing chosen." if not n else
                                       f"{n} genome(s) chosen: {', '.join(self.selection[:3])}{' ...' if n > 3 else ''}")
        for button in (self.copy_button, self.evolution_button, self.stress_button):
            button.state(["!disabled"] if n else ["disabled"])

    def copy_to_clipboard(self, ids: list[str], what: str) -> None:
        self.frame.clipboard_clear()
        self.frame.clipboard_append("\n".join(ids))
        self.app.status_message.set(f"copied {len(ids)} id(s) of {what} to the clipboard")

    def copy_selection(self) -> None:
        if self.selection:
            self.copy_to_clipboard(self.selection, "the chosen genomes")

    def _species_clicked(self) -> None:
        sel = self.species_tree.selection()
        if not sel or self.phylo is None:
            return
        sp = self.phylo.level_species(self.level.get())[int(sel[0][2:])]
        self.choose(list(sp.members), f"species {sp.name}")
        self.genome_tree.selection_set([gid for gid in sp.members if self.genome_tree.exists(gid)])

    def _genomes_clicked(self) -> None:
        sel = list(self.genome_tree.selection())
        if not sel or sel == self.selection:
            return   # also the echo of a species click selecting its genomes
        self.choose(sel, f"genome {sel[0]}" if len(sel) == 1 else f"{len(sel)} genomes")

    def _on_pick(self, event) -> None:
        for artist, ids in self.artists.pickable:
            if event.artist is artist and len(event.ind):
                gid = ids[int(event.ind[0])]
                self.choose([gid], f"genome {gid}")
                if self.genome_tree.exists(gid):
                    self.genome_tree.selection_set([gid])
                    self.genome_tree.see(gid)
                return

    def send_to(self, topic: str) -> None:
        if not self.selection:
            self.app.show_error("Send genomes", "Choose genomes first: click a species or genomes in the lists.")
            return
        if not self.app.hub.publish(topic, genome_ids=list(self.selection)):
            self.app.status_message.set(f"no tab listens to {topic}")

    # ---- the interactive page ----------------------------------------------------------------
    def write_page(self, path: Path) -> Path:
        from lab.analysis.phylogeny_html import write_html
        if self.phylo is None:
            raise PhylogenyError("map the genomes first (Map genomes)")
        return write_html(path, self.phylo, self.perf, self.level.get(),
                          title=f"Speciation Lab phylogeny: {self.phylo.spec.name}, {self.level.get()}")

    def open_interactive(self) -> None:
        if self.phylo is None:
            self.app.show_error("Interactive 3D", "Map the genomes first (Map genomes).")
            return
        try:
            page = self.write_page(self.page_dir / "phylogeny.html")
        except (OSError, PhylogenyError) as exc:
            self.app.show_error("Interactive 3D", f"Could not write the page: {exc}")
            return
        if self.webview is not None:
            self.webview.close()
        self.page, self._fell_back, self.webview_rendered = page, False, False
        self.webview = WebviewProcess(self.app.bridge.post, page, self._on_webview, title="Speciation Lab: phylogeny",
                                      command=self.webview_command)
        self.app.status_message.set("starting the interactive 3D window...")

    def _on_webview(self, message: dict) -> None:
        event = message.get("event")
        if event == "copy":
            ids = [i for i in message.get("ids", []) if self.phylo is not None and i in self.phylo.ids]
            if ids:
                self.choose(ids, f"{len(ids)} genome(s) from the 3D window")
                self.genome_tree.selection_set([i for i in ids if self.genome_tree.exists(i)])
        elif event == "started":
            self.app.status_message.set("interactive 3D window open (click genomes or species there to copy ids)")
        elif event == "rendered":
            self.webview_rendered = True
        elif event == "failed":
            self._fallback(message.get("reason", "unknown reason"))
        elif event == "exited" and message.get("code") and not self._fell_back and not self.webview_rendered:
            self._fallback(f"the window process ended with status {message['code']}: "
                           f"{message.get('stderr', '').strip()[-300:]}")

    def _fallback(self, reason: str) -> None:
        self._fell_back = True
        self.browser_open(self.page.as_uri())
        text = f"No webview window could start ({reason}); the page opened in the system browser instead."
        self.app.status_message.set(text)
        self.app.dialogs.info("Interactive 3D", text)

    def export_html(self) -> Path | None:
        if self.phylo is None:
            self.app.show_error("Export HTML", "Map the genomes first (Map genomes).")
            return None
        dest = self.app.dialogs.ask_save_file("Export the interactive 3D page", "phylogeny.html")
        if not dest:
            return None
        try:
            path = self.write_page(Path(dest))
        except (OSError, ValueError) as exc:
            self.app.show_error("Export HTML", f"Could not write {dest}: {exc}")
            return None
        self.app.status_message.set(f"wrote {path}")
        return path

    def export_charts(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        from lab.analysis.export import FORMATS, figure_bytes, paper_context, write_files
        if self.phylo is None:
            raise PhylogenyError("map the genomes first (Map genomes)")
        with paper_context():
            fig = Figure(figsize=(6.0, 5.0))
            draw_phylogeny(fig, self.phylo, self.level.get(), self.perf, self.selection,
                           current_view(self.panel.figure))
            files = {Path(folder) / f"phylogeny-{self.level.get().lower()}.{fmt}": figure_bytes(fig, fmt, dpi=300)
                     for fmt in FORMATS}
        paths = write_files(files)
        return paths + [self.write_page(Path(folder) / f"phylogeny-{self.level.get().lower()}.html")]

    def close(self) -> None:
        if self.webview is not None:
            self.webview.close()
        self.panel.figure.clear()


def build(app, parent: ttk.Frame) -> PhylogenyTab:
    return PhylogenyTab(app, parent)
