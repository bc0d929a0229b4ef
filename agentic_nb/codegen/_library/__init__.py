"""The task library: small coding tasks with reference solutions and hidden acceptance tests.

Each task lives in a folder ``<language>/<name>/`` shipped with the package:

- ``task.toml``: ``name``, ``description``, ``constraints`` (the exported names and
  signatures the hidden tests rely on) and ``[[mistakes]]`` — the realistic mistakes the
  simulated coder (:class:`agentic_nb.codegen.SimulatedCoder`) may make on this task,
  each a real edit (``find`` → ``replace``) of one reference file;
- the reference solution split by role: ``src/types.ts``, ``src/<name>.ts`` and
  ``tests/<name>.test.ts`` for TypeScript; ``src/<name>_types.py``, ``src/<name>.py`` and
  ``tests/test_<name>.py`` for Python (tests import the modules by name, with ``src`` on
  the import path);
- the hidden acceptance tests, ``acceptance/<name>.acceptance.test.ts`` or
  ``acceptance/test_<name>_acceptance.py``, that judge success.

Python files are stored with an extra ``.txt`` suffix (so linters and test collectors
of this repository leave them alone); the loader strips it.

Example::

    >>> [t.name for t in task_library()][:3]
    ['event_emitter', 'json_path', 'lru_cache']
    >>> task = get_task("state_machine")
    >>> sorted(task.reference)
    ['src/state_machine.ts', 'src/types.ts', 'tests/state_machine.test.ts']
    >>> role_of_path("src/types.ts"), role_of_path("tests/state_machine.test.ts")
    ('types', 'tests')
    >>> sorted(get_task("merge_intervals").reference)
    ['src/merge_intervals.py', 'src/merge_intervals_types.py', 'tests/test_merge_intervals.py']
"""

from __future__ import annotations

import copy
import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

from .._types import LANGUAGES, CodeTask

MISTAKE_KINDS = ("type_error", "missing_case", "off_by_one", "bad_test")


@dataclass(frozen=True)
class Mistake:
    """One realistic mistake on one task: a real edit of one reference file.

    ``kind`` is one of ``type_error`` (the compiler / type checker rejects it),
    ``missing_case`` and ``off_by_one`` (it compiles; a test fails), ``bad_test`` (a
    generated test contradicts the task). ``detect`` lists what the feedback about it
    contains: the compiler's error code (``TS2322``, ``[return-value]``) for type
    errors (together with the file's path), or the name of the failing test.
    ``where`` names the file the compiler reports the error in when it is not ``file``
    (a wrong type in ``src/types.ts`` breaks the implementation that uses it); ``rate_scale``
    multiplies the simulated coder's rate for this mistake's kind (default 1).
    ``mirror_find`` / ``mirror_replace``, when given, edit the tests so that they
    agree with the mistake (what a model writing the implementation and its tests in
    one answer tends to do).
    """

    task: str
    index: int
    kind: str
    file: str
    find: str
    replace: str
    detect: tuple[str, ...]
    summary: str
    mirror_find: str = ""
    mirror_replace: str = ""
    mirror_file: str = ""
    where: str = ""
    rate_scale: float = 1.0

    @property
    def reported_in(self) -> str:
        """The file the compiler blames (a mistake in the types shows up in the code)."""
        return self.where or self.file

    def apply(self, files: dict[str, str]) -> dict[str, str]:
        """A copy of ``files`` with the mistake made (the file must contain ``find``)."""
        return _edit(files, self.file, self.find, self.replace, self)

    def apply_mirror(self, files: dict[str, str]) -> dict[str, str]:
        """A copy of ``files`` whose tests agree with the mistake (no-op without a mirror)."""
        if not self.mirror_find:
            return dict(files)
        return _edit(files, self.mirror_file, self.mirror_find, self.mirror_replace, self)


def _edit(files: dict[str, str], path: str, find: str, replace: str, m: Mistake) -> dict[str, str]:
    out = dict(files)
    text = out.get(path)
    if text is None or find not in text:
        raise ValueError(
            f"task library: mistake #{m.index} ({m.kind}) of task {m.task!r} edits {path!r}, "
            "but that file does not contain the text to replace; fix the task's task.toml"
        )
    out[path] = text.replace(find, replace, 1)
    return out


