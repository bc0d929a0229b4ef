"""The code-interpreter tool: model-written Python in the real sandbox, limits proven."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from agentic_nb.agents import ChatAgent
from agentic_nb.codegen import Sandbox, code_interpreter
from agentic_nb.llm import ScriptedChatClient


async def run(code: str, **kw: object) -> str:
    return str(await code_interpreter(**kw).invoke({"code": code}))  # type: ignore[arg-type]


async def test_prints_come_back_with_the_exit_code() -> None:
    out = await run("print(sum(range(10)))")
    assert out.splitlines()[:3] == ["exit code 0", "stdout:", "45"]


async def test_an_exception_is_returned_not_raised() -> None:
    out = await run("raise ValueError('bad input')")
    assert out.startswith("exit code 1") and "ValueError: bad input" in out


async def test_an_infinite_loop_is_stopped_at_the_timeout() -> None:
    out = await run("while True: pass", timeout=2)
    assert out.startswith("stopped by the sandbox:") and "timeout" in out


async def test_a_huge_allocation_is_stopped_by_the_memory_limit() -> None:
    out = await run("x = bytearray(2 * 1024**3)\nprint('allocated')", memory_mb=256)
    assert "allocated" not in out and ("MemoryError" in out or "memory" in out)


async def test_no_network_from_inside() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    t = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    t.start()
    code = (
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        f"print('CONNECTED')"
    )
    try:
        out = await run(code)
    finally:
        server.close()
    assert "CONNECTED" not in out and "Error" in out and not accepted


async def test_secrets_and_host_files_are_out_of_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    code = (
        "import os, pathlib\n"
        "print('key:', os.environ.get('OPENAI_API_KEY'))\n"
        "try:\n    print(pathlib.Path('/root').iterdir().__next__())\n"
        "except Exception as e:\n    print('root:', type(e).__name__)\n"
        "try:\n    open('/etc/agentic-nb-probe', 'w')\n"
        "except Exception as e:\n    print('write:', type(e).__name__)\n"
    )
    out = await run(code)
    assert "key: None" in out and "sk-secret" not in out
    assert "write: " in out and not os.path.exists("/etc/agentic-nb-probe")


async def test_a_chat_agent_uses_the_interpreter() -> None:
    client = ScriptedChatClient(  # test double standing in for a tool-calling model
        [ScriptedChatClient.calls(("run_python", {"code": "print(2**10)"})), "It is 1024."]
    )
    agent = ChatAgent(client, "Compute with code.", name="calc", tools=[code_interpreter()])
    response = await agent.run("2 to the 10th?")
    assert "1024" in response.tool_results[0].result and response.text == "It is 1024."


def test_main_py_is_reserved_and_sandbox_is_reused() -> None:
    with pytest.raises(ValueError, match=r"main\.py"):
        code_interpreter(files={"main.py": "x"})
    tool = code_interpreter(Sandbox(timeout=3), name="py")
    assert tool.name == "py" and tool.parameters["required"] == ["code"]
