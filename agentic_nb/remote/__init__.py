"""Remote agents and tools: MCP (official ``mcp`` SDK), A2A (official ``a2a-sdk``), NATS.

Install with ``pip install 'agentic-nb[remote]'``.

- :class:`MCPTools` — an MCP server's tools as agent tools (stdio, streamable HTTP,
  in-process); :func:`serve_mcp` — an agent or workflow as an MCP tool.
- :class:`A2AAgent` — a remote A2A agent as a local agent; :func:`serve_a2a` — any
  agent or workflow as an A2A server (``a2a-sdk`` 1.x).
- :func:`serve_agent` hosts an agent on NATS; :class:`NatsProxyAgent` calls it from
  any process (streaming, cancel, timeouts).

Example::

    >>> from agentic_nb.remote import MCPTools, serve_mcp
    >>> MCPTools.__name__, serve_mcp.__name__
    ('MCPTools', 'serve_mcp')
"""

from ._a2a import A2AAgent, A2AError, A2AServer, serve_a2a
from ._mcp import MCPServerError, MCPTool, MCPToolError, MCPTools, serve_mcp
from ._nats_agents import (
    AgentHost,
    AgentUnavailableError,
    NatsProxyAgent,
    RemoteAgentError,
    agent_subject,
    serve_agent,
)

__all__ = [
    "A2AAgent",
    "A2AError",
    "A2AServer",
    "AgentHost",
    "AgentUnavailableError",
    "MCPServerError",
    "MCPTool",
    "MCPToolError",
    "MCPTools",
    "NatsProxyAgent",
    "RemoteAgentError",
    "agent_subject",
    "serve_a2a",
    "serve_agent",
    "serve_mcp",
]
