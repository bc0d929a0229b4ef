"""connect(): a nats-py connection with agentic_nb's defaults and clear errors."""

from __future__ import annotations

import os
import random
from typing import Any

from agentic_nb._optional import require

DEFAULT_URL = "nats://127.0.0.1:4222"


class NatsConnectionError(ConnectionError):
    """Nothing answered at the NATS URL (the message names it and what to do)."""


def _backoff_handler(base: float, cap: float) -> Any:
    """A nats-py ``reconnect_to_server_handler``: exponential backoff with jitter."""
    state = {"n": 0}

    def handler(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
        n = state["n"]
        state["n"] = n + 1
        delay = 0.0 if n == 0 else min(cap, base * (2 ** (n - 1)))
        return (servers[0] if servers else None), delay * (0.8 + 0.4 * random.random())

    def reset() -> None:
        state["n"] = 0

    handler.reset = reset  # type: ignore[attr-defined]
    return handler


async def connect(url: str | list[str] | None = None, **options: Any) -> Any:
    """Connect to NATS and return a ``nats.aio.client.Client``.

    ``url`` defaults to ``$NATS_URL`` (then ``nats://127.0.0.1:4222``); several
    comma-separated URLs or a list are accepted. Authentication and TLS pass
    straight through to nats-py: ``user=``/``password=``, ``token=``,
    ``user_credentials=`` (a ``.creds`` file), ``nkeys_seed=`` (an NKEY seed file),
    ``tls=`` (an ``ssl.SSLContext``) and ``tls_hostname=``. After a lost connection
    the client reconnects forever with exponential backoff
    (``reconnect_backoff=0.1`` s doubling up to ``reconnect_backoff_max=5`` s);
    pass ``max_reconnect_attempts`` to bound it. The first contact is tried
    ``connect_attempts=1`` extra time(s) before giving up.

    If nothing answers at first contact, :class:`NatsConnectionError` names the URL.

    Example::

        >>> import asyncio
        >>> from agentic_nb.nats import LocalNatsServer
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     ok = nc.is_connected
        ...     await nc.close()
        ...     return ok
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        True
    """
    nats = require("nats", "nats")
    errors = require("nats.errors", "nats")
    if url is None:
        url = os.environ.get("NATS_URL") or DEFAULT_URL
    servers = [u.strip() for u in url.split(",")] if isinstance(url, str) else list(url)
    shown = ", ".join(servers)
    base = float(options.pop("reconnect_backoff", 0.1))
    cap = float(options.pop("reconnect_backoff_max", 5.0))
    user_cb = {k: options.pop(k, None) for k in ("reconnected_cb", "error_cb")}
    handler = _backoff_handler(base, cap)

    async def reconnected() -> None:
        handler.reset()
        if user_cb["reconnected_cb"] is not None:
            await user_cb["reconnected_cb"]()

    async def on_error(exc: Exception) -> None:  # keep reconnect noise out of notebooks
        if user_cb["error_cb"] is not None:
            await user_cb["error_cb"](exc)

    options.setdefault("connect_timeout", 2)
    options.setdefault("reconnect_time_wait", 0.1)
    later_attempts = options.pop("max_reconnect_attempts", -1)
    # nats-py retries the *first* connection forever when max_reconnect_attempts < 0:
    # bound the first contact, then switch to the requested reconnect policy.
    options["max_reconnect_attempts"] = int(options.pop("connect_attempts", 1))
    options.setdefault("allow_reconnect", True)
    options.setdefault("reconnect_to_server_handler", handler)
    options.setdefault("name", "agentic_nb")
    try:
        nc = await nats.connect(
            servers=servers, reconnected_cb=reconnected, error_cb=on_error, **options
        )
    except (errors.NoServersError, OSError, TimeoutError) as exc:
        raise NatsConnectionError(
            f"no NATS server answered at {shown} ({type(exc).__name__}: {exc}); start one "
            f"(agentic_nb.nats.LocalNatsServer() or nats-server -js) or set NATS_URL"
        ) from None
    nc.options["max_reconnect_attempts"] = later_attempts
    return nc
