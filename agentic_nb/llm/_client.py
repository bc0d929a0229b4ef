"""The ChatClient base: one request shape, retries, timeouts, structured output.

Provider clients implement three hooks (``_create``, ``_stream``,
``_translate_error``); everything else — retry with backoff on 429 / 5xx /
connection errors honouring ``Retry-After``, per-call timeouts, parsing a
pydantic ``response_format`` — lives here once.

Example::

    >>> from agentic_nb.llm import ScriptedChatClient
    >>> import asyncio
    >>> client = ScriptedChatClient(["hello"])
    >>> asyncio.run(client.get_response("hi")).text
    'hello'
"""

from __future__ import annotations

import asyncio
import json
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentic_nb import _instrumentation

from ._errors import (
    AuthenticationError,
    ChatClientError,
    ChatConnectionError,
    ChatTimeoutError,
    ResponseFormatError,
    StructuredOutputError,
)
from ._messages import ChatMessage, DataContent, as_messages
from ._types import ChatResponse, ChatResponseUpdate, ToolSpec, assemble_response


@dataclass(frozen=True)
class ChatRetryPolicy:
    """Retries of a chat call on retryable errors (429, 5xx, connection, timeout).

    The n-th retry waits ``min(backoff * multiplier**(n-1), max_backoff)`` seconds
    (with up to 10% jitter), or the server's ``Retry-After`` when it sent one
    (capped at ``max_retry_after``).

    Example::

        >>> ChatRetryPolicy(max_attempts=3, backoff=0.5).delay(2, None)
        1.0
    """

    max_attempts: int = 3
    backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"ChatRetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.backoff * self.multiplier ** (retry_number - 1), self.max_backoff)
        if self.jitter:
            base *= 1.0 + random.random() * 0.1
        return base


@dataclass(frozen=True)
class ResponseFormat:
    """A structured-output request: a JSON schema and, when given, the pydantic type.

    Example::

        >>> ResponseFormat.of({"type": "object"}).name
        'response'
    """

    name: str
    schema: dict[str, Any]
    model_type: Any = None

    @classmethod
    def of(cls, value: Any) -> ResponseFormat:
        """From a pydantic model class, a :class:`ResponseFormat` or a JSON-schema dict."""
        if isinstance(value, ResponseFormat):
            return value
        if isinstance(value, dict):
            return cls("response", value, None)
        schema_fn = getattr(value, "model_json_schema", None)
        if isinstance(value, type) and callable(schema_fn):
            return cls(value.__name__, schema_fn(), value)
        raise ResponseFormatError(
            "agentic_nb",
            "-",
            f"response_format={value!r} is not a pydantic model class or a JSON-schema dict",
            hint="pass a pydantic BaseModel subclass (response_format=MyModel)",
        )

    def parse(self, text: str, provider: str, model: str) -> Any:
        """Parse the model's text into ``model_type`` (or plain JSON when there is none)."""
        body = _strip_fences(text)
        try:
            if self.model_type is not None:
                return self.model_type.model_validate_json(body)
            return json.loads(body)
        except Exception as exc:
            raise StructuredOutputError(
                provider,
                model,
                f"the answer does not parse as {self.name} ({type(exc).__name__}: "
                f"{str(exc)[:200]}); answer was {text[:200]!r}",
            ) from None


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


@dataclass
class ChatRequest:
    """Everything one model call needs, in provider-neutral form."""

    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system_text(self) -> str:
        """The system messages joined (for providers that take the system prompt apart)."""
        return "\n\n".join(m.text for m in self.messages if m.role == "system" and m.text)


