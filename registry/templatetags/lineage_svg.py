"""The lineage graph drawn as server-side SVG: a layered DAG layout, every node a link to the
registry page of its version or dataset (this tag is the registry's: it knows its URLs).

Input is the dict of `registry.selectors.lineage_graph` (or two of them merged): nodes with
id/type/name/version/stage, and edges source -> target. Data flows left to right.
"""

from __future__ import annotations

from collections import defaultdict, deque

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 210, 48, 70, 16, 14
_FILL = {
    "dataset": ("#eef6ee", "#3f7d4a"),
    "production": ("#e3f4e8", "#1e7a3c"),
    "staging": ("#e7effb", "#1f4e8c"),
    "development": ("#f3f4f7", "#5b6475"),
    "archived": ("#f1eef6", "#6b5b8a"),
}


def layout(graph: dict) -> tuple[dict[str, tuple[float, float]], int, int]:
    """Layer by longest path from the sources, then order each layer by the barycentre of its
    neighbours (a few down/up sweeps) to keep edges short and crossings few."""
    ids = [n["id"] for n in graph["nodes"]]
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(ids, 0)
    for e in graph["edges"]:
        if e["source"] in indeg and e["target"] in indeg:
            preds[e["target"]].append(e["source"])
            succs[e["source"]].append(e["target"])
            indeg[e["target"]] += 1
    layer = dict.fromkeys(ids, 0)
    queue = deque(sorted(i for i in ids if indeg[i] == 0))
    seen = 0
    while queue:
        node = queue.popleft()
        seen += 1
        for nxt in succs[node]:
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue.append(nxt)
    layers: dict[int, list[str]] = defaultdict(list)
    for node_id in sorted(ids, key=lambda i: (not i.startswith("dataset:"), i)):
        layers[layer[node_id]].append(node_id)
    order = {n: i for lay in layers.values() for i, n in enumerate(lay)}
    for sweep in range(4):
        keys = sorted(layers) if sweep % 2 == 0 else sorted(layers, reverse=True)
        for k in keys:
            neighbours = preds if sweep % 2 == 0 else succs

            def bary(n, neighbours=neighbours):
                near = neighbours[n]
                return sum(order[m] for m in near) / len(near) if near else order[n]

            layers[k].sort(key=bary)
            for i, n in enumerate(layers[k]):
                order[n] = i
    tallest = max((len(v) for v in layers.values()), default=1)
    height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y
    width = PAD * 2 + len(layers) * NODE_W + max(len(layers) - 1, 0) * GAP_X
    pos = {}
    for k, members in layers.items():
        column_h = len(members) * NODE_H + (len(members) - 1) * GAP_Y
        top = (height - column_h) / 2
        for i, n in enumerate(members):
            pos[n] = (PAD + k * (NODE_W + GAP_X), top + i * (NODE_H + GAP_Y))
    return pos, width, height


def node_url(node: dict) -> str:
    if node.get("restricted"):
        return ""
    if node["type"] == "model":
        return reverse("registry:version-detail", args=[node["name"], node["version"]])
    return reverse("registry:dataset-detail", args=[node["name"]]) + f"#v{node['version']}"


def _clip(text: str, n: int = 27) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@register.simple_tag
def lineage_svg(graph: dict | None, label: str = "Lineage graph") -> str:
    if not graph or not graph.get("nodes"):
        return ""
    pos, width, height = layout(graph)
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
            'role="group" aria-label="{}" class="lineage-svg">',
            width, height, width, height, label,
        ),
        mark_safe(
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#7a8394"/></marker></defs>'
        ),
    ]
    for e in graph["edges"]:
        if e["source"] not in pos or e["target"] not in pos:
            continue
        (sx, sy), (tx, ty) = pos[e["source"]], pos[e["target"]]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx - 2, ty + NODE_H / 2
        mid = (x1 + x2) / 2
        dash = ' stroke-dasharray="5 4"' if e["kind"] == "evaluated_on" else ""
        d = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        parts.append(
            format_html(
                '<path d="{}" fill="none" stroke="#7a8394" stroke-width="1.5" '
                'marker-end="url(#arrow)"{}><title>{} {} {}</title></path>',
                d, mark_safe(dash),
                e["source"].split(":", 1)[1], e["kind"].replace("_", " "),
                e["target"].split(":", 1)[1],
            )
        )
    for n in graph["nodes"]:
        x, y = (round(c) for c in pos[n["id"]])
        key = "dataset" if n["type"] == "dataset" else (n.get("stage") or "development")
        fill, stroke = _FILL.get(key, _FILL["development"])
        is_root = n["id"] == graph.get("root")
        ref = f"{n['name']}@{n['version']}"
        sub = "dataset" if n["type"] == "dataset" else (n.get("stage") or "")
        if n.get("restricted"):
            sub += " · restricted"
        body = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" stroke="{}" '
            'stroke-width="{}"/>'
            '<text x="{}" y="{}" font-size="13" font-weight="600" fill="#1d2330">{}</text>'
            '<text x="{}" y="{}" font-size="11" fill="{}">{}</text><title>{}</title>',
            x, y, NODE_W, NODE_H, fill, stroke, 3 if is_root else 1.2,
            x + 10, y + 20, _clip(ref), x + 10, y + 37, stroke, sub,
            f"{n['type']} {ref} ({n.get('team', '')})",
        )
        url = node_url(n)
        if url:
            parts.append(
                format_html(
                    '<a href="{}" data-node="{}" aria-label="{} {}">{}</a>',
                    url, n["id"], n["type"], ref, body,
                )
            )
        else:
            parts.append(format_html('<g data-node="{}">{}</g>', n["id"], body))
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(p) for p in parts))

