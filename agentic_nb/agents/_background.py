"""Background responses: run an agent as a long task, keep a token, poll or re-stream later.

``token = await agent.run(messages, background=True)`` returns at once with a
:class:`ContinuationToken`; the agent works in a task of this process and writes its
status, every streamed chunk and its final response to a durable
:class:`BackgroundStore` — files by default (``~/.cache/agentic_nb/background``, or
``$AGENTIC_NB_BACKGROUND_DIR``), NATS KV with ``agentic_nb.nats.NatsBackgroundStore``.
``await poll(token)`` says ``running`` / ``completed`` / ``failed`` (with the
``AgentResponse`` once completed); ``resume_stream(token, after=n)`` yields the chunks
after the n-th and follows the live ones. The token is plain text (``str(token)``), so
it survives a kernel restart or travels to another process: a task whose process died
before finishing is reported ``failed`` with that reason, never ``running`` forever.

Example::

    >>> import asyncio, tempfile
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> store = FileBackgroundStore(tempfile.mkdtemp())
    >>> async def main():
    ...     agent = ChatAgent(ScriptedChatClient(["done thinking"]), name="thinker")
    ...     token = await agent.run("think", background=True, background_store=store)
    ...     again = ContinuationToken.parse(str(token))     # e.g. after a restart
    ...     status = await wait(again)
    ...     return status.status, status.response.text
    >>> asyncio.run(main())
    ('completed', 'done thinking')
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agentic_nb.workflow.codec import decode, encode

from ._types import AgentResponse, AgentRunUpdate

__all__ = [
    "BackgroundStatus",
    "BackgroundStore",
    "ContinuationToken",
    "FileBackgroundStore",
    "TokenError",
    "default_background_store",
    "poll",
    "resume_stream",
    "set_default_background_store",
    "start_background",
    "wait",
]

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
#: A running task whose heartbeat is older than this is reported failed.
STALE_AFTER = 60.0
HEARTBEAT = 2.0
TOKEN_PREFIX = "agnb-bg1."


class TokenError(LookupError):
    """A continuation token is malformed, unknown to its store, or expired."""


@dataclass(frozen=True)
class ContinuationToken:
    """Where to find a background task: its id, its agent and its store.

    ``str(token)`` is a compact printable form; :meth:`parse` reads it back.

    Example::

        >>> t = ContinuationToken("abc", agent="writer", store="file:/tmp/bg")
        >>> ContinuationToken.parse(str(t)) == t
        True
    """

    token_id: str
    agent: str
    store: str
    created_at: float = 0.0

    def __str__(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str | ContinuationToken) -> ContinuationToken:
        """Read a token printed with ``str(token)`` (or return a token as is)."""
        if isinstance(text, ContinuationToken):
            return text
        if not isinstance(text, str) or not text.startswith(TOKEN_PREFIX):
            raise TokenError(
                f"not a continuation token: {str(text)[:60]!r} (tokens start with "
                f"{TOKEN_PREFIX!r}; use the text printed by str(token))"
            )
        body = text[len(TOKEN_PREFIX) :]
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            return cls(
                token_id=str(data["token_id"]),
                agent=str(data["agent"]),
                store=str(data["store"]),
                created_at=float(data.get("created_at", 0.0)),
            )
        except Exception as exc:
            raise TokenError(f"damaged continuation token {text[:60]!r}: {exc}") from None


@dataclass
class BackgroundStatus:
    """What :func:`poll` reports about a background task."""

    token: ContinuationToken
    status: str
    response: AgentResponse | None = None
    error: str | None = None
    #: A workflow's outputs once it completed (``response`` then holds their text).
    outputs: list[Any] = field(default_factory=list)
    #: A workflow's final status (``completed``, ``waiting``, ``failed``, ...).
    run_status: str | None = None
    run_id: str | None = None
    chunks: int = 0
    updated_at: float = 0.0
    owner: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != RUNNING


class BackgroundStore(Protocol):
    """Where background tasks keep their record and chunks (files, NATS KV, ...)."""

    @property
    def location(self) -> str:
        """Written into tokens: ``file:<dir>`` or ``nats:<bucket>``."""
        ...

    async def put_record(self, token_id: str, record: dict[str, Any]) -> None: ...

    async def get_record(self, token_id: str) -> dict[str, Any] | None: ...

    async def add_chunk(self, token_id: str, seq: int, chunk: dict[str, Any]) -> None: ...

    async def get_chunks(self, token_id: str, after: int) -> list[dict[str, Any]]:
        """Complete chunks with ``seq > after``, in order."""
        ...


class FileBackgroundStore:
    """Background tasks in a folder: ``<id>/record.json`` (atomic writes) + ``<id>/chunks.jsonl``.

    Example::

        >>> import tempfile
        >>> FileBackgroundStore(tempfile.mkdtemp()).location.startswith("file:")
        True
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        default = os.environ.get("AGENTIC_NB_BACKGROUND_DIR") or (
            Path.home() / ".cache" / "agentic_nb" / "background"
        )
        self.root = Path(root or default).expanduser().resolve()

    @property
    def location(self) -> str:
        return f"file:{self.root}"

    def _dir(self, token_id: str) -> Path:
        if not token_id.isalnum():
            raise TokenError(f"invalid background task id {token_id!r}")
        return self.root / token_id

    async def put_record(self, token_id: str, record: dict[str, Any]) -> None:
        d = self._dir(token_id)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f"record.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, d / "record.json")

    async def get_record(self, token_id: str) -> dict[str, Any] | None:
        path = self._dir(token_id) / "record.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TokenError(f"background task file {path} is damaged: {exc}") from None
        return data if isinstance(data, dict) else None

    async def add_chunk(self, token_id: str, seq: int, chunk: dict[str, Any]) -> None:
        d = self._dir(token_id)
        d.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"seq": seq, **chunk}, separators=(",", ":")) + "\n"
        with open(d / "chunks.jsonl", "a", encoding="utf-8") as f:
            f.write(line)

    async def get_chunks(self, token_id: str, after: int) -> list[dict[str, Any]]:
        path = self._dir(token_id) / "chunks.jsonl"
        out: list[dict[str, Any]] = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for n, line in enumerate(lines, 1):
            try:
                item = json.loads(line)
            except ValueError:
                if n == len(lines):  # a line being written right now
                    break
                raise TokenError(f"{path} line {n} is damaged") from None
            if item.get("seq", 0) > after:
                out.append(item)
        return out