class ChatClient(ABC):
    """Base of all chat clients: ``get_response`` and ``get_streaming_response``.

    ``timeout`` (seconds) bounds one attempt (for streams: the wait for each
    chunk); ``retry`` says how failures are retried. Cancelling the awaiting task
    cancels the call and closes the underlying stream.

    Example::

        >>> from agentic_nb.llm import ScriptedChatClient
        >>> ScriptedChatClient(["x"]).provider
        'scripted'
    """

    provider: ClassVar[str] = "chat"
    #: Environment variable holding the API key (named in authentication errors).
    api_key_env: ClassVar[str | None] = None

    def __init__(
        self,
        model: str,
        *,
        timeout: float | None = 120.0,
        retry: ChatRetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"{self.provider} client: timeout must be > 0 seconds, got {timeout}")
        self.model = model
        self.timeout = timeout
        self.retry = retry or ChatRetryPolicy()
        self.max_tokens = max_tokens
        self.temperature = temperature

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    # ------------------------------------------------------------ public API
    def build_request(
        self,
        messages: Any,
        *,
        tools: Sequence[ToolSpec] = (),
        tool_choice: str | None = None,
        response_format: Any = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
        **extra: Any,
    ) -> ChatRequest:
        """Normalise call arguments into a :class:`ChatRequest`."""
        return ChatRequest(
            messages=as_messages(messages, where=f"{self.provider} client"),
            tools=list(tools),
            tool_choice=tool_choice,
            response_format=ResponseFormat.of(response_format)
            if response_format is not None
            else None,
            max_tokens=max_tokens if max_tokens is not None else self.max_tokens,
            temperature=temperature if temperature is not None else self.temperature,
            stop=list(stop) if stop else None,
            extra=dict(extra),
        )

    async def get_response(self, messages: Any, **options: Any) -> ChatResponse:
        """One complete answer (retried on retryable errors; see :class:`ChatRetryPolicy`).

        With ``response_format`` the parsed value is in ``response.value``.
        """
        request = self.build_request(messages, **options)
        inst = _instrumentation.ACTIVE
        if inst is not None:
            traced: ChatResponse = await inst.chat(self, request, lambda: self._respond(request))
            return traced
        return await self._respond(request)

    async def _respond(self, request: ChatRequest) -> ChatResponse:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._with_timeout(self._create(request))
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err = self._as_error(exc)
                if not await self._should_retry(err, attempt):
                    raise err from (None if err is exc else exc)
        self._parse_structured(request, response)
        return response

    async def get_streaming_response(
        self, messages: Any, **options: Any
    ) -> AsyncIterator[ChatResponseUpdate]:
        """Stream the answer chunk by chunk. A failure before the first chunk is
        retried; a failure after it is raised (the partial answer is already out)."""
        request = self.build_request(messages, **options)
        inst = _instrumentation.ACTIVE
        if inst is not None:
            async for u in inst.chat_stream(self, request, self._stream_updates(request)):
                yield u
            return
        async for u in self._stream_updates(request):
            yield u

    async def _stream_updates(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        attempt = 0
        while True:
            attempt += 1
            started = False
            stream = self._stream(request)
            try:
                while True:
                    try:
                        update = await self._with_timeout(anext(stream))
                    except StopAsyncIteration:
                        return
                    started = True
                    yield update
            except asyncio.CancelledError:
                raise
            except GeneratorExit:
                raise
            except Exception as exc:
                err = self._as_error(exc)
                if started or not await self._should_retry(err, attempt):
                    raise err from (None if err is exc else exc)
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def get_streamed_response(self, messages: Any, **options: Any) -> ChatResponse:
        """Stream, then assemble the chunks into one :class:`ChatResponse`."""
        updates = [u async for u in self.get_streaming_response(messages, **options)]
        response = assemble_response(updates)
        rf = options.get("response_format")
        if rf is not None:
            self._parse_structured(
                ChatRequest(messages=[], response_format=ResponseFormat.of(rf)), response
            )
        return response

    async def count_tokens(self, messages: Sequence[ChatMessage]) -> int | None:
        """Exact prompt tokens when the provider can count them, else ``None``."""
        return None

    # --------------------------------------------------------- helpers
    def _parse_structured(self, request: ChatRequest, response: ChatResponse) -> None:
        rf = request.response_format
        if rf is None or response.tool_calls:
            return
        value = rf.parse(response.text, self.provider, self.model)
        response.value = value
        response.message.contents.append(DataContent(_plain(value)))

    async def _with_timeout(self, aw: Any) -> Any:
        if self.timeout is None:
            return await aw
        try:
            async with asyncio.timeout(self.timeout):
                return await aw
        except TimeoutError:
            raise ChatTimeoutError(
                self.provider,
                self.model,
                f"no answer within {self.timeout}s",
            ) from None

    def _as_error(self, exc: BaseException) -> ChatClientError:
        if isinstance(exc, ChatClientError):
            return exc
        translated = self._translate_error(exc)
        if translated is not None:
            if isinstance(translated, AuthenticationError) and self.api_key_env:
                translated.with_hint(f"check the API key: pass api_key= or set {self.api_key_env}")
            return translated
        if isinstance(exc, (ConnectionError, OSError)):
            return ChatConnectionError(self.provider, self.model, f"{type(exc).__name__}: {exc}")
        return ChatClientError(
            self.provider,
            self.model,
            f"unexpected {type(exc).__name__}: {exc}",
            hint="this looks like a bug in the client or SDK; report it with the traceback",
        )

    async def _should_retry(self, err: ChatClientError, attempt: int) -> bool:
        if not err.retryable or attempt >= self.retry.max_attempts:
            return False
        await asyncio.sleep(self.retry.delay(attempt, err.retry_after))
        return True

    # -------------------------------------------------------------- hooks
    @abstractmethod
    async def _create(self, request: ChatRequest) -> ChatResponse:
        """Send one non-streaming request."""

    @abstractmethod
    def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        """Send one streaming request; an async generator of updates."""

    def _translate_error(self, exc: BaseException) -> ChatClientError | None:
        """Turn an SDK exception into a :class:`ChatClientError` (``None``: unknown)."""
        return None


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return value
