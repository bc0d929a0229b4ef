"""Files from a model's answer: fenced code blocks, their file names, and what went wrong.

Models wrap code in prose and name files in many ways. :func:`extract_files`
understands the common ones:

- a path in the fence header: ````` ```ts src/x.ts `````, ````` ```typescript title="src/x.ts" `````
  (also ``file=``, ``filename=``, ``path=``), or a bare path (````` ```src/x.ts `````);
- a first line inside the block: ``// file: src/x.ts`` or ``# file: x.py`` (removed);
- a line just before the fence: ``**src/x.ts**``, ```` `src/x.ts` ````, ``File: src/x.ts``,
  ``### src/x.ts``, ``src/x.ts:``;
- a single unnamed block: the role's default path (:func:`default_path`).

Paths are normalised (``./a/../b.ts`` becomes ``b.ts``) and refused when absolute or
escaping the project (``..``). Problems never raise: they come back as
:class:`~agentic_nb.codegen.Diagnostic` objects (tool ``"extract"``) that the flow feeds
back to the generator.

Example::

    >>> answer = '''Here you go:
    ...
    ... ```ts src/add.ts
    ... export const add = (a: number, b: number) => a + b;
    ... ```
    ...
    ... **tests/add.test.ts**
    ... ```ts
    ... import { add } from "../src/add";
    ... ```
    ... Hope it helps.'''
    >>> out = extract_files(answer, role="impl", task_name="add")
    >>> sorted(out.files), out.problems
    (['src/add.ts', 'tests/add.test.ts'], [])
    >>> extract_files("Sorry, I cannot.", role="impl").problems[0].code
    'no-code'
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ._types import Diagnostic

__all__ = ["Extraction", "default_path", "extract_files", "normalize_path", "task_slug"]

_FENCE = re.compile(r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_PATH = r"(?:[A-Za-z]:)?[A-Za-z0-9_@.\-/\\]*[A-Za-z0-9_\-]\.[A-Za-z0-9]{1,8}"
_PATH_RE = re.compile(rf"^{_PATH}$")
_ATTR = re.compile(r"""\b(?:title|file|filename|path|name)\s*[=:]\s*["']?([^"'\s]+)["']?""")
_FIRST_LINE = re.compile(
    rf"^\s*(?://|#|/\*|<!--|--)\s*(?:file(?:name)?|path)\s*:\s*({_PATH})\s*(?:\*/|-->)?\s*$",
    re.IGNORECASE,
)
_BEFORE = re.compile(
    rf"""^\s*(?:\#{{1,6}}\s*)?(?:[-*]\s+)?(?:\*\*|__|`)?\s*(?:(?:file(?:name)?|path)\s*:\s*)?
    (?:\*\*|__|`)?(?P<path>{_PATH})(?:\*\*|__|`)?\s*(?:\*\*|__|`)?\s*:?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)

#: Fence languages that are code of each project language (unnamed blocks of other
#: languages — shell commands, JSON output — are ignored).
_CODE_LANGS = {
    "typescript": {"ts", "typescript", "tsx", "js", "javascript", "jsx", "mts", "cts", ""},
    "python": {"py", "python", "python3", ""},
}
_EXT = {"typescript": ".ts", "python": ".py"}


@dataclass
class Extraction:
    """What :func:`extract_files` found: files ``{path: text}`` and problems.

    ``problems`` holds errors (no code at all, a refused path) and warnings
    (an extra unnamed block that was dropped, an unterminated fence).
    """

    files: dict[str, str] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when at least one file was found and no problem is an error."""
        return bool(self.files) and not any(p.severity == "error" for p in self.problems)


def task_slug(text: str, fallback: str = "solution") -> str:
    """A snake_case file stem from a task name or description.

    Example::

        >>> task_slug("State machine"), task_slug("LRU-cache!"), task_slug("  ")
        ('state_machine', 'lru_cache', 'solution')
    """
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    slug = "_".join(words[:5])[:40].strip("_")
    return slug or fallback


def default_path(role: str, language: str = "typescript", task_name: str = "") -> str:
    """Where a role's single unnamed block goes.

    Example::

        >>> default_path("types"), default_path("impl", task_name="lru_cache")
        ('src/types.ts', 'src/lru_cache.ts')
        >>> default_path("tests", "python", "lru_cache")
        'tests/test_lru_cache.py'
    """
    stem = task_slug(task_name)
    if language == "python":
        return {
            "types": f"src/{stem}_types.py",
            "impl": f"src/{stem}.py",
            "tests": f"tests/test_{stem}.py",
        }.get(role, f"src/{stem}.py")
    return {
        "types": "src/types.ts",
        "impl": f"src/{stem}.ts",
        "tests": f"tests/{stem}.test.ts",
    }.get(role, f"src/{stem}.ts")


def normalize_path(path: str) -> tuple[str | None, str]:
    """``(normalised path, "")`` or ``(None, why it is refused)``.

    Example::

        >>> normalize_path("./src/../src/x.ts")
        ('src/x.ts', '')
        >>> normalize_path("../x.ts")[0] is None, normalize_path("/etc/passwd")[0] is None
        (True, True)
    """
    raw = path.strip().strip("`'\"").replace("\\", "/")
    if not raw:
        return None, "the file path is empty"
    if raw.startswith("/") or re.match(r"^[A-Za-z]:/", raw) or raw.startswith("~"):
        return None, f"the file path {path!r} is absolute; use a path relative to the project"
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../"):
        return None, f"the file path {path!r} escapes the project directory (..)"
    if norm in (".", ""):
        return None, f"the file path {path!r} names no file"
    return norm, ""


@dataclass
class _Block:
    lang: str
    header_path: str | None
    before_path: str | None
    lines: list[str]
    terminated: bool


def _info_path(info: str) -> tuple[str, str | None]:
    """Language and path of a fence info string (``ts src/x.ts``, ``ts title="x.ts"``)."""
    info = info.strip()
    attr = _ATTR.search(info)
    tokens = info.split()
    lang = ""
    if tokens and "=" not in tokens[0]:
        first = tokens[0]
        if _PATH_RE.match(first):  # a bare path as the header: ```src/x.ts
            return posixpath.splitext(first)[1].lstrip(".").lower(), first
        lang = first.strip("{}.").lower()
    if attr:
        return lang, attr.group(1)
    for tok in tokens[1:]:
        if _PATH_RE.match(tok):
            return lang, tok
    return lang, None


def _blocks(answer: str) -> list[_Block]:
    lines = answer.splitlines()
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or "`" in m.group("info"):
            i += 1
            continue
        fence = m.group("fence")
        lang, header_path = _info_path(m.group("info"))
        before_path = None
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and i - j <= 2:
            bm = _BEFORE.match(lines[j])
            if bm:
                before_path = bm.group("path")
        body: list[str] = []
        i += 1
        terminated = False
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                terminated = True
                break
            body.append(lines[i])
            i += 1
        blocks.append(_Block(lang, header_path, before_path, body, terminated))
        i += 1
    return blocks


def _problem(message: str, code: str, producer: str, severity: str = "error") -> Diagnostic:
    who = f"{producer}: " if producer else ""
    return Diagnostic("extract", who + message, code=code, severity=severity)


def extract_files(
    answer: str,
    *,
    role: str = "impl",
    language: str = "typescript",
    task_name: str = "",
    producer: str = "",
) -> Extraction:
    """Files ``{path: text}`` from a model's answer, with problems as diagnostics.

    ``role`` / ``language`` / ``task_name`` choose the default path of a single
    unnamed block; ``producer`` (the executor id) is named in problems.

    Example::

        >>> out = extract_files("```python\\nx = 1\\n```", role="impl", language="python",
        ...                     task_name="demo")
        >>> out.files
        {'src/demo.py': 'x = 1\\n'}
    """
    out = Extraction()
    code_langs = _CODE_LANGS.get(language, _CODE_LANGS["typescript"])
    unnamed: list[_Block] = []
    for block in _blocks(answer or ""):
        lines = list(block.lines)
        path = block.header_path
        if path is None and lines:
            fm = _FIRST_LINE.match(lines[0])
            if fm:
                path = fm.group(1)
                lines = lines[1:]
        if path is None:
            path = block.before_path
        text = "\n".join(lines).strip("\n")
        if not text.strip():
            continue
        text += "\n"
        if not block.terminated:
            out.problems.append(
                _problem(
                    "a code block is not closed (the answer may be cut off); it was kept as is",
                    "unterminated-fence",
                    producer,
                    severity="warning",
                )
            )
        if path is None:
            if block.lang in code_langs:
                unnamed.append(_Block(block.lang, None, None, [text], True))
            continue
        norm, why = normalize_path(path)
        if norm is None:
            out.problems.append(_problem(why, "bad-path", producer))
            continue
        if norm in out.files:
            out.problems.append(
                _problem(
                    f"the file {norm!r} appears twice; the last block was kept",
                    "duplicate-file",
                    producer,
                    severity="warning",
                )
            )
        out.files[norm] = text
    if unnamed:
        target = default_path(role, language, task_name)
        if target in out.files or len(unnamed) > 1:
            dropped = len(unnamed) if target in out.files else len(unnamed) - 1
            out.problems.append(
                _problem(
                    f"{dropped} code block(s) without a file name were ignored; name each file "
                    f"in its fence header, e.g. ```{_fence_lang(language)} {target}",
                    "unnamed-block",
                    producer,
                    severity="warning",
                )
            )
        if target not in out.files:
            out.files[target] = unnamed[0].lines[0]
    if not out.files and not any(p.code == "bad-path" for p in out.problems):
        out.problems.append(
            _problem(
                f"the answer contains no {language} code block; answer with fenced code blocks "
                f"whose header names the file, e.g. ```{_fence_lang(language)} "
                f"{default_path(role, language, task_name)}",
                "no-code",
                producer,
            )
        )
    return out


def _fence_lang(language: str) -> str:
    return "python" if language == "python" else "ts"
