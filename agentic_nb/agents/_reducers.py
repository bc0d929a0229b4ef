"""Chat reducers: shrink the history sent to the model (the thread keeps everything).

Every reducer keeps system messages and never separates an assistant message
that calls tools from the tool results that answer it (providers reject a
tool result whose call is missing, and vice versa).

Example::

    >>> import asyncio
    >>> from agentic_nb.llm import ChatMessage
    >>> msgs = [ChatMessage.system("be brief")] + [ChatMessage.user(str(i)) for i in range(5)]
    >>> [m.text for m in asyncio.run(MessageCountingReducer(3).reduce(msgs))]
    ['be brief', '3', '4']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from agentic_nb.llm import ChatMessage, estimate_tokens

MESSAGE_OVERHEAD_TOKENS = 4


@runtime_checkable
class ChatReducer(Protocol):
    """Returns the messages to send to the model (async, so it may call a model)."""

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]: ...


def split_system(messages: Sequence[ChatMessage]) -> tuple[list[ChatMessage], list[ChatMessage]]:
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    return system, rest


def group_units(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Group non-system messages into units that must stay together: an assistant
    message with tool calls plus the tool messages answering it. Tool results whose
    call is not in the list (orphans) are dropped.

    Example::

        >>> from agentic_nb.llm import ScriptedChatClient
        >>> call = ScriptedChatClient.calls(("f", {}))
        >>> res = ChatMessage.tool_result(call.tool_calls[0].call_id, "ok")
        >>> [len(u) for u in group_units([ChatMessage.user("q"), call, res])]
        [1, 2]
    """
    units: list[list[ChatMessage]] = []
    open_calls: set[str] = set()
    for m in messages:
        if m.role == "tool":
            ids = {r.call_id for r in m.tool_results}
            if units and open_calls and ids <= open_calls:
                units[-1].append(m)
                open_calls -= ids
            # else: an orphan result (its call was cut earlier): drop it
            continue
        open_calls = {c.call_id for c in m.tool_calls}
        units.append([m])
    return units


def _restore_order(messages: Sequence[ChatMessage], keep: list[ChatMessage]) -> list[ChatMessage]:
    ids = {id(m) for m in keep}
    return [m for m in messages if id(m) in ids]


class NoOpReducer:
    """Sends the whole history.

    Example::

        >>> import asyncio
        >>> asyncio.run(NoOpReducer().reduce([]))
        []
    """

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        return list(messages)


class MessageCountingReducer:
    """Keeps the system messages plus the most recent messages, at most
    ``max_messages`` in all (whole tool-call units only; the newest unit is always kept).

    Example::

        >>> MessageCountingReducer(10).max_messages
        10
    """

    def __init__(self, max_messages: int) -> None:
        if max_messages < 1:
            raise ValueError(
                f"MessageCountingReducer: max_messages must be >= 1, got {max_messages}"
            )
        self.max_messages = max_messages

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        system, rest = split_system(messages)
        budget = self.max_messages - len(system)
        kept: list[ChatMessage] = []
        for unit in reversed(group_units(rest)):
            if kept and len(kept) + len(unit) > budget:
                break
            kept = unit + kept
        return _restore_order(messages, system + kept)


Importance = Callable[[ChatMessage], Any]


class SlidingWindowReducer:
    """Keeps the system messages, the last ``max_turns`` turns (a turn starts at a
    user message and holds everything up to the next one) and, from before that
    window, the *important* messages: "recent + important".

    ``important(message)`` says what matters: a ``bool``, or a score where
    ``>= 0.5`` counts (e.g. a keyword test, or a lookup of message ids a memory
    provider flagged); ``keep_first_user=True`` also keeps the first user message
    (usually the task). At most ``max_important`` older messages are kept (the most
    recent of them; default: no limit). An important tool call keeps its results
    (and a result its call). Without either option it is a plain sliding window.

    Example::

        >>> import asyncio
        >>> msgs = [ChatMessage.user("a"), ChatMessage.assistant("1"),
        ...         ChatMessage.user("b"), ChatMessage.assistant("2")]
        >>> [m.text for m in asyncio.run(SlidingWindowReducer(1).reduce(msgs))]
        ['b', '2']
        >>> msgs = [ChatMessage.user("My budget is 500 EUR"), ChatMessage.assistant("ok"),
        ...         ChatMessage.user("colour?"), ChatMessage.assistant("red"),
        ...         ChatMessage.user("which bike?")]
        >>> keep = SlidingWindowReducer(1, important=lambda m: "budget" in m.text)
        >>> [m.text for m in asyncio.run(keep.reduce(msgs))]
        ['My budget is 500 EUR', 'which bike?']
    """

    def __init__(
        self,
        max_turns: int,
        *,
        important: Importance | None = None,
        keep_first_user: bool = False,
        max_important: int | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"SlidingWindowReducer: max_turns must be >= 1, got {max_turns}")
        if important is not None and not callable(important):
            raise TypeError(
                f"SlidingWindowReducer: important must be a callable(message) -> bool or "
                f"score, got {important!r}"
            )
        if max_important is not None and max_important < 0:
            raise ValueError(
                f"SlidingWindowReducer: max_important must be >= 0 or None, got {max_important}"
            )
        self.max_turns = max_turns
        self.important = important
        self.keep_first_user = keep_first_user
        self.max_important = max_important

    def _is_important(self, m: ChatMessage) -> bool:
        if self.important is None:
            return False
        score = self.important(m)
        if isinstance(score, bool) or score is None:
            return bool(score)
        return float(score) >= 0.5

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        system, rest = split_system(messages)
        starts = [i for i, m in enumerate(rest) if m.role == "user"]
        if len(starts) <= self.max_turns:
            return list(messages)
        cut = starts[-self.max_turns]
        window = rest[cut:]
        kept = [m for unit in group_units(window) for m in unit]
        older = group_units(rest[:cut])
        first_user = next((m for m in rest if m.role == "user"), None)
        chosen: list[list[ChatMessage]] = []
        for unit in reversed(older):
            if self.max_important is not None and sum(map(len, chosen)) >= self.max_important:
                break
            pinned = self.keep_first_user and any(m is first_user for m in unit)
            if pinned or any(self._is_important(m) for m in unit):
                chosen.append(unit)
        extra = [m for unit in chosen for m in unit]
        return _restore_order(messages, system + extra + kept)


