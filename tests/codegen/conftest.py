"""Fixtures of the code-generation tests: real TypeScript validators, role-scripted models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from agentic_nb.llm import ChatRequest, ScriptedChatClient


def prompt_role(request: ChatRequest) -> str:
    """The ``ROLE:`` header line of a generator's prompt."""
    for line in request.messages[-1].text.splitlines():
        if line.startswith("ROLE: "):
            return line[6:].strip()
    return "?"


def role_client(answers: dict[str, Iterable[Any]]) -> ScriptedChatClient:
    """A TEST DOUBLE answering each generator role from its own queue of answers.

    Generators of one superstep call the model concurrently, so a plain script's
    order would depend on timing; here each role pops from its own list. An answer
    may be a callable ``(request) -> str``.
    """
    queues = {role: list(items) for role, items in answers.items()}

    def answer(request: ChatRequest) -> Any:
        role = prompt_role(request)
        queue = queues.get(role)
        if not queue:
            raise AssertionError(f"role_client: no scripted answer left for role {role!r}")
        item = queue.pop(0)
        return item(request) if callable(item) else item

    client = ScriptedChatClient([answer] * 200)
    client.queues = queues  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="session")
def ts_toolchain() -> Any:
    from agentic_nb.codegen._toolchain import TypeScriptToolchain

    tc = TypeScriptToolchain()
    tc.ensure()  # a missing toolchain is a loud failure naming the install command
    return tc


@pytest.fixture(scope="session")
def sandbox() -> Any:
    from agentic_nb.codegen._sandbox import Sandbox

    return Sandbox(timeout=60.0)


@pytest.fixture
def ts_validators(ts_toolchain: Any, sandbox: Any) -> Callable[[], list[Any]]:
    """Fresh real CompileValidator + TestValidator (tsc / jest in the sandbox)."""
    from agentic_nb.codegen._validators import CompileValidator, TestValidator

    def make() -> list[Any]:
        return [
            CompileValidator(id="compile_val", toolchain=ts_toolchain, sandbox=sandbox),
            TestValidator(id="test_val", toolchain=ts_toolchain, sandbox=sandbox),
        ]

    return make
