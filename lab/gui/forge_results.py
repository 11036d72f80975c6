"""The Gene Forge's result box and what it does with the result: name, tags and notes; save to
genomes/custom/ and the registry; export and import JSON; the external-editor round trip; sending
the result to another tab. A mixin of :class:`lab.gui.gene_forge.GeneForgeTab`, which holds the
session (``self.session``), the app, the founders of the spec it edits and the custom folder.
"""
from __future__ import annotations

from pathlib import Path
from tkinter import ttk

from matplotlib.figure import Figure

from lab.forge import SaveConflict, known_genome, same_genes_note, save_custom, saving_adds
from lab.forge_editor import editor_command, read_edited, write_for_editing
from lab.genome import Genome, GenomeError
from lab.gui.widgets.form import Field, Form
from lab.gui.widgets.radar import draw_radar
from lab.gui.widgets.tooltip import Tooltip
from lab.registry import RegistryError

META_FIELDS = [Field("name", "Name", "text", "", help="Also the file name in the custom folder (the id if empty)."),
               Field("tags", "Tags", "text", "", help="Comma separated, e.g. forge, fast"),
               Field("notes", "Notes", "text", "", help="What you changed and why.")]


class ForgeResults:
    """The result box and the result's ways out of the forge (save, export, editor, send)."""

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

    def export_charts(self, folder: Path) -> list[Path]:
        from lab.analysis.export import FORMATS, figure_bytes, paper_context, write_files

        with paper_context():  # the same paper settings as every other chart export
            fig = Figure(figsize=(6.0, 5.0))
            draw_radar(fig, self.radar.layers, f"Gene Forge: {self.session.spec.title}")
            files = {Path(folder) / f"gene-forge-radar.{fmt}": figure_bytes(fig, fmt, dpi=300) for fmt in FORMATS}
        return write_files(files)

