"""Validators: real ``tsc`` / ``jest`` (or ``mypy`` / ``pytest``) on a bundle, in the sandbox.

:class:`CompileValidator`, :class:`TestValidator` and :class:`LintValidator` are
executors of kind :attr:`~agentic_nb.workflow.ExecutorKind.VALIDATOR`: each takes a
:class:`~agentic_nb.codegen.CodeBundle` (or the :class:`~agentic_nb.codegen.ValidationResult`
of the previous validator, whose ``bundle`` it checks) and sends one ``ValidationResult``
with the bundle set, diagnostics parsed per file / line / code and fingerprinted, so
conditional edges route on ``passed`` and generators receive precise feedback.
``await validator.check(bundle)`` does the same outside a workflow (the linear baseline
and the arbiter use it).

Whatever the code does — type errors, failing tests, an infinite loop, a fork bomb,
megabytes of output — a validator returns a ``ValidationResult`` (``passed=False`` with a
``reason`` naming the validator and the cause); it never hangs. A missing toolchain raises
:class:`~agentic_nb.codegen.ToolchainMissingError` naming the install command.

Example (real tsc in the sandbox, when the TypeScript toolchain is installed)::

    >>> import asyncio
    >>> from agentic_nb.codegen import CodeArtifact, CodeBundle, CodeTask
    >>> task = CodeTask("add two numbers", name="add")
    >>> bad = CodeArtifact("impl", {"src/add.ts": "export const add = (a: number): string => a;"})
    >>> res = asyncio.run(CompileValidator().check(CodeBundle(task, [bad])))
    >>> res.passed, [(d.file, d.line, d.code) for d in res.diagnostics]
    (False, [('src/add.ts', 1, 'TS2322')])
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from agentic_nb.workflow import Executor, ExecutorKind, WorkflowContext, handler

from ._fingerprint import fingerprint_diagnostic, fingerprint_failure
from ._sandbox import Sandbox, SandboxProject, SandboxResult
from ._toolchain import Toolchain, ToolchainError, TypeScriptToolchain, get_toolchain
from ._types import CodeBundle, Diagnostic, TestFailure, ValidationResult

__all__ = [
    "CompileValidator",
    "LintValidator",
    "TestValidator",
    "parse_jest_json",
    "parse_junit_xml",
    "parse_mypy",
    "parse_ruff",
    "parse_tsc",
]

_TAIL = 4000
_TSC_LINE = re.compile(
    r"^(?P<file>[^\s(][^(]*?)\((?P<line>\d+),(?P<col>\d+)\): "
    r"(?P<sev>error|warning|message) (?P<code>TS\d+): (?P<msg>.*)$"
)
_TSC_GLOBAL = re.compile(r"^(?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$")
_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|note|warning): "
    r"(?P<msg>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)
_RUFF_LINE = re.compile(
    r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+)(?: \[\*\])? (?P<msg>.*)$"
)


def _tail(text: str, n: int = _TAIL) -> str:
    return text if len(text) <= n else "[...]\n" + text[-n:]


def parse_tsc(output: str, tool: str = "tsc") -> list[Diagnostic]:
    """Diagnostics from ``tsc --pretty false`` output (continuation lines join the message).

    Example::

        >>> out = "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'."
        >>> d = parse_tsc(out)[0]
        >>> d.file, d.line, d.column, d.code
        ('src/a.ts', 3, 7, 'TS2322')
    """
    found: list[Diagnostic] = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        m = _TSC_LINE.match(line)
        if m:
            found.append(
                Diagnostic(
                    tool=tool,
                    message=m["msg"],
                    file=m["file"],
                    line=int(m["line"]),
                    column=int(m["col"]),
                    code=m["code"],
                    severity="error" if m["sev"] == "error" else "warning",
                )
            )
            continue
        g = _TSC_GLOBAL.match(line)
        if g:
            found.append(Diagnostic(tool=tool, message=g["msg"], code=g["code"]))
            continue
        if raw[:1].isspace() and found:
            found[-1].message += "\n" + line.strip()
    return found


def parse_mypy(output: str) -> list[Diagnostic]:
    """Diagnostics from mypy (``--show-column-numbers --show-error-codes``); notes join errors.

    Example::

        >>> d = parse_mypy('src/a.py:2:5: error: Incompatible return value  [return-value]')[0]
        >>> d.file, d.line, d.column, d.code
        ('src/a.py', 2, 5, 'return-value')
    """
    found: list[Diagnostic] = []
    for line in output.splitlines():
        m = _MYPY_LINE.match(line.rstrip())
        if not m:
            continue
        if m["sev"] == "note":
            if found and found[-1].file == m["file"] and found[-1].line == int(m["line"]):
                found[-1].message += "\n" + m["msg"]
            continue
        found.append(
            Diagnostic(
                tool="mypy",
                message=m["msg"],
                file=m["file"],
                line=int(m["line"]),
                column=int(m["col"]) if m["col"] else None,
                code=m["code"],
                severity=m["sev"],
            )
        )
    return found


def parse_ruff(output: str) -> list[Diagnostic]:
    """Diagnostics from ``ruff check --output-format=concise``.

    Example::

        >>> parse_ruff("src/a.py:1:8: F401 [*] `os` imported but unused")[0].code
        'F401'
    """
    found = []
    for line in output.splitlines():
        m = _RUFF_LINE.match(line.rstrip())
        if m:
            found.append(
                Diagnostic(
                    tool="ruff",
                    message=m["msg"],
                    file=m["file"],
                    line=int(m["line"]),
                    column=int(m["col"]),
                    code=m["code"],
                    severity="warning",
                )
            )
    return found


def _source_path(path: str, project_dir: str = "") -> str:
    """``/tmp/sbx/dist/tests/a.test.js`` -> ``tests/a.test.ts`` (the file the model wrote)."""
    p = path.replace("\\", "/")
    if project_dir and p.startswith(project_dir.rstrip("/") + "/"):
        p = p[len(project_dir.rstrip("/")) + 1 :]
    if p.startswith("dist/"):
        p = p[len("dist/") :]
        if p.endswith(".js"):
            p = p[: -len(".js")] + ".ts"
    return p


def _clean_message(message: str, project_dir: str = "") -> str:
    """A runner's failure message without stack frames inside the toolchain."""
    lines = []
    for line in message.splitlines():
        s = line.strip()
        if s.startswith("at ") and (
            "node_modules" in s or "node:internal" in s or "<anonymous>" in s
        ):
            continue
        if project_dir:
            line = line.replace(project_dir.rstrip("/") + "/", "")
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def parse_jest_json(report: str, project_dir: str = "") -> tuple[int, int, list[TestFailure]]:
    """``(passed, failed, failures)`` from jest's ``--json`` report.

    A test file that fails to run at all (syntax error, missing module, a throw at load
    time) counts as one failure named after the file.

    Example::

        >>> rep = {"testResults": [{"name": "/p/dist/tests/a.test.js", "message": "",
        ...   "assertionResults": [
        ...     {"fullName": "adds", "status": "passed", "failureMessages": []},
        ...     {"fullName": "subs", "status": "failed", "failureMessages": ["Expected: 1"]}]}]}
        >>> passed, failed, fails = parse_jest_json(json.dumps(rep), "/p")
        >>> passed, failed, fails[0].name, fails[0].file
        (1, 1, 'subs', 'tests/a.test.ts')
    """
    data = json.loads(report)
    passed = failed = 0
    failures: list[TestFailure] = []
    for suite in data.get("testResults", []):
        file = _source_path(str(suite.get("name", "")), project_dir)
        assertions = suite.get("assertionResults") or []
        for a in assertions:
            status = a.get("status")
            if status == "passed":
                passed += 1
            elif status == "failed":
                failed += 1
                msg = "\n".join(a.get("failureMessages") or []) or "failed"
                failures.append(
                    TestFailure(
                        name=str(a.get("fullName") or a.get("title") or "?"),
                        message=_clean_message(msg, project_dir),
                        file=file,
                    )
                )
        suite_msg = str(suite.get("message") or "")
        if not assertions and (suite.get("status") == "failed" or suite_msg):
            failed += 1
            failures.append(
                TestFailure(
                    name=f"{file} (test file failed to run)",
                    message=_clean_message(suite_msg, project_dir) or "test file failed to run",
                    file=file,
                )
            )
    return passed, failed, failures


