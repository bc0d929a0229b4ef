"""Routing and fan-in: where the messages of a superstep go at its barrier.

:class:`Router` owns a run's mailbox — the deliveries queued for the next superstep
and the fan-in buffers — and is the only code that fills it. A sent message goes
along its source's edge groups in the order they were added; a fan-in edge buffers
it until every source has sent one.

The direct-edge fast path (a source whose only outgoing edge is one unconditional
direct edge) sits next to the general route it shortcuts. ``FAST_PATHS = False``
turns every engine fast path off (this one and the superstep's inlined single-slot
loop); the event log must not change, which ``tests/workflow/test_fast_paths.py``
checks.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ._edges import DirectEdge, FanInEdge, FanInState
from ._errors import RoutingError
from ._events import MESSAGE_SENT, MessageUndelivered, payload_sha256
from .codec import decode, encode

if TYPE_CHECKING:
    from ._runner import Run

# Module-level switch: False routes everything through the general code paths.
FAST_PATHS = True

_MISSING: Any = object()
_NO_NAMES: list[str] = []  # shared empty list; replaced, never appended to
_IMMUTABLE = frozenset({int, str, float, bool, bytes, complex, type(None)})


def snapshot(message: Any) -> tuple[Any, str | None]:
    """``(payload, sha256 or None)`` for the ``MessageSent`` record of ``message``.

    The payload is ``message`` itself when it is immutable, else a private copy (codec
    round trip, else ``copy.deepcopy``), whose hash is left for later; a message that
    can be neither is kept live and hashed now, so its hash is the send-time one.

    Example::

        >>> sent = {"items": [1, 2]}
        >>> payload, sha = snapshot(sent)
        >>> sent["items"].append(3)
        >>> payload, sha
        ({'items': [1, 2]}, None)
    """
    if type(message) in _IMMUTABLE:
        return message, None
    try:
        return decode(encode(message)), None
    except Exception:
        pass
    try:
        return copy.deepcopy(message), None
    except Exception:
        return message, payload_sha256(message)


class Delivery:
    """A message queued for one executor."""

    __slots__ = ("edge", "message", "source", "target")

    def __init__(self, target: int, message: Any, source: str | None, edge: str | None) -> None:
        self.target = target
        self.message = message
        self.source = source
        self.edge = edge


class Router:
    """A run's mailbox: queued deliveries per executor index, and fan-in buffers."""

    __slots__ = ("fanin", "pending", "run", "spare", "workflow")

    def __init__(self, run: Run) -> None:
        wf = run.workflow
        self.run = run
        self.workflow = wf
        self.pending: dict[int, list[Delivery]] = {}
        self.spare: dict[int, list[Delivery]] = {}  # two dicts take turns: no allocation
        self.fanin: dict[str, FanInState] = {
            g.id: FanInState(g, g.new_buffers()) for g in wf._fan_ins
        }

    def take(self) -> dict[int, list[Delivery]]:
        """Hand the queued deliveries to a new superstep; the queue starts empty.

        The caller gives the dict back with :meth:`give_back` once it is read.
        """
        pending = self.pending
        self.pending = self.spare
        return pending

    def give_back(self, used: dict[int, list[Delivery]]) -> None:
        used.clear()
        self.spare = used

    def enqueue(self, ti: int, delivery: Delivery) -> None:
        queue = self.pending.get(ti)
        if queue is None:
            queue = self.pending[ti] = []
        queue.append(delivery)

    # ----------------------------------------------------------------- barrier
    def route_all(self, src: str, messages: list[tuple[Any, str | None]], now: float) -> int:
        """Route one executor's sent messages; returns how many deliveries they made."""
        sent = 0
        simple = self.workflow._simple_routes.get(src) if FAST_PATHS else None
        run = self.run
        for message, target in messages:
            if simple is not None and target is None:
                # Fast path: one unconditional direct edge, no edge choice to make. This
                # is route()'s direct-edge branch without its loop (a miss falls back).
                ti, texec, edge_id = simple
                handler = texec._dispatch.get(type(message), _MISSING)
                if handler is not None and handler is not _MISSING:
                    queue = self.pending.get(ti)
                    if queue is None:
                        queue = self.pending[ti] = []
                    queue.append(Delivery(ti, message, src, edge_id))
                    if type(message) in _IMMUTABLE:
                        payload, sha = message, None
                    else:
                        payload, sha = snapshot(message)
                    run._fast(
                        MESSAGE_SENT,
                        src,
                        now,
                        (src, texec.id, edge_id, type(message).__name__, payload, sha),
                    )
                    sent += 1
                    continue
            sent += self.route(src, message, target, now)
        return sent

    def route(self, source: str, message: Any, target: str | None, now: float) -> int:
        """Send ``message`` along ``source``'s edges; ``now`` is the barrier's clock reading."""
        wf = self.workflow
        run = self.run
        execs = wf._executors
        index = wf._index
        sent = 0
        filtered = False
        mismatched: list[str] = _NO_NAMES
        record: Any = _MISSING  # (payload, sha) of the MessageSent records, made once
        for group in wf._out.get(source, ()):
            if type(group) is FanInEdge:
                tgt = group.targets[0]
                if target is not None and target != tgt:
                    continue
                accepts = group.accepts.get(type(message))
                if accepts is None:
                    accepts = execs[index[tgt]].can_handle([message])
                    if group.cacheable:
                        group.accepts[type(message)] = accepts
                if not accepts:
                    mismatched = [*mismatched, tgt]
                    continue
                self.fanin[group.id].buffers[source].append(message)
                if record is _MISSING:
                    record = snapshot(message)
                run._fast(
                    MESSAGE_SENT,
                    source,
                    now,
                    (source, tgt, group.id, type(message).__name__, *record),
                )
                sent += 1
                continue
            if type(group) is DirectEdge and group.condition is None:
                chosen = group.targets
            else:
                try:
                    chosen = group.choose(message)  # type: ignore[attr-defined]
                except Exception as exc:
                    raise RoutingError(
                        f"{group.describe()} raised {type(exc).__name__} while routing a "
                        f"{type(message).__name__} from {source!r}: {exc}"
                    ) from exc
                if len(chosen) < len(group.targets):
                    filtered = True
            for tgt in chosen:
                if target is not None and target != tgt:
                    continue
                ti = index[tgt]
                texec = execs[ti]
                handler = texec._dispatch.get(type(message), _MISSING)
                if handler is _MISSING:
                    handler = texec.find_handler(message)
                if handler is None:
                    mismatched = [*mismatched, tgt]
                    continue
                queue = self.pending.get(ti)
                if queue is None:
                    queue = self.pending[ti] = []
                queue.append(Delivery(ti, message, source, group.id))
                if record is _MISSING:
                    record = snapshot(message)
                run._fast(
                    MESSAGE_SENT,
                    source,
                    now,
                    (source, tgt, group.id, type(message).__name__, *record),
                )
                sent += 1
        if sent == 0:
            self.undelivered(source, message, target, filtered, mismatched)
        return sent

    def undelivered(
        self, source: str, message: Any, target: str | None, filtered: bool, mismatched: list[str]
    ) -> None:
        wf = self.workflow
        candidates = sorted(wf._targets_of.get(source, ()))
        tname = type(message).__name__
        if mismatched or not candidates:
            if not candidates:
                detail = (
                    f"executor {source!r} sent a {tname} but has no outgoing edge; add an edge "
                    f"from {source!r} or use ctx.yield_output for results"
                )
            else:
                accepts = "; ".join(
                    f"{t} accepts "
                    + (", ".join(h.input_name for h in wf.executor(t).handlers) or "nothing")
                    for t in dict.fromkeys(mismatched)
                )
                detail = (
                    f"executor {source!r} sent a {tname} that no target can handle ({accepts}); "
                    f"add a handler for {tname} or convert the message before sending"
                )
            reason = "no_route"
            self.run.diagnostics.append(detail)
        else:
            reason = "filtered"
            via = f" (target={target!r})" if target else ""
            detail = (
                f"every edge from {source!r} declined this {tname}{via}: conditions, switch "
                f"cases or fan-out selection chose no target"
            )
        self.run._emit(
            MessageUndelivered(
                source_id=source,
                payload_type=tname,
                candidates=candidates,
                reason=reason,
                detail=detail,
                payload=message,
            ),
            source,
        )

    def fire_fan_ins(self) -> int:
        """Queue one batch per fan-in edge whose every source has a message buffered."""
        fired = 0
        wf = self.workflow
        for eid, st in self.fanin.items():
            while st.ready():
                batch = st.pop()
                ti = wf._index[st.edge.targets[0]]
                self.enqueue(ti, Delivery(ti, batch, ",".join(st.edge.sources), eid))
                fired += 1
        return fired

    # ------------------------------------------------------------------ checks
    def check_target(self, source: str, target: str) -> None:
        """Raise when ``send_message(target=...)`` names an executor ``source`` is not wired to."""
        targets = self.workflow._targets_of.get(source, ())
        if target not in targets:
            raise ValueError(
                f"executor {source!r} sent a message to target={target!r}, but no edge connects "
                f"{source!r} to {target!r} (connected targets: {sorted(targets)}); add an edge or "
                f"fix the target id"
            )
