"""Fixtures for remote tests: the NATS suite's real nats-server per test (never skipped)."""

from tests.nats.conftest import nats_server, nc

__all__ = ["nats_server", "nc"]