def parse_junit_xml(report: str) -> tuple[int, int, list[TestFailure]]:
    """``(passed, failed, failures)`` from pytest's ``--junitxml`` report.

    Example::

        >>> xml = ('<testsuites><testsuite><testcase classname="tests.test_a" name="test_ok"/>'
        ...        '<testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py">'
        ...        '<failure message="assert 1 == 2">details</failure></testcase>'
        ...        '</testsuite></testsuites>')
        >>> passed, failed, fails = parse_junit_xml(xml)
        >>> passed, failed, fails[0].name, fails[0].message.splitlines()[0]
        (1, 1, 'tests.test_a::test_bad', 'assert 1 == 2')
    """
    root = ET.fromstring(report)
    passed = failed = 0
    failures: list[TestFailure] = []
    for case in root.iter("testcase"):
        name = "::".join(p for p in (case.get("classname"), case.get("name")) if p)
        bad = [c for c in case if c.tag in ("failure", "error")]
        skipped = any(c.tag == "skipped" for c in case)
        if bad:
            failed += 1
            el = bad[0]
            msg = (el.get("message") or "").strip()
            detail = (el.text or "").strip()
            if detail and detail != msg:
                msg = f"{msg}\n{detail}" if msg else detail
            file = case.get("file")
            if not file and case.get("classname"):
                file = str(case.get("classname")).replace(".", "/") + ".py"
            failures.append(TestFailure(name=name or "?", message=msg or el.tag, file=file))
        elif not skipped:
            passed += 1
    return passed, failed, failures