_DEFAULT: list[BackgroundStore] = []
_TASKS: set[asyncio.Task[None]] = set()


def default_background_store() -> BackgroundStore:
    """The store used when ``run(..., background=True)`` is given none (files by default)."""
    if not _DEFAULT:
        _DEFAULT.append(FileBackgroundStore())
    return _DEFAULT[0]


def set_default_background_store(store: BackgroundStore) -> None:
    """Use ``store`` (e.g. a ``NatsBackgroundStore``) for every background run from now on."""
    _DEFAULT[:] = [store]


_STORES: dict[str, BackgroundStore] = {}


def _store_for(token: ContinuationToken, store: BackgroundStore | None) -> BackgroundStore:
    if store is not None:
        return store
    known = _STORES.get(token.store)
    if known is not None:
        return known
    if token.store.startswith("file:"):
        return FileBackgroundStore(token.store[len("file:") :])
    if _DEFAULT and _DEFAULT[0].location == token.store:
        return _DEFAULT[0]
    raise TokenError(
        f"token {token.token_id!r} lives in {token.store!r}; pass that store, e.g. "
        f"poll(token, store=NatsBackgroundStore(connection))"
    )


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


async def start_background(
    agent: Any,
    messages: Any,
    *,
    thread: Any = None,
    store: BackgroundStore | None = None,
    ttl: float = 7 * 24 * 3600.0,
    **options: Any,
) -> ContinuationToken:
    """Start ``agent.run_stream(messages)`` — or a workflow's run of ``messages`` as its
    input — as a background task; return its token."""
    store = store or default_background_store()
    _STORES[store.location] = store
    from agentic_nb.workflow import Workflow

    is_workflow = isinstance(agent, Workflow)
    now = time.time()
    token = ContinuationToken(
        uuid.uuid4().hex, agent=agent.name, store=store.location, created_at=now
    )
    record: dict[str, Any] = {
        "token_id": token.token_id,
        "agent": agent.name,
        "status": RUNNING,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + ttl,
        "chunks": 0,
        "owner": _owner(),
    }
    await store.put_record(token.token_id, record)
    if is_workflow:
        updates = _workflow_updates(agent, messages, options, record)
        what = f"workflow {agent.name!r}"
    else:
        updates = agent.run_stream(messages, thread=thread, **options)
        what = f"agent {agent.name!r}"
    task = asyncio.create_task(_work(updates, what, store, token, record))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return token


class _Ended(Exception):
    """A workflow run ended failed or cancelled (its own words are the task's error)."""


async def _work(
    updates: AsyncIterator[AgentRunUpdate],
    what: str,
    store: BackgroundStore,
    token: ContinuationToken,
    record: dict[str, Any],
) -> None:
    """Record a background task: each streamed chunk, a heartbeat, the final answer."""
    seq = 0
    last_beat = time.monotonic()

    async def beat(force: bool = False) -> None:
        nonlocal last_beat
        if force or time.monotonic() - last_beat >= HEARTBEAT:
            last_beat = time.monotonic()
            record["updated_at"] = time.time()
            record["chunks"] = seq
            await store.put_record(token.token_id, record)

    heart = asyncio.create_task(_heartbeat(beat))
    try:
        async for update in updates:
            if update.done:
                record["status"] = COMPLETED
                record["response"] = encode(update.response)
                await beat(force=True)
                return
            seq += 1
            await store.add_chunk(token.token_id, seq, {"update": encode(update)})
            await beat()
        record["status"] = FAILED
        record["error"] = f"{what} ended its stream without a final response"
        await beat(force=True)
    except asyncio.CancelledError:
        record["status"] = FAILED
        record["error"] = "cancelled"
        with contextlib.suppress(Exception):
            await beat(force=True)
        raise
    except _Ended as exc:
        record["status"] = FAILED
        record["error"] = str(exc)
        await beat(force=True)
    except Exception as exc:
        record["status"] = FAILED
        record["error"] = f"{what} raised {type(exc).__name__}: {exc}"
        await beat(force=True)
    finally:
        heart.cancel()


