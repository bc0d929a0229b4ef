"""Error fingerprints: the same mistake gets the same short id, wherever it sits.

A fingerprint hashes the tool, the error code, the file and the message with its
specifics masked — quoted names, identifiers, numbers, literals, paths with line
numbers, stack frames. So the same type error moved to another line (or about
another variable) keeps its fingerprint, while another error code or another file
changes it. The flow uses fingerprints to notice that an error came back after a
fix was attempted (stop early or escalate) and to remember fixes that worked.

Example::

    >>> from agentic_nb.codegen import Diagnostic
    >>> a = Diagnostic("tsc", "Type 'string' is not assignable to type 'number'.",
    ...                file="src/sm.ts", line=3, code="TS2322")
    >>> b = Diagnostic("tsc", "Type 'boolean' is not assignable to type 'State'.",
    ...                file="src/sm.ts", line=40, code="TS2322")
    >>> fingerprint_diagnostic(a) == fingerprint_diagnostic(b)
    True
    >>> mask_message("Property 'foo' does not exist on type 'Bar' at line 12")
    'Property <q> does not exist on type <q> at line <n>'
"""

from __future__ import annotations

import hashlib
import re

from ._types import Diagnostic, TestFailure, ValidationResult

__all__ = [
    "ErrorFingerprinter",
    "fingerprint_diagnostic",
    "fingerprint_failure",
    "mask_message",
]

_STACK_LINE = re.compile(r"^\s*at\s.*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_QUOTED = re.compile(
    r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|\u2018[^\u2019\n]*\u2019|\u201c[^\u201d\n]*\u201d"
)
_PATH_POS = re.compile(r"[\w./\\-]+\.\w+(?::\d+)+(?::\d+)?|[\w./\\-]+\.\w+\(\d+,\d+\)")
# Identifiers that cannot be English words: with an underscore, a digit after letters,
# a dot between names, or an inner capital (camelCase / PascalCase after the first letter).
_IDENT = re.compile(
    r"\b(?:[A-Za-z_$][\w$]*[_$][\w$]*|[A-Za-z]+\d[\w$]*|[a-z]+[A-Z][\w$]*|"
    r"[A-Z][a-z]+[A-Z][\w$]*|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)\b"
)
_NUMBER = re.compile(r"(?<![\w<])-?\d+(?:\.\d+)?(?:e-?\d+)?\b")
_SPACES = re.compile(r"\s+")


def mask_message(message: str, limit: int = 400) -> str:
    """The message with its specifics masked (quoted text, identifiers, numbers, positions).

    Stack frames (``at ...`` lines) and colour codes are dropped; whitespace collapses.

    Example::

        >>> mask_message("expect(received).toBe(expected)\\n\\nExpected: 3\\n"
        ...              "Received: 2\\n  at x.js:4:1")
        'expect(received).<id>(expected) Expected: <n> Received: <n>'
    """
    text = _ANSI.sub("", message or "")
    text = _STACK_LINE.sub("", text)
    text = _QUOTED.sub("<q>", text)
    text = _PATH_POS.sub("<pos>", text)
    text = _IDENT.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).strip()[:limit]


class ErrorFingerprinter:
    """Computes fingerprints and fills them into diagnostics, failures and results.

    ``length`` is the number of hex digits kept from the SHA-256.

    Example::

        >>> from agentic_nb.codegen import TestFailure, ValidationResult
        >>> fp = ErrorFingerprinter(length=8)
        >>> r = ValidationResult("test_val", False,
        ...     failures=[TestFailure("sm > rejects", "Expected: 1", "tests/sm.test.ts")])
        >>> len(fp.fill(r).failures[0].fingerprint)
        8
    """

    def __init__(self, length: int = 12) -> None:
        if not 4 <= length <= 64:
            raise ValueError(f"ErrorFingerprinter: length must be 4..64 hex digits, got {length}")
        self.length = length

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[: self.length]

    def diagnostic(self, d: Diagnostic) -> str:
        """Fingerprint of one diagnostic: tool, code, file and masked message (never the line)."""
        return self._hash("diag", d.tool, d.code or "", _norm_file(d.file), mask_message(d.message))

    def failure(self, f: TestFailure) -> str:
        """Fingerprint of one failing test: its name, file and masked message."""
        return self._hash("test", f.name.strip(), _norm_file(f.file), mask_message(f.message))

    def fill(self, result: ValidationResult, *, overwrite: bool = False) -> ValidationResult:
        """Set the fingerprint of every diagnostic and failure of ``result`` (in place).

        Existing fingerprints are kept unless ``overwrite``; returns ``result``.
        """
        for d in result.diagnostics:
            if overwrite or not d.fingerprint:
                d.fingerprint = self.diagnostic(d)
        for f in result.failures:
            if overwrite or not f.fingerprint:
                f.fingerprint = self.failure(f)
        return result


def _norm_file(path: str | None) -> str:
    if not path:
        return ""
    p = path.replace("\\", "/")
    # Compiled tests run from dist/: the same test file has the same fingerprint.
    for prefix in ("./", "dist/"):
        if p.startswith(prefix):
            p = p[len(prefix) :]
    for ext in (".js", ".ts", ".tsx", ".py"):
        if p.endswith(ext):
            return p[: -len(ext)]
    return p


_DEFAULT = ErrorFingerprinter()


def fingerprint_diagnostic(d: Diagnostic) -> str:
    """Fingerprint of a :class:`Diagnostic` with the default :class:`ErrorFingerprinter`.

    Example::

        >>> from agentic_nb.codegen import Diagnostic
        >>> def d(name, file):
        ...     return Diagnostic("tsc", f"Cannot find name '{name}'.", file, code="TS2304")
        >>> fingerprint_diagnostic(d("foo", "a.ts")) == fingerprint_diagnostic(d("bar", "a.ts"))
        True
        >>> fingerprint_diagnostic(d("foo", "a.ts")) == fingerprint_diagnostic(d("foo", "b.ts"))
        False
    """
    return _DEFAULT.diagnostic(d)


def fingerprint_failure(f: TestFailure) -> str:
    """Fingerprint of a :class:`TestFailure` with the default :class:`ErrorFingerprinter`.

    Example::

        >>> from agentic_nb.codegen import TestFailure
        >>> msg = "Expected: 3\\nReceived: {}\\n    at t.js:{}:5"
        >>> a = TestFailure("lru > evicts", msg.format(4, 10), "tests/lru.test.ts")
        >>> b = TestFailure("lru > evicts", msg.format(5, 11), "tests/lru.test.ts")
        >>> fingerprint_failure(a) == fingerprint_failure(b)
        True
    """
    return _DEFAULT.failure(f)