Counter = Callable[[str], int]


class TokenCountingReducer:
    """Keeps the system messages plus the newest messages that fit in ``max_tokens``.

    ``counter`` gives token counts: a ``str -> int`` tokenizer function (exact),
    or a chat client whose ``count_tokens`` asks the provider (one call for the
    whole history calibrates the per-message estimate, a second checks the
    result), or ``None`` for an estimate (~4 characters per token plus
    ``MESSAGE_OVERHEAD_TOKENS`` per message). Tool calls and their results are
    kept or dropped together; the newest unit is always kept.

    Example::

        >>> import asyncio
        >>> msgs = [ChatMessage.user("x" * 400), ChatMessage.user("short")]
        >>> [m.text for m in asyncio.run(TokenCountingReducer(50).reduce(msgs))]
        ['short']
    """

    def __init__(self, max_tokens: int, counter: Counter | Any = None) -> None:
        if max_tokens < 1:
            raise ValueError(f"TokenCountingReducer: max_tokens must be >= 1, got {max_tokens}")
        self.max_tokens = max_tokens
        self.counter = counter
        self.last_count: int | None = None  # tokens of the last reduced history

    def _text_of(self, m: ChatMessage) -> str:
        parts = [m.text]
        parts += [f"{c.name}({c.arguments_json})" for c in m.tool_calls]
        parts += [r.result for r in m.tool_results]
        return " ".join(p for p in parts if p)

    def _count_one(self, m: ChatMessage) -> int:
        fn = self.counter if callable(self.counter) else None
        text = self._text_of(m)
        n = fn(text) if fn is not None else estimate_tokens(text)
        return int(n) + MESSAGE_OVERHEAD_TOKENS

    async def _provider_count(self, messages: Sequence[ChatMessage]) -> int | None:
        count = getattr(self.counter, "count_tokens", None)
        if count is None or not messages:
            return None
        result = await count(list(messages))
        return int(result) if result is not None else None

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        system, rest = split_system(messages)
        uses_provider = hasattr(self.counter, "count_tokens")
        scale = 1.0
        if uses_provider:
            real = await self._provider_count(messages)
            estimated = sum(self._count_one(m) for m in messages)
            if real is not None and estimated > 0:
                if real <= self.max_tokens:
                    self.last_count = real
                    return list(messages)
                scale = real / estimated
        budget = self.max_tokens - scale * sum(self._count_one(m) for m in system)
        kept: list[ChatMessage] = []
        used = 0.0
        for unit in reversed(group_units(rest)):
            cost = scale * sum(self._count_one(m) for m in unit)
            if kept and used + cost > budget:
                break
            kept = unit + kept
            used += cost
        result = _restore_order(messages, system + kept)
        if uses_provider:
            # Check with the provider's tokenizer; drop more units while still too long.
            while True:
                real = await self._provider_count(result)
                self.last_count = real
                units = group_units([m for m in result if m.role != "system"])
                if real is None or real <= self.max_tokens or len(units) <= 1:
                    break
                drop = {id(m) for m in units[0]}
                result = [m for m in result if id(m) not in drop]
        else:
            self.last_count = int(scale * sum(self._count_one(m) for m in result))
        return result


class SummarizingReducer:
    """When the history has more than ``threshold`` non-system messages, replaces the
    older ones by a summary written by ``summarizer`` (any agent) and keeps the last
    ``keep_last`` messages verbatim. Summaries are cached per summarized prefix.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> r = SummarizingReducer(ChatAgent(ScriptedChatClient(["..."])), threshold=20)
        >>> r.keep_last
        6
    """

    def __init__(self, summarizer: Any, *, threshold: int = 20, keep_last: int = 6) -> None:
        if keep_last < 1 or threshold <= keep_last:
            raise ValueError(
                f"SummarizingReducer: need 1 <= keep_last < threshold, got keep_last="
                f"{keep_last}, threshold={threshold}"
            )
        if not hasattr(summarizer, "run"):
            raise TypeError(f"SummarizingReducer needs an agent as summarizer, got {summarizer!r}")
        self.summarizer = summarizer
        self.threshold = threshold
        self.keep_last = keep_last
        self._cache: dict[str, str] = {}

    async def reduce(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        system, rest = split_system(messages)
        if len(rest) <= self.threshold:
            return list(messages)
        units = group_units(rest)
        recent: list[ChatMessage] = []
        while units and len(recent) < self.keep_last:
            recent = units.pop() + recent
        older = [m for u in units for m in u]
        if not older:
            return list(messages)
        key = hashlib.sha256("|".join(m.message_id for m in older).encode()).hexdigest()
        summary = self._cache.get(key)
        if summary is None:
            transcript = "\n".join(
                f"{m.author_name or m.role}: {m.text or [c.name for c in m.tool_calls]}"
                for m in older
            )
            answer = await self.summarizer.run(
                "Summarize this conversation in a few sentences, keeping names, numbers, "
                f"decisions and open questions:\n\n{transcript}"
            )
            summary = answer.text
            self._cache[key] = summary
        note = ChatMessage.system(f"Summary of the earlier conversation: {summary}")
        return [*system, note, *recent]
