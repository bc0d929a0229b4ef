"""A real OpenTelemetry SDK tracer provider with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentic_nb.otel import instrument, uninstrument


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    instrument(tracer_provider=provider)
    try:
        yield exp
    finally:
        uninstrument()
        provider.shutdown()


@pytest.fixture
def content_exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    instrument(tracer_provider=provider, capture_content=True)
    try:
        yield exp
    finally:
        uninstrument()
        provider.shutdown()
