"""Answer a run's ``request_info`` requests from any process over NATS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agentic_nb.workflow import RequestError
from agentic_nb.workflow.codec import decode, encode

from . import _subjects as S

MAX_BODY = 8 * 1024 * 1024
MAX_DEPTH = 200


def _depth_ok(data: bytes, limit: int) -> bool:
    """True when JSON ``data`` nests at most ``limit`` deep (a cheap scan, no parsing)."""
    depth = 0
    in_str = False
    escaped = False
    for b in data:
        if in_str:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif b in (0x5D, 0x7D):
            depth -= 1
    return True


def _parse_body(data: bytes | None) -> dict[str, Any]:
    """The answer body as a dict, or ``RequestError`` saying what is wrong with it."""
    raw = data or b"{}"
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets > MAX_DEPTH and not _depth_ok(raw, MAX_DEPTH):
        raise RequestError(f"answer body nests deeper than {MAX_DEPTH} levels; send plain JSON")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"answer body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or "value" not in body:
        raise RequestError('an answer must be a JSON object {"value": ..., "who": ..., "why": ...}')
    return body


class RequestBridge:
    """Serve the requests of one run on ``agentic.workflow.<run>.request.<request_id>``.

    Another process answers with :func:`answer` (or any NATS request whose JSON
    body is ``{"value": <codec JSON>, "who": ..., "why": ...}``); the bridge calls
    ``run.answer`` (type-checked, recorded) and replies ``{"ok": true}`` or
    ``{"ok": false, "error": ...}``. A second answer to the same request is
    rejected and the first is kept. With ``resume=True`` the bridge continues the
    run (``run.until_idle()``) once no request is pending.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.nats import LocalNatsServer, connect, answer
        >>> @executor
        ... async def ask(q: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ok = await ctx.request_info(q, response_type=bool)
        ...     await ctx.yield_output("approved" if ok else "rejected")
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     run = WorkflowBuilder(start=ask).build().start("deploy?")
        ...     await run.until_idle()
        ...     bridge = await RequestBridge(run, nc).start()
        ...     await answer(run.run_id, run.pending_requests[0].request_id, True, connection=nc)
        ...     await bridge.wait_idle()
        ...     await bridge.aclose(); await nc.close()
        ...     return run.outputs
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        ['approved']
    """

    def __init__(self, run: Any, connection: Any, *, sink: Any = None, resume: bool = True) -> None:
        self.run = run
        self.nc = connection
        self.sink = sink
        self.resume = resume
        self._sub: Any = None
        self._driver: asyncio.Task[Any] | None = None
        self.answered: list[str] = []
        self.rejected: list[tuple[str, str]] = []

    async def start(self) -> RequestBridge:
        if self._sub is None:
            subject = f"{S.workflow_subject(self.run.run_id, 'request')}.*"
            self._sub = await self.nc.subscribe(subject, cb=self._on_message)
            await self.nc.flush()
        return self

    def _request_id(self, token: str) -> str:
        """The request id a subject token stands for (hashed long ids: by the pending list)."""
        for req in self.run.pending_requests:
            if S.encode_token(req.request_id) == token:
                return str(req.request_id)
        return S.decode_token(token)

    async def _on_message(self, msg: Any) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        try:
            request_id = self._request_id(token)
            if len(msg.data or b"") > MAX_BODY:
                raise RequestError(
                    f"answer body of {len(msg.data)} bytes is over the bridge's limit of "
                    f"{MAX_BODY} bytes"
                )
            body = _parse_body(msg.data)
            value = decode(body["value"])
            note = {"who": body.get("who"), "why": body.get("why"), "via": "nats"}
            if self.sink is not None:
                self.sink.note_answer(request_id, **note)
            self.run.answer(request_id, value)
        except Exception as exc:  # every refusal gets a reply; the bridge keeps serving
            error = f"{type(exc).__name__}: {exc}"[:2000]
            self.rejected.append((token, error))
            await self._reply(msg, {"ok": False, "error": error, "type": type(exc).__name__})
            return
        self.answered.append(request_id)
        await self._reply(msg, {"ok": True, "request_id": request_id, "run_id": self.run.run_id})
        if self.resume and not self.run.pending_requests:
            self._drive()

    async def _reply(self, msg: Any, body: dict[str, Any]) -> None:
        if msg.reply:
            try:
                await msg.respond(json.dumps(body).encode())
            except Exception:  # the asker went away; the answer is recorded anyway
                pass

    def _drive(self) -> None:
        if self._driver is not None and not self._driver.done():
            self._driver.add_done_callback(lambda _t: self._drive_again())
            return
        self._driver = asyncio.ensure_future(self.run.until_idle())

    def _drive_again(self) -> None:
        if self.run.can_progress():
            self._driver = asyncio.ensure_future(self.run.until_idle())

    async def wait_idle(self, timeout: float | None = 30.0) -> Any:
        """Wait until the run the bridge resumed is idle again (returns its result)."""
        async with asyncio.timeout(timeout):
            while True:
                if self._driver is not None:
                    await asyncio.shield(self._driver)
                if self._driver is None or self._driver.done():
                    if not self.run.can_progress():
                        return self.run.result()
                await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None


async def answer(
    run_id: str,
    request_id: str,
    value: Any,
    *,
    connection: Any = None,
    url: str | None = None,
    who: str | None = None,
    why: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Answer request ``request_id`` of run ``run_id``, wherever that run executes.

    Raises :class:`agentic_nb.workflow.RequestError` when the run refuses the
    answer (unknown request, already answered — the first answer is kept — or a
    value of the wrong type), and ``TimeoutError`` naming the subject when no
    process serves that run.

    Example (see :class:`RequestBridge` for a complete run)::

        await agentic_nb.nats.answer(run_id, request_id, True, who="alice", why="looks fine")
    """
    from ._connect import connect

    nc = connection if connection is not None else await connect(url)
    errors = __import__("nats.errors", fromlist=["x"])
    subject = S.request_subject(run_id, request_id)
    body = json.dumps({"value": encode(value), "who": who, "why": why}).encode()
    try:
        try:
            reply = await nc.request(subject, body, timeout=timeout)
        except (errors.NoRespondersError, errors.TimeoutError, TimeoutError):
            raise TimeoutError(
                f"no process serves requests of run {run_id!r} on {subject!r}: start "
                f"agentic_nb.nats.RequestBridge(run, nc).start() in the process that runs it "
                f"(connected to this NATS), or check the run id with agentic_nb.nats.runs()"
            ) from None
        result = json.loads(reply.data)
        if not result.get("ok"):
            raise RequestError(result.get("error", "answer rejected"))
        return dict(result)
    finally:
        if connection is None:
            await nc.close()
