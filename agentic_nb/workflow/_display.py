"""Rich display hooks; the SVG comes from agentic_nb.notebook when its extra is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._builder import WorkflowBuilder
    from ._runner import Run
    from ._workflow import Workflow


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
