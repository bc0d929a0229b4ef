"""Remote agents and tools: MCP (official ``mcp`` SDK), A2A (official ``a2a-sdk``), NATS.

Install with ``pip install 'agentic-nb[remote]'``.

- :class:`MCPTools` — an MCP server's tools as agent tools (stdio, streamable HTTP,
  in-process); :func:`serve_mcp` — an agent or workflow as an MCP tool.

Example::

    >>> from agentic_nb.remote import MCPTools, serve_mcp
    >>> MCPTools.__name__, serve_mcp.__name__
    ('MCPTools', 'serve_mcp')
"""

from ._mcp import MCPServerError, MCPTool, MCPToolError, MCPTools, serve_mcp

__all__ = ["MCPServerError", "MCPTool", "MCPToolError", "MCPTools", "serve_mcp"]
