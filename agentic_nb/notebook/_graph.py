"""SVG pictures of workflows, builders and runs (graphviz ``dot`` lays the graph out once).

A run's picture is the workflow's picture with colours swapped in: the layout is
computed once per workflow and cached, so node positions never move between
updates and a redraw costs a string join, not a ``dot`` call.
"""

from __future__ import annotations

import re
import shutil
import warnings
import weakref
from typing import Any

from agentic_nb._optional import MissingDependencyError, require

from ._dot import (
    EDGE_COLOR,
    HIGHLIGHT_COLOR,
    HIGHLIGHT_WIDTH,
    SWITCH_COLOR,
    highlighted_edges,
    model_to_dot,
)
from ._model import GraphModel, model_from_builder, model_from_workflow
from ._tracker import STATE_COLORS, RunTracker

INSTALL_DOT = (
    "the graphviz 'dot' program is not installed (the Python package alone cannot draw): "
    "install it with  apt-get install graphviz  or  conda install graphviz"
)


class GraphvizNotFoundError(MissingDependencyError):
    """The ``dot`` program of graphviz is missing (the Python package is not enough).

    It is an ``ImportError``, so rich display falls back to text.

    Example::

        >>> issubclass(GraphvizNotFoundError, ImportError)
        True
    """


_warned = False


def render_svg(dot_source: str) -> str:
    """Lay out ``dot_source`` with graphviz ``dot`` and return the SVG text.

    Raises :class:`MissingDependencyError` (an ``ImportError``) when the graphviz
    Python package or the ``dot`` program is missing, with a one-line hint.

    Example::

        >>> svg = render_svg('digraph { a -> b }')
        >>> svg.lstrip().startswith('<?xml')
        True
    """
    graphviz = require("graphviz", "notebook")
    if shutil.which("dot") is None:
        _warn_once()
        raise GraphvizNotFoundError(INSTALL_DOT)
    try:
        out: bytes = graphviz.pipe("dot", "svg", dot_source.encode())
    except graphviz.ExecutableNotFound:
        _warn_once()
        raise GraphvizNotFoundError(INSTALL_DOT) from None
    return out.decode()


def _warn_once() -> None:
    # The rich display swallows ImportError to fall back to text: say once why.
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(INSTALL_DOT, RuntimeWarning, stacklevel=3)


_NODE_RE = re.compile(r'<g id="n(\d+)" class="node">(.*?)</g>', re.S)
_EDGE_RE = re.compile(r'<g id="e(\d+)" class="edge">(.*?)</g>', re.S)
_FILL_RE = re.compile(r'fill="[^"]*"')
_PLACE_RE = re.compile(r"\x00(n|e|w)(\d+)\x00")


class GraphTemplate:
    """A laid-out SVG of a workflow with slots for node fills and edge colours.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: str, ctx: WorkflowContext[None, str]) -> None: ...
        >>> t = GraphTemplate(model_from_workflow(WorkflowBuilder(start=a).build()))
        >>> "#b6e3b6" in t.render({"a": "#b6e3b6"})
        True
    """

    def __init__(self, model: GraphModel) -> None:
        self.model = model
        svg = render_svg(model_to_dot(model))
        svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype: embeddable inline
        node_ids = {i: n.id for i, n in enumerate(model.nodes) if n.is_executor}
        self._node_of_slot: dict[int, str] = {}
        self._edge_color: dict[int, str] = {}

        def node_sub(m: re.Match[str]) -> str:
            i = int(m.group(1))
            body = m.group(2)
            if i in node_ids:
                self._node_of_slot[i] = node_ids[i]
                body = _FILL_RE.sub(f"\x00n{i}\x00", body, count=1)
            return f'<g id="n{i}" class="node">{body}</g>'

        def edge_sub(m: re.Match[str]) -> str:
            j = int(m.group(1))
            body = m.group(2)
            base = SWITCH_COLOR if f'"{SWITCH_COLOR}"' in body else EDGE_COLOR
            self._edge_color[j] = base
            body = body.replace(f'"{base}"', f'"\x00e{j}\x00"')
            body = body.replace("<path ", f"<path \x00w{j}\x00", 1)
            return f'<g id="e{m.group(1)}" class="edge">{body}</g>'

        svg = _NODE_RE.sub(node_sub, svg)
        svg = _EDGE_RE.sub(edge_sub, svg)
        self._parts: list[str | tuple[str, int]] = []
        pos = 0
        for m in _PLACE_RE.finditer(svg):
            self._parts.append(svg[pos : m.start()])
            self._parts.append((m.group(1), int(m.group(2))))
            pos = m.end()
        self._parts.append(svg[pos:])

    def render(
        self,
        fills: dict[str, str] | None = None,
        highlighted: set[int] | None = None,
        dashed: set[str] | None = None,
    ) -> str:
        """The SVG text with executor fills and highlighted edge indices applied."""
        fills = fills or {}
        highlighted = highlighted or set()
        dashed = dashed or set()
        pending = STATE_COLORS["pending"]
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, k = part
            if kind == "n":
                nid = self._node_of_slot[k]
                attr = f'fill="{fills.get(nid, pending)}"'
                if nid in dashed:
                    attr += ' stroke-dasharray="5,3"'
                out.append(attr)
            elif kind == "e":
                out.append(HIGHLIGHT_COLOR if k in highlighted else self._edge_color[k])
            else:
                out.append(f'stroke-width="{HIGHLIGHT_WIDTH}" ' if k in highlighted else "")
        return "".join(out)


_templates: weakref.WeakKeyDictionary[Any, GraphTemplate] = weakref.WeakKeyDictionary()


def workflow_template(wf: Any) -> GraphTemplate:
    """The cached laid-out template of a workflow (computed on first use)."""
    t = _templates.get(wf)
    if t is None:
        t = _templates[wf] = GraphTemplate(model_from_workflow(wf))
    return t


def workflow_svg(wf: Any) -> str | None:
    """SVG of a workflow (``None`` for an empty graph).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: str, ctx: WorkflowContext[None, str]) -> None: ...
        >>> workflow_svg(WorkflowBuilder(start=a).build()).startswith("<svg")
        True
    """
    if not wf.executors:
        return None
    return workflow_template(wf).render()


def builder_svg(builder: Any) -> str | None:
    """SVG of a builder as it stands (ids not yet given as executors are drawn dashed red)."""
    model = model_from_builder(builder)
    if not model.nodes:
        return None
    return render_svg(model_to_dot(model))


def run_svg(run: Any) -> str | None:
    """SVG of a run's workflow with executors coloured by their state in the run."""
    wf = run.workflow
    if not wf.executors:
        return None
    template = workflow_template(wf)
    tracker = RunTracker(run, template.model.executor_ids())
    tracker.update()
    return render_run(template, tracker)


def render_run(template: GraphTemplate, tracker: RunTracker) -> str:
    """Render ``template`` with the colours and last edges that ``tracker`` has folded."""
    states = tracker.states()
    fills = {k: STATE_COLORS[s] for k, s in states.items()}
    dashed = {k for k, s in states.items() if s == "skipped"}
    return template.render(fills, highlighted_edges(template.model, tracker.last_edges), dashed)
