"""The Gene Forge tab: genetic engineering by hand, for the genomes of any arena's gene spec. Pick
the arena, a recipient and a donor of its spec, tick genes or gene groups to transfer, edit values
(entry, slider or choice), watch the radar and the diff, undo and redo, then save the result as a
custom genome or send it to another tab. The state lives in one :class:`lab.forge.ForgeSession` per
spec; this module only shows it and turns clicks into its actions (the result box and its ways out
are :mod:`lab.gui.forge_results`).
"""
from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from lab.arenas import arena_names, get_arena
from lab.forge import ForgeSession, format_value, known_genome, starting_genome
from lab.forge_editor import launch_detached
from lab.genome import Genome, GenomeError, GeneSpec, distance
from lab.gui.forge_results import ForgeResults
from lab.gui.widgets import descendants, list_follows
from lab.gui.widgets.gene_editor import SOURCE_TEXT, GeneEditor
from lab.gui.widgets.genome_picker import GenomePicker, alias_names, hall_of_fame_ids, species_names
from lab.gui.widgets.radar import RadarLayer, RadarPanel
from lab.gui.widgets.tooltip import Tooltip
from lab.registry import CUSTOM_DIR, RegistryError, founders, read_genome_file

ARENA = "grokking"   # the arena whose genomes the forge edits until the user picks another
COLOURS = {"recipient": "#1f5fbf", "donor": "#c05a00", "result": "#1a8a3a"}


