"""OpenTelemetry traces of workflows and agents (extra ``otel``: ``opentelemetry-api``).

``instrument()`` switches tracing on against the global tracer provider (or the
one you pass); ``uninstrument()`` switches it off. Runs, agents, model calls and
tools started while it is on produce spans following the OpenTelemetry GenAI
semantic conventions:

- ``invoke_workflow {workflow name}`` — the root of a run
  (``gen_ai.operation.name="invoke_workflow"``, ``agentic_nb.run_id``);
- ``superstep {n}`` under it, and ``executor {id}`` under each superstep
  (``agentic_nb.superstep``, ``agentic_nb.executor.id``, ``agentic_nb.attempt``);
- ``invoke_agent {agent name}`` under the executor that runs the agent
  (``gen_ai.agent.name``, ``gen_ai.conversation.id``, ``gen_ai.usage.*``);
- ``chat {model}`` for each model call (``gen_ai.provider.name``,
  ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``/``output_tokens``);
- ``execute_tool {tool name}`` for each tool call (``gen_ai.tool.name``).

Errors set the span status to ERROR. Message content (prompts, answers, tool
arguments and results) is recorded only with ``instrument(capture_content=True)``.
Nothing is measured while tracing is off.

Example (the SDK, ``opentelemetry-sdk``, is only needed to collect spans)::

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> from agentic_nb.otel import instrument, uninstrument
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> @executor(id="shout")
    ... async def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
    ...     await ctx.yield_output(text.upper())
    >>> instrument(tracer_provider=provider)
    >>> _ = WorkflowBuilder(name="demo", start=shout).build().run_sync("hi")
    >>> uninstrument()
    >>> sorted(s.name for s in exporter.get_finished_spans())
    ['executor shout', 'invoke_workflow demo', 'superstep 0']
"""

from __future__ import annotations

from typing import Any

from agentic_nb import _instrumentation

__all__ = ["instrument", "is_instrumented", "uninstrument"]


def instrument(tracer_provider: Any = None, *, capture_content: bool = False) -> None:
    """Switch tracing on (again: replaces the previous settings).

    ``tracer_provider`` defaults to the global one (``trace.set_tracer_provider``);
    ``capture_content=True`` records message content on the spans (off by default:
    prompts and answers may hold personal data or secrets).
    """
    from ._tracing import OtelInstrumentation

    _instrumentation.ACTIVE = OtelInstrumentation(tracer_provider, capture_content=capture_content)


def uninstrument() -> None:
    """Switch tracing off; runs started afterwards create no spans."""
    _instrumentation.ACTIVE = None


def is_instrumented() -> bool:
    """True while ``instrument()`` is in effect.

    Example::

        >>> is_instrumented()
        False
    """
    from ._tracing import OtelInstrumentation

    return isinstance(_instrumentation.ACTIVE, OtelInstrumentation)
