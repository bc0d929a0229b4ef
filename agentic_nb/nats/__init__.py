"""NATS as the nervous system of agentic_nb: events, history, state and requests
across processes (optional extra: ``pip install 'agentic-nb[nats]'``).

Importing this package does not import nats-py; each function does when called.

Example::

    >>> import asyncio
    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> from agentic_nb.nats import LocalNatsServer, NatsEventSink, connect, watch
    >>> @executor
    ... async def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
    ...     await ctx.yield_output(text.upper())
    >>> async def main(url):
    ...     nc = await connect(url)
    ...     sink = await NatsEventSink(nc).start()
    ...     result = await WorkflowBuilder(start=shout).build().run("hi", event_sinks=[sink])
    ...     await sink.flush()
    ...     remote = await watch(result.run_id, connection=nc)
    ...     status, outputs = remote.status, remote.outputs
    ...     await remote.aclose(); await sink.aclose(); await nc.close()
    ...     return status, outputs
    >>> with LocalNatsServer() as server:
    ...     asyncio.run(main(server.url))
    ('completed', ['HI'])
"""

from ._checkpoint import NatsKvCheckpointStorage
from ._connect import NatsConnectionError, connect
from ._memory import NatsKvMemoryProvider
from ._requests import RequestBridge, answer
from ._server import LocalNatsServer, NatsServerError, find_nats_server
from ._sink import EventsDropped, NatsEventSink, SinkStats
from ._streams import StreamLimits, ensure_streams
from ._subjects import MAX_TOKEN, decode_token, encode_token, resolve_token
from ._threads import NatsKvChatMessageStore
from ._watch import RemoteEvent, RemoteRun, RemoteWorkflow, RunInfo, runs, watch

__all__ = [
    "MAX_TOKEN",
    "EventsDropped",
    "LocalNatsServer",
    "NatsConnectionError",
    "NatsEventSink",
    "NatsKvChatMessageStore",
    "NatsKvCheckpointStorage",
    "NatsKvMemoryProvider",
    "NatsServerError",
    "RemoteEvent",
    "RemoteRun",
    "RemoteWorkflow",
    "RequestBridge",
    "RunInfo",
    "SinkStats",
    "StreamLimits",
    "answer",
    "connect",
    "decode_token",
    "encode_token",
    "ensure_streams",
    "find_nats_server",
    "resolve_token",
    "runs",
    "watch",
]
