"""The engine's one door to the layers above it (notebook, widgets, agents).

The workflow engine never imports ``agentic_nb.notebook``, ``agentic_nb.widgets`` or
``agentic_nb.agents`` at module level; ``Run.show()``, ``Workflow.as_agent()``,
``to_dot()``, rich display and the like call the functions here, which import the
upper layer lazily (so a missing extra only matters when it is used). The SVG of
the rich display comes from ``agentic_nb.notebook`` when its extra is installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._builder import WorkflowBuilder
    from ._events import WorkflowEvent
    from ._runner import Run
    from ._workflow import Workflow


# ----------------------------------------------------------------- widgets
def live_run(run: Run) -> Any:
    from agentic_nb.widgets import live_run as make

    return make(run)


def stepper(run: Run) -> Any:
    from agentic_nb.widgets import stepper as make

    return make(run)


def approvals(run: Run) -> Any:
    from agentic_nb.widgets import approvals as make

    return make(run)


async def start_background(wf: Workflow, input: Any, store: Any, **options: Any) -> Any:
    from agentic_nb.agents import start_background as start

    return await start(wf, input, store=store, **options)


def graph_view(target: Workflow | Run) -> Any:
    from agentic_nb.widgets import GraphView

    return GraphView(target)


def checkpoints_view(run: Run) -> Any:
    from agentic_nb.widgets import checkpoints_view as make

    return make(run)


# ---------------------------------------------------------------- notebook
def workflow_to_dot(wf: Workflow, run: Run | None = None) -> str:
    from agentic_nb.notebook import workflow_to_dot as make

    dot: str = make(wf, run=run) if run is not None else make(wf)
    return dot


def workflow_to_networkx(wf: Workflow) -> Any:
    from agentic_nb.notebook import workflow_to_networkx as make

    return make(wf)


def workflow_to_mermaid(wf: Workflow) -> str:
    from agentic_nb.notebook import workflow_to_mermaid as make

    text: str = make(wf)
    return text


def events_to_dataframe(events: list[WorkflowEvent]) -> Any:
    from agentic_nb._optional import require

    require("pandas", "notebook")
    from agentic_nb.notebook import events_to_dataframe as make

    return make(events)


# ------------------------------------------------------------------ agents
def workflow_as_agent(wf: Workflow, name: str) -> Any:
    from agentic_nb.agents import workflow_as_agent as make

    return make(wf, name)


# ------------------------------------------------------------ rich display


def workflow_text(wf: Workflow) -> str:
    lines = [f"Workflow {wf.name!r} (start: {wf.start_executor_id})"]
    for ex in wf.executors:
        lines.append(f"  [{ex.kind.value}] {ex.id}")
    for e in wf.edges:
        lab = f"  ({e.label})" if e.label else ""
        lines.append(f"  {e.kind}: {', '.join(e.sources)} -> {', '.join(e.targets)}{lab}")
    return "\n".join(lines)


def _with_svg(text: str, make_svg: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = {"text/plain": text}
    try:
        svg = make_svg()
    except ImportError:
        return bundle
    if svg:
        bundle["image/svg+xml"] = svg
    return bundle


def workflow_mimebundle(wf: Workflow) -> dict[str, Any]:
    def svg() -> str | None:
        from agentic_nb.notebook._graph import workflow_svg

        return workflow_svg(wf)

    return _with_svg(workflow_text(wf), svg)


def builder_mimebundle(builder: WorkflowBuilder) -> dict[str, Any]:
    def svg() -> str | None:
        from agentic_nb.notebook._graph import builder_svg

        return builder_svg(builder)

    text = (
        f"WorkflowBuilder {builder.name!r}: {len(builder._executors)} executors, "
        f"{len(builder._edges)} edges"
    )
    return _with_svg(text, svg)


def run_mimebundle(run: Run) -> dict[str, Any]:
    def svg() -> str | None:
        from agentic_nb.notebook._graph import run_svg

        return run_svg(run)

    return _with_svg(repr(run), svg)
