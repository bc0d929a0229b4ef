"""ErrorFingerprinter: stable across lines and names, distinct across codes and files."""

from __future__ import annotations

import pytest

from agentic_nb.codegen import Diagnostic, TestFailure, ValidationResult
from agentic_nb.codegen._fingerprint import (
    ErrorFingerprinter,
    fingerprint_diagnostic,
    fingerprint_failure,
    mask_message,
)


def _d(msg: str, *, file: str = "src/sm.ts", line: int = 1, code: str = "TS2322") -> Diagnostic:
    return Diagnostic("tsc", msg, file=file, line=line, column=5, code=code)


def test_same_error_on_another_line_has_the_same_fingerprint() -> None:
    a = _d("Type 'string' is not assignable to type 'number'.", line=3)
    b = _d("Type 'string' is not assignable to type 'number'.", line=97)
    assert fingerprint_diagnostic(a) == fingerprint_diagnostic(b)


def test_identifiers_literals_and_numbers_are_masked() -> None:
    base = fingerprint_diagnostic(_d("Property 'onEnter' does not exist on type 'Machine'."))
    for other in [
        "Property 'on_exit' does not exist on type 'StateMachine<T>'.",
        'Property "x" does not exist on type "Y".',
    ]:
        assert fingerprint_diagnostic(_d(other)) == base
    assert (
        mask_message("Expected 3 arguments, but got 2.") == "Expected <n> arguments, but got <n>."
    )
    assert mask_message("cannot read currentState of lruCache2") == "cannot read <id> of <id>"
    assert mask_message("value of this.state.items is wrong") == "value of <id> is wrong"


def test_other_code_file_or_tool_changes_the_fingerprint() -> None:
    base = _d("Cannot find name 'foo'.", code="TS2304")
    fps = {
        fingerprint_diagnostic(base),
        fingerprint_diagnostic(_d("Cannot find name 'foo'.", code="TS2552")),
        fingerprint_diagnostic(_d("Cannot find name 'foo'.", code="TS2304", file="src/b.ts")),
        fingerprint_diagnostic(Diagnostic("mypy", "Cannot find name 'foo'.", "src/sm.ts", 1)),
        fingerprint_diagnostic(_d("Some other message entirely.", code="TS2304")),
    }
    assert len(fps) == 5


def test_test_failures_ignore_stack_frames_and_values_but_not_the_test_name() -> None:
    msg = (
        "expect(received).toBe(expected)\n\nExpected: 3\nReceived: {n}\n\n"
        "    at Object.<anonymous> (dist/tests/lru.test.js:{l}:17)"
    )
    a = TestFailure("lru > evicts oldest", msg.format(n=4, l=12), "dist/tests/lru.test.js")
    b = TestFailure("lru > evicts oldest", msg.format(n=5, l=40), "tests/lru.test.ts")
    c = TestFailure("lru > keeps newest", msg.format(n=4, l=12), "tests/lru.test.ts")
    assert fingerprint_failure(a) == fingerprint_failure(b)
    assert fingerprint_failure(a) != fingerprint_failure(c)


def test_ansi_colours_do_not_change_fingerprints() -> None:
    plain = TestFailure("t", "Expected: 1", "tests/a.test.ts")
    coloured = TestFailure("t", "\x1b[32mExpected: 1\x1b[39m", "tests/a.test.ts")
    assert fingerprint_failure(plain) == fingerprint_failure(coloured)


def test_fill_sets_missing_fingerprints_and_keeps_existing_ones() -> None:
    r = ValidationResult(
        "compile_val",
        False,
        diagnostics=[_d("Cannot find name 'x'."), _d("oops", code="TS1"), _d("kept")],
        failures=[TestFailure("t", "boom")],
    )
    r.diagnostics[2].fingerprint = "given"
    fp = ErrorFingerprinter()
    assert fp.fill(r) is r
    assert all(d.fingerprint for d in r.diagnostics) and r.failures[0].fingerprint
    assert r.diagnostics[2].fingerprint == "given"
    assert r.fingerprints[:2] == [r.diagnostics[0].fingerprint, r.diagnostics[1].fingerprint]
    fp.fill(r, overwrite=True)
    assert r.diagnostics[2].fingerprint != "given"
    # Deterministic across instances (a resumed run recomputes the same ids).
    assert ErrorFingerprinter().diagnostic(r.diagnostics[0]) == r.diagnostics[0].fingerprint


def test_length_is_validated() -> None:
    assert len(ErrorFingerprinter(length=6).diagnostic(_d("x"))) == 6
    with pytest.raises(ValueError, match="length"):
        ErrorFingerprinter(length=2)
