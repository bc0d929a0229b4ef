"""Subject and key building: every token taken from user data is encoded.

NATS splits subjects on ``.`` and treats ``*`` and ``>`` as wildcards; whitespace
is not allowed at all. Executor ids, edge ids, run ids and request ids come from
user code, so each one is turned into a *single, safe token* before it is placed
in a subject or a KV key:

* a token made only of ``A-Z a-z 0-9 _ -`` is used as is;
* anything else is escaped byte by byte as ``=XX`` (upper-case hex of the UTF-8
  byte), and ``=`` itself is always escaped, so the mapping is injective and
  reversible (:func:`decode_token`);
* the empty string becomes ``=`` (which no other id can produce);
* an encoding longer than :data:`MAX_TOKEN` (128) characters is cut to its first
  ``MAX_TOKEN - 34`` characters (never inside an escape) followed by ``==`` and
  the first 32 hex digits of the id's SHA-256 (``==`` never occurs otherwise, so
  short and long tokens cannot collide). Such a token is decoded through a
  lookup: :func:`decode_token` knows the tokens this process encoded, and the
  NATS event sink stores each one in the ``agentic_ids`` KV bucket
  (:func:`resolve_token` reads it back from any process).

So a subject carrying three ids stays far below the server's 4 KiB control line,
whatever the ids. ``=`` is legal both in subjects and in KV keys, so the same
token works in both.

Example::

    >>> encode_token("review.draft")
    'review=2Edraft'
    >>> decode_token(encode_token("a.*>b c"))
    'a.*>b c'
    >>> workflow_subject("run-1", "superstep", "started")
    'agentic.workflow.run-1.superstep.started'
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Any

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_FIXED = re.compile(r"[a-z0-9_]+")

PREFIX = "agentic"

MAX_TOKEN = 128
"""Longest token :func:`encode_token` returns (longer encodings get a hash suffix)."""
_HASH_MARK = "=="
_HASH_LEN = 32
_KEEP = MAX_TOKEN - len(_HASH_MARK) - _HASH_LEN
_LONG_CACHE_SIZE = 10_000
_long_tokens: OrderedDict[str, str] = OrderedDict()  # hashed token -> original id
IDS_BUCKET = "agentic_ids"
_CACHE_SIZE = 4096
_cache: dict[str, str] = {}  # id -> token, for the ids of the runs being published


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
    cached = _cache.get(value)
    if cached is not None:
        return cached
    token = _encode(value)
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[value] = token
    return token


def _encode(value: str) -> str:
    if value == "":
        return "="
    if len(value) <= MAX_TOKEN and _SAFE.fullmatch(value):
        return value
    out: list[str] = []
    size = 0
    for ch in value:
        if ch in _SAFE_CHARS:
            out.append(ch)
            size += 1
        else:
            for b in ch.encode("utf-8", "surrogatepass"):
                out.append(f"={b:02X}")
                size += 3
        if size > MAX_TOKEN:
            return _long_token(value, out)
    return "".join(out)


def _long_token(value: str, parts: list[str]) -> str:
    kept: list[str] = []
    size = 0
    for part in parts:
        if size + len(part) > _KEEP:
            break
        kept.append(part)
        size += len(part)
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    token = "".join(kept) + _HASH_MARK + digest
    _long_tokens[token] = value
    _long_tokens.move_to_end(token)
    if len(_long_tokens) > _LONG_CACHE_SIZE:
        _long_tokens.popitem(last=False)
    return token


def is_hashed(token: str) -> bool:
    """True for a token made by the long-id rule (decodable only through a lookup).

    Example::

        >>> is_hashed(encode_token("x" * 500)), is_hashed(encode_token("x"))
        (True, False)
    """
    return _HASH_MARK in token


def long_tokens(*values: str) -> dict[str, str]:
    """``{token: id}`` for those of ``values`` whose token is hashed (what a lookup needs).

    Example::

        >>> list(long_tokens("short", "y" * 300).values()) == ["y" * 300]
        True
    """
    out: dict[str, str] = {}
    for v in values:
        if isinstance(v, str):
            tok = encode_token(v)
            if _HASH_MARK in tok:
                out[tok] = v
    return out


async def resolve_token(token: str, *, connection: Any) -> str:
    """Decode any token, reading hashed ones from the ``agentic_ids`` bucket.

    Raises ``KeyError`` naming the token when no process recorded it.
    """
    if not is_hashed(token):
        return decode_token(token)
    known = _long_tokens.get(token)
    if known is not None:
        return known
    from ._streams import ensure_bucket, kv_get

    kv = await ensure_bucket(connection.jetstream(), IDS_BUCKET)
    entry = await kv_get(kv, token)
    if entry is None:
        raise KeyError(
            f"hashed token {token!r} is not in the {IDS_BUCKET!r} bucket: the id was "
            f"never published by a NatsEventSink on this NATS"
        )
    value: str = entry.value.decode("utf-8", "surrogatepass")
    _long_tokens[token] = value
    return value


def decode_token(token: str) -> str:
    """Inverse of :func:`encode_token` (raises ``ValueError`` on a malformed token).

    Example::

        >>> decode_token("review=2Edraft")
        'review.draft'
    """
    if token == "=":
        return ""
    if _HASH_MARK in token:
        known = _long_tokens.get(token)
        if known is None:
            raise ValueError(
                f"token {token!r} stands for a long id hashed in another process; "
                f"read it with await agentic_nb.nats.resolve_token(token, connection=nc)"
            )
        return known
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
    return raw.decode("utf-8", "surrogatepass")


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
