"""A code-interpreter tool: the model's Python runs inside the codegen :class:`Sandbox`.

``code_interpreter()`` returns an agent tool (``run_python(code)``) that writes the code
to a fresh sandbox project and runs it with this process's Python, read-only system, no
network, and the sandbox's time, CPU, memory, process and output limits. What the tool
returns to the model is the exit status, stdout and stderr (capped), or which limit
stopped the code — never an exception for the code's own failures, so the model can fix
its code and try again.

Example::

    >>> import asyncio
    >>> tool = code_interpreter(timeout=20)
    >>> print(asyncio.run(tool.invoke({"code": "print(6 * 7)"})))
    exit code 0
    stdout:
    42
"""

from __future__ import annotations

import sys
from typing import Any

from agentic_nb.agents import FunctionTool

from ._sandbox import Sandbox, SandboxResult, interpreter_paths

__all__ = ["code_interpreter", "format_result"]

DESCRIPTION = (
    "Run a Python 3 program in an isolated sandbox (no network, no access to the host's "
    "files, limited time and memory) and return its exit code, stdout and stderr. Print "
    "what you want to see. The standard library and this Python environment's installed "
    "packages can be imported."
)


def format_result(result: SandboxResult, max_chars: int = 4000) -> str:
    """What the model sees of a run: exit status or the limit that stopped it, then output."""
    lines = []
    if result.killed_reason:
        lines.append(f"stopped by the sandbox: {result.killed_reason}")
    else:
        lines.append(f"exit code {result.returncode}")
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text.strip():
            if len(text) > max_chars:
                text = text[: max_chars // 2] + "\n[... output cut ...]\n" + text[-max_chars // 2 :]
            lines.append(f"{name}:\n{text.rstrip()}")
    return "\n".join(lines)


def code_interpreter(
    sandbox: Sandbox | None = None,
    *,
    name: str = "run_python",
    timeout: float = 10.0,
    memory_mb: int = 512,
    max_output_chars: int = 4000,
    files: dict[str, str] | None = None,
) -> FunctionTool:
    """A tool that runs model-written Python in a sandbox (see the module docs).

    ``sandbox`` defaults to ``Sandbox(timeout=timeout, memory_mb=memory_mb,
    max_processes=32)`` (bubblewrap, else ``unshare -n``; an error naming
    ``apt-get install bubblewrap`` when neither works). ``files`` are written next to
    the program (e.g. a data file the code should read).
    """
    box = sandbox or Sandbox(timeout=timeout, memory_mb=memory_mb, max_processes=32)
    box = box.with_paths(*interpreter_paths())
    extra = dict(files or {})
    if "main.py" in extra:
        raise ValueError("code_interpreter: 'main.py' is where the model's code goes; rename it")

    async def run_python(code: str) -> str:
        """Run a Python 3 program and return its exit code, stdout and stderr.

        Args:
            code: the complete program to run (print what you want to see)
        """
        if not isinstance(code, str) or not code.strip():
            return "error: no code given; send the whole program in 'code'"
        result = await box.run([sys.executable, "-I", "main.py"], {**extra, "main.py": code})
        return format_result(result, max_output_chars)

    tool_: Any = FunctionTool(run_python, name=name, description=DESCRIPTION)
    return tool_
