"""OpenTelemetry spans for workflows, supersteps, executors, agents, model calls and tools.

Span names and ``gen_ai.*`` attributes follow the OpenTelemetry GenAI semantic
conventions (Development status): ``invoke_workflow {name}``, ``invoke_agent
{name}``, ``chat {model}``, ``execute_tool {name}``. Supersteps and executor
invocations have spans of their own (``superstep {n}``, ``executor {id}``) with
``agentic_nb.*`` attributes. Message content is recorded only with
``capture_content=True``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agentic_nb._optional import require

SCOPE = "agentic_nb"

TERMINAL = ("completed", "failed", "cancelled")


def _otel() -> Any:
    return require("opentelemetry.trace", "otel")


def _messages_json(messages: Any) -> str:
    out = []
    for m in messages or ():
        role = getattr(m, "role", None)
        if role is None:
            out.append({"role": "user", "parts": [{"type": "text", "content": str(m)}]})
            continue
        parts: list[dict[str, Any]] = []
        text = getattr(m, "text", "")
        if text:
            parts.append({"type": "text", "content": text})
        for c in getattr(m, "tool_calls", ()):
            parts.append(
                {"type": "tool_call", "id": c.call_id, "name": c.name, "arguments": c.arguments}
            )
        for r in getattr(m, "tool_results", ()):
            parts.append({"type": "tool_call_response", "id": r.call_id, "response": r.result})
        out.append({"role": role, "parts": parts})
    return json.dumps(out, ensure_ascii=False, default=str)


class OtelInstrumentation:
    """The object ``instrument()`` installs as ``agentic_nb._instrumentation.ACTIVE``."""

    def __init__(self, tracer_provider: Any = None, *, capture_content: bool = False) -> None:
        trace = _otel()
        self.trace = trace
        self.tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        self.capture_content = capture_content

    # ----------------------------------------------------------- workflows
    def for_run(self, run: Any) -> RunTracer:
        return RunTracer(self, run)

    # -------------------------------------------------------------- agents
    async def agent_updates(
        self, agent: Any, updates: AsyncIterator[Any], messages: Any, thread: Any
    ) -> AsyncIterator[Any]:
        trace = self.trace
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent.name,
            "gen_ai.agent.id": agent.id,
        }
        client = getattr(agent, "client", None)
        if client is not None:
            attrs["gen_ai.provider.name"] = client.provider
            attrs["gen_ai.request.model"] = client.model
        if getattr(agent, "description", ""):
            attrs["gen_ai.agent.description"] = agent.description
        if thread is not None:
            attrs["gen_ai.conversation.id"] = thread.id
        span = self.tracer.start_span(
            f"invoke_agent {agent.name}", kind=trace.SpanKind.INTERNAL, attributes=attrs
        )
        if self.capture_content and messages is not None:
            span.set_attribute(
                "gen_ai.input.messages",
                _messages_json(messages if isinstance(messages, list) else [messages]),
            )
        ctx = trace.set_span_in_context(span)
        from opentelemetry import context as otel_context

        try:
            while True:
                # The agent's own work runs with its span current (chat and tool spans
                # nest under it); the consumer's code between chunks does not.
                token = otel_context.attach(ctx)
                try:
                    update = await anext(updates)
                except StopAsyncIteration:
                    break
                finally:
                    otel_context.detach(token)
                if getattr(update, "done", False):
                    self._agent_done(span, update.response)
                yield update
        except BaseException as exc:
            _error(trace, span, exc)
            raise
        finally:
            span.end()

    def _agent_done(self, span: Any, response: Any) -> None:
        if response is None:
            return
        usage = response.usage
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        if response.thread_id:
            span.set_attribute("gen_ai.conversation.id", response.thread_id)
        model = response.metadata.get("model")
        if model:
            span.set_attribute("gen_ai.response.model", model)
        calls = response.metadata.get("model_calls")
        if calls is not None:
            span.set_attribute("agentic_nb.model_calls", calls)
        span.set_attribute("agentic_nb.agent.status", response.status)
        if self.capture_content:
            span.set_attribute("gen_ai.output.messages", _messages_json(response.messages))

    # --------------------------------------------------------- model calls
    def _chat_span(self, client: Any, request: Any) -> Any:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": client.provider,
            "gen_ai.request.model": client.model,
        }
        if request.max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = request.max_tokens
        if request.temperature is not None:
            attrs["gen_ai.request.temperature"] = request.temperature
        span = self.tracer.start_span(
            f"chat {client.model}", kind=self.trace.SpanKind.CLIENT, attributes=attrs
        )
        if self.capture_content:
            span.set_attribute("gen_ai.input.messages", _messages_json(request.messages))
        return span

    def _chat_done(self, span: Any, usage: Any, model: str | None, finish: str | None) -> None:
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        if model:
            span.set_attribute("gen_ai.response.model", model)
        if finish:
            span.set_attribute("gen_ai.response.finish_reasons", [finish])

    async def chat(self, client: Any, request: Any, call: Callable[[], Awaitable[Any]]) -> Any:
        span = self._chat_span(client, request)
        with self.trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                response = await call()
            except BaseException as exc:
                _error(self.trace, span, exc)
                raise
            self._chat_done(span, response.usage, response.model, response.finish_reason)
            if self.capture_content:
                span.set_attribute("gen_ai.output.messages", _messages_json([response.message]))
            return response

    async def chat_stream(
        self, client: Any, request: Any, stream: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        span = self._chat_span(client, request)
        usage = model = finish = None
        text: list[str] = []
        try:
            async for u in stream:
                usage = u.usage or usage
                model = u.model or model
                finish = u.finish_reason or finish
                if self.capture_content and u.text:
                    text.append(u.text)
                yield u
        except BaseException as exc:
            _error(self.trace, span, exc)
            raise
        finally:
            self._chat_done(span, usage, model, finish)
            if self.capture_content:
                out = [{"role": "assistant", "parts": [{"type": "text", "content": "".join(text)}]}]
                span.set_attribute("gen_ai.output.messages", json.dumps(out, ensure_ascii=False))
            span.end()

    # --------------------------------------------------------------- tools
    async def tool(self, agent: Any, call: Any, run: Callable[[], Awaitable[Any]]) -> Any:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.call_id,
            "gen_ai.tool.type": "function",
            "gen_ai.agent.name": agent.name,
        }
        span = self.tracer.start_span(
            f"execute_tool {call.name}", kind=self.trace.SpanKind.INTERNAL, attributes=attrs
        )
        if self.capture_content:
            span.set_attribute(
                "gen_ai.tool.call.arguments",
                json.dumps(call.arguments, ensure_ascii=False, default=str),
            )
        with self.trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                result = await run()
            except BaseException as exc:
                _error(self.trace, span, exc)
                raise
            if getattr(result, "is_error", False):
                span.set_status(self.trace.Status(self.trace.StatusCode.ERROR, str(result.result)))
                span.set_attribute("error.type", "tool_error")
            if self.capture_content:
                span.set_attribute("gen_ai.tool.call.result", str(getattr(result, "result", "")))
            return result


class RunTracer:
    """Spans of one workflow run: ``invoke_workflow`` → ``superstep`` → ``executor``.

    The workflow span opens when the run is first driven and ends when the run
    completes, fails, is cancelled or waits for input (a run driven again after
    answers gets a new ``invoke_workflow`` span linked to the previous one).
    """

    __slots__ = ("inst", "previous", "run", "span")

    def __init__(self, inst: OtelInstrumentation, run: Any) -> None:
        self.inst = inst
        self.run = run
        self.span: Any = None
        self.previous: Any = None

    def drive_started(self) -> None:
        if self.span is not None:
            return
        run = self.run
        trace = self.inst.trace
        name = run.workflow.name
        links = [trace.Link(self.previous)] if self.previous is not None else None
        self.span = self.inst.tracer.start_span(
            f"invoke_workflow {name}",
            kind=trace.SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.agent.name": name,
                "gen_ai.conversation.id": run.run_id,
                "agentic_nb.workflow.name": name,
                "agentic_nb.run_id": run.run_id,
            },
            links=links,
        )

    def drive_ended(self) -> None:
        span = self.span
        run = self.run
        if span is None:
            return
        trace = self.inst.trace
        if run.status not in (*TERMINAL, "waiting"):
            # Called from the driver's ``finally``: an exception escaping the drive
            # (the caller's task cancelled, an engine bug) ends the span as an error.
            escaping = sys.exc_info()[1]
            if escaping is None:
                return  # stepped, still running: the span stays open
            _error(trace, span, escaping)
            span.set_attribute("agentic_nb.status", run.status)
            self.previous = span.get_span_context()
            self.span = None
            span.end()
            return
        span.set_attribute("agentic_nb.status", run.status)
        span.set_attribute("agentic_nb.supersteps", run.superstep)
        if run.status in ("failed", "cancelled"):
            span.set_status(trace.Status(trace.StatusCode.ERROR, run.error or run.status))
            if run.events:
                span.set_attribute("error.type", getattr(run.events[-1], "error_type", run.status))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))
        self.previous = span.get_span_context()
        self.span = None
        span.end()

    async def run_slots(self, engine: Any, open_: Any, runnable: list[Any]) -> None:
        trace = self.inst.trace
        run = self.run
        if self.span is None:  # driven without run_steps (should not happen): still trace
            self.drive_started()
        parent = trace.set_span_in_context(self.span)
        span = self.inst.tracer.start_span(
            f"superstep {open_.number}",
            context=parent,
            attributes={
                "agentic_nb.run_id": run.run_id,
                "agentic_nb.superstep": open_.number,
                "agentic_nb.executors": [s.executor.id for s in runnable],
            },
        )
        with trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                await engine.run_slots(open_, runnable)
            except BaseException as exc:
                _error(trace, span, exc)
                raise
            failed = [s.executor.id for s in runnable if s.failed is not None]
            if failed:
                span.set_status(trace.Status(trace.StatusCode.ERROR, f"executors failed: {failed}"))

    async def call(self, engine: Any, ex: Any, spec: Any, message: Any, ctx: Any) -> None:
        trace = self.inst.trace
        run = self.run
        span = self.inst.tracer.start_span(
            f"executor {ex.id}",
            attributes={
                "agentic_nb.run_id": run.run_id,
                "agentic_nb.superstep": run.superstep,
                "agentic_nb.executor.id": ex.id,
                "agentic_nb.executor.kind": str(getattr(ex.kind, "value", ex.kind)),
                "agentic_nb.attempt": ctx.attempt,
                "agentic_nb.message.type": type(message).__name__,
            },
        )
        with trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                await engine.call(ex, spec, message, ctx)
            except BaseException as exc:
                if type(exc).__name__ == "PendingRequest":
                    span.set_attribute("agentic_nb.status", "waiting")
                else:
                    _error(trace, span, exc)
                raise


def _error(trace: Any, span: Any, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_attribute("error.type", type(exc).__name__)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
