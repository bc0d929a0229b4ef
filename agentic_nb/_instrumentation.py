"""The one switch the layers consult for tracing (OpenTelemetry or any other tracer).

``ACTIVE`` is ``None`` unless ``agentic_nb.otel.instrument()`` (or another
instrumentation) set it. Each layer reads it once per unit of work — the
workflow runner once per run, agents once per run, chat clients once per call,
tools once per call — so tracing that is off costs one attribute read and no
import of OpenTelemetry.

Example::

    >>> import agentic_nb._instrumentation as inst
    >>> inst.ACTIVE is None
    True
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol


class Instrumentation(Protocol):
    """What an instrumentation provides to the layers (see ``agentic_nb.otel``)."""

    def for_run(self, run: Any) -> Any:
        """A per-run tracer (``RunTracer`` in ``agentic_nb.otel``) or ``None``."""

    def agent_updates(
        self, agent: Any, updates: AsyncIterator[Any], messages: Any, thread: Any
    ) -> AsyncIterator[Any]:
        """Wrap an agent's update stream in an ``invoke_agent`` span."""

    async def chat(self, client: Any, request: Any, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one model call (``call()``) in a ``chat`` span."""

    def chat_stream(
        self, client: Any, request: Any, stream: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        """Wrap one streamed model call in a ``chat`` span."""

    async def tool(self, agent: Any, call: Any, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run one tool call (``run()``) in an ``execute_tool`` span."""


#: The active instrumentation, or ``None`` (tracing off: nothing is measured).
ACTIVE: Instrumentation | None = None
