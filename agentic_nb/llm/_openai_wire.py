"""Conversion to and from the OpenAI chat-completions wire format (plain dicts).

Shared by :class:`OpenAIChatClient` (through the ``openai`` SDK) and
:class:`LocalChatClient` (xllamacpp takes and returns the same dicts).

Example::

    >>> from agentic_nb.llm import ChatMessage
    >>> to_openai_messages([ChatMessage.user("hi")])
    [{'role': 'user', 'content': 'hi'}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._client import ChatRequest
from ._messages import ChatMessage, DataContent, TextContent, ToolCallContent
from ._types import ChatResponse, ChatResponseUpdate, ToolCallDelta, ToolSpec, Usage


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            for r in m.tool_results:
                out.append({"role": "tool", "tool_call_id": r.call_id, "content": r.result})
            continue
        text_parts: list[str] = []
        for c in m.contents:
            if isinstance(c, TextContent):
                text_parts.append(c.text)
            elif isinstance(c, DataContent) and m.role != "assistant":
                text_parts.append(json.dumps(c.data, ensure_ascii=False, default=str))
        msg: dict[str, Any] = {"role": m.role, "content": "".join(text_parts)}
        calls = m.tool_calls
        if calls:
            msg["tool_calls"] = [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json},
                }
                for c in calls
            ]
            if not msg["content"]:
                msg["content"] = None
        out.append(msg)
    return out


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def openai_tool_choice(choice: str | None) -> Any:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def openai_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The JSON body of a chat-completions request."""
    body: dict[str, Any] = {"model": model, "messages": to_openai_messages(request.messages)}
    if request.tools:
        body["tools"] = openai_tools(request.tools)
        if request.tool_choice is not None:
            body["tool_choice"] = openai_tool_choice(request.tool_choice)
    if request.response_format is not None:
        rf = request.response_format
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(rf.name), "schema": rf.schema},
        }
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop"] = request.stop
    body.update(request.extra)
    return body


def _schema_name(name: str) -> str:
    clean = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)
    return clean[:64] or "response"


def usage_from(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    return Usage(
        int(data.get("prompt_tokens") or 0),
        int(data.get("completion_tokens") or 0),
        int(data.get("total_tokens") or 0)
        or int(data.get("prompt_tokens") or 0) + int(data.get("completion_tokens") or 0),
    )


def parse_completion(data: dict[str, Any]) -> ChatResponse:
    """A chat-completion dict -> :class:`ChatResponse`."""
    choice = (data.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    contents: list[Any] = []
    text = msg.get("content")
    if isinstance(text, list):  # content parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text:
        contents.append(TextContent(text))
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        contents.append(
            ToolCallContent.from_raw(
                call.get("id") or "", fn.get("name") or "", fn.get("arguments")
            )
        )
    return ChatResponse(
        ChatMessage("assistant", contents=contents),
        usage_from(data.get("usage")) or Usage(),
        choice.get("finish_reason"),
        data.get("model"),
        raw=data,
    )


def parse_chunk(data: dict[str, Any]) -> ChatResponseUpdate:
    """A chat-completion chunk dict -> :class:`ChatResponseUpdate`."""
    update = ChatResponseUpdate(model=data.get("model"), usage=usage_from(data.get("usage")))
    for choice in data.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            update.text += delta["content"]
        for tc in delta.get("tool_calls") or []:
            fn = tc.get("function") or {}
            update.tool_calls.append(
                ToolCallDelta(
                    int(tc.get("index") or 0),
                    tc.get("id"),
                    fn.get("name"),
                    fn.get("arguments") or "",
                )
            )
        if choice.get("finish_reason"):
            update.finish_reason = choice["finish_reason"]
    return update
