"""A real MCP server written with the official SDK's server API, for the MCP tests.

Run: ``python mcp_server.py stdio`` or ``python mcp_server.py http PORT``.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server import MCPServer
from pydantic import BaseModel

server = MCPServer("test-tools")


class Point(BaseModel):
    x: int
    y: int


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def norm1(p: Point, scale: int = 1) -> int:
    """Manhattan norm of a point, times scale."""
    return (abs(p.x) + abs(p.y)) * scale


@server.tool()
def fail(reason: str) -> str:
    """Always raises."""
    raise ValueError(f"failing on purpose: {reason}")


@server.tool()
def slow(seconds: float) -> str:
    """Sleeps, then answers."""
    time.sleep(seconds)
    return "done"


@server.tool()
def die() -> str:
    """Kills this server process (simulates a crash)."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        import uvicorn

        uvicorn.run(
            server.streamable_http_app(),
            host="127.0.0.1",
            port=int(sys.argv[2]),
            log_level="warning",
        )
    else:
        server.run("stdio")
