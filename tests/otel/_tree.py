"""Span-tree helpers for assertions."""

from __future__ import annotations

from typing import Any


def by_name(spans: Any, name: str) -> Any:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in spans]}"
    return found[0]


def all_named(spans: Any, name: str) -> list[Any]:
    return [s for s in spans if s.name == name]


def parent_of(spans: Any, span: Any) -> Any:
    if span.parent is None:
        return None
    for s in spans:
        if s.context.span_id == span.parent.span_id:
            return s
    raise AssertionError(f"parent of {span.name!r} is not among the exported spans")


def tree(spans: Any) -> list[str]:
    """Indented span names, children in start order: the tree as text."""
    kids: dict[int | None, list[Any]] = {}
    for s in spans:
        kids.setdefault(s.parent.span_id if s.parent else None, []).append(s)
    out: list[str] = []

    def walk(pid: int | None, depth: int) -> None:
        for s in sorted(kids.get(pid, []), key=lambda s: (s.start_time, s.name)):
            out.append("  " * depth + s.name)
            walk(s.context.span_id, depth + 1)

    walk(None, 0)
    return out
