"""The Stress Chamber's genome choice: the genome picker (registry genomes and founders), whole tags
and the Hall of Fame (through :func:`lab.analysis.stress.select_genomes`), the "chosen" list with
name, id and user group, and the user's own groups (genome id -> group name) for the charts.
"""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable
from pathlib import Path
from tkinter import ttk

from lab.analysis.stress import display_names, select_genomes
from lab.genome import Genome, GenomeError
from lab.gui.widgets.genome_picker import GenomePicker, alias_names, hall_of_fame_ids, species_names
from lab.gui.widgets.table import headed_table
from lab.gui.widgets.tooltip import Tooltip
from lab.registry import RegistryError, founders, read_genome_file

CHOSEN_COLUMNS = {"name": ("name", 138), "id": ("id", 154), "group": ("group", 64)}


class GenomeChoice(ttk.Frame):
    """Which genomes a stress test runs; ``on_change()`` after every change of the list or groups."""

    def __init__(self, parent: tk.Misc, app, spec: str, on_change: Callable[[], None]):
        super().__init__(parent)
        self.app, self.spec, self.on_change = app, spec, on_change
        self.founders = founders(spec)
        self.chosen: dict[str, Genome] = {}          # in the order chosen
        self.user_groups: dict[str, str] = {}        # genome id -> the user's group name
        self.picked: Genome | None = None
        self.picker = GenomePicker(self, "Find genomes (registry and founders)", self._candidates,
                                   lambda: hall_of_fame_ids(self.app), self._pick, self.open_file, height=5,
                                   species=lambda: species_names(self.app),
                                   aliases=lambda: alias_names(self.app))
        self.picker.pack(fill="both", expand=True)
        self.picker.tree.bind("<Double-1>", self._double_click, add="+")
        adds = ttk.Frame(self)
        adds.pack(fill="x", pady=(2, 0))
        self.add_button = ttk.Button(adds, text="Add picked \u2193", command=self.add_picked)
        self.add_button.pack(side="left")
        Tooltip(self.add_button, "Add the genome picked in the list above (or double-click it).")
        self.hof_button = ttk.Button(adds, text="Add Hall of Fame", command=self.add_hall_of_fame)
        self.hof_button.pack(side="right")
        self.hof_tip = Tooltip(self.hof_button, f"Add every {spec} genome of the registry's Hall of Fame.")
        tags = ttk.Frame(self)
        tags.pack(fill="x", pady=(2, 0))
        ttk.Label(tags, text="Tags").pack(side="left")
        self.tag_text = tk.StringVar(self, value="")
        self.tag_entry = ttk.Entry(tags, textvariable=self.tag_text, width=12)
        self.tag_entry.pack(side="left", fill="x", expand=True, padx=4)
        self.tag_entry.bind("<Return>", lambda _e: self.add_tags())
        self.tag_button = ttk.Button(tags, text="Add tagged", command=self.add_tags)
        self.tag_button.pack(side="left")
        Tooltip(self.tag_entry, "Comma separated: every registry genome carrying one of these tags is added.")
        self._build_chosen()
        self.picker.refresh()  # list the registry and the founders from the start

    def _build_chosen(self) -> None:
        box = ttk.LabelFrame(self, text="Chosen for the stress test", padding=(4, 2))
        box.pack(fill="both", expand=True, pady=(6, 0))
        self.box = box
        table = ttk.Frame(box)
        table.pack(fill="both", expand=True)
        self.tree = headed_table(table, CHOSEN_COLUMNS, selectmode="extended", height=7)
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self._clicked())
        self.tree.bind("<Delete>", lambda _e: self.remove_selected())
        edit = ttk.Frame(box)
        edit.pack(fill="x", pady=(2, 0))
        self.remove_button = ttk.Button(edit, text="Remove", width=8, command=self.remove_selected)
        self.remove_button.pack(side="left")
        self.clear_button = ttk.Button(edit, text="Clear", width=6, command=self.clear)
        self.clear_button.pack(side="left", padx=2)
        groups = ttk.Frame(box)
        groups.pack(fill="x", pady=(2, 0))
        ttk.Label(groups, text="Group").pack(side="left")
        self.group_text = tk.StringVar(self, value="")
        entry = ttk.Entry(groups, textvariable=self.group_text, width=10)
        entry.pack(side="left", fill="x", expand=True, padx=4)
        entry.bind("<Return>", lambda _e: self.assign_group())
        Tooltip(entry, "Name a group of your own, select genomes above (Ctrl/Shift-click), then Assign; charts "
                       "grouped by \"user groups\" pool their trials.")
        self.assign_button = ttk.Button(groups, text="Assign", width=7, command=self.assign_group)
        self.assign_button.pack(side="left")
        self.ungroup_button = ttk.Button(groups, text="Ungroup", width=8, command=self.ungroup_selected)
        self.ungroup_button.pack(side="left", padx=(2, 0))
        Tooltip(self.ungroup_button, "The selected genomes leave their user group (each is its own group again).")

    # ---- the picker's sources ---------------------------------------------------------------------
    def _candidates(self) -> list[Genome]:
        return list(reversed(self.app.registry.list_genomes(spec=self.spec))) + self.founders  # newest first

    def _pick(self, genome: Genome) -> None:
        self.picked = genome
        self.picker.current_text.set(f"picked {genome.label}: Add \u2193 lists it")

    def _double_click(self, event: tk.Event) -> None:
        """Add the genome double-clicked (its row, not the one picked before: Tk reports the new
        selection only after this binding runs)."""
        row = self.picker.tree.identify_row(event.y)
        if row and self.picker.select(row):
            self.add_picked()

    def refresh(self) -> None:
        """The registry changed: list its genomes again."""
        self.picker.refresh()

    def set_spec(self, spec: str) -> None:
        """Choose genomes of another gene spec (another arena): the chosen list and groups start empty."""
        if spec == self.spec:
            return
        self.spec, self.founders, self.picked = spec, founders(spec), None
        self.hof_tip.text = f"Add every {spec} genome of the registry's Hall of Fame."
        self.picker.current_text.set("")
        self.picker.refresh()
        self.clear()

    # ---- adding and removing ----------------------------------------------------------------------
    def add(self, genomes: Iterable[Genome]) -> int:
        """Add genomes (stored in the registry, so every tab can find them by id); returns how many
        were new. Genomes of another gene spec are refused with a message."""
        genomes = list(genomes)
        foreign = [g.label for g in genomes if g.spec.name != self.spec]
        if foreign:
            self.app.show_error("Choose genomes", f"{', '.join(foreign)}: not {self.spec} genomes; the "
                                f"{self.spec} arena cannot run them.")
        new = [g for g in genomes if g.spec.name == self.spec and g.id not in self.chosen]
        try:
            stored = [g for g in new if not self.app.registry.has_genome(g.id)]
            self.app.registry.add_genomes(stored)
        except (OSError, RegistryError) as exc:
            self.app.show_error("Choose genomes", f"Could not store the genomes in the registry: {exc}")
            return 0
        for g in new:
            self.chosen[g.id] = g
            self.tree.insert("", "end", iid=g.id, values=(g.name or "(no name)", g.id, ""))
        self._show_count()
        if stored:
            self.app.hub.publish("registry_changed", registry=self.app.registry)
        if new:
            self.on_change()
        return len(new)

    def _select(self, title: str, **what) -> int:
        try:
            genomes = select_genomes(self.app.registry, spec=self.spec, **what)
        except RegistryError as exc:
            self.app.show_error(title, str(exc))
            return 0
        return self.add(genomes)

    def add_picked(self) -> int:
        if self.picked is None:
            self.app.status_message.set("pick a genome in the list first")
            return 0
        return self.add([self.picked])

    def add_ids(self, refs: Iterable[str]) -> int:
        """Genomes by id, id prefix or name (what other tabs send)."""
        return self._select("Choose genomes", refs=list(refs))

    def add_tags(self, text: str | None = None) -> int:
        if text is not None:
            self.tag_text.set(text)
        tags = [t.strip() for t in self.tag_text.get().split(",") if t.strip()]
        if not tags:
            self.app.show_error("Add tagged genomes", "Type a tag first (several: comma separated).")
            return 0
        return self._select("Add tagged genomes", tags=tags)

    def add_hall_of_fame(self) -> int:
        try:
            found = select_genomes(self.app.registry, hall_of_fame=True, spec=self.spec)
        except RegistryError as exc:
            self.app.show_error("Add Hall of Fame", str(exc))
            return 0
        if not found:
            self.app.show_error("Add Hall of Fame", f"The Hall of Fame of {self.app.registry.root} holds no "
                                f"{self.spec} genome yet (an evolution run admits them).")
            return 0
        return self.add(found)

    def open_file(self) -> int:
        """Add the genomes of a JSON file; a bad file adds nothing."""
        paths = self.app.dialogs.ask_open_files("Add genomes from a file")
        if not paths:
            return 0
        try:
            genomes = read_genome_file(paths[0])
        except GenomeError as exc:
            self.app.show_error("Add genomes", f"{paths[0]} was not read:\n- " + "\n- ".join(exc.problems))
            return 0
        added = self.add(genomes)
        self.app.status_message.set(f"added {added} genome(s) from {Path(paths[0]).name}")
        return added

    def remove_selected(self) -> None:
        for gid in self.tree.selection():
            self.chosen.pop(gid, None)
            self.user_groups.pop(gid, None)
            self.tree.delete(gid)
        self._show_count()
        self.on_change()

    def clear(self) -> None:
        self.chosen.clear()
        self.user_groups.clear()
        self.tree.delete(*self.tree.get_children())
        self._show_count()
        self.on_change()

    # ---- user groups -------------------------------------------------------------------------------
    def assign_group(self, name: str | None = None, genome_ids: Iterable[str] | None = None) -> bool:
        """Put the selected chosen genomes (or ``genome_ids``) in the user group ``name``."""
        name = (self.group_text.get() if name is None else name).strip()
        ids = list(self.tree.selection() if genome_ids is None else genome_ids)
        if not name:
            self.app.show_error("User groups", "Type a group name first, e.g. \"low lr\".")
            return False
        if not ids:
            self.app.show_error("User groups", f"Select the chosen genomes to put in group {name!r} first.")
            return False
        for gid in ids:
            if gid in self.chosen:
                self.user_groups[gid] = name
                self.tree.set(gid, "group", name)
        self.on_change()
        return True

    def ungroup_selected(self) -> None:
        for gid in self.tree.selection():
            self.user_groups.pop(gid, None)
            self.tree.set(gid, "group", "")
        self.on_change()

    def groups(self) -> dict[str, str]:
        """genome id -> group for the "user groups" grouping; a genome in no user group is its own group."""
        shown = display_names(self.chosen.values())   # as the other groupings name a genome
        return {gid: self.user_groups.get(gid, shown[gid]) for gid in self.chosen}

    # ---- reading -----------------------------------------------------------------------------------
    def genomes(self) -> list[Genome]:
        return list(self.chosen.values())

    def rows(self) -> list[tuple[str, str, str]]:
        """(name, id, user group) of every chosen genome, top to bottom."""
        return [tuple(self.tree.item(i, "values")) for i in self.tree.get_children()]

    def _show_count(self) -> None:
        n = len(self.chosen)
        self.box.configure(text=f"Chosen for the stress test ({n})" if n else "Chosen for the stress test")

    def _clicked(self) -> None:
        sel = self.tree.selection()
        if len(sel) == 1 and sel[0] in self.chosen:
            self.app.hub.publish("genome_selected", genome_id=sel[0])
