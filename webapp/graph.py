"""Lay out a workflow's ASL definition as a graph the job page draws in SVG (no JS library).

States go in layers by their longest distance from ``StartAt``; edges are Next, Choice branches,
Default and Catch. Every state carries what this execution did there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H = 190, 46
GAP_X, GAP_Y = 28, 40
MARGIN = 16

# What the job page says for each state status, in a researcher's words.
STATUS_WORDS = {
    "not_reached": "not reached",
    "running": "running",
    "waiting": "waiting",
    "retried": "retried",
    "succeeded": "done",
    "failed": "failed",
}


@dataclass
class Node:
    name: str
    type: str
    comment: str
    status: str
    x: int = 0
    y: int = 0
    w: int = NODE_W
    h: int = NODE_H

    @property
    def words(self) -> str:
        return STATUS_WORDS.get(self.status, self.status.replace("_", " "))


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # "next", "choice", "default" or "catch"
    label: str = ""
    path: str = ""
    label_x: int = 0
    label_y: int = 0


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0


def _edges_of(name: str, state: Mapping[str, Any]) -> list[Edge]:
    edges = []
    for choice in state.get("Choices", []):
        if "Next" in choice:
            value = next((str(v) for k, v in choice.items() if k not in ("Variable", "Next")), "")
            edges.append(Edge(name, choice["Next"], "choice", value))
    if "Default" in state:
        edges.append(Edge(name, state["Default"], "default", "otherwise"))
    if "Next" in state:
        edges.append(Edge(name, state["Next"], "next"))
    for catcher in state.get("Catch", []):
        edges.append(Edge(name, catcher["Next"], "catch", "on error"))
    return edges


def _layers(start: str, edges: list[Edge], names: list[str]) -> dict[str, int]:
    """Longest-path layering over forward edges (back edges of a loop are ignored)."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for edge in edges:
        if edge.target in out:
            out[edge.source].append(edge.target)
    order: list[str] = []
    seen: set[str] = set()
    on_path: set[str] = set()
    back: set[tuple[str, str]] = set()

    def visit(n: str) -> None:
        seen.add(n)
        on_path.add(n)
        for m in out[n]:
            if m in on_path:
                back.add((n, m))
            elif m not in seen:
                visit(m)
        on_path.discard(n)
        order.append(n)

    visit(start)
    for n in names:
        if n not in seen:
            visit(n)
    layer = dict.fromkeys(names, 0)
    for n in reversed(order):
        for m in out[n]:
            if (n, m) not in back:
                layer[m] = max(layer[m], layer[n] + 1)
    return layer


def layout(definition: Mapping[str, Any], states: Mapping[str, str] | None = None) -> Graph:
    """The graph of ``definition`` with each state coloured by ``states`` (name -> status)."""
    states = states or {}
    asl_states: Mapping[str, Any] = definition["States"]
    names = list(asl_states)
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for name, state in asl_states.items():
        for edge in _edges_of(name, state):
            # A Catch to the state Next already goes to would draw the same line twice.
            if (edge.source, edge.target) not in seen:
                seen.add((edge.source, edge.target))
                edges.append(edge)
    layer = _layers(definition["StartAt"], edges, names)
    rows: dict[int, list[str]] = {}
    for name in names:
        rows.setdefault(layer[name], []).append(name)
    widest = max(len(row) for row in rows.values())
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X
    nodes: dict[str, Node] = {}
    for depth, row in sorted(rows.items()):
        row_w = len(row) * NODE_W + (len(row) - 1) * GAP_X
        x0 = (width - row_w) // 2
        for i, name in enumerate(row):
            state = asl_states[name]
            nodes[name] = Node(
                name=name,
                type=state["Type"],
                comment=state.get("Comment", ""),
                status=states.get(name, "not_reached"),
                x=x0 + i * (NODE_W + GAP_X),
                y=MARGIN + depth * (NODE_H + GAP_Y),
            )
    for edge in edges:
        a, b = nodes[edge.source], nodes.get(edge.target)
        if b is None:
            continue
        x1, y1 = a.x + a.w // 2, a.y + a.h
        x2, y2 = b.x + b.w // 2, b.y
        if y2 <= y1:  # a loop back up: leave from the side and come round
            x1, y1 = a.x + a.w, a.y + a.h // 2
            x2, y2 = b.x + b.w, b.y + b.h // 2
            bend = max(x1, x2) + 40
            edge.path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2},{y2}"
            edge.label_x, edge.label_y = bend, (y1 + y2) // 2
        else:
            mid = (y1 + y2) // 2
            edge.path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
            edge.label_x, edge.label_y = (x1 + x2) // 2, mid
    depth_max = max(layer.values())
    height = 2 * MARGIN + (depth_max + 1) * NODE_H + depth_max * GAP_Y
    return Graph(nodes=list(nodes.values()), edges=edges, width=width + 40, height=height)
