"""Group chat speaker selectors and termination conditions.

A selector is a callable ``(GroupChatState) -> name | None`` (``None`` ends the
chat); a termination condition decides, after each answer, whether the chat is
over. Conditions combine with :func:`any_of` / :func:`all_of` (or ``|`` / ``&``).

Example::

    >>> from agentic_nb.llm import ChatMessage
    >>> convo = [ChatMessage.user("go"),
    ...          ChatMessage.assistant("LGTM, approved", author_name="reviewer")]
    >>> state = GroupChatState(("coder", "reviewer"), convo, round=1)
    >>> no_repeat(state)
    'coder'
    >>> stop = keyword("approved") | max_rounds(10)
    >>> stop.check(state)
    "keyword 'approved'"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.llm import ChatMessage

from ._common import call


@dataclass(frozen=True)
class GroupChatState:
    """What a selector or termination sees: participant names, the conversation, the round.

    ``round`` counts participant answers so far; ``start`` is where the run's input
    ends in ``conversation``; ``descriptions`` maps each participant to its
    description and skills (what :func:`smart` matches against).

    Example::

        >>> GroupChatState(("a", "b"), [], 3).round
        3
    """

    participants: tuple[str, ...]
    conversation: list[ChatMessage]
    round: int
    descriptions: Mapping[str, str] = field(default_factory=dict)
    start: int = 0

    @property
    def last_speaker(self) -> str | None:
        """The participant who spoke last (``None`` before any answer)."""
        for m in reversed(self.conversation[self.start :]):
            if m.author_name in self.participants:
                return m.author_name
        return None


Selector = Callable[[GroupChatState], Any]


def round_robin(state: GroupChatState) -> str:
    """Participants speak in turn, in the order they were given.

    Example::

        >>> round_robin(GroupChatState(("a", "b"), [], 3))
        'b'
    """
    return state.participants[state.round % len(state.participants)]


def _least_recent(state: GroupChatState, candidates: Sequence[str]) -> str:
    """The candidate heard from least recently (never heard first, in participant order)."""
    last_seen = {n: -1 for n in candidates}
    for i, m in enumerate(state.conversation):
        if m.author_name in last_seen:
            last_seen[m.author_name] = i
    return min(candidates, key=lambda n: (last_seen[n], candidates.index(n)))


def no_repeat(state: GroupChatState) -> str:
    """Never the last speaker twice in a row: the participant heard from least
    recently (one never heard yet first, in the order given).

    Unlike :func:`round_robin` it follows who actually spoke, so it stays fair when
    the input already holds participants' messages or when it backs up another
    selector (e.g. the fallback of :func:`llm_selector`).

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> convo = [ChatMessage.assistant("hi", author_name="b")]
        >>> no_repeat(GroupChatState(("a", "b", "c"), convo, 0))
        'a'
        >>> no_repeat(GroupChatState(("a",), convo, 0))
        'a'
    """
    names = list(state.participants)
    last = state.last_speaker
    candidates = [n for n in names if n != last] or names
    return _least_recent(state, candidates)


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "the and for with that this from you your are was were has have had not but can "
    "will what who how why when its our their them they then than into about".split()
)


def _words(text: str) -> set[str]:
    words = (w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP)
    return {(w[:-1] if w.endswith("s") and len(w) > 3 else w)[:5] for w in words}


def smart(state: GroupChatState) -> str:
    """The participant whose description and skills best match the last message.

    The last message (the task before anyone answered) is compared word by word
    (case-insensitive, common words ignored, a plural ``s`` dropped, words matched on
    their first five letters) with each participant's name, description and skills; a participant
    named in the message wins. The last speaker is not picked again while another
    participant matches; with no match at all it falls back to :func:`no_repeat`.

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> state = GroupChatState(("researcher", "writer"),
        ...     [ChatMessage.user("Write a short poem")], 0,
        ...     {"researcher": "finds facts and sources", "writer": "writes prose and poems"})
        >>> smart(state)
        'writer'
    """
    names = list(state.participants)
    if not state.conversation:
        return no_repeat(state)
    last = state.conversation[-1]
    said = _words(last.text)
    lowered = last.text.lower()
    candidates = [n for n in names if n != state.last_speaker] or names
    scores: dict[str, float] = {}
    for n in candidates:
        profile = _words(f"{n} {state.descriptions.get(n, '')}")
        score = float(len(said & profile))
        if re.search(rf"\b{re.escape(n.lower())}\b", lowered):
            score += 100.0
        scores[n] = score
    best = max(scores.values())
    if best <= 0:
        return no_repeat(state)
    return _least_recent(state, [n for n in candidates if scores[n] == best])


@dataclass
class LLMSelector:
    """A model picks the next speaker (made by :func:`llm_selector`).

    ``agent`` answers with structured output ``{"next_speaker", "finished",
    "reason"}``; ``fallback`` picks when the answer names no participant.
    """

    agent: Any
    fallback: Selector = no_repeat
    prompt: str = ""

    def __call__(self, state: GroupChatState) -> Any:  # pragma: no cover - guidance only
        raise TypeError(
            "an llm_selector runs inside GroupChatBuilder (it needs the run's context); "
            "pass it to with_selection(...)"
        )


def llm_selector(
    model: Any, *, fallback: Selector = no_repeat, instructions: str = ""
) -> LLMSelector:
    """Let a model choose who speaks next, with a fallback when its answer is no use.

    ``model`` is an agent (e.g. a ``ChatAgent``) or a chat client (wrapped in a
    ``ChatAgent`` named ``"selector"``). Each round it sees the conversation and
    the roster (names and descriptions) and is asked for structured output
    ``{"next_speaker", "finished", "reason"}``. When the answer is not that JSON
    or names no participant, a plain-text answer naming exactly one participant
    is accepted; otherwise ``fallback(state)`` picks (default :func:`no_repeat`)
    and a warning ``Log`` event says why. ``finished: true`` ends the chat.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["A1"]), name="a")
        >>> b = ChatAgent(ScriptedChatClient(["B1"]), name="b")
        >>> pick = llm_selector(ScriptedChatClient(["no idea", '{"next_speaker": "", '
        ...     '"finished": true, "reason": "done"}']))
        >>> from agentic_nb.patterns import GroupChatBuilder
        >>> out = GroupChatBuilder([a, b]).with_selection(pick).build().run_sync("hi").outputs[0]
        >>> [m.author_name for m in out.messages], out.metadata["stop_reason"]
        (['a'], 'manager_finished')
    """
    if not callable(fallback):
        raise TypeError(f"llm_selector: fallback must be a selector callable, got {fallback!r}")
    agent = model
    if not hasattr(model, "run_stream"):
        if not hasattr(model, "get_streaming_response"):
            raise TypeError(
                f"llm_selector needs an agent or a chat client, got {model!r}; e.g. "
                f"llm_selector(LocalChatClient.default())"
            )
        from agentic_nb.agents import ChatAgent

        agent = ChatAgent(
            model,
            instructions or "You coordinate a team conversation; you pick who speaks next.",
            name="selector",
        )
    return LLMSelector(agent, fallback, instructions)


def named_in(text: str, names: Sequence[str]) -> str | None:
    """The one participant named in ``text`` (``None`` when none or several are)."""
    lowered = text.lower()
    found = [n for n in names if re.search(rf"\b{re.escape(n.lower())}\b", lowered)]
    return found[0] if len(found) == 1 else None


# ------------------------------------------------------------------ terminations


class Termination:
    """A condition that ends a group chat; ``check(state)`` says what fired or ``None``.

    Combine with ``|`` (any) and ``&`` (all), or :func:`any_of` / :func:`all_of`.
    Subclasses implement :meth:`fired` (sync or async). A plain callable
    ``(conversation) -> bool`` is accepted wherever a condition is.

    Example::

        >>> cond = max_messages(3) & keyword("done")
        >>> cond
        all_of(max_messages(3), keyword('done'))
    """

    def fired(self, state: GroupChatState) -> Any:
        """What fired (a short description), or ``None`` / ``""`` (may be async)."""
        raise NotImplementedError

    async def check_async(self, state: GroupChatState) -> str | None:
        """:meth:`fired`, awaited when it is a coroutine."""
        out = await call(self.fired, state)
        return str(out) if out else None

    def check(self, state: GroupChatState) -> str | None:
        """:meth:`fired` for sync conditions (use :meth:`check_async` in async code)."""
        out = self.fired(state)
        if hasattr(out, "__await__"):
            out.close()
            raise TypeError(f"{self!r} is async; use `await cond.check_async(state)`")
        return str(out) if out else None

    def __or__(self, other: Any) -> Termination:
        return any_of(self, other)

    def __and__(self, other: Any) -> Termination:
        return all_of(self, other)


class _MaxMessages(Termination):
    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"max_messages needs an int >= 1, got {n!r}")
        self.n = n

    def fired(self, state: GroupChatState) -> str | None:
        return f"max_messages({self.n})" if len(state.conversation) >= self.n else None

    def __repr__(self) -> str:
        return f"max_messages({self.n})"


class _MaxRounds(Termination):
    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"max_rounds needs an int >= 1, got {n!r}")
        self.n = n

    def fired(self, state: GroupChatState) -> str | None:
        return f"max_rounds({self.n})" if state.round >= self.n else None

    def __repr__(self) -> str:
        return f"max_rounds({self.n})"


class _Keyword(Termination):
    def __init__(self, words: tuple[str, ...], case_sensitive: bool, author: str | None) -> None:
        if not words or not all(isinstance(w, str) and w for w in words):
            raise ValueError(f"keyword needs one or more non-empty strings, got {words!r}")
        self.words = words
        self.case_sensitive = case_sensitive
        self.author = author

    def fired(self, state: GroupChatState) -> str | None:
        added = state.conversation[state.start :]
        if not added:
            return None
        last = added[-1]
        if self.author is not None and last.author_name != self.author:
            return None
        text = last.text if self.case_sensitive else last.text.lower()
        for w in self.words:
            if (w if self.case_sensitive else w.lower()) in text:
                return f"keyword {w!r}"
        return None

    def __repr__(self) -> str:
        return "keyword(" + ", ".join(repr(w) for w in self.words) + ")"


class _Callable(Termination):
    def __init__(self, func: Callable[[list[ChatMessage]], Any]) -> None:
        self.func = func

    async def fired(self, state: GroupChatState) -> str | None:
        done = await call(self.func, list(state.conversation))
        return getattr(self.func, "__name__", "condition") if done else None

    def __repr__(self) -> str:
        return getattr(self.func, "__name__", repr(self.func))


def as_termination(cond: Any) -> Termination:
    """``cond`` as a :class:`Termination` (a plain ``(conversation) -> bool`` is wrapped)."""
    if isinstance(cond, Termination):
        return cond
    if callable(cond):
        return _Callable(cond)
    raise TypeError(
        f"a termination condition must be max_messages(...), max_rounds(...), keyword(...), "
        f"any_of/all_of(...) or a callable(conversation) -> bool, got {cond!r}"
    )


class _AnyOf(Termination):
    def __init__(self, conds: Sequence[Any]) -> None:
        if not conds:
            raise ValueError("any_of needs at least one condition")
        self.conds = [as_termination(c) for c in conds]

    async def fired(self, state: GroupChatState) -> str | None:
        for c in self.conds:
            why = await c.check_async(state)
            if why:
                return why
        return None

    def check(self, state: GroupChatState) -> str | None:
        for c in self.conds:
            why = c.check(state)
            if why:
                return why
        return None

    def __repr__(self) -> str:
        return "any_of(" + ", ".join(map(repr, self.conds)) + ")"


class _AllOf(Termination):
    def __init__(self, conds: Sequence[Any]) -> None:
        if not conds:
            raise ValueError("all_of needs at least one condition")
        self.conds = [as_termination(c) for c in conds]

    async def fired(self, state: GroupChatState) -> str | None:
        whys = []
        for c in self.conds:
            why = await c.check_async(state)
            if not why:
                return None
            whys.append(why)
        return " and ".join(whys)

    def check(self, state: GroupChatState) -> str | None:
        whys = []
        for c in self.conds:
            why = c.check(state)
            if not why:
                return None
            whys.append(why)
        return " and ".join(whys)

    def __repr__(self) -> str:
        return "all_of(" + ", ".join(map(repr, self.conds)) + ")"


def max_messages(n: int) -> Termination:
    """Ends the chat once the conversation holds ``n`` messages, the input included.

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> max_messages(2).check(GroupChatState(("a",), [ChatMessage.user("x")] * 2, 1))
        'max_messages(2)'
    """
    return _MaxMessages(n)


def max_rounds(n: int) -> Termination:
    """Ends the chat after ``n`` participant answers.

    Example::

        >>> max_rounds(3).check(GroupChatState(("a",), [], 2)) is None
        True
    """
    return _MaxRounds(n)


def keyword(*words: str, case_sensitive: bool = False, author: str | None = None) -> Termination:
    """Ends the chat when the last answer contains one of ``words`` (case-insensitive by
    default; only answers by ``author`` when given).

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> convo = [ChatMessage.user("go"), ChatMessage.assistant("APPROVED", author_name="r")]
        >>> keyword("approved", author="r").check(GroupChatState(("r",), convo, 1, start=1))
        "keyword 'approved'"
    """
    return _Keyword(tuple(words), case_sensitive, author)


def any_of(*conditions: Any) -> Termination:
    """Ends the chat when any of ``conditions`` holds (the first that fires is reported).

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> state = GroupChatState(("a",), [ChatMessage.user("x")], 0)
        >>> any_of(max_rounds(9), max_messages(1)).check(state)
        'max_messages(1)'
    """
    return _AnyOf(conditions)


def all_of(*conditions: Any) -> Termination:
    """Ends the chat when every one of ``conditions`` holds.

    Example::

        >>> all_of(max_rounds(1), max_messages(1)).check(GroupChatState(("a",), [], 0)) is None
        True
    """
    return _AllOf(conditions)


#: The specification's names.
round_robin_selector = round_robin
no_repeat_selector = no_repeat
smart_selector = smart
any_termination = any_of
all_termination = all_of
