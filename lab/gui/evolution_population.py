"""The Evolution Lab's population table (sorted, selected, names from the registry), the genome chosen
in it (sent to the Gene Forge or the Stress Chamber) and the Hall of Fame list (part of lab.gui.evolution_lab)."""
from __future__ import annotations

import os
from typing import Any

from lab.evolution.diversity import colours
from lab.gui.evolution_layout import COLUMNS
from lab.gui.widgets.table import fit_columns
from lab.registry import RegistryError


def median_text(median: float | None, budget: float | None) -> str:
    """A median steps cell: the number, or "failed" where the median is a failure's penalty (beyond
    the budget) rather than a step count."""
    if median is None or (isinstance(median, float) and median != median):
        return "failed"
    if budget and median > budget:
        return "failed"
    return f"{median:,.0f}"


def racing_note(record: dict[str, Any]) -> str:
    """"; racing stopped N trials at step S" for a generation record (empty without racing)."""
    race = record.get("race")
    if not race:
        return ""
    if not race.get("censored"):
        return "; racing stopped no trials early"
    return f"; racing stopped {race['censored']} trial(s) at step {race['stop_step']}"


class PopulationViews:
    def _name(self, genome_id: str) -> str:
        if genome_id not in self._names:
            try:
                self._names[genome_id] = self.app.registry.get_genome(genome_id).name
            except (RegistryError, KeyError, ValueError):
                self._names[genome_id] = ""
        return self._names[genome_id]

    def _show_population(self, record: dict[str, Any] | None) -> None:
        self._rows = []
        if record is None:
            self.pop_title.configure(text="Population")
            self._fill_table()
            self.grid.show([])
            return
        rank: dict[str, int] = {}
        for i, gid in enumerate(record["ranking"]):
            rank.setdefault(gid, i + 1)  # an elite and its clone share an id: the better rank counts
        for r in record["genomes"]:
            self._rows.append({"rank": rank[r["id"]], "id": r["id"], "name": self._name(r["id"]), "origin": r["origin"],
                               "elite": "yes" if r["elite"] else "", "fitness": r["fitness"],
                               "median": r["median_steps"], "success": r["success"],
                               "censored": r.get("censored", 0)})
        self.pop_title.configure(text=f"Population of generation {record['generation']} "
                                      f"(diversity {record['diversity']:.3f})")
        self._fill_table()
        genomes = []
        for r in record["genomes"]:
            try:
                genomes.append(self.app.registry.get_genome(r["id"]))
            except (RegistryError, KeyError, ValueError):
                pass
        elite = {r["id"] for r in record["genomes"] if r["elite"]}
        self.grid.show([(g.id, rgb, g.id in elite) for g, rgb in zip(genomes, colours(genomes))])

    def _fill_table(self) -> None:
        col, reverse = self._sort
        rows = sorted(self._rows, key=lambda r: (r[col] if COLUMNS[col][2] else str(r[col]).lower()), reverse=reverse)
        self.table.delete(*self.table.get_children())
        seen = set()
        for r in rows:
            if r["id"] in seen:  # a genome present twice (an elite and its offspring clone) is one row
                continue
            seen.add(r["id"])
            values = [r["rank"], r["id"], r["name"], r["origin"], r["elite"], f"{r['fitness']:.1f}",
                      median_text(r["median"], self.step_cap if self.step_cap > 1 else None), f"{r['success']:.0%}",
                      r["censored"] or ""]
            self.table.insert("", "end", iid=r["id"], values=values)
        fit_columns(self.table)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort the table by ``column``; clicking the same heading again reverses the order."""
        col, was = self._sort
        self._sort = (column, reverse if reverse is not None else (not was if col == column else False))
        self._fill_table()

    def table_rows(self) -> list[list[str]]:
        return [list(self.table.item(i, "values")) for i in self.table.get_children()]

    def _table_selected(self) -> None:
        sel = self.table.selection()
        if sel:
            self.select_genome(sel[0])

    def select_genome(self, genome_id: str) -> None:
        try:
            genome = self.app.registry.get_genome(genome_id)
        except (RegistryError, KeyError, ValueError) as exc:
            self.app.status_message.set(str(exc))
            return
        self.genome_title.configure(text=f"{genome.label}  ({genome.origin}, generation {genome.generation})")
        self.genes.delete(*self.genes.get_children())
        for gene in genome.spec.genes:
            value = genome.genes[gene.key]
            self.genes.insert("", "end", iid=gene.key, text=gene.label, values=(f"{value:.4g}", gene.group))
        fit_columns(self.genes)
        self.forge_button.configure(state="normal")
        self.stress_button.configure(state="normal")
        self.selected = genome_id
        self.app.hub.publish("genome_selected", genome_id=genome_id)

    def open_in_forge(self) -> None:
        if not self.app.hub.publish("send_to_gene_forge", genome_id=self.selected):
            self.app.status_message.set("the Gene Forge tab is not built yet")

    def stress_test(self) -> None:
        if not self.app.hub.publish("send_to_stress_chamber", genome_ids=[self.selected]):
            self.app.status_message.set("the Stress Chamber tab is not built yet")

    def refresh_hall_of_fame(self) -> None:
        s = self.settings_panel.form.vars["hof_strictness"].get()
        self.hof.delete(*self.hof.get_children())
        try:
            entries = self.app.registry.hall_of_fame()
        except RegistryError as exc:   # a damaged file: named here and in the status bar, left as it is
            message = " ".join(str(exc).split())
            self.hof_title.configure(text=message.replace(f"{self.app.registry.root}{os.sep}", ""))
            self.app.status_message.set(message)
            return
        self.hof_title.configure(text=f"{len(entries)} genome(s); this run's strictness {s}")
        for e in reversed(entries):
            ev = e.get("evidence") or {}
            admitted = f"{ev.get('run_id', '')}, generation {ev.get('generation', '?')}" if ev else ""
            seeds = ev.get("seeds") if isinstance(ev.get("seeds"), list) else None
            success = (f"{ev['success_rate']:.0%}" + (f" of {len(seeds)} seeds" if seeds else "")
                       if isinstance(ev.get("success_rate"), (int, float)) else "")
            self.hof.insert("", "end", iid=e["genome_id"], text=e["genome_id"],
                            values=(e.get("name", ""), success, admitted))
        fit_columns(self.hof)
