"""Record real model calls once, replay them in tests: deterministic agents, no fakes.

:class:`RecordingChatClient` wraps any chat client. Each request gets a
fingerprint (:func:`request_fingerprint`: messages, tools, response format and
sampling options, with tool-call ids numbered in order so random ids do not
matter); the answer — a complete response, or every streamed chunk — is stored
under it in a JSON file (never pickle). :class:`ReplayChatClient` answers from
that file without any model and raises :class:`UnrecordedRequestError`, naming
the request, for anything not recorded.

Example::

    >>> import asyncio, os, tempfile
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> path = os.path.join(tempfile.mkdtemp(), "calls.json")
    >>> live = RecordingChatClient(ScriptedChatClient(["Paris."]), path, mode="record")
    >>> asyncio.run(live.get_response("Capital of France?")).text
    'Paris.'
    >>> asyncio.run(ReplayChatClient(path).get_response("Capital of France?")).text
    'Paris.'
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from agentic_nb.workflow.codec import decode, encode

from ._client import ChatClient, ChatRequest
from ._errors import ChatClientError
from ._messages import ChatMessage, DataContent, TextContent, ToolCallContent, ToolResultContent
from ._types import ChatResponse, ChatResponseUpdate, ToolCallDelta, assemble_response

Mode = Literal["record", "replay", "auto"]
FORMAT_VERSION = 1


class UnrecordedRequestError(ChatClientError):
    """A replaying client got a request that is not in its recording."""

    default_hint = (
        "record it again: RecordingChatClient(real_client, path, mode='record') "
        "(or mode='auto' to record only what is missing)"
    )


def _content(c: Any, ids: dict[str, str]) -> Any:
    def cid(call_id: str) -> str:
        return ids.setdefault(call_id, f"call{len(ids)}")

    if isinstance(c, TextContent):
        return {"text": c.text}
    if isinstance(c, ToolCallContent):
        return {"call": cid(c.call_id), "name": c.name, "arguments": c.arguments_json}
    if isinstance(c, ToolResultContent):
        return {"result": cid(c.call_id), "value": c.result, "error": c.is_error}
    if isinstance(c, DataContent):
        return {"data": encode(c.data), "media_type": c.media_type}
    return {"other": repr(c)}


def request_fingerprint(request: ChatRequest) -> str:
    """A stable hash of what decides a model's answer to ``request``.

    Message ids and tool-call ids are left out (call ids are numbered by order of
    appearance), so the same conversation gives the same fingerprint on every run.

    Example::

        >>> from agentic_nb.llm import ChatRequest, ChatMessage
        >>> a = request_fingerprint(ChatRequest([ChatMessage.user("hi")]))
        >>> a == request_fingerprint(ChatRequest([ChatMessage.user("hi")])), len(a)
        (True, 64)
    """
    ids: dict[str, str] = {}
    body = {
        "messages": [
            {
                "role": m.role,
                "author": m.author_name,
                "contents": [_content(c, ids) for c in m.contents],
            }
            for m in request.messages
        ],
        "tools": [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ],
        "tool_choice": request.tool_choice,
        "response_format": request.response_format.schema if request.response_format else None,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop,
        "extra": encode(request.extra),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def describe_request(request: ChatRequest) -> str:
    """A short human description of a request (for errors and the recording file)."""
    last = request.messages[-1] if request.messages else None
    said = (last.text or "(no text)")[:200] if last is not None else "(no messages)"
    role = last.role if last is not None else "-"
    parts = [f"{len(request.messages)} message(s), last {role}: {said!r}"]
    if request.tools:
        parts.append("tools " + ", ".join(t.name for t in request.tools))
    if request.response_format is not None:
        parts.append(f"response_format {request.response_format.name}")
    return "; ".join(parts)


def _response_json(r: ChatResponse) -> dict[str, Any]:
    # The message as the model gave it (structured output is parsed again on replay).
    return {
        "message": encode(r.message),
        "usage": encode(r.usage),
        "finish_reason": r.finish_reason,
        "model": r.model,
    }


def _response_from(data: dict[str, Any]) -> ChatResponse:
    stored: ChatMessage = decode(data["message"])
    message = ChatMessage(
        stored.role, contents=list(stored.contents), author_name=stored.author_name
    )
    return ChatResponse(
        message, decode(data["usage"]), data.get("finish_reason"), data.get("model")
    )


def _update_json(u: ChatResponseUpdate) -> dict[str, Any]:
    return {
        "text": u.text,
        "tool_calls": [encode(d) for d in u.tool_calls],
        "usage": encode(u.usage) if u.usage is not None else None,
        "finish_reason": u.finish_reason,
        "model": u.model,
    }


def _update_from(data: dict[str, Any]) -> ChatResponseUpdate:
    return ChatResponseUpdate(
        text=data.get("text", ""),
        tool_calls=[decode(d) for d in data.get("tool_calls", [])],
        usage=decode(data["usage"]) if data.get("usage") is not None else None,
        finish_reason=data.get("finish_reason"),
        model=data.get("model"),
    )


def _chunks_of(response: ChatResponse) -> list[ChatResponseUpdate]:
    """A recorded complete answer, as a stream (one text chunk, then the tool calls)."""
    out = [ChatResponseUpdate(text=response.text, model=response.model)]
    for i, c in enumerate(response.tool_calls):
        out.append(ChatResponseUpdate(tool_calls=[ToolCallDelta(i, c.call_id, c.name, "")]))
        out.append(ChatResponseUpdate(tool_calls=[ToolCallDelta(i, arguments=c.arguments_json)]))
    out.append(
        ChatResponseUpdate(
            usage=response.usage, finish_reason=response.finish_reason, model=response.model
        )
    )
    return out


class RecordingChatClient(ChatClient):
    """Wraps ``client``: records its answers to ``path`` (JSON), or replays them.

    ``mode``:

    * ``"record"``: every call goes to ``client``; the answer is stored (streamed
      calls store every chunk, so replay streams the same pieces);
    * ``"replay"``: answers come from the file only (``client`` may be ``None``);
      an unrecorded request raises :class:`UnrecordedRequestError` naming it;
    * ``"auto"`` (default): replay what is recorded, record what is missing.

    The same request asked several times replays its recorded answers in order
    (the last one again once they are used up). A complete answer can be replayed
    as a stream and a stream as a complete answer. The file is rewritten
    atomically after each recorded call; it holds the requests' descriptions
    (last message, tools) next to the answers, so it is readable in a review. It
    holds what was sent to the model: keep secrets out of prompts you record.

    Example::

        >>> import asyncio, os, tempfile
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> path = os.path.join(tempfile.mkdtemp(), "calls.json")
        >>> rec = RecordingChatClient(ScriptedChatClient(["hi there"], chunk_size=3), path)
        >>> async def chunks(client):
        ...     return [u.text async for u in client.get_streaming_response("hello")]
        >>> asyncio.run(chunks(rec))
        ['hi ', 'the', 're', '']
        >>> asyncio.run(chunks(ReplayChatClient(path)))
        ['hi ', 'the', 're', '']
    """

    provider = "recording"

    def __init__(
        self, client: ChatClient | None, path: str | os.PathLike[str], *, mode: Mode = "auto"
    ) -> None:
        if mode not in ("record", "replay", "auto"):
            raise ValueError(
                f"RecordingChatClient: mode must be 'record', 'replay' or 'auto', got {mode!r}"
            )
        if client is None and mode != "replay":
            raise ValueError(
                f"RecordingChatClient: mode={mode!r} needs a real chat client to record from; "
                f"pass one, or use ReplayChatClient(path) to replay only"
            )
        self.client = client
        self.path = Path(path)
        self.mode: Mode = mode
        self._data = self._load()
        recorded_model = str(self._data.get("model") or "replay")
        super().__init__(
            client.model if client is not None else recorded_model,
            timeout=client.timeout if client is not None else None,
            retry=client.retry if client is not None else None,
        )
        if client is not None:
            self.provider = client.provider  # type: ignore[misc]
        self._served: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------ the file
    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            if self.mode == "replay":
                raise FileNotFoundError(
                    f"ReplayChatClient: no recording at {str(self.path)!r}; record one first "
                    f"with RecordingChatClient(real_client, {str(self.path)!r}, mode='record')"
                )
            return {"version": FORMAT_VERSION, "calls": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"RecordingChatClient: {str(self.path)!r} is not a readable recording "
                f"({type(exc).__name__}: {exc}); delete it and record again"
            ) from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"RecordingChatClient: {str(self.path)!r} is not a version-{FORMAT_VERSION} "
                f"recording; delete it and record again"
            )
        data.setdefault("calls", {})
        return data

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self._data, indent=1, sort_keys=True, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, self.path)

    def _entry(self, request: ChatRequest) -> dict[str, Any]:
        key = request_fingerprint(request)
        calls: dict[str, Any] = self._data["calls"]
        return calls.setdefault(key, {"request": describe_request(request)})

    def _store(self, request: ChatRequest, kind: str, item: Any) -> None:
        entry = self._entry(request)
        entry.setdefault(kind, []).append(item)
        if self.client is not None:
            self._data["model"] = self.client.model
            self._data["provider"] = self.client.provider
        self._save()

    def recorded(self, request: ChatRequest) -> bool:
        """Whether ``request`` has a recorded answer."""
        entry = self._data["calls"].get(request_fingerprint(request))
        return bool(entry and (entry.get("responses") or entry.get("streams")))

    def __len__(self) -> int:
        """The number of recorded answers."""
        return sum(
            len(e.get("responses", [])) + len(e.get("streams", []))
            for e in self._data["calls"].values()
        )

    def _next(self, request: ChatRequest, kind: str) -> Any:
        key = request_fingerprint(request)
        entry = self._data["calls"].get(key) or {}
        items = entry.get(kind) or []
        if not items:
            return None
        n = self._served.get((key, kind), 0)
        self._served[(key, kind)] = n + 1
        return items[min(n, len(items) - 1)]

    def _missing(self, request: ChatRequest) -> UnrecordedRequestError:
        return UnrecordedRequestError(
            self.provider,
            self.model,
            f"request {request_fingerprint(request)[:12]} ({describe_request(request)}) is not "
            f"recorded in {str(self.path)!r} ({len(self)} recorded answers)",
        )

    def _replaying(self, request: ChatRequest) -> bool:
        return self.mode == "replay" or (self.mode == "auto" and self.recorded(request))

    # --------------------------------------------------------------- hooks
    async def _create(self, request: ChatRequest) -> ChatResponse:
        if self._replaying(request):
            data = self._next(request, "responses")
            if data is not None:
                return _response_from(data)
            chunks = self._next(request, "streams")
            if chunks is None:
                raise self._missing(request)
            return assemble_response([_update_from(c) for c in chunks])
        assert self.client is not None
        response = await self.client._create(request)
        self._store(request, "responses", _response_json(response))
        return response

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        if self._replaying(request):
            chunks = self._next(request, "streams")
            if chunks is not None:
                for c in chunks:
                    yield _update_from(c)
                return
            data = self._next(request, "responses")
            if data is None:
                raise self._missing(request)
            for u in _chunks_of(_response_from(data)):
                yield u
            return
        assert self.client is not None
        seen: list[dict[str, Any]] = []
        stream = self.client._stream(request)
        try:
            async for update in stream:
                seen.append(_update_json(update))
                yield update
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        # Only a stream read to its end is recorded (a cut one would replay cut).
        self._store(request, "streams", seen)

    async def count_tokens(self, messages: Any) -> int | None:
        if self.client is not None and self.mode != "replay":
            return await self.client.count_tokens(messages)
        return None


class ReplayChatClient(RecordingChatClient):
    """Answers only from a recording made by :class:`RecordingChatClient` (no model).

    Example::

        >>> try:
        ...     ReplayChatClient("/nonexistent/calls.json")
        ... except FileNotFoundError as exc:
        ...     print(str(exc)[:40])
        ReplayChatClient: no recording at '/none
    """

    provider = "replay"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(None, path, mode="replay")
