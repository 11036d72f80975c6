"""Controls for the analysis charts of :mod:`lab.analysis.charts`: a chart picker that says what the
chart shows, the style toggles (greyed out where a chart does not use them), the genes chart's gene,
a checklist of groups to show or hide (with each group's colour), and the export options (formats,
dpi, one or two journal columns). The widgets only hold choices; their owner reads and draws.
"""
from __future__ import annotations

import re
import tkinter as tk
from collections.abc import Callable, Mapping, Sequence
from tkinter import ttk
from typing import Any

from lab.analysis.charts import CHARTS, SIZES, ChartKind, ChartStyle
from lab.analysis.export import FORMATS
from lab.gui.theme import current_colours, follow_theme
from lab.gui.widgets import descendants
from lab.gui.widgets.form import Field, FormError
from lab.gui.widgets.tooltip import Tooltip

# ChartStyle's on/off fields, as the user reads them (what each one draws is ChartStyle's docstring)
TOGGLES = {"show_lines": ("lines", "Means, medians and step curves."),
           "show_boxes": ("boxes", "Boxes, bars and violins."),
           "show_ci": ("95% CI", "Confidence intervals: 95% intervals and bands."),
           "show_points": ("points", "The single trials: points, faint curves, counts."),
           "per_seed": ("one line per seed", "Phase chart: one trajectory per trial instead of each genome's "
                                             "mean over its seeds.")}
MOST_CORRELATED = "(most correlated)"
DPI_FIELD = Field("dpi", "dpi", "int", 300, 50, 2400, help="Resolution of the PNG (50 to 2400 dots per inch).")
SIZE_TEXT = {size: f"{width:g} in" for size, width in SIZES.items()}   # one, two journal columns (tooltips)


def _hex(colour: Any) -> str:
    if isinstance(colour, str):
        return colour
    return "#%02x%02x%02x" % tuple(int(round(255 * c)) for c in colour[:3])


def chart_help(kind: str) -> str:
    """What a chart shows: its draw function's docstring in one paragraph, style names as the toggles say them."""
    text = " ".join((CHARTS[kind].draw.__doc__ or "").split())
    return re.sub(r"``(?:style\.)?(\w+)``", lambda m: f"\u201c{TOGGLES[m[1]][0]}\u201d" if m[1] in TOGGLES else m[1],
                  text)


class ChartPicker(ttk.Frame):
    """"Chart [title]" over a line saying what the chosen chart shows; ``on_change()`` when the user picks."""

    def __init__(self, parent: tk.Misc, kind: str, on_change: Callable[[], None]):
        super().__init__(parent)
        self.kinds = {chart.title: name for name, chart in CHARTS.items()}
        top = ttk.Frame(self)
        top.pack(fill="x")
        ttk.Label(top, text="Chart").pack(side="left")
        self.title = tk.StringVar(self, value=CHARTS[kind].title)
        self.box = ttk.Combobox(top, textvariable=self.title, values=list(self.kinds), state="readonly", width=34)
        self.box.pack(side="left", padx=4)
        self.box.bind("<<ComboboxSelected>>", lambda _e: (self._show_help(), on_change()))
        self.help = ttk.Label(self, text="", style="Muted.TLabel", wraplength=600, justify="left")
        self.help.pack(fill="x")
        self.bind("<Configure>", lambda e: self.help.configure(wraplength=max(200, e.width - 8)))
        self._show_help()

    @property
    def kind(self) -> str:
        return self.kinds[self.title.get()]

    def set_kind(self, kind: str) -> None:
        self.title.set(CHARTS[kind].title)
        self._show_help()

    def _show_help(self) -> None:
        self.help.configure(text=chart_help(self.kind))


