"""The Gene Forge tab: genetic engineering by hand. Pick a recipient and a donor, tick genes or gene
groups to transfer, edit values (entry or slider), watch the radar and the diff, undo and redo, then
save the result as a custom genome or send it to another tab. The state lives in a
:class:`lab.forge.ForgeSession`; this module only shows it and turns clicks into its actions.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from matplotlib.figure import Figure

from lab.forge import (ForgeSession, SaveConflict, editor_command, format_value, known_genome, launch_detached,
                       read_edited, same_genes_note, save_custom, saving_adds, write_for_editing)
from lab.genome import Genome, GenomeError, distance
from lab.gui.widgets import descendants
from lab.gui.widgets.form import Field, Form
from lab.gui.widgets.gene_editor import SOURCE_TEXT, GeneEditor
from lab.gui.widgets.genome_picker import GenomePicker, alias_names, hall_of_fame_ids, species_names
from lab.gui.widgets.radar import RadarLayer, RadarPanel, draw_radar
from lab.gui.widgets.tooltip import Tooltip
from lab.registry import CUSTOM_DIR, RegistryError, founders, read_genome_file

SPEC = "grokking"   # the spec the forge edits (its founders are the default recipients)
META_FIELDS = [Field("name", "Name", "text", "", help="Also the file name in the custom folder (the id if empty)."),
               Field("tags", "Tags", "text", "", help="Comma separated, e.g. forge, fast"),
               Field("notes", "Notes", "text", "", help="What you changed and why.")]
COLOURS = {"recipient": "#1f5fbf", "donor": "#c05a00", "result": "#1a8a3a"}


class GeneForgeTab:
    def __init__(self, app, parent: ttk.Frame):
        self.app = app
        self.frame = parent
        self.custom_dir: Path = CUSTOM_DIR              # tests point this at a temporary folder
        self.launcher: Callable[[list[str]], object] = launch_detached
        self.external_path: Path | None = None
        self.founders = founders(SPEC)
        self._order: list[str] = []   # the pickers' rows, top to bottom: kept when the registry changes
        registry_genomes = self._registry_genomes()
        self.session = ForgeSession(registry_genomes[0] if registry_genomes else self.founders[0])

        outer = ttk.PanedWindow(parent, orient="horizontal")
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
        self._build_middle(middle)
        right = ttk.Frame(outer, padding=(4, 0))
        outer.add(right, weight=0)
        self._build_editor(right)

        for w in descendants(parent):
            w.bind("<Control-z>", lambda _e: (self.undo(), "break")[1])
            w.bind("<Control-y>", lambda _e: (self.redo(), "break")[1])
            w.bind("<Control-Z>", lambda _e: (self.redo(), "break")[1])   # Ctrl+Shift+Z, as in most editors
        app.hub.subscribe("send_to_gene_forge", self._receive_genome)
        app.hub.subscribe("registry_changed", lambda registry: self.refresh_pickers())
        self.refresh_pickers()
        self.recipient_picker.mark(self.session.recipient)
        self.donor_picker.mark(None)
        self.refresh(now=True)

    # ---- layout ------------------------------------------------------------------------------
    def _build_result_box(self, left: ttk.Frame) -> None:
        box = ttk.LabelFrame(left, text="Result", padding=(4, 2))
        box.pack(fill="x", pady=(4, 0))
        self.meta = Form(box, META_FIELDS, width=14)
        self.meta.pack(fill="x")
        grid = ttk.Frame(box)
        grid.pack(fill="x", pady=(4, 0))
        grid.columnconfigure((0, 1), weight=1, uniform="b")
        self.save_button = ttk.Button(grid, text="Save to genomes/custom", command=self.save)
        self.export_button = ttk.Button(grid, text="Export JSON...", command=self.export_json)
        self.import_button = ttk.Button(grid, text="Import JSON...", command=self.import_json)
        self.external_button = ttk.Button(grid, text="External editor...", command=self.edit_externally)
        self.reimport_button = ttk.Button(grid, text="Re-import edit", command=self.reimport_edited,
                                          state="disabled")
        self.evolution_button = ttk.Button(grid, text="\u2192 Evolution Lab",
                                           command=lambda: self.send_to("send_to_evolution_lab"))
        self.stress_button = ttk.Button(grid, text="\u2192 Stress Chamber",
                                        command=lambda: self.send_to("send_to_stress_chamber"))
        tips = {self.save_button: "Write the result to the custom folder (genomes/custom/<name>.json) and add it to "
                                  "the registry.",
                self.import_button: "Make a genome JSON file the result (as hand edits of the recipient).",
                self.external_button: "Write the result to a temporary JSON file and open it in $VISUAL or $EDITOR "
                                      "(else the system's default program).",
                self.reimport_button: "Read the file you edited back; every gene is checked and a bad edit "
                                      "changes nothing.",
                self.evolution_button: "Store the result in the registry and add it to the Evolution Lab's "
                                       "ancestors for the next run.",
                self.stress_button: "Store the result in the registry and stress-test it over many seeds."}
        for button, tip in tips.items():
            Tooltip(button, tip)
        layout = [(self.save_button,), (self.export_button, self.import_button),
                  (self.external_button, self.reimport_button), (self.evolution_button, self.stress_button)]
        for r, buttons in enumerate(layout):
            for c, b in enumerate(buttons):
                b.grid(row=r, column=c, columnspan=2 if len(buttons) == 1 else 1, sticky="ew", padx=1, pady=1)

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

    def _build_editor(self, right: ttk.Frame) -> None:
        bar = ttk.Frame(right)
        bar.pack(fill="x")
        ttk.Label(bar, text="Genes", style="Heading.TLabel").pack(side="left")
        self.reset_button = ttk.Button(bar, text="Reset all", command=self.reset)
        self.redo_button = ttk.Button(bar, text="Redo (Ctrl+Y)", command=self.redo)
        self.undo_button = ttk.Button(bar, text="Undo (Ctrl+Z)", command=self.undo)
        for b in (self.reset_button, self.redo_button, self.undo_button):
            b.pack(side="right", padx=1)
        self.editor = GeneEditor(right, self.session.spec, on_text=self._edit, on_unit=self._slide,
                                 on_transfer=self._transfer, on_revert=self._revert)
        self.editor.pack(fill="both", expand=True)

    # ---- showing the session -----------------------------------------------------------------
    def refresh(self, now: bool = False) -> None:
        s = self.session
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
        return list(reversed(self.app.registry.list_genomes(spec=SPEC)))  # newest first

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
        pick = self.pick_recipient if role == "recipient" else self.pick_donor
        return pick(genomes[0], f" from {Path(paths[0]).name}")

    def _result(self, title: str) -> Genome | None:
        """The result with the name, notes and tags typed in; None (and a message) if invalid."""
        meta = self.meta.values()
        tags = tuple(t.strip() for t in meta["tags"].split(",") if t.strip())
        try:
            return self.session.result(meta["name"], meta["notes"], tags)
        except GenomeError as exc:
            self.app.show_error(title, "Nothing was written:\n- " + "\n- ".join(exc.problems))
            return None

    def save(self) -> Path | None:
        """Write the result to the custom folder and the registry (asking before replacing a file)."""
        genome = self._result("Save genome")
        if genome is None:
            return None
        registry = self.app.registry
        try:
            known = known_genome(genome, registry, self.founders)
            if known is not None and any(saving_adds(genome, known, registry)):
                if not self.app.dialogs.ask_yes_no("Same genes as an existing genome",
                                                   same_genes_note(genome, known, registry) + "\n\nSave?"):
                    self.app.status_message.set(f"not saved: {known.label} was left as it was")
                    return None
            try:
                path, written = save_custom(genome, self.custom_dir, registry, same_as=known)
            except SaveConflict as exc:
                if not self.app.dialogs.ask_yes_no("Replace file?", f"{exc}.\nReplace it with {genome.label}?"):
                    self.app.status_message.set("not saved: the existing file was kept")
                    return None
                path, written = save_custom(genome, self.custom_dir, registry, overwrite=True, same_as=known)
        except (OSError, RegistryError) as exc:
            self.app.show_error("Save genome", f"Could not save {genome.label}: {exc}")
            return None
        held = registry.get_genome(genome.id)
        what = (f"{genome.name} as another name of {held.label}" if genome.name and held.name != genome.name
                else genome.label)
        self.app.status_message.set(f"saved {what} to {path}" if written else
                                    f"saved {what}; {path.name} already held this genome")
        self.app.hub.publish("registry_changed", registry=self.app.registry)
        return path

    def export_json(self) -> Path | None:
        genome = self._result("Export genome")
        if genome is None:
            return None
        dest = self.app.dialogs.ask_save_file("Export the result as JSON", f"{genome.name or genome.id}.json")
        if not dest:
            return None
        try:
            path = genome.save(dest)
        except OSError as exc:
            self.app.show_error("Export genome", f"Could not write {dest}: {exc}")
            return None
        self.app.status_message.set(f"exported {genome.label} to {path}")
        return path

    def _load_result_file(self, title: str, path: str | Path) -> bool:
        try:
            genome = read_edited(path, self.session.spec)
            self.session.load_result(genome)
        except GenomeError as exc:
            self.app.show_error(title, f"{path} was not imported; nothing changed. Problems:\n- "
                                + "\n- ".join(exc.problems))
            return False
        self.meta.set_values({"name": genome.name, "notes": genome.notes, "tags": ", ".join(genome.tags)})
        self.refresh()
        self.app.status_message.set(f"the result is now {genome.label} from {Path(path).name}")
        return True

    def import_json(self) -> bool:
        paths = self.app.dialogs.ask_open_files("Import a genome JSON as the result")
        return bool(paths) and self._load_result_file("Import genome", paths[0])

    def edit_externally(self) -> Path | None:
        """Write the result to a temporary JSON file and open it in the system editor."""
        genome = self._result("Edit in external editor")
        if genome is None:
            return None
        path = write_for_editing(genome)
        argv = editor_command(path)
        try:
            self.launcher(argv)
        except OSError as exc:
            self.app.show_error("External editor", f"Could not start {argv[0]} ({exc}). Set $VISUAL or $EDITOR "
                                f"to your editor; the file is {path}.")
            return None
        self.external_path = path
        self.reimport_button.configure(state="normal")
        self.app.status_message.set(f"editing {path}: save it there, then press Re-import edit")
        return path

    def reimport_edited(self) -> bool:
        if self.external_path is None:
            return False
        return self._load_result_file("Re-import edited file", self.external_path)

    def send_to(self, topic: str) -> str | None:
        """Store the result in the registry (so its id resolves) and publish it on ``topic``."""
        genome = self._result("Send genome")
        if genome is None:
            return None
        try:
            known = known_genome(genome, self.app.registry, self.founders)
            if known is not None and not self.app.registry.has_genome(known.id):
                self.app.registry.add_genome(known)   # a founder keeps its name; the result's joins it
            self.app.registry.add_genome(genome)
        except (OSError, RegistryError) as exc:
            self.app.show_error("Send genome", f"Could not store {genome.label} in the registry: {exc}")
            return None
        self.app.hub.publish("registry_changed", registry=self.app.registry)
        if not self.app.hub.publish(topic, genome_ids=[genome.id]):
            self.app.status_message.set(f"no tab listens to {topic} yet; {genome.label} is in the registry")
        return genome.id

    def _receive_genome(self, genome_id: str) -> None:
        """Another tab sent a genome: make it the recipient and show this tab."""
        try:
            genome = self.app.registry.get_genome(self.app.registry.resolve(genome_id))
        except (RegistryError, GenomeError) as exc:
            self.app.show_error("Gene Forge", f"Cannot open genome {genome_id}: {exc}")
            return
        self.recipient_picker.refresh()
        if self.pick_recipient(genome):
            self.app.notebook.select(self.frame)

    def export_charts(self, folder: Path) -> list[Path]:
        from lab.analysis.export import FORMATS, figure_bytes, paper_context, write_files

        with paper_context():  # the same paper settings as every other chart export
            fig = Figure(figsize=(6.0, 5.0))
            draw_radar(fig, self.radar.layers, "Gene Forge")
            files = {Path(folder) / f"gene-forge-radar.{fmt}": figure_bytes(fig, fmt, dpi=300) for fmt in FORMATS}
        return write_files(files)

    def close(self) -> None:
        self.radar.figure.clear()


def build(app, parent: ttk.Frame) -> GeneForgeTab:
    return GeneForgeTab(app, parent)
