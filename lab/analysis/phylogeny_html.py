"""The interactive 3D phylogeny page: one self-contained HTML file (plotly.js embedded, no network).

The page shows the PCA map with one plotly ``Scatter3d`` trace per species of every taxonomy level
(only the chosen level's are visible; a level menu switches), a species panel with counts, and a
status line. Clicking a genome copies its id; clicking a species copies all its ids. Copying goes
through ``window.pywebview.api.copy_ids`` inside the lab's webview window (lab.analysis.webview,
whose API exposes nothing else), and through the browser's clipboard elsewhere. When plotly has
drawn, ``document.body.dataset.rendered`` becomes "1" (the webview process waits for it).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from lab.analysis.phylogeny import LEVELS, Performance, Phylogeny, key_genes, marker_sizes, species_colours
from lab.files import atomic_write_text

DATA_ID = "phylogeny-data"
PLOT_ID = "phylogeny-plot"


def hover_text(phylo: Phylogeny, perf: dict[str, Performance], level: str) -> list[str]:
    out = []
    for genome in phylo.genomes:
        sp = phylo.species_of(genome.id, level)
        genes = "<br>".join(f"{html.escape(k)}: {v}" for k, v in key_genes(genome, sp))
        p = perf.get(genome.id)
        out.append(f"<b>{html.escape(genome.label)}</b><br>id {genome.id}<br>{html.escape(sp.name)}<br>{genes}"
                   f"<br>{html.escape(p.describe() if p else 'no trials recorded')}")
    return out


def build_figure(phylo: Phylogeny, perf: dict[str, Performance] | None = None, level: str = "Genus"):
    """A plotly Figure: traces for every species of every level, ``level``'s visible."""
    import plotly.graph_objects as go
    perf = perf or {}
    sizes = marker_sizes([perf.get(g.id) for g in phylo.genomes], smallest=4.0, largest=16.0)
    ids = phylo.ids
    fig = go.Figure()
    for lv in LEVELS:
        species = phylo.level_species(lv)
        colours = species_colours(len(species))
        text = hover_text(phylo, perf, lv)
        for sp in species:
            rows = [i for i, k in enumerate(phylo.assignment[lv]) if k == sp.index]
            fig.add_trace(go.Scatter3d(
                x=phylo.coords[rows, 0], y=phylo.coords[rows, 1], z=phylo.coords[rows, 2], mode="markers",
                name=f"{sp.name} ({sp.size})", legendgroup=lv, visible=lv == level,
                marker=dict(size=sizes[rows], color=colours[sp.index], opacity=1.0,
                            line=dict(width=0.5, color="#333333")),
                customdata=[[ids[i]] for i in rows], text=[text[i] for i in rows],
                hovertemplate="%{text}<extra></extra>", meta=[lv, sp.index]))
    ex = phylo.explained
    fig.update_layout(
        scene=dict(xaxis_title=f"PC1 ({ex[0]:.0%})", yaxis_title=f"PC2 ({ex[1]:.0%})",
                   zaxis_title=f"PC3 ({ex[2]:.0%})"),
        margin=dict(l=0, r=0, t=30, b=0), showlegend=False,
        title=dict(text=f"{phylo.spec.title}: {len(ids)} genomes", font=dict(size=14)),
        paper_bgcolor="#fbfbfb")
    return fig


