"""Per-gene editor for a ForgeSession: genes grouped as in the spec, each with a "take from donor"
tick, a value entry (arrows for whole numbers), a slider over the gene's normalised [0, 1] range (or
the few values of a switch or mode side by side), the donor's value, where the
value comes from, a revert button and an inline message (in red) while the typed value is invalid.
The editor only reports what the user did (``on_*`` callbacks); ``show(session)`` displays state."""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from lab.forge import ForgeSession, format_value
from lab.genome import Gene, GeneSpec
from lab.gui.theme import follow_theme
from lab.gui.widgets import descendants
from lab.gui.widgets.tooltip import Tooltip

SOURCE_COLOURS = {"recipient": "#666666", "donor": "#c05a00", "edited": "#7a1fa2", "invalid": "#b00020"}
SOURCE_TEXT = {"recipient": "", "donor": "donor", "edited": "edited", "invalid": "invalid"}
CHOICE_LIMIT = 3   # an int gene with at most this many values is a switch or a mode: offered as choices


def is_choice(gene: Gene) -> bool:
    return gene.kind == "int" and gene.high - gene.low + 1 <= CHOICE_LIMIT


class GeneEditor(ttk.Frame):
    def __init__(self, parent: tk.Misc, spec: GeneSpec, on_text: Callable[[str, str], None],
                 on_unit: Callable[[str, float], None], on_transfer: Callable[[list[str], bool], None],
                 on_revert: Callable[[str], None]):
        super().__init__(parent)
        self.spec = spec
        self.on_text, self.on_unit, self.on_transfer, self.on_revert = on_text, on_unit, on_transfer, on_revert
        self._syncing = False
        style = ttk.Style(self)
        style.configure("Group.TCheckbutton", font=("TkDefaultFont", 10, "bold"))
        style.configure("Revert.TButton", padding=(1, 0))
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        follow_theme(self.canvas, lambda c: self.canvas.configure(background=c["bg"]))
        scroll = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        self.inner = ttk.Frame(self.canvas)
        window = self.canvas.create_window(0, 0, anchor="nw", window=self.inner)
        self.inner.bind("<Configure>", lambda _e: self.canvas.configure(scrollregion=self.canvas.bbox("all"),
                                                                        width=self.inner.winfo_reqwidth()))
        self.canvas.bind("<Configure>", lambda e: self.canvas.itemconfigure(window, width=e.width))

        self.texts: dict[str, tk.StringVar] = {}
        self.entries: dict[str, ttk.Entry] = {}
        self.units: dict[str, tk.DoubleVar] = {}
        self.sliders: dict[str, ttk.Scale] = {}
        self.ticks: dict[str, tk.BooleanVar] = {}
        self.tick_buttons: dict[str, ttk.Checkbutton] = {}
        self.group_ticks: dict[str, tk.BooleanVar] = {}
        self.group_buttons: dict[str, ttk.Checkbutton] = {}
        self.donor_labels: dict[str, ttk.Label] = {}
        self.source_labels: dict[str, ttk.Label] = {}
        self.messages: dict[str, ttk.Label] = {}
        self.revert_buttons: dict[str, ttk.Button] = {}
        self._build_rows()
        for w in descendants(self):
            w.bind("<Button-4>", lambda _e: self.canvas.yview_scroll(-2, "units"), add="+")
            w.bind("<Button-5>", lambda _e: self.canvas.yview_scroll(2, "units"), add="+")

    def _build_rows(self) -> None:
        f = self.inner
        heads = ((0, 2, "\u2611 = take from donor"), (2, 1, "value"), (3, 1, "low \u2013 high"), (4, 1, "donor"),
                 (5, 2, "from"))
        for col, span, text in heads:
            ttk.Label(f, text=text, style="Muted.TLabel").grid(row=0, column=col, columnspan=span, sticky="w", padx=2)
        row = 1
        for group, keys in self.spec.groups.items():
            var = tk.BooleanVar(self, value=False)
            button = ttk.Checkbutton(f, text=group, variable=var, style="Group.TCheckbutton",
                                     command=lambda g=group, v=var: self.on_transfer([g], v.get()))
            button.grid(row=row, column=0, columnspan=4, sticky="w", pady=(3, 0))
            Tooltip(button, f"Tick to take the whole {group} group ({', '.join(keys)}) from the donor.")
            self.group_ticks[group], self.group_buttons[group] = var, button
            row += 1
            for key in keys:
                self._build_gene(key, row)
                row += 2

    def _build_gene(self, key: str, row: int) -> None:
        f, gene = self.inner, self.spec.gene(key)
        tick = tk.BooleanVar(self, value=False)
        check = ttk.Checkbutton(f, variable=tick, command=lambda: self.on_transfer([key], tick.get()))
        check.grid(row=row, column=0, padx=(18, 0))
        Tooltip(check, f"Take {key} from the donor.")
        label = ttk.Label(f, text=gene.label)
        label.grid(row=row, column=1, sticky="w", padx=(2, 6))
        Tooltip(label, f"{key}: {gene.doc}\nBounds {gene.describe_bounds()}; default {format_value(gene, gene.default)}.")
        text = tk.StringVar(self, value="")
        if gene.kind == "int":   # whole numbers step by one with the arrows
            entry: ttk.Entry = ttk.Spinbox(f, textvariable=text, width=6, from_=gene.low, to=gene.high, increment=1)
        else:
            entry = ttk.Entry(f, textvariable=text, width=11)   # 6 significant digits and an exponent
        entry.grid(row=row, column=2, sticky="ew")
        text.trace_add("write", lambda *_a: self._syncing or self.on_text(key, text.get()))
        unit = tk.DoubleVar(self, value=0.0)
        if is_choice(gene):   # a switch or a mode: its few values side by side, not a slider
            options = ttk.Frame(f)
            options.grid(row=row, column=3, sticky="w", padx=4)
            for value in range(int(gene.low), int(gene.high) + 1):
                ttk.Radiobutton(options, text=str(value), value=str(value), variable=text).pack(side="left")
            Tooltip(options, f"{gene.label}: one of {', '.join(map(str, range(int(gene.low), int(gene.high) + 1)))}"
                             f". {gene.doc}")
        else:
            slider = ttk.Scale(f, from_=0.0, to=1.0, variable=unit, length=90,
                               command=lambda u: self._syncing or self.on_unit(key, float(u)))
            slider.grid(row=row, column=3, sticky="ew", padx=4)
            Tooltip(slider, f"{gene.describe_bounds()}: the slider moves "
                            f"{'in log space' if gene.scale != 'linear' else 'linearly'} from "
                            f"{format_value(gene, gene.low)} to {format_value(gene, gene.high)}"
                            f"{' in whole steps' if gene.kind == 'int' else ''}.")
            self.sliders[key] = slider
        donor = ttk.Label(f, text="", style="Muted.TLabel", width=10, anchor="e")
        donor.grid(row=row, column=4, sticky="e")
        source = ttk.Label(f, text="", width=6)
        source.grid(row=row, column=5, sticky="w", padx=(4, 0))
        revert = ttk.Button(f, text="\u21ba", width=2, style="Revert.TButton", command=lambda: self.on_revert(key))
        revert.grid(row=row, column=6)
        Tooltip(revert, f"Back to the recipient's {key}.")
        message = ttk.Label(f, text="", style="Error.TLabel", wraplength=380)
        message.grid(row=row + 1, column=1, columnspan=6, sticky="w")
        message.grid_remove()
        self.texts[key], self.entries[key], self.units[key] = text, entry, unit
        self.ticks[key], self.tick_buttons[key], self.donor_labels[key] = tick, check, donor
        self.source_labels[key], self.messages[key], self.revert_buttons[key] = source, message, revert

    def show(self, session: ForgeSession) -> None:
        """Display the session's values, sources, transfer ticks and problems."""
        self._syncing = True
        try:
            problems = session.problems()
            donor = session.donor
            for gene in self.spec.genes:
                key = gene.key
                text = session.text(key)
                if self.texts[key].get() != text:  # leave the cursor alone while the user types
                    self.texts[key].set(text)
                value = session.value(key)
                if value is not None:
                    self.units[key].set(gene.to_unit(value))
                self.ticks[key].set(key in session.spliced)
                self.tick_buttons[key].state(["!disabled"] if donor else ["disabled"])
                self.donor_labels[key].configure(text=format_value(gene, donor.genes[key]) if donor else "-")
                source = session.source(key)
                self.source_labels[key].configure(text=SOURCE_TEXT[source], foreground=SOURCE_COLOURS[source])
                self.entries[key].configure(foreground=SOURCE_COLOURS[source] if source != "recipient" else "")
                if key in problems:
                    self.messages[key].configure(text=problems[key])
                    self.messages[key].grid()
                else:
                    self.messages[key].grid_remove()
            for group, keys in self.spec.groups.items():
                ticked = sum(k in session.spliced for k in keys)
                self.group_ticks[group].set(ticked == len(keys))
                button = self.group_buttons[group]
                button.state(["alternate"] if 0 < ticked < len(keys) else ["!alternate"])
                button.state(["!disabled"] if donor else ["disabled"])
        finally:
            self._syncing = False