class GeneForgeTab(ForgeResults):
    def __init__(self, app, parent: ttk.Frame):
        self.app = app
        self.frame = parent
        self.custom_dir: Path = CUSTOM_DIR              # tests point this at a temporary folder
        self.launcher: Callable[[list[str]], object] = launch_detached
        self.external_path: Path | None = None
        self.arena = get_arena(ARENA)
        self.founders = founders(self.spec.name)
        self._order: list[str] = []   # the pickers' rows, top to bottom: kept when the registry changes
        self.sessions: dict[str, ForgeSession] = {}   # arena -> its session, kept while the window is open
        self.session = self._new_session()

        outer = self.panes = ttk.PanedWindow(parent, orient="horizontal")
        outer.pack(fill="both", expand=True, padx=4, pady=4)
        left = ttk.Frame(outer, padding=(2, 0))
        outer.add(left, weight=0)
        self.recipient_picker = GenomePicker(left, "Recipient (the genome you edit)", self._candidates,
                                             lambda: hall_of_fame_ids(self.app), self.pick_recipient,
                                             lambda: self.open_file("recipient"), species=lambda: species_names(self.app),
                                             aliases=lambda: alias_names(self.app))
        self.recipient_picker.pack(fill="both", expand=True)
        self.donor_picker = GenomePicker(left, "Donor (genes to transfer)", self._candidates,
                                         lambda: hall_of_fame_ids(self.app), self.pick_donor, lambda: self.open_file("donor"),
                                         species=lambda: species_names(self.app),
                                         aliases=lambda: alias_names(self.app))
        self.donor_picker.pack(fill="both", expand=True, pady=(4, 0))
        self._build_result_box(left)
        middle = ttk.Frame(outer, padding=(4, 0))
        outer.add(middle, weight=1)
        self._build_arena_row(middle)   # above the result: the left column keeps its height for the pickers
        self._build_middle(middle)
        right = ttk.Frame(outer, padding=(4, 0))
        outer.add(right, weight=0)
        self._build_editor(right)

        self._bind_keys(parent)
        app.hub.subscribe("send_to_gene_forge", self._receive_genome)
        app.hub.subscribe("registry_changed", lambda registry: self.refresh_pickers())
        self.refresh_pickers()
        self.recipient_picker.mark(self.session.recipient)
        self.donor_picker.mark(None)
        self.refresh(now=True)

    @property
    def spec(self) -> GeneSpec:
        return self.arena.gene_spec

    def _new_session(self) -> ForgeSession:
        """A session on the arena's newest registry genome, else its first founder, else its defaults."""
        return ForgeSession(starting_genome(self.spec, self._registry_genomes() + self.founders))

    def _bind_keys(self, parent: ttk.Widget) -> None:
        for w in descendants(parent):
            w.bind("<Control-z>", lambda _e: (self.undo(), "break")[1])
            w.bind("<Control-y>", lambda _e: (self.redo(), "break")[1])
            w.bind("<Control-Z>", lambda _e: (self.redo(), "break")[1])   # Ctrl+Shift+Z, as in most editors

    # ---- layout ------------------------------------------------------------------------------
    def _build_arena_row(self, parent: ttk.Frame) -> None:
        row = ttk.Frame(parent)
        row.pack(fill="x", pady=(0, 4))
        ttk.Label(row, text="Arena", style="Heading.TLabel").pack(side="left")
        self.arena_name = tk.StringVar(row, value=self.arena.name)
        self.arena_box = ttk.Combobox(row, textvariable=self.arena_name, values=arena_names(), state="readonly",
                                      width=10)
        list_follows(self.arena_box, arena_names)   # an arena registered later is offered too
        self.arena_box.pack(side="left", padx=(6, 0))
        self.arena_box.bind("<<ComboboxSelected>>", lambda _e: self.set_arena(self.arena_name.get()))
        self.arena_tip = Tooltip(self.arena_box, "")

    def _build_middle(self, middle: ttk.Frame) -> None:
        self.result_label = ttk.Label(middle, text="", wraplength=400, justify="left")
        self.result_label.pack(fill="x")
        middle.bind("<Configure>", lambda e: self.result_label.configure(wraplength=max(200, e.width - 8)))
        self.radar = RadarPanel(middle, figsize=(4.8, 4.1), dpi=80)
        self.radar.pack(fill="both", expand=True)
        ttk.Label(middle, text="Changes against the recipient", style="Heading.TLabel").pack(anchor="w")
        table = ttk.Frame(middle)
        table.pack(fill="x")
        self.diff = ttk.Treeview(table, columns=("recipient", "result", "source"), show="tree headings", height=6)
        for col, text, width in (("#0", "gene", 122), ("recipient", "recipient", 76), ("result", "result", 68),
                                 ("source", "from", 56)):
            self.diff.heading(col, text=text)
            self.diff.column(col, width=width, anchor="w" if col in ("#0", "source") else "e")
        scroll = ttk.Scrollbar(table, orient="vertical", command=self.diff.yview)
        self.diff.configure(yscrollcommand=scroll.set)
        self.diff.pack(side="left", fill="x", expand=True)
        scroll.pack(side="right", fill="y")
        self._fit_gene_column()

    def _fit_editor_pane(self) -> None:
        """Widen the genes pane (moving the divider left) when another spec's editor needs more room,
        so no column (the revert buttons) is cut off."""
        self.editor_frame.update_idletasks()
        short = self.editor_frame.winfo_reqwidth() - self.editor_frame.winfo_width()
        if short > 0 and self.editor_frame.winfo_width() > 1:
            self.panes.sashpos(1, max(200, self.panes.sashpos(1) - short))

    def _fit_gene_column(self) -> None:
        """The diff's gene column as wide as the spec's longest gene name (at least as it always was)."""
        try:
            font = tkfont.nametofont(ttk.Style(self.diff).lookup("Treeview", "font") or "TkDefaultFont")
        except tk.TclError:   # a theme's font not created yet
            font = tkfont.nametofont("TkDefaultFont")
        longest = max(font.measure(g.label) for g in self.spec.genes)
        self.diff.column("#0", width=min(150, max(122, longest + 24)))

    def _build_editor(self, right: ttk.Frame) -> None:
        bar = ttk.Frame(right)
        bar.pack(fill="x")
        ttk.Label(bar, text="Genes", style="Heading.TLabel").pack(side="left")
        self.spec_label = ttk.Label(bar, text="", style="Muted.TLabel")
        self.spec_label.pack(side="left", padx=(6, 0))
        self.reset_button = ttk.Button(bar, text="Reset all", command=self.reset)
        self.redo_button = ttk.Button(bar, text="Redo (Ctrl+Y)", command=self.redo)
        self.undo_button = ttk.Button(bar, text="Undo (Ctrl+Z)", command=self.undo)
        for b in (self.reset_button, self.redo_button, self.undo_button):
            b.pack(side="right", padx=1)
        self.editor_frame = right
        self._build_gene_editor()

    def _build_gene_editor(self) -> None:
        self.editor = GeneEditor(self.editor_frame, self.session.spec, on_text=self._edit, on_unit=self._slide,
                                 on_transfer=self._transfer, on_revert=self._revert)
        self.editor.pack(fill="both", expand=True)

    # ---- the arena (gene spec) ---------------------------------------------------------------
    def set_arena(self, name: str) -> bool:
        """Edit arena ``name``'s genomes (its own session: recipient, donor, edits and undo history
        stay as they were left)."""
        if name not in arena_names():
            self.arena_name.set(self.arena.name)
            self.app.show_error("Gene Forge", f"unknown arena {name!r} (arenas: {', '.join(arena_names())})")
            return False
        if name != self.arena.name:
            self.sessions[self.arena.name] = self.session
            self.arena = get_arena(name)
            self.founders = founders(self.spec.name)
            self._order = []
            self.session = self.sessions.get(name) or self._new_session()
            self.editor.destroy()
            self._build_gene_editor()
            self._bind_keys(self.editor)
            self._fit_gene_column()
            self._fit_editor_pane()
            for picker in (self.recipient_picker, self.donor_picker):
                picker.refresh()
            self._mark_pickers()
            self.refresh(now=True)
        self.arena_name.set(name)
        return True

    def _follow_spec(self, genome: Genome) -> bool:
        """Switch to the arena of ``genome``'s spec (a recipient of another spec was asked for)."""
        if genome.spec.name == self.spec.name:
            return True
        names = [n for n in arena_names() if get_arena(n).gene_spec.name == genome.spec.name]
        if not names:
            self.app.show_error("Gene Forge", f"no arena edits spec {genome.spec.name} genomes "
                                f"(arenas: {', '.join(arena_names())})")
            return False
        return self.set_arena(names[0])

    def load_prefs(self, prefs) -> None:
        """Show the arena the forge was left on (``prefs.Prefs.forge_arena``)."""
        name = getattr(prefs, "forge_arena", None)
        self.set_arena(name if name in arena_names() else ARENA)

    def store_prefs(self, prefs) -> None:
        prefs.forge_arena = self.arena.name

    # ---- showing the session -----------------------------------------------------------------
    def refresh(self, now: bool = False) -> None:
        s = self.session
        groups = len(s.spec.groups)
        self.spec_label.configure(text=f"{len(s.spec.genes)} in {groups} group{'s' * (groups > 1)}")
        self.arena_tip.text = (f"{self.arena.title}\nGene spec: {s.spec.title}\n\nWhose genomes the forge edits. Each "
                               "arena has its own gene spec; genes move only between genomes of one spec. Each "
                               "arena keeps its own recipient, donor, edits and undo history.")
        self.editor.show(s)
        preview, problems = s.preview(), s.problems()
        layers = [RadarLayer(f"recipient {s.recipient.label}", s.recipient, COLOURS["recipient"])]
        if s.donor is not None:
            layers.append(RadarLayer(f"donor {s.donor.label}", s.donor, COLOURS["donor"], linestyle="--"))
        layers.append(RadarLayer("result", preview, COLOURS["result"], fill=True))
        self.radar.show(layers, now=now)
        self.diff.delete(*self.diff.get_children())
        changes = s.diff()
        for key, before, after, source in changes:   # genes named in words, as the editor names them
            gene = s.spec.gene(key)
            self.diff.insert("", "end", iid=key, text=gene.label,
                             values=(format_value(gene, before), format_value(gene, after), SOURCE_TEXT[source]))
        for key in problems:
            gene = s.spec.gene(key)
            self.diff.insert("", "end", iid=key, text=gene.label,
                             values=(format_value(gene, s.recipient.genes[key]), s.text(key), "invalid"))
        if problems:
            self.result_label.configure(
                text=f"The result cannot be saved until {len(problems)} invalid value(s) are fixed: "
                     + "; ".join(problems.values()), style="Error.TLabel")
        else:
            donor = sum(src == "donor" for *_x, src in changes)
            edited = sum(src == "edited" for *_x, src in changes)
            known = known_genome(preview, self.app.registry, self.founders)
            same = (f" Same genes as the {known.origin} genome {known.label}: saving adds your name and tags "
                    "to it (its name stays).") if known else ""
            self.result_label.configure(
                text=f"Result {preview.id[:8]}: {donor} gene(s) from the donor, {edited} edited by hand; distance "
                     f"{distance(s.recipient, preview):.3f} from the recipient (0 = same, 1 = opposite corners)."
                     + same, style="TLabel")
        valid = "disabled" if problems else "normal"
        for b in (self.save_button, self.export_button, self.external_button, self.evolution_button,
                  self.stress_button):
            b.configure(state=valid)
        self.undo_button.configure(state="normal" if s.can_undo else "disabled")
        self.redo_button.configure(state="normal" if s.can_redo else "disabled")

    def _registry_genomes(self) -> list[Genome]:
        return list(reversed(self.app.registry.list_genomes(spec=self.spec.name)))  # newest first

    def _candidates(self) -> list[Genome]:
        """Registry genomes (newest first) and the founders, in a stable order: genomes already listed
        keep their places when the registry changes (a generation landing, a founder stored), new
        ones go on top."""
        fresh: dict[str, Genome] = {}
        for g in self._registry_genomes() + self.founders:
            fresh.setdefault(g.id, g)
        listed = set(self._order)
        self._order = [gid for gid in fresh if gid not in listed] + [gid for gid in self._order if gid in fresh]
        return [fresh[gid] for gid in self._order]

    def refresh_pickers(self) -> None:
        """Refill both lists, keeping each one's selection (a click not yet handled included) and what
        is in view: a list scrolled down keeps its top row; one at the top shows the new genomes
        unless they would push the selected row out of view."""
        for picker in (self.recipient_picker, self.donor_picker):
            rows, tree = picker.rows(), picker.tree
            selected = tree.selection()
            first, last = tree.yview()
            in_view = max(1, round((last - first) * len(rows)))
            top = rows[min(len(rows) - 1, round(first * len(rows)))] if rows else None
            picker.refresh()
            rows = picker.rows()
            if selected and selected[0] in rows and tree.selection() != selected:
                picker.select(selected[0])   # a click that arrived just before the refresh
            sel = tree.selection()
            follow_top = first <= 0 and (not sel or rows.index(sel[0]) < in_view)
            if top in rows and not follow_top:
                tree.yview_moveto(rows.index(top) / len(rows))

    # ---- actions -----------------------------------------------------------------------------
    def _act(self, title: str, action: Callable[[], object]) -> bool:
        """Run a session action; a GenomeError the user caused becomes a message, nothing changes."""
        try:
            action()
        except GenomeError as exc:
            self.app.show_error(title, "\n".join(exc.problems))
            return False
        self.refresh()
        return True

    def _edit(self, key: str, text: str) -> None:
        self._act("Edit gene", lambda: self.session.edit(key, text))

    def _slide(self, key: str, unit: float) -> None:
        self._act("Edit gene", lambda: self.session.set_unit(key, unit))

    def _transfer(self, names: list[str], on: bool) -> None:
        if not self._act("Gene transfer", lambda: self.session.set_transfer(names, on)):
            self.refresh()   # put the tick back as it was

    def _revert(self, key: str) -> None:
        self._act("Revert gene", lambda: self.session.revert(key))

    def undo(self) -> None:
        self._act("Undo", self.session.undo)
        self._mark_pickers()

    def redo(self) -> None:
        self._act("Redo", self.session.redo)
        self._mark_pickers()

    def reset(self) -> None:
        self._act("Reset", self.session.reset)

    def _mark_pickers(self) -> None:
        self.recipient_picker.mark(self.session.recipient)
        self.donor_picker.mark(self.session.donor)

    def pick_recipient(self, genome: Genome, where: str = "") -> bool:
        if not self._act("Recipient", lambda: self.session.set_recipient(genome)):
            self.recipient_picker.mark(self.session.recipient)
            return False
        self.recipient_picker.mark(genome, where)
        if self.app.registry.has_genome(genome.id):  # other tabs look selected genomes up in the registry
            self.app.hub.publish("genome_selected", genome_id=genome.id)
        return True

    def pick_donor(self, genome: Genome, where: str = "") -> bool:
        if not self._act("Donor", lambda: self.session.set_donor(genome)):
            self.donor_picker.mark(self.session.donor)
            return False
        self.donor_picker.mark(genome, where)
        return True

    def open_file(self, role: str) -> bool:
        """Open a genome JSON file as the recipient or donor; a bad file changes nothing."""
        paths = self.app.dialogs.ask_open_files(f"Open a genome file as the {role}")
        if not paths:
            return False
        try:
            genomes = read_genome_file(paths[0])
        except GenomeError as exc:
            self.app.show_error(f"Open {role}", f"{paths[0]} was not opened:\n- " + "\n- ".join(exc.problems))
            return False
        if len(genomes) > 1:
            self.app.status_message.set(f"{Path(paths[0]).name} holds {len(genomes)} genomes; using the first")
        if role == "recipient" and not self._follow_spec(genomes[0]):
            return False
        pick = self.pick_recipient if role == "recipient" else self.pick_donor
        return pick(genomes[0], f" from {Path(paths[0]).name}")

    def _receive_genome(self, genome_id: str) -> None:
        """Another tab sent a genome: make it the recipient and show this tab."""
        try:
            genome = self.app.registry.get_genome(self.app.registry.resolve(genome_id))
        except (RegistryError, GenomeError) as exc:
            self.app.show_error("Gene Forge", f"Cannot open genome {genome_id}: {exc}")
            return
        if not self._follow_spec(genome):
            return
        self.recipient_picker.refresh()
        if self.pick_recipient(genome):
            self.app.show_tab("Gene Forge")

    def close(self) -> None:
        self.radar.figure.clear()


def build(app, parent: ttk.Frame) -> GeneForgeTab:
    return GeneForgeTab(app, parent)
