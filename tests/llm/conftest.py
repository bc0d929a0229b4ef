"""Fixtures with real parts: the xllamacpp HTTP server with SmolLM2, and a small
scriptable HTTP server (for Gemini's REST format and for 429/5xx retry tests)."""

from __future__ import annotations

import gc
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """A real xllamacpp HTTP server on loopback serving SmolLM2 (OpenAI + Anthropic APIs).

    Fails loudly (never skips) when the model or xllamacpp is missing.
    """
    import xllamacpp

    from agentic_nb.llm import smollm2_path

    port = free_port()
    params = xllamacpp.CommonParams()
    params.model.path = smollm2_path()
    params.n_ctx = 2048
    params.port = port
    params.hostnames = ["127.0.0.1"]
    params.verbosity = -1
    server = xllamacpp.Server(params)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"xllamacpp server did not listen on {base} within 60 s"
                ) from exc
            time.sleep(0.1)
    yield base
    del server
    gc.collect()


@dataclass
class Reply:
    """One scripted HTTP answer: JSON ``body`` or a list of SSE ``events``."""

    status: int = 200
    body: Any = None
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    event_delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class StubServer:
    """A loopback HTTP server that answers with scripted :class:`Reply` objects in order
    and records every request. Real sockets, real HTTP, real SDKs on the other side."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.closed_early = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                stub.seen.append(
                    Seen("POST", self.path, dict(self.headers), body, time.monotonic())
                )
                if not stub.replies:
                    self._send(500, {"error": {"message": "stub has no scripted reply left"}})
                    return
                reply = stub.replies.pop(0)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.events is not None:
                    self._sse(reply)
                else:
                    self._send(reply.status, reply.body, reply.headers)

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body if body is not None else {}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    for ev in reply.events or []:
                        if isinstance(ev, tuple):  # (event name, data)
                            name, data = ev
                            chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n"
                        else:
                            chunk = f"data: {ev if isinstance(ev, str) else json.dumps(ev)}\n\n"
                        self.wfile.write(chunk.encode())
                        self.wfile.flush()
                        if reply.event_delay:
                            time.sleep(reply.event_delay)
                except (BrokenPipeError, ConnectionResetError):
                    stub.closed_early.set()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def openai_completion(text: str, *, tool_calls: list[dict[str, Any]] | None = None) -> dict:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "stub",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
