"""Function tools: ``@tool`` turns a typed function into a tool with a JSON schema.

Example::

    >>> @tool
    ... def add(a: int, b: int = 0) -> int:
    ...     '''Add two numbers.
    ...
    ...     Args:
    ...         a: the first number
    ...         b: the second number
    ...     '''
    ...     return a + b
    >>> add.name, add.description, add.parameters["required"]
    ('add', 'Add two numbers.', ['a'])
    >>> add.parameters["properties"]["a"]["description"]
    'the first number'
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any, overload

from agentic_nb._optional import require
from agentic_nb.llm import ToolSpec


class ToolArgumentsError(ValueError):
    """The model's arguments do not match the tool's parameters (sent back to the model)."""


class ToolDefinitionError(TypeError):
    """A function cannot become a tool (e.g. ``*args``), with what to change."""


class FunctionTool:
    """A Python function the model can call. Build it with :func:`tool`.

    ``await t.invoke({"a": 1})`` validates the arguments against the function's
    annotations (pydantic) and calls it (sync functions run in a worker thread).

    Example::

        >>> import asyncio
        >>> t = FunctionTool(lambda city: f"sunny in {city}", name="weather",
        ...                  description="Weather of a city.")
        >>> asyncio.run(t.invoke({"city": "Oslo"}))
        'sunny in Oslo'
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not callable(func):
            raise ToolDefinitionError(f"a tool needs a callable, got {func!r}")
        self.func = func
        self.name: str = str(name or getattr(func, "__name__", ""))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", self.name or ""):
            raise ToolDefinitionError(
                f"tool name {self.name!r} is not valid for model APIs: use letters, digits, "
                f"'_' or '-' (at most 64), e.g. @tool(name='get_weather')"
            )
        doc = inspect.getdoc(func) or ""
        summary, param_docs = parse_docstring(doc)
        self.description: str = description if description is not None else summary
        self.is_async = inspect.iscoroutinefunction(func)
        self._model, self.parameters = _arguments_model(func, self.name, param_docs)

    @property
    def spec(self) -> ToolSpec:
        """What chat clients send to the model."""
        return ToolSpec(self.name, self.description, self.parameters)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate and convert ``arguments``; :class:`ToolArgumentsError` lists the problems."""
        if not isinstance(arguments, dict):
            raise ToolArgumentsError(
                f"tool {self.name!r} expects a JSON object of arguments, got "
                f"{type(arguments).__name__}"
            )
        pydantic = require("pydantic", "llm")
        try:
            model = self._model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {problems}. "
                f"Expected schema: {json.dumps(self.parameters)}"
            ) from None
        return {k: getattr(model, k) for k in type(model).model_fields}

    async def invoke(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` and call the function."""
        kwargs = self.validate(arguments)
        if self.is_async:
            return await self.func(**kwargs)
        result = await asyncio.to_thread(self.func, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (no validation)."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        params = list(self.parameters.get("properties", {}))
        return f"FunctionTool(name={self.name!r}, params={params})"


@overload
def tool(func: Callable[..., Any], /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...
def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool from a typed function (sync or async).

    The JSON schema comes from the annotations (anything pydantic understands:
    ``int``, ``Literal``, ``list[str]``, pydantic models, ...), the description
    from the docstring's first paragraph, and parameter descriptions from its
    ``Args:`` section (or ``:param x:`` lines).

    Example::

        >>> @tool(name="get_weather")
        ... async def weather(city: str) -> str:
        ...     '''Current weather in a city.'''
        ...     return "sunny"
        >>> weather.name, weather.parameters["properties"]["city"]["type"]
        ('get_weather', 'string')
    """

    def wrap(fn: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(fn, name=name, description=description)

    if func is not None:
        return wrap(func)
    return wrap


def as_tool(value: Any) -> FunctionTool:
    """A :class:`FunctionTool` from a tool or a plain function."""
    if isinstance(value, FunctionTool):
        return value
    if callable(value):
        return FunctionTool(value)
    raise ToolDefinitionError(f"cannot use {value!r} as a tool: pass a function or a @tool")


_ARG_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_SPHINX = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Summary (first paragraph) and parameter descriptions of a docstring.

    Example::

        >>> parse_docstring("Do it.\\n\\n:param x: the x")
        ('Do it.', {'x': 'the x'})
    """
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip():
            break
        summary_lines.append(line.strip())
    params: dict[str, str] = {}
    in_args = False
    current: str | None = None
    indent = 0
    for line in lines:
        stripped = line.strip()
        m = _SPHINX.match(stripped)
        if m:
            params[m.group(1)] = m.group(2).strip()
            current, in_args = m.group(1), False
            continue
        if _ARG_SECTION.match(stripped):
            in_args, current = True, None
            continue
        if in_args:
            if not stripped:
                continue
            if _SECTION.match(stripped) and not line.startswith(" " * (indent + 1)):
                in_args = False
                continue
            pm = re.match(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
            lead = len(line) - len(line.lstrip())
            if pm and (current is None or lead <= indent):
                current = pm.group(1).lstrip("*")
                indent = lead
                params[current] = pm.group(2).strip()
            elif current is not None:
                params[current] = (params[current] + " " + stripped).strip()
    return " ".join(summary_lines), params


def _arguments_model(
    func: Callable[..., Any], name: str, docs: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    pydantic = require("pydantic", "llm")
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(
            f"cannot resolve the annotations of tool {name!r} ({exc}); define the types it "
            f"uses at module level"
        ) from exc
    fields: dict[str, Any] = {}
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"tool {name!r} has *{p.name}: tools need named parameters the model can fill"
            )
        annotation = hints.get(p.name, Any)
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (
            annotation,
            pydantic.Field(default, description=docs.get(p.name) or None),
        )
    model = pydantic.create_model(
        f"{name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    schema = _clean_schema(model.model_json_schema())
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    return model, schema


def _clean_schema(node: Any) -> Any:
    if isinstance(node, dict):
        # Drop pydantic's generated "title" strings (a *property* named title is a dict).
        return {
            k: _clean_schema(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_clean_schema(v) for v in node]
    return node
