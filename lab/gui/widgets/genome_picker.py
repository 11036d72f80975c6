"""Pick a genome: a search box (id, id prefix, name, tag, origin, species), a "Hall of Fame only"
toggle, a list of the matching genomes and an "Open file..." button. The candidates, the Hall of
Fame and the species names come from functions the owner supplies (so the picker never reads the
registry itself); ``keep`` is the hook for further filters."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Mapping, Sequence
from tkinter import ttk

from lab.forge import search_genomes
from lab.genome import Genome
from lab.gui.widgets.fit_label import FitLabel
from lab.gui.widgets.table import headed_table
from lab.gui.widgets.tooltip import Tooltip
from lab.registry import RegistryError

COLUMNS = {"name": ("name", 86), "id": ("id", 80), "origin": ("origin", 66)}


class GenomePicker(ttk.LabelFrame):
    def __init__(self, parent: tk.Misc, title: str, candidates: Callable[[], Sequence[Genome]],
                 hall_of_fame: Callable[[], set[str]], on_pick: Callable[[Genome], None],
                 on_open_file: Callable[[], None], height: int = 4,
                 species: Callable[[], Mapping[str, Sequence[str]]] | None = None,
                 aliases: Callable[[], Mapping[str, Sequence[str]]] | None = None):
        super().__init__(parent, text=title, padding=(4, 2))
        self.candidates, self.hall_of_fame, self.species = candidates, hall_of_fame, species
        self.aliases = aliases   # genome id -> the other names users saved it under (shown after its name)
        self.on_pick, self.keep = on_pick, None   # keep: Callable[[Genome], bool] | None, e.g. a species
        self.genomes: dict[str, Genome] = {}
        # the id last handed to on_pick or marked as in use: selection events for it are echoes
        # (Tk delivers <<TreeviewSelect>> later, also for selections made by the program)
        self._offered: str | None = None
        top = ttk.Frame(self)
        top.pack(fill="x")
        self.query = tk.StringVar(self, value="")
        self.search = ttk.Entry(top, textvariable=self.query, width=14)
        self.search.pack(side="left", fill="x", expand=True)
        Tooltip(self.search, "Search by id or id prefix, name, tag, origin or species, e.g. High-LR (all words "
                             "must match; species as the Phylogeny tab last named them).")
        self.hof_only = tk.BooleanVar(self, value=False)
        ttk.Checkbutton(top, text="Hall of Fame only", variable=self.hof_only,
                        command=self.refresh).pack(side="left", padx=(4, 0))
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True, pady=(2, 0))
        self.tree = headed_table(body, COLUMNS, selectmode="browse", height=height)
        bottom = ttk.Frame(self)
        bottom.pack(fill="x")
        self.open_button = ttk.Button(bottom, text="Open file...", command=on_open_file)
        self.open_button.pack(side="right")
        # which genome is in use, cut to the room beside the button (the whole in a tooltip)
        self.current_text = tk.StringVar(self, value="")
        self.current = FitLabel(bottom, self.current_text, style="Muted.TLabel")
        self.current.pack(side="left", fill="x", expand=True)
        self.query.trace_add("write", lambda *_a: self.refresh())
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self._selected())

    def refresh(self) -> None:
        """Fill the list from the candidates that match the search and the toggles."""
        only = self.hall_of_fame() if self.hof_only.get() else None
        query = self.query.get()
        species = self.species() if self.species is not None and query.strip() else None
        shown = search_genomes(self.candidates(), query, only_ids=only, keep=self.keep, species=species)
        self.tree.delete(*self.tree.get_children())
        self.genomes = {g.id: g for g in shown}
        also = self.aliases() if self.aliases is not None and shown else {}
        for g in shown:
            name = g.name or "(no name)"
            if also.get(g.id):   # a genome found by another name says so
                name += f" (also {', '.join(also[g.id])})"
            self.tree.insert("", "end", iid=g.id, values=(name, g.id[:8], g.origin))
        if self._offered in self.genomes:
            self.tree.selection_set(self._offered)

    def rows(self) -> list[str]:
        """The genome ids listed, top to bottom."""
        return list(self.tree.get_children())

    def select(self, genome_id: str) -> bool:
        """Select ``genome_id`` in the list (as a click would); False if it is not listed."""
        if genome_id not in self.genomes:
            return False
        self.tree.selection_set(genome_id)
        self.tree.see(genome_id)
        self._offer(genome_id)
        return True

    def mark(self, genome: Genome | None, where: str = "") -> None:
        """Show which genome is in use (it may come from a file and not be listed)."""
        self.current_text.set(f"using {genome.label}{where}" if genome else "none picked")
        self._offered = genome.id if genome is not None else None
        if genome is not None and genome.id in self.genomes:
            self.tree.selection_set(genome.id)
            self.tree.see(genome.id)
        else:
            self.tree.selection_set(())

    def _selected(self) -> None:
        sel = self.tree.selection()
        if sel:
            self._offer(sel[0])

    def _offer(self, genome_id: str) -> None:
        if genome_id != self._offered:
            self._offered = genome_id
            self.on_pick(self.genomes[genome_id])


def hall_of_fame_ids(app) -> set[str]:
    """The ids in the app's registry's Hall of Fame, for a picker's "Hall of Fame only" toggle; an
    unreadable Hall of Fame is said in the status bar and counts as empty."""
    try:
        return {e["genome_id"] for e in app.registry.hall_of_fame()}
    except RegistryError as exc:
        app.status_message.set(str(exc))
        return set()


def alias_names(app) -> dict[str, list[str]]:
    """genome id -> the other names users saved it under; an unreadable names file is said in the
    status bar and counts as empty."""
    try:
        return app.registry.aliases()
    except RegistryError as exc:
        app.status_message.set(str(exc))
        return {}


def species_names(app) -> dict[str, list[str]]:
    """genome id -> its species names at every level (the Phylogeny tab's last map) and the other
    names users saved it under (``Registry.aliases``), for searching; an unreadable species file is
    said in the status bar and counts as empty."""
    out: dict[str, list[str]] = {gid: list(names) for gid, names in app.registry.aliases().items()}
    try:
        labels = app.registry.species_labels()
    except RegistryError as exc:
        app.status_message.set(str(exc))
        return out
    for gid, levels in labels.items():
        out.setdefault(gid, []).extend(levels.values())
    return out