@dataclass(frozen=True)
class LibraryTask:
    """A task with its mistakes (what :func:`task_library` returns is ``.task``)."""

    task: CodeTask
    mistakes: tuple[Mistake, ...] = field(default_factory=tuple)


def role_of_path(path: str) -> str:
    """The role of a file from its path: ``tests`` (test files), ``types`` or ``impl``.

    Example::

        >>> role_of_path("src/lru_cache.ts"), role_of_path("src/lru_cache_types.py")
        ('impl', 'types')
    """
    name = path.rsplit("/", 1)[-1]
    if (
        path.startswith(("tests/", "test/", "acceptance/"))
        or ".test." in name
        or ".spec." in name
        or name.startswith("test_")
    ):
        return "tests"
    if name in ("types.ts", "types.d.ts") or name.endswith(("_types.py", ".d.ts")):
        return "types"
    return "impl"


def _root() -> Traversable:
    return resources.files(__name__)


def _read_files(folder: Traversable, prefix: str = "") -> dict[str, str]:
    files: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            files.update(_read_files(entry, rel + "/"))
        elif rel != "task.toml":
            path = rel[: -len(".txt")] if rel.endswith(".py.txt") else rel
            files[path] = entry.read_text(encoding="utf-8")
    return files


def _load_task(language: str, folder: Traversable) -> LibraryTask:
    meta = tomllib.loads(folder.joinpath("task.toml").read_text(encoding="utf-8"))
    name = meta["name"]
    files = _read_files(folder)
    reference = {p: t for p, t in files.items() if not p.startswith("acceptance/")}
    acceptance = {p: t for p, t in files.items() if p.startswith("acceptance/")}
    tests_file = next(p for p in reference if role_of_path(p) == "tests")
    mistakes = []
    for i, raw in enumerate(meta.get("mistakes", [])):
        if raw["kind"] not in MISTAKE_KINDS:
            raise ValueError(f"task library: task {name!r} has a mistake of unknown kind")
        mistakes.append(
            Mistake(
                task=name,
                index=i,
                kind=raw["kind"],
                file=raw["file"],
                find=raw["find"],
                replace=raw["replace"],
                detect=tuple(raw["detect"]),
                summary=raw["summary"],
                mirror_find=raw.get("mirror_find", ""),
                mirror_replace=raw.get("mirror_replace", ""),
                mirror_file=raw.get("mirror_file", tests_file),
                where=raw.get("where", ""),
                rate_scale=float(raw.get("rate_scale", 1.0)),
            )
        )
    task = CodeTask(
        description=" ".join(meta["description"].split()),
        language=language,
        constraints=list(meta.get("constraints", [])),
        reference=reference,
        acceptance_tests=acceptance,
        name=name,
    )
    return LibraryTask(task, tuple(mistakes))


@functools.cache
def _load(language: str) -> tuple[LibraryTask, ...]:
    folder = _root().joinpath(language)
    tasks = [_load_task(language, f) for f in folder.iterdir() if f.is_dir()]
    return tuple(sorted(tasks, key=lambda t: t.task.name))


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(
            f"task_library(language={language!r}): unknown language; use one of {LANGUAGES}"
        )


def task_library(language: str = "typescript") -> list[CodeTask]:
    """The library's tasks for ``language`` (``"typescript"`` or ``"python"``), by name.

    Each is a fresh :class:`CodeTask` with ``reference`` (types / impl / tests files)
    and hidden ``acceptance_tests``; changing it does not change the library.

    Example::

        >>> len(task_library("typescript")) >= 8, len(task_library("python")) >= 3
        (True, True)
    """
    _check_language(language)
    return [copy.deepcopy(t.task) for t in _load(language)]


def library_entries(language: str | None = None) -> list[LibraryTask]:
    """Tasks with their mistakes, for one language or all (used by the simulated coder)."""
    langs = LANGUAGES if language is None else (language,)
    for lang in langs:
        _check_language(lang)
    return [t for lang in langs for t in _load(lang)]


def get_task(name: str) -> CodeTask:
    """The library task called ``name`` (any language); a clear error lists the names.

    Example::

        >>> get_task("lru_cache").language
        'typescript'
    """
    for entry in library_entries():
        if entry.task.name == name:
            return copy.deepcopy(entry.task)
    names = ", ".join(e.task.name for e in library_entries())
    raise KeyError(f"get_task({name!r}): no such task in the library; known tasks: {names}")