def page_data(phylo: Phylogeny, level: str) -> dict:
    """What the page's script needs: per level, its species (name, colour, ids) and trace numbers."""
    levels, trace = {}, 0
    for lv in LEVELS:
        species = phylo.level_species(lv)
        colours = species_colours(len(species))
        rows = []
        for sp in species:
            rows.append({"name": sp.name, "colour": colours[sp.index], "ids": list(sp.members), "trace": trace})
            trace += 1
        levels[lv] = rows
    return {"levels": levels, "order": list(LEVELS), "level": level, "traces": trace, "ids": phylo.ids}


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
 html, body {{ margin: 0; height: 100%; font-family: "DejaVu Sans", Arial, sans-serif; font-size: 13px;
              background: #fbfbfb; color: #222; overflow: hidden; }}
 #side {{ position: fixed; left: 0; top: 0; bottom: 0; width: 260px; border-right: 1px solid #ccc;
          background: #f2f2f2; display: flex; flex-direction: column; }}
 #side h1 {{ font-size: 14px; margin: 8px 10px 4px; }}
 #side label {{ margin: 0 10px; }}
 #level {{ margin: 4px 10px 6px; font-size: 13px; }}
 #species {{ flex: 1; overflow-y: auto; margin: 0; padding: 0; list-style: none; }}
 #species li {{ height: 26px; line-height: 26px; padding: 0 10px; cursor: pointer; white-space: nowrap;
               overflow: hidden; text-overflow: ellipsis; border-bottom: 1px solid #e2e2e2; }}
 #species li:hover {{ background: #dde8f6; }}
 .swatch {{ display: inline-block; width: 11px; height: 11px; margin-right: 6px; border: 1px solid #555; }}
 #status {{ padding: 6px 10px; border-top: 1px solid #ccc; min-height: 32px; color: #333; }}
 #{plot_id} {{ position: fixed; left: 261px; right: 0; top: 0; bottom: 0; }}
 #copybox {{ display: none; width: 236px; height: 60px; margin: 0 10px 6px; font-size: 11px; }}
</style></head>
<body>
<div id="side">
 <h1>{heading}</h1>
 <label for="level">Taxonomy level</label>
 <select id="level"></select>
 <ul id="species" title="Click a species to copy the ids of all its genomes"></ul>
 <textarea id="copybox" readonly></textarea>
 <div id="status">Click a genome to copy its id; click a species to copy all its ids.</div>
</div>
{plot}
<script type="application/json" id="{data_id}">{data}</script>
<script>
(function () {{
  const data = JSON.parse(document.getElementById("{data_id}").textContent);
  const plot = document.getElementById("{plot_id}");
  const status = document.getElementById("status");
  const box = document.getElementById("copybox");
  function say(text) {{ status.textContent = text; }}
  function copyIds(ids, what) {{
    const api = window.pywebview && window.pywebview.api;
    if (api && api.copy_ids) {{
      api.copy_ids(ids).then(function (n) {{ say("Copied " + n + " id(s) of " + what + "."); }},
                             function (e) {{ say("Copy failed: " + e); }});
      return;
    }}
    const text = ids.join("\\n");
    function manual() {{ box.style.display = "block"; box.value = text; box.select();
                        say("Press Ctrl+C to copy the " + ids.length + " id(s) of " + what + "."); }}
    if (navigator.clipboard && navigator.clipboard.writeText) {{
      navigator.clipboard.writeText(text).then(function () {{ say("Copied " + ids.length + " id(s) of " + what + "."); }},
                                               manual);
    }} else {{ manual(); }}
  }}
  const select = document.getElementById("level");
  data.order.forEach(function (lv) {{
    const o = document.createElement("option"); o.value = lv;
    o.textContent = lv + " (" + data.levels[lv].length + " species)"; select.appendChild(o);
  }});
  function showLevel(lv) {{
    select.value = lv;
    const list = document.getElementById("species"); list.innerHTML = "";
    data.levels[lv].forEach(function (sp) {{
      const li = document.createElement("li");
      const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = sp.colour;
      li.appendChild(sw); li.appendChild(document.createTextNode(sp.name + " (" + sp.ids.length + ")"));
      li.title = sp.name + ": click to copy its " + sp.ids.length + " id(s)";
      li.addEventListener("click", function () {{ copyIds(sp.ids, "species " + sp.name); }});
      list.appendChild(li);
    }});
    const visible = [];
    for (let i = 0; i < data.traces; i++) visible.push(false);
    data.levels[lv].forEach(function (sp) {{ visible[sp.trace] = true; }});
    if (window.Plotly && plot.data) Plotly.restyle(plot, {{visible: visible}});
  }}
  select.addEventListener("change", function () {{ showLevel(select.value); }});
  plot.on("plotly_click", function (ev) {{
    if (ev.points && ev.points.length) {{
      const id = ev.points[0].customdata[0];
      copyIds([id], "genome " + id);
    }}
  }});
  plot.on("plotly_afterplot", function () {{ document.body.dataset.rendered = "1"; }});
  showLevel(data.level);
  if (plot.data) document.body.dataset.rendered = "1";
}})();
</script>
</body></html>
"""


def build_html(phylo: Phylogeny, perf: dict[str, Performance] | None = None, level: str = "Genus",
               title: str = "Speciation Lab phylogeny") -> str:
    phylo.level_species(level)   # a clear error for an unknown level
    fig = build_figure(phylo, perf, level)
    plot = fig.to_html(full_html=False, include_plotlyjs=True, div_id=PLOT_ID,
                       config={"displaylogo": False, "responsive": True})
    data = json.dumps(page_data(phylo, level)).replace("</", "<\\/")
    heading = f"{phylo.spec.title}<br><small>{len(phylo.genomes)} genomes</small>"
    return _TEMPLATE.format(title=html.escape(title), heading=heading, plot=plot, data=data,
                            data_id=DATA_ID, plot_id=PLOT_ID)


def write_html(path: str | Path, phylo: Phylogeny, perf: dict[str, Performance] | None = None,
               level: str = "Genus", title: str = "Speciation Lab phylogeny") -> Path:
    """Write the page atomically (a failed write leaves any earlier file as it was)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{path} does not end in .html")
    return atomic_write_text(path, build_html(phylo, perf, level, title))


def page_ids(text: str) -> list[str]:
    """The genome ids a page embeds (what its copy actions may hand out)."""
    start = text.index(f'id="{DATA_ID}">') + len(f'id="{DATA_ID}">')
    end = text.index("</script>", start)
    return list(json.loads(text[start:end].replace("<\\/", "</"))["ids"])