def _fill(result: ValidationResult) -> ValidationResult:
    for d in result.diagnostics:
        if not d.fingerprint:
            d.fingerprint = fingerprint_diagnostic(d)
    for f in result.failures:
        if not f.fingerprint:
            f.fingerprint = fingerprint_failure(f)
    return result


class _Validator(Executor):
    """Shared machinery: toolchain per language, sandbox with the toolchain visible."""

    kind = ExecutorKind.VALIDATOR
    default_id = "validator"

    def __init__(
        self,
        id: str | None = None,
        *,
        toolchain: Toolchain | None = None,
        sandbox: Sandbox | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(id if id is not None else self.default_id)
        if toolchain is not None and not isinstance(toolchain, Toolchain):
            raise TypeError(
                f"validator {self.id!r}: toolchain must be a TypeScriptToolchain or "
                f"PythonToolchain, got {type(toolchain).__name__}"
            )
        if sandbox is not None and not isinstance(sandbox, Sandbox):
            raise TypeError(
                f"validator {self.id!r}: sandbox must be a Sandbox, got {type(sandbox).__name__}"
            )
        self.toolchain = toolchain
        self.sandbox = sandbox
        self.run_timeout = timeout
        self._toolchains: dict[str, Toolchain] = {}
        self._sandboxes: dict[str, Sandbox] = {}

    def _toolchain_for(self, bundle: CodeBundle) -> Toolchain:
        language = bundle.task.language
        if self.toolchain is not None:
            if self.toolchain.language != language:
                raise ValueError(
                    f"validator {self.id!r} has a {self.toolchain.language} toolchain but the "
                    f"task is in {language!r}: pass toolchain= for that language"
                )
            return self.toolchain
        if language not in self._toolchains:
            self._toolchains[language] = get_toolchain(language)
        return self._toolchains[language]

    def _ensure(self, tc: Toolchain) -> None:
        try:
            tc.ensure()
        except ToolchainError as exc:
            # Same class, message prefixed with the executor: the run's error names it.
            raise type(exc)(f"validator {self.id!r}: {exc}") from exc

    def _sandbox_for(self, tc: Toolchain) -> Sandbox:
        key = tc.language
        if key not in self._sandboxes:
            base = self.sandbox if self.sandbox is not None else Sandbox(timeout=60.0)
            self._sandboxes[key] = base.with_paths(*tc.readonly_paths)
        return self._sandboxes[key]

    def _empty(self, bundle: CodeBundle, start: float) -> ValidationResult | None:
        if any(text.strip() for text in bundle.files.values()):
            return None
        reason = f"{self.id}: the bundle has no code to check (every generator returned nothing)"
        return ValidationResult(
            validator=self.id,
            passed=False,
            diagnostics=[Diagnostic(tool=self.id, message="no source files to check")],
            duration=time.perf_counter() - start,
            bundle=bundle,
            attempt=bundle.attempt,
            reason=reason,
        )

    def _killed(self, tool: str, res: SandboxResult) -> str:
        if not res.killed_reason:
            return ""
        hint = ""
        if res.timed_out:
            hint = " (an infinite loop, or a test that never finishes?)"
        return f"{self.id}: {tool} was stopped by the sandbox: {res.killed_reason}{hint}"

    async def _run(
        self,
        proj: SandboxProject,
        argv: list[str],
        tc: Toolchain,
        collect: tuple[str, ...] = (),
    ) -> SandboxResult:
        env: Mapping[str, str] = tc.env()
        return await proj.run(argv, timeout=self.run_timeout, env=env, collect=collect)

    async def check(self, bundle: CodeBundle, acceptance: bool = False) -> ValidationResult:
        """Validate ``bundle``; never raises for anything the code does."""
        raise NotImplementedError

    async def _emit(self, bundle: CodeBundle | None, ctx: WorkflowContext[Any], src: str) -> None:
        if bundle is None:
            await ctx.send_message(
                ValidationResult(
                    validator=self.id,
                    passed=False,
                    reason=f"{self.id}: the ValidationResult from {src!r} carries no bundle",
                )
            )
            return
        await ctx.send_message(await self.check(bundle))

    def describe(self) -> str:
        tc = self.toolchain.language if self.toolchain else "by task language"
        return f"{type(self).__name__}(id={self.id!r}, toolchain={tc})"


class CompileValidator(_Validator):
    """Type-checks a bundle: ``tsc --noEmit`` (TypeScript) or ``mypy`` (Python).

    Example::

        >>> CompileValidator().kind.value, CompileValidator().id
        ('validator', 'compile_val')
    """

    default_id = "compile_val"

    @handler
    async def on_bundle(self, bundle: CodeBundle, ctx: WorkflowContext[ValidationResult]) -> None:
        await self._emit(bundle, ctx, "bundle")

    async def check(self, bundle: CodeBundle, acceptance: bool = False) -> ValidationResult:
        start = time.perf_counter()
        empty = self._empty(bundle, start)
        if empty is not None:
            return empty
        tc = self._toolchain_for(bundle)
        self._ensure(tc)
        sandbox = self._sandbox_for(tc)
        tool = "tsc" if isinstance(tc, TypeScriptToolchain) else "mypy"
        async with sandbox.project(tc.scaffold(bundle.files)) as proj:
            res = await self._run(proj, tc.compile_argv(), tc)
        out = res.output
        diags = parse_tsc(out) if tool == "tsc" else parse_mypy(out)
        errors = [d for d in diags if d.severity == "error"]
        reason = self._killed(tool, res)
        if res.returncode != 0 and not errors and not reason:
            reason = f"{self.id}: {tool} exited {res.returncode} without a parsable diagnostic"
            errors.append(Diagnostic(tool=tool, message=_tail(out, 1000) or reason))
            diags.append(errors[-1])
        passed = res.returncode == 0 and not errors and not reason
        return _fill(
            ValidationResult(
                validator=self.id,
                passed=passed,
                diagnostics=diags,
                duration=time.perf_counter() - start,
                output_tail=_tail(out),
                bundle=bundle,
                attempt=bundle.attempt,
                reason=reason,
            )
        )


class TestValidator(_Validator):
    """Runs the tests: ``tsc`` to ``dist/`` then ``jest --json`` (or ``pytest --junitxml``).

    ``acceptance=True`` (here or per :meth:`check`) runs the task's hidden
    ``acceptance_tests`` instead of the generated tests: benchmarks judge with them.
    A run killed by the sandbox (an infinite loop) is a failed result with the reason.

    Example::

        >>> TestValidator().id, TestValidator(acceptance=True).acceptance
        ('test_val', True)
    """

    __test__ = False  # not a pytest test class
    default_id = "test_val"
    _REPORT_TS = ".agentic-jest.json"
    _REPORT_PY = ".agentic-junit.xml"

    def __init__(
        self,
        id: str | None = None,
        *,
        toolchain: Toolchain | None = None,
        sandbox: Sandbox | None = None,
        timeout: float | None = None,
        acceptance: bool = False,
        test_timeout_ms: int = 5000,
    ) -> None:
        super().__init__(id, toolchain=toolchain, sandbox=sandbox, timeout=timeout)
        self.acceptance = acceptance
        self.test_timeout_ms = test_timeout_ms

    @handler
    async def on_result(
        self, previous: ValidationResult, ctx: WorkflowContext[ValidationResult]
    ) -> None:
        await self._emit(previous.bundle, ctx, previous.validator)

    @handler
    async def on_bundle(self, bundle: CodeBundle, ctx: WorkflowContext[ValidationResult]) -> None:
        await self._emit(bundle, ctx, "bundle")

    def _files(self, bundle: CodeBundle, acceptance: bool) -> dict[str, str] | str:
        if not acceptance:
            return bundle.files
        hidden = bundle.task.acceptance_tests
        if not hidden:
            return f"{self.id}: the task has no acceptance_tests to run (acceptance=True)"
        files: dict[str, str] = {}
        for art in bundle.artifacts:
            if art.role != "tests":
                files.update(art.files)
        for path, text in hidden.items():
            # The toolchains compile and collect tests under tests/ only; a hidden test kept
            # elsewhere (the library's acceptance/<name>...) sits beside src/ as tests/ do,
            # so moving it to tests/<basename> keeps its relative imports ("../src/x").
            parts = path.split("/")
            if parts[0] != "tests":
                path = "tests/" + parts[-1]
            files[path] = text
        return files

    async def check(self, bundle: CodeBundle, acceptance: bool | None = None) -> ValidationResult:
        start = time.perf_counter()
        use_acceptance = self.acceptance if acceptance is None else acceptance
        empty = self._empty(bundle, start)
        if empty is not None:
            return empty
        files = self._files(bundle, use_acceptance)
        if isinstance(files, str):
            return ValidationResult(
                validator=self.id, passed=False, bundle=bundle, attempt=bundle.attempt, reason=files
            )
        tc = self._toolchain_for(bundle)
        self._ensure(tc)
        sandbox = self._sandbox_for(tc)
        diags: list[Diagnostic] = []
        outputs: list[str] = []
        reason = ""
        passed_n = failed_n = 0
        failures: list[TestFailure] = []
        async with sandbox.project(tc.scaffold(files)) as proj:
            if isinstance(tc, TypeScriptToolchain):
                build = await self._run(proj, tc.build_argv(), tc)
                outputs.append(build.output)
                diags = [d for d in parse_tsc(build.output) if d.severity == "error"]
                reason = self._killed("tsc", build)
                if build.returncode != 0 and not diags and not reason:
                    reason = f"{self.id}: tsc exited {build.returncode} while compiling the tests"
                report, tool = self._REPORT_TS, "jest"
            else:
                report, tool = self._REPORT_PY, "pytest"
            res: SandboxResult | None = None
            if not reason:
                argv = tc.test_argv(report, self.test_timeout_ms)
                res = await self._run(proj, argv, tc, collect=(report,))
                outputs.append(res.output)
                reason = self._killed(tool, res)
                text = res.files.get(report)
                if not reason:
                    try:
                        if text is None:
                            raise ValueError("no report was written")
                        if tool == "jest":
                            passed_n, failed_n, failures = parse_jest_json(text, str(proj.path))
                        else:
                            passed_n, failed_n, failures = parse_junit_xml(text)
                    except (ValueError, ET.ParseError) as exc:
                        reason = f"{self.id}: {tool} gave no readable report ({exc})"
        if not reason and passed_n + failed_n == 0:
            reason = f"{self.id}: {tool} found no tests to run"
        if diags and not reason:
            reason = f"{self.id}: the tests do not compile ({len(diags)} type errors)"
        ok = res is not None and res.returncode == 0
        passed = not reason and ok and failed_n == 0 and passed_n > 0
        if not passed and not reason and failed_n == 0:
            reason = f"{self.id}: {tool} exited {res.returncode if res else '?'}"
        return _fill(
            ValidationResult(
                validator=self.id,
                passed=passed,
                diagnostics=diags,
                tests_passed=passed_n,
                tests_failed=failed_n,
                failures=failures,
                duration=time.perf_counter() - start,
                output_tail=_tail("\n".join(o for o in outputs if o)),
                bundle=bundle,
                attempt=bundle.attempt,
                reason=reason,
            )
        )


class LintValidator(_Validator):
    """Optional style check: ``tsc`` with extra strictness flags, or ``ruff`` for Python.

    Its diagnostics are warnings; ``passed`` is False when there is any.

    Example::

        >>> LintValidator().id
        'lint_val'
    """

    default_id = "lint_val"
    RUFF_RULES = ("E4", "E7", "E9", "F", "B")
    TS_FLAGS = (
        "--noUnusedLocals",
        "--noUnusedParameters",
        "--noImplicitReturns",
        "--noFallthroughCasesInSwitch",
    )

    @handler
    async def on_bundle(self, bundle: CodeBundle, ctx: WorkflowContext[ValidationResult]) -> None:
        await self._emit(bundle, ctx, "bundle")

    @handler
    async def on_result(
        self, previous: ValidationResult, ctx: WorkflowContext[ValidationResult]
    ) -> None:
        await self._emit(previous.bundle, ctx, previous.validator)

    async def check(self, bundle: CodeBundle, acceptance: bool = False) -> ValidationResult:
        start = time.perf_counter()
        empty = self._empty(bundle, start)
        if empty is not None:
            return empty
        tc = self._toolchain_for(bundle)
        self._ensure(tc)
        sandbox = self._sandbox_for(tc)
        if isinstance(tc, TypeScriptToolchain):
            argv, tool = [*tc.compile_argv(), *self.TS_FLAGS], "tsc"
        else:
            argv, tool = self._ruff_argv(), "ruff"
        async with sandbox.project(tc.scaffold(bundle.files)) as proj:
            res = await self._run(proj, argv, tc)
        out = res.output
        diags = parse_tsc(out, tool="tsc-lint") if tool == "tsc" else parse_ruff(out)
        for d in diags:
            d.severity = "warning"
        reason = self._killed(tool, res)
        passed = not diags and not reason and res.returncode == 0
        if not passed and not diags and not reason:
            reason = f"{self.id}: {tool} exited {res.returncode}"
        return _fill(
            ValidationResult(
                validator=self.id,
                passed=passed,
                diagnostics=diags,
                duration=time.perf_counter() - start,
                output_tail=_tail(out),
                bundle=bundle,
                attempt=bundle.attempt,
                reason=reason,
            )
        )

    def _ruff_argv(self) -> list[str]:
        import shutil
        import sys
        from pathlib import Path

        from ._toolchain import ToolchainMissingError

        exe = Path(sys.executable).parent / "ruff"
        found = str(exe) if exe.exists() else shutil.which("ruff")
        if found is None:
            raise ToolchainMissingError(
                f"validator {self.id!r}: Python linting needs ruff: run  pip install ruff"
            )
        return [
            found,
            "check",
            "--isolated",
            f"--select={','.join(self.RUFF_RULES)}",
            "--output-format=concise",
            "--no-cache",
            "--quiet",
            ".",
        ]
