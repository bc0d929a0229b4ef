"""MCP through the official ``mcp`` SDK: a server's tools as agent tools, and agents as MCP tools.

``MCPTools.stdio(command, args)`` / ``MCPTools.http(url)`` connect to an MCP server
(launched as a subprocess, or over streamable HTTP), list its tools and hand them to a
``ChatAgent`` as ordinary tools: the server's JSON schema goes to the model unchanged,
a tool error comes back to the model as an error result, and a server that died is
restarted (stdio) or reconnected (HTTP) once per call before the call fails with an
error naming the server. ``serve_mcp(agent_or_workflow)`` builds an MCP server (the
SDK's ``MCPServer``) whose one tool runs the agent or workflow.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> from mcp import Client
    >>> echo = ChatAgent(ScriptedChatClient(["pong"]), name="echo", description="Answers.")
    >>> server = serve_mcp(echo)
    >>> async def call():
    ...     async with Client(server) as client:
    ...         result = await client.call_tool("echo", {"input": "ping"})
    ...         return result.content[0].text
    >>> asyncio.run(call())
    'pong'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import typing
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, TextIO

from agentic_nb._optional import require
from agentic_nb.agents import Agent, FunctionTool, ToolArgumentsError

__all__ = ["MCPServerError", "MCPTool", "MCPToolError", "MCPTools", "serve_mcp"]


class MCPServerError(RuntimeError):
    """An MCP server cannot be reached, died, or answered something malformed."""


class MCPToolError(RuntimeError):
    """An MCP tool reported an error (``isError``); the model sees the message."""


def _mcp() -> Any:
    return require("mcp", "remote")


# ---------------------------------------------------------------------------- client side
class MCPTool(FunctionTool):
    """One tool of an MCP server, usable by ``ChatAgent`` like a ``@tool`` function.

    The server's input schema is passed to the model as is; arguments are checked
    only for being a JSON object with the required keys (the server validates the
    rest and its error goes back to the model).
    """

    def __init__(self, owner: MCPTools, name: str, description: str, schema: dict[str, Any]):
        # FunctionTool's __init__ derives a schema from a Python signature; an MCP tool
        # already has one, so set the public attributes directly.
        self.func = self._call
        self.name = name
        self.description = description
        self.is_async = True
        self._model = None
        self.parameters = _clean_schema(schema)
        self._owner = owner

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(arguments, dict):
            raise ToolArgumentsError(
                f"MCP tool {self.name!r} expects a JSON object of arguments, got "
                f"{type(arguments).__name__}"
            )
        missing = [k for k in self.parameters.get("required", []) if k not in arguments]
        if missing:
            raise ToolArgumentsError(
                f"invalid arguments for MCP tool {self.name!r}: missing {missing}. "
                f"Expected schema: {json.dumps(self.parameters)}"
            )
        return arguments

    async def invoke(self, arguments: dict[str, Any]) -> Any:
        return await self._call(**self.validate(arguments))

    async def _call(self, **arguments: Any) -> Any:
        return await self._owner.call(self.name, arguments)

    def __repr__(self) -> str:
        return f"MCPTool(name={self.name!r}, server={self._owner.label!r})"


def _clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    # The SDK's pydantic-made schemas carry a "title"; models do not need it.
    if isinstance(out.get("title"), str):
        out.pop("title")
    return out


class MCPTools(Sequence[MCPTool]):
    """The tools of one MCP server, as a sequence ``ChatAgent(tools=...)`` accepts.

    Use :meth:`stdio` (launch a server process), :meth:`http` (streamable HTTP) or
    :meth:`connect` (an in-process ``MCPServer``, as the SDK's own tests do) as async
    context managers; the connection lives inside the ``async with`` block.

    Example::

        >>> import asyncio
        >>> from mcp.server import MCPServer
        >>> server = MCPServer("calc")
        >>> @server.tool()
        ... def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> async def demo():
        ...     async with MCPTools.connect(server) as tools:
        ...         return [t.name for t in tools], await tools["add"].invoke({"a": 2, "b": 3})
        >>> asyncio.run(demo())
        (['add'], 5)
    """

    def __init__(
        self,
        server: Any,
        *,
        label: str,
        timeout: float | None = 60.0,
        connect_timeout: float = 30.0,
        restartable: bool = True,
        include: Sequence[str] | None = None,
        errlog: TextIO | None = None,
    ) -> None:
        self._server = server
        self.label = label
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._restartable = restartable
        self._include = set(include) if include is not None else None
        self._errlog = errlog
        self._tools: list[MCPTool] = []
        self._client: Any = None
        self._owner: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self.reconnects = 0

    # ---- constructors
    @classmethod
    @contextlib.asynccontextmanager
    async def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        cwd: str | None = None,
        timeout: float | None = 60.0,
        connect_timeout: float = 30.0,
        include: Sequence[str] | None = None,
    ) -> AsyncIterator[MCPTools]:
        """Launch ``command args`` as an MCP server over stdio and yield its tools.

        ``timeout`` bounds each tool call, ``connect_timeout`` the start and handshake.

        The server's stderr goes to a temporary log file (its path is in error
        messages) rather than into the notebook.
        """
        mcp = _mcp()
        params = mcp.StdioServerParameters(
            command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
        )
        label = " ".join([command, *args])
        with tempfile.NamedTemporaryFile(
            "w+", prefix="agentic_nb-mcp-", suffix=".log", delete=False
        ) as errlog:
            tools = cls(
                params,
                label=label,
                timeout=timeout,
                connect_timeout=connect_timeout,
                include=include,
                errlog=typing.cast(TextIO, errlog),
            )
            try:
                async with tools:
                    yield tools
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(errlog.name)

    @classmethod
    @contextlib.asynccontextmanager
    async def http(
        cls,
        url: str,
        *,
        timeout: float | None = 60.0,
        connect_timeout: float = 30.0,
        include: Sequence[str] | None = None,
    ) -> AsyncIterator[MCPTools]:
        """Connect to an MCP server over streamable HTTP (e.g. ``http://127.0.0.1:8000/mcp``)."""
        tools = cls(
            url, label=url, timeout=timeout, connect_timeout=connect_timeout, include=include
        )
        async with tools:
            yield tools

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, server: Any, *, timeout: float | None = 60.0, include: Sequence[str] | None = None
    ) -> AsyncIterator[MCPTools]:
        """Connect to an in-process MCP server object (``mcp.server.MCPServer``)."""
        name = getattr(server, "name", None) or type(server).__name__
        tools = cls(server, label=f"in-process {name}", timeout=timeout, include=include)
        async with tools:
            yield tools

    # ---- sequence protocol
    def __len__(self) -> int:
        return len(self._tools)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for t in self._tools:
                if t.name == key:
                    return t
            raise KeyError(f"MCP server {self.label!r} has no tool {key!r} (tools: {self.names})")
        return self._tools[key]

    def __iter__(self) -> Iterator[MCPTool]:
        return iter(self._tools)

    @property
    def names(self) -> list[str]:
        """Names of the server's tools."""
        return [t.name for t in self._tools]

    def __repr__(self) -> str:
        return f"MCPTools({self.label!r}, tools={self.names})"

    # ---- connection lifecycle
    async def __aenter__(self) -> MCPTools:
        await self._start()
        try:
            await self.refresh()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _transport(self) -> Any:
        mcp = _mcp()
        if isinstance(self._server, mcp.StdioServerParameters):
            return mcp.stdio_client(self._server, errlog=self._errlog or sys.stderr)
        return self._server

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._stop = asyncio.Event()
        self._owner = asyncio.create_task(self._own(self._ready, self._stop))
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.connect_timeout)
        except TimeoutError:
            await self._close_owner()
            raise MCPServerError(
                f"MCP server {self.label!r} did not answer the connection within "
                f"{self.connect_timeout:g} s{self._log_hint()}; check that it starts and speaks "
                f"MCP"
            ) from None
        except MCPServerError:
            await self._close_owner()
            raise

    async def _own(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        # The SDK's client is an anyio context: it must be entered and left by the same
        # task, so one owner task holds it while callers use it from anywhere.
        mcp = _mcp()
        try:
            async with mcp.Client(self._transport(), read_timeout_seconds=self.timeout) as client:
                self._client = client
                if not ready.done():
                    ready.set_result(None)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(
                    MCPServerError(
                        f"cannot connect to MCP server {self.label!r}: "
                        f"{type(exc).__name__}: {_first_line(exc)}{self._log_hint()}"
                    )
                )
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None

    async def _close_owner(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._owner is not None:
            owner, self._owner = self._owner, None
            try:
                await asyncio.wait_for(owner, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                owner.cancel()
                with contextlib.suppress(BaseException):
                    await owner
            except BaseException:
                pass
        self._client = None

    async def aclose(self) -> None:
        """Close the connection (and stop a stdio server process)."""
        await self._close_owner()

    async def reconnect(self) -> None:
        """Close and open the connection again (a stdio server is restarted)."""
        async with self._lock:
            await self._close_owner()
            await self._start()
            self.reconnects += 1

    async def refresh(self) -> list[MCPTool]:
        """List the server's tools again (``ChatAgent`` keeps the tools it was given)."""
        client = self._require_client()
        listed = []
        cursor = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        tools = []
        for t in listed:
            if self._include is not None and t.name not in self._include:
                continue
            schema = dict(t.input_schema or {})
            problem = _schema_problem(t.name, schema)
            if problem:
                raise MCPServerError(
                    f"MCP server {self.label!r}: tool {t.name!r} {problem}, which model APIs "
                    f"reject; leave it out with include=[...] (tools: "
                    f"{sorted(x.name for x in listed)}) or fix it on the server"
                )
            tools.append(MCPTool(self, t.name, t.description or "", schema))
        if self._include is not None:
            missing = sorted(self._include - {t.name for t in tools})
            if missing:
                raise MCPServerError(
                    f"MCP server {self.label!r} has no tool(s) {missing} (it offers "
                    f"{sorted(t.name for t in listed)})"
                )
        self._tools = tools
        return tools

    def _require_client(self) -> Any:
        if self._client is None:
            raise MCPServerError(
                f"MCP server {self.label!r} is not connected: use the tools inside "
                f"'async with MCPTools.stdio(...)' / 'MCPTools.http(...)'"
            )
        return self._client

    def _log_hint(self) -> str:
        if self._errlog is None:
            return ""
        with contextlib.suppress(OSError):
            self._errlog.flush()
            with open(self._errlog.name, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-800:].strip()
            if tail:
                return f" (server stderr, from {self._errlog.name}: ...{tail[-400:]})"
        return ""

    # ---- calls
    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call tool ``name``; reconnects once if the server went away."""
        if self._owner is None:
            self._require_client()
        for attempt in (1, 2):
            client = self._client
            try:
                if client is None:
                    raise MCPServerError(f"MCP server {self.label!r} is not connected")
                result = await client.call_tool(name, arguments)
            except MCPToolError:
                raise
            except Exception as exc:
                if attempt == 2 or not self._restartable or not _is_connection_error(exc):
                    raise MCPServerError(
                        f"MCP tool {name!r} on server {self.label!r} failed: "
                        f"{type(exc).__name__}: {_first_line(exc)}{self._log_hint()}"
                    ) from exc
                try:
                    await self.reconnect()
                except MCPServerError as again:
                    raise MCPServerError(
                        f"MCP server {self.label!r} went away during tool {name!r} and could "
                        f"not be restarted: {again}"
                    ) from exc
                continue
            return _result_value(name, self.label, result)
        raise AssertionError("unreachable")


_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _schema_problem(name: str, schema: Mapping[str, Any]) -> str:
    """Why model APIs would refuse this tool (empty when they would not)."""
    if not _TOOL_NAME.fullmatch(name):
        return "has a name that is not 1-64 letters, digits, '_' or '-'"
    kind = schema.get("type", "object")
    if kind != "object":
        return f"takes a {kind!r} instead of a JSON object of arguments"
    if not isinstance(schema.get("properties", {}), dict):
        return "has 'properties' that are not an object"
    return ""


def _is_connection_error(exc: BaseException) -> bool:
    anyio = require("anyio", "remote")
    if isinstance(
        exc,
        anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | anyio.EndOfStream
        | ConnectionError
        | EOFError
        | MCPServerError,
    ):
        return True
    mcp = _mcp()
    if isinstance(exc, mcp.MCPError):
        text = str(exc).lower()
        return "closed" in text or "connection" in text
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    return text.splitlines()[0][:300]


def _result_value(name: str, label: str, result: Any) -> Any:
    texts = [getattr(c, "text", None) for c in result.content or []]
    text = "\n".join(t for t in texts if isinstance(t, str))
    if result.is_error:
        raise MCPToolError(text or f"MCP tool {name!r} on {label!r} reported an error")
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        # The SDK wraps plain return values as {"result": value}.
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    if text:
        return text
    kinds = sorted({getattr(c, "type", type(c).__name__) for c in result.content or []})
    return f"(MCP tool {name!r} returned non-text content: {', '.join(kinds) or 'nothing'})"


# ---------------------------------------------------------------------------- server side
def serve_mcp(
    target: Any,
    *,
    name: str | None = None,
    tool_name: str | None = None,
    description: str | None = None,
) -> Any:
    """An MCP server (the SDK's ``MCPServer``) exposing an agent or workflow as one tool.

    The tool takes ``{"input": ...}``: a text for an agent (its answer's text is the
    result), the workflow's start input for a workflow (its outputs are the result;
    a workflow that ends waiting or failed is a tool error naming the status).
    Run it with ``server.run("stdio")``, mount ``server.streamable_http_app()``, or
    connect in-process with ``mcp.Client(server)``.
    """
    mcp_server = require("mcp.server", "remote")
    tool_error = require("mcp.server.mcpserver.exceptions", "remote").ToolError
    from agentic_nb.workflow import Workflow

    if isinstance(target, Workflow):
        label = target.name or "workflow"
        run = _workflow_runner(target)
    elif isinstance(target, Agent):
        label = target.name
        run = _agent_runner(target)
    else:
        raise TypeError(
            f"serve_mcp expects an Agent or a Workflow, got {type(target).__name__}; wrap a "
            f"function with @tool and an MCPServer of your own instead"
        )
    tname = tool_name or _tool_name(label)
    desc = description or getattr(target, "description", "") or f"Run {label}."
    server = mcp_server.MCPServer(name or label)

    async def tool(input: Any) -> Any:
        try:
            return await run(input)
        except MCPToolError as exc:
            # ToolError is the SDK's way to show a deliberate error's text to the client.
            raise tool_error(str(exc)) from exc

    tool.__doc__ = desc
    # The SDK builds the tool's JSON schema from the annotation: say what input is.
    tool.__annotations__ = {"input": _input_type(target), "return": Any}
    server.add_tool(tool, name=tname, description=desc)
    return server


def _input_type(target: Any) -> Any:
    from agentic_nb.workflow import Workflow

    if not isinstance(target, Workflow):
        return str
    start = target.executors[[e.id for e in target.executors].index(target.start_executor_id)]
    types = [t for t in start.input_types if t is not Any]
    if len(types) == 1:
        return types[0]
    if not types:
        return Any
    import typing

    return typing.Union[tuple(types)]  # noqa: UP007 - built at run time


def _tool_name(label: str) -> str:
    import re

    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_") or "run"
    return safe[:64]


def _agent_runner(agent: Any) -> Any:
    async def run(input: Any) -> str:
        text = input if isinstance(input, str) else json.dumps(input)
        response = await agent.run(text)
        if getattr(response, "status", "completed") not in ("completed", ""):
            raise MCPToolError(
                f"agent {agent.name!r} ended {response.status}: {response.status_detail}"
            )
        return str(response.text)

    return run


def _workflow_runner(workflow: Any) -> Any:
    async def run(input: Any) -> Any:
        result = await workflow.run(input)
        if result.status != "completed":
            detail = f": {result.error}" if getattr(result, "error", None) else ""
            raise MCPToolError(f"workflow {workflow.name!r} ended {result.status}{detail}")
        from agentic_nb.workflow.codec import encode

        outputs = [encode(o) for o in result.outputs]
        return outputs[0] if len(outputs) == 1 else outputs

    return run