class ChartControls(ttk.Frame):
    """Style toggles, gene picker and group checklist; ``on_change()`` after every user change."""

    def __init__(self, parent: tk.Misc, on_change: Callable[[], None]):
        super().__init__(parent)
        self.on_change = on_change
        toggles = ttk.Frame(self)
        toggles.pack(fill="x")
        self.toggle_vars: dict[str, tk.BooleanVar] = {}
        self.toggle_buttons: dict[str, ttk.Checkbutton] = {}
        for i, (name, (text, tip)) in enumerate(TOGGLES.items()):
            var = tk.BooleanVar(self, value=getattr(ChartStyle(), name))
            button = ttk.Checkbutton(toggles, text=text, variable=var, command=self.on_change)
            # three a row, so the group list keeps room; the last one spans what its row leaves free
            # (a long label must not widen a column and push the third one out of sight)
            last = i == len(TOGGLES) - 1
            button.grid(row=i // 3, column=i % 3, columnspan=3 - i % 3 if last else 1, sticky="w", padx=(0, 6))
            Tooltip(button, tip)
            self.toggle_vars[name], self.toggle_buttons[name] = var, button
        gene_row = ttk.Frame(self)
        gene_row.pack(fill="x", pady=(4, 0))
        ttk.Label(gene_row, text="Gene").pack(side="left")
        self.gene = tk.StringVar(self, value=MOST_CORRELATED)
        self.gene_box = ttk.Combobox(gene_row, textvariable=self.gene, values=[MOST_CORRELATED], state="readonly",
                                     width=16)
        self.gene_box.pack(side="left", fill="x", expand=True, padx=(4, 0))
        self.gene_box.bind("<<ComboboxSelected>>", lambda _e: self.on_change())
        Tooltip(self.gene_box, "Genes chart: the gene on the scatter's x axis (default: the gene most correlated "
                               "with steps_to_grok).")
        head = ttk.Frame(self)
        head.pack(fill="x", pady=(6, 0))
        ttk.Label(head, text="Groups shown").pack(side="left")
        ttk.Button(head, text="none", width=5, command=lambda: self.show_all(False)).pack(side="right")
        ttk.Button(head, text="all", width=4, command=lambda: self.show_all(True)).pack(side="right", padx=2)
        self._build_checklist()
        self.group_vars: dict[str, tk.BooleanVar] = {}
        self.group_buttons: dict[str, tk.Checkbutton] = {}
        self.swatches: dict[str, tk.Label] = {}
        self._hidden: set[str] = set()
        self._shown_groups: list[str] = []

    def _build_checklist(self) -> None:
        box = ttk.Frame(self, relief="sunken", borderwidth=1)
        box.pack(fill="both", expand=True)
        self.canvas = tk.Canvas(box, highlightthickness=0, borderwidth=0, width=180, height=80,
                                background="#ffffff")
        scroll = ttk.Scrollbar(box, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        self.checklist = tk.Frame(self.canvas, background="#ffffff")
        window = self.canvas.create_window(0, 0, anchor="nw", window=self.checklist)
        self.checklist.bind("<Configure>", lambda _e: self.canvas.configure(scrollregion=self.canvas.bbox("all")))
        self.canvas.bind("<Configure>", lambda e: self.canvas.itemconfigure(window, width=e.width))
        self.empty_label = tk.Label(self.checklist, text="(no trials yet)", foreground="#666666", background="#ffffff")
        self.empty_label.pack(anchor="w")
        follow_theme(self.canvas, self._recolour)

    def _recolour(self, colours: dict[str, str]) -> None:
        """The check list in the theme's colours (the swatches keep their groups' colours)."""
        bg, fg = colours["text_bg"], colours["text_fg"]
        self.canvas.configure(background=bg)
        self.checklist.configure(background=bg)
        self.empty_label.configure(background=bg, foreground=colours["muted"])
        for row in self.checklist.winfo_children():
            if row is not self.empty_label:
                row.configure(background=bg)
        for button in getattr(self, "group_buttons", {}).values():
            button.configure(background=bg, foreground=fg, activebackground=bg, activeforeground=fg,
                             selectcolor=bg)

    # ---- what the owner shows -------------------------------------------------------------------
    def set_kind(self, kind: ChartKind) -> None:
        """Grey out the toggles (and the gene picker) that ``kind`` does not use."""
        for name, button in self.toggle_buttons.items():
            button.state(["!disabled"] if name in kind.toggles else ["disabled"])
        self.gene_box.configure(state="readonly" if "gene" in kind.toggles else "disabled")

    def set_genes(self, genes: Sequence[str]) -> None:
        self.gene_box.configure(values=[MOST_CORRELATED, *genes])
        if self.gene.get() not in (MOST_CORRELATED, *genes):
            self.gene.set(MOST_CORRELATED)

    def set_groups(self, groups: Sequence[str], colours: Mapping[str, Any] | None = None) -> None:
        """List ``groups`` (a group hidden before stays hidden while it is listed)."""
        colours = colours or {}
        if list(groups) == self._shown_groups:
            for group, swatch in self.swatches.items():
                swatch.configure(background=_hex(colours.get(group, "#ffffff")))
            return
        for child in self.checklist.winfo_children():
            if child is not self.empty_label:
                child.destroy()
        self.group_vars, self.group_buttons, self.swatches = {}, {}, {}
        self._shown_groups = list(groups)
        if groups:
            self.empty_label.pack_forget()
        else:
            self.empty_label.pack(anchor="w")
        colours_now = current_colours(self)
        bg, fg = colours_now["text_bg"], colours_now["text_fg"]
        for group in groups:
            row = tk.Frame(self.checklist, background=bg)
            row.pack(fill="x", anchor="w")
            swatch = tk.Label(row, width=2, background=_hex(colours.get(group, "#ffffff")))
            swatch.pack(side="left", padx=(2, 4), pady=1)
            var = tk.BooleanVar(self, value=group not in self._hidden)
            button = tk.Checkbutton(row, text=group, variable=var, anchor="w", background=bg, foreground=fg,
                                    activebackground=bg, activeforeground=fg, selectcolor=bg,
                                    highlightthickness=0, borderwidth=0, font=("TkDefaultFont", 9),
                                    command=lambda g=group, v=var: self.show_group(g, v.get()))
            button.pack(side="left", fill="x", expand=True)
            self.group_vars[group], self.group_buttons[group], self.swatches[group] = var, button, swatch
        for w in descendants(self.checklist):
            w.bind("<Button-4>", lambda _e: self.canvas.yview_scroll(-1, "units"), add="+")
            w.bind("<Button-5>", lambda _e: self.canvas.yview_scroll(1, "units"), add="+")

    # ---- what the user chose ---------------------------------------------------------------------
    def show_group(self, group: str, shown: bool) -> None:
        """Show or hide one group (as its tick would)."""
        (self._hidden.discard if shown else self._hidden.add)(group)
        if group in self.group_vars:
            self.group_vars[group].set(shown)
        self.on_change()

    def show_all(self, shown: bool) -> None:
        for group in self._shown_groups:
            (self._hidden.discard if shown else self._hidden.add)(group)
            self.group_vars[group].set(shown)
        self.on_change()

    def hidden(self) -> frozenset[str]:
        """The listed groups the user hid."""
        return frozenset(self._hidden & set(self._shown_groups))

    def style(self) -> ChartStyle:
        gene = self.gene.get()
        return ChartStyle(**{name: var.get() for name, var in self.toggle_vars.items()},
                          gene=None if gene == MOST_CORRELATED else gene)


class ExportOptions(ttk.Frame):
    """Formats (png, pdf, svg), dpi and figure width for paper export, in one row."""

    def __init__(self, parent: tk.Misc):
        super().__init__(parent)
        self.format_vars = {fmt: tk.BooleanVar(self, value=True) for fmt in FORMATS}
        for fmt, var in self.format_vars.items():
            ttk.Checkbutton(self, text=fmt, variable=var, command=self._check).pack(side="left")
        ttk.Label(self, text=DPI_FIELD.label).pack(side="left", padx=(8, 2))
        self.dpi = tk.StringVar(self, value=str(DPI_FIELD.default))
        entry = ttk.Entry(self, textvariable=self.dpi, width=5)
        entry.pack(side="left")
        Tooltip(entry, DPI_FIELD.help)
        self.size = tk.StringVar(self, value="single")
        for size, width in SIZES.items():
            button = ttk.Radiobutton(self, text=SIZE_TEXT.get(size, size), value=size, variable=self.size)
            button.pack(side="left", padx=(6, 0))
            Tooltip(button, f"A figure {width} inches wide: {'one journal column' if size == 'single' else 'two journal columns'}.")
        self.message = ttk.Label(self, text="", style="Error.TLabel")
        self.message.pack(side="left", padx=(8, 0))
        self.dpi.trace_add("write", lambda *_a: self._check())

    def _check(self) -> list[str]:
        problems = []
        try:
            DPI_FIELD.parse(self.dpi.get())
        except ValueError as exc:
            problems.append(str(exc))
        if not any(v.get() for v in self.format_vars.values()):
            problems.append("tick at least one format (png, pdf or svg)")
        self.message.configure(text="; ".join(problems))
        return problems

    def set_values(self, formats: Sequence[str] | None = None, dpi: int | str | None = None,
                   size: str | None = None) -> None:
        if formats is not None:
            for fmt, var in self.format_vars.items():
                var.set(fmt in formats)
        if dpi is not None:
            self.dpi.set(str(dpi))
        if size is not None:
            self.size.set(size)

    def values(self) -> dict[str, Any]:
        """formats, dpi and size, or FormError naming every problem."""
        problems = self._check()
        if problems:
            raise FormError(problems)
        return {"formats": [f for f, v in self.format_vars.items() if v.get()],
                "dpi": DPI_FIELD.parse(self.dpi.get()), "size": self.size.get()}