async def _workflow_updates(
    workflow: Any, input: Any, options: dict[str, Any], record: dict[str, Any]
) -> AsyncIterator[AgentRunUpdate]:
    """A workflow run as a background stream: its agents' chunks, then its outputs as the
    final answer (run id, status and outputs kept in ``record``)."""
    from agentic_nb.llm import ChatMessage

    run = workflow.start(input, **options)
    record["run_id"] = run.run_id
    async for ev in run.stream():  # leaving it early (cancel) cancels the run
        if isinstance(ev, AgentRunUpdate) and not ev.done and ev.text:
            yield ev
    result = run.result()
    record["run_status"] = result.status
    record["outputs"] = encode(list(result.outputs))
    if result.status in ("failed", "cancelled"):
        raise _Ended(f"workflow {workflow.name!r} ended {result.status}: {result.error}")
    text = "\n".join(_output_text(o) for o in result.outputs)
    if result.status == "waiting":
        ids = [r.request_id for r in result.pending_requests]
        text = text or f"waiting for input: requests {ids}"
    response = AgentResponse(
        [ChatMessage("assistant", text, author_name=workflow.name)],
        agent_id=workflow.name,
        status="waiting" if result.status == "waiting" else "completed",
        metadata={"run_id": run.run_id},
    )
    yield AgentRunUpdate(agent_id=workflow.name, done=True, response=response)


def _output_text(value: Any) -> str:
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else str(value)


async def _heartbeat(beat: Any) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT)
        with contextlib.suppress(Exception):
            await beat(force=True)


def _alive(owner: dict[str, Any]) -> bool | None:
    """Whether the owner process is alive (None when it is on another host)."""
    if owner.get("host") != socket.gethostname():
        return None
    pid = int(owner.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def poll(
    token: ContinuationToken | str, *, store: BackgroundStore | None = None
) -> BackgroundStatus:
    """The status of a background task (``response`` set once ``completed``)."""
    token = ContinuationToken.parse(token)
    st = _store_for(token, store)
    record = await st.get_record(token.token_id)
    if record is None:
        raise TokenError(
            f"no background task {token.token_id!r} of agent {token.agent!r} in {st.location} "
            f"(never started there, or deleted)"
        )
    now = time.time()
    status = str(record.get("status", RUNNING))
    error = record.get("error")
    if status != RUNNING and now > float(record.get("expires_at", now + 1)):
        raise TokenError(
            f"background task {token.token_id!r} of agent {token.agent!r} expired at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record['expires_at']))}"
        )
    owner = dict(record.get("owner") or {})
    if status == RUNNING:
        alive = _alive(owner)
        stale = now - float(record.get("updated_at", now)) > STALE_AFTER
        if alive is False or (alive is None and stale):
            status = FAILED
            error = (
                f"the process that ran it (pid {owner.get('pid')} on {owner.get('host')}) "
                f"ended before it finished; start the task again"
            )
    response = decode(record["response"]) if "response" in record else None
    return BackgroundStatus(
        token=token,
        status=status,
        response=response,
        error=error,
        outputs=decode(record["outputs"]) if "outputs" in record else [],
        run_status=record.get("run_status"),
        run_id=record.get("run_id"),
        chunks=int(record.get("chunks", 0)),
        updated_at=float(record.get("updated_at", 0.0)),
        owner=owner,
    )


async def wait(
    token: ContinuationToken | str,
    *,
    store: BackgroundStore | None = None,
    interval: float = 0.05,
    timeout: float | None = None,
) -> BackgroundStatus:
    """Poll until the task is done (``timeout`` raises ``TimeoutError``)."""
    async with asyncio.timeout(timeout):
        while True:
            status = await poll(token, store=store)
            if status.done:
                return status
            await asyncio.sleep(interval)


async def resume_stream(
    token: ContinuationToken | str,
    after: int = 0,
    *,
    store: BackgroundStore | None = None,
    interval: float = 0.05,
) -> AsyncIterator[AgentRunUpdate]:
    """Chunks after the ``after``-th, then live ones, ending with the ``done`` update.

    A failed task raises ``RuntimeError`` with its reason once its chunks are out.
    """
    token = ContinuationToken.parse(token)
    st = _store_for(token, store)
    seen = after
    while True:
        # Status first: once it says done, every chunk was written before it.
        status = await poll(token, store=st)
        for item in await st.get_chunks(token.token_id, seen):
            update = decode(item["update"])
            seen = int(item["seq"])
            if isinstance(update, AgentRunUpdate):
                yield update
        if status.done:
            if status.status == COMPLETED and status.response is not None:
                yield AgentRunUpdate(
                    agent_id=status.response.agent_id,
                    done=True,
                    status=status.response.status,
                    response=status.response,
                )
                return
            raise RuntimeError(
                f"background task {token.token_id!r} of agent {token.agent!r} failed: "
                f"{status.error}"
            )
        await asyncio.sleep(interval)
