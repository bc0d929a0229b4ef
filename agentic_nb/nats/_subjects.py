"""Subject and key building: every token taken from user data is encoded.

NATS splits subjects on ``.`` and treats ``*`` and ``>`` as wildcards; whitespace
is not allowed at all. Executor ids, edge ids, run ids and request ids come from
user code, so each one is turned into a *single, safe token* before it is placed
in a subject or a KV key:

* a token made only of ``A-Z a-z 0-9 _ -`` is used as is;
* anything else is escaped byte by byte as ``=XX`` (upper-case hex of the UTF-8
  byte), and ``=`` itself is always escaped, so the mapping is injective and
  reversible (:func:`decode_token`);
* the empty string becomes ``=`` (which no other id can produce).

``=`` is legal both in subjects and in KV keys, so the same token works in both.

Example::

    >>> encode_token("review.draft")
    'review=2Edraft'
    >>> decode_token(encode_token("a.*>b c"))
    'a.*>b c'
    >>> workflow_subject("run-1", "superstep", "started")
    'agentic.workflow.run-1.superstep.started'
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_FIXED = re.compile(r"[a-z0-9_]+")

PREFIX = "agentic"


def encode_token(value: str) -> str:
    """Encode a user-supplied id as one NATS subject token / KV key token.

    Example::

        >>> encode_token("plain_id-1")
        'plain_id-1'
        >>> encode_token("x>y")
        'x=3Ey'
    """
    if not isinstance(value, str):
        raise TypeError(f"subject tokens must be str, got {type(value).__name__}: {value!r}")
    if value == "":
        return "="
    if _SAFE.fullmatch(value):
        return value
    out: list[str] = []
    for ch in value:
        if ch in _SAFE_CHARS:
            out.append(ch)
        else:
            out.extend(f"={b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def decode_token(token: str) -> str:
    """Inverse of :func:`encode_token` (raises ``ValueError`` on a malformed token).

    Example::

        >>> decode_token("review=2Edraft")
        'review.draft'
    """
    if token == "=":
        return ""
    raw = bytearray()
    i = 0
    while i < len(token):
        ch = token[i]
        if ch == "=":
            hexpart = token[i + 1 : i + 3]
            if len(hexpart) != 2 or not all(c in "0123456789ABCDEF" for c in hexpart):
                raise ValueError(f"malformed escape at position {i} in subject token {token!r}")
            raw.append(int(hexpart, 16))
            i += 3
        elif ch in _SAFE_CHARS:
            raw.extend(ch.encode())
            i += 1
        else:
            raise ValueError(f"character {ch!r} cannot appear in an encoded token {token!r}")
    return raw.decode("utf-8")


def _fixed(part: str) -> str:
    """A token chosen by agentic_nb itself (family names, verbs): must be plain."""
    if not _FIXED.fullmatch(part):
        raise ValueError(f"internal subject part {part!r} must match [a-z0-9_]+")
    return part


def subject(family: str, run_id: str, *ids_then_verbs: str, ids: int = 0) -> str:
    """``agentic.<family>.<run>.<id...>.<verb...>``: the first ``ids`` parts are encoded.

    Example::

        >>> subject("executor", "r1", "a.b", "completed", ids=1)
        'agentic.executor.r1.a=2Eb.completed'
    """
    parts = [PREFIX, _fixed(family), encode_token(run_id)]
    for i, part in enumerate(ids_then_verbs):
        parts.append(encode_token(part) if i < ids else _fixed(part))
    return ".".join(parts)


def workflow_subject(run_id: str, *verbs: str) -> str:
    """``agentic.workflow.<run>.<verb...>``."""
    return subject("workflow", run_id, *verbs)


def executor_subject(run_id: str, executor_id: str, *verbs: str) -> str:
    """``agentic.executor.<run>.<executor>.<verb...>``."""
    return subject("executor", run_id, executor_id, *verbs, ids=1)


def edge_subject(run_id: str, edge_id: str, verb: str = "activated") -> str:
    """``agentic.edge.<run>.<edge>.<verb>``."""
    return subject("edge", run_id, edge_id, verb, ids=1)


def agent_subject(run_id: str, agent_id: str, verb: str) -> str:
    """``agentic.agent.<run>.<agent>.<verb>``."""
    return subject("agent", run_id, agent_id, verb, ids=1)


def request_subject(run_id: str, request_id: str) -> str:
    """Where a run's bridge serves answers: ``agentic.workflow.<run>.request.<request_id>``.

    This exact 5-token subject is *not* captured by any stream, so a NATS
    request/reply on it gets the bridge's reply (and never a JetStream ack).
    """
    return f"{PREFIX}.workflow.{encode_token(run_id)}.request.{encode_token(request_id)}"


def request_event_subject(run_id: str, request_id: str, verb: str) -> str:
    """``agentic.workflow.<run>.request.<request_id>.opened|answered`` (stored events)."""
    return f"{request_subject(run_id, request_id)}.{_fixed(verb)}"


def run_filter(run_id: str) -> str:
    """A subject filter matching every stored event of one run, across all families."""
    return f"{PREFIX}.*.{encode_token(run_id)}.>"


def kv_key(*parts: str, ids: tuple[int, ...] = ()) -> str:
    """A KV key of dot-joined parts; parts at positions in ``ids`` are encoded.

    Example::

        >>> kv_key("edge", "r1", "e.1", "data", ids=(1, 2))
        'edge.r1.e=2E1.data'
    """
    return ".".join(encode_token(p) if i in ids else _fixed(p) for i, p in enumerate(parts))


def event_type_token(type_name: str) -> str:
    """An event type name as a token (custom event classes are user data too)."""
    return encode_token(type_name)
