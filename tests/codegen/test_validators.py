"""Validators on small hand-written projects, with the real tsc / jest / mypy / pytest."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentic_nb.codegen._sandbox import Sandbox
from agentic_nb.codegen._toolchain import (
    PythonToolchain,
    ToolchainError,
    ToolchainMissingError,
    TypeScriptToolchain,
)
from agentic_nb.codegen._types import CodeArtifact, CodeBundle, CodeTask, ValidationResult
from agentic_nb.codegen._validators import (
    CompileValidator,
    LintValidator,
    TestValidator,
    parse_jest_json,
    parse_mypy,
    parse_tsc,
)
from agentic_nb.workflow import ExecutorKind, WorkflowBuilder, WorkflowContext, executor

ADD_TS = "export function add(a: number, b: number): number {\n  return a + b;\n}\n"
ADD_TEST_TS = (
    "import { add } from '../src/add';\n"
    "describe('add', () => {\n"
    "  test('adds', () => { expect(add(1, 2)).toBe(3); });\n"
    "  test('zero', () => { expect(add(0, 0)).toBe(0); });\n"
    "});\n"
)
FAILING_TEST_TS = (
    "import { add } from '../src/add';\n"
    "test('adds', () => { expect(add(1, 2)).toBe(3); });\n"
    "test('wrong expectation', () => { expect(add(2, 2)).toBe(5); });\n"
)
ACCEPTANCE_TS = {
    "tests/add.acceptance.test.ts": (
        "import { add } from '../src/add';\n"
        "test('hidden', () => { expect(add(20, 22)).toBe(42); });\n"
    )
}


@pytest.fixture(scope="module")
def ts() -> TypeScriptToolchain:
    tc = TypeScriptToolchain()
    tc.ensure()  # installed by scripts/setup.sh; missing is a loud failure naming the command
    return tc


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(timeout=60.0)


def ts_bundle(impl: str = ADD_TS, tests: str | None = ADD_TEST_TS, **task: object) -> CodeBundle:
    t = CodeTask("add two numbers", name="add", **task)  # type: ignore[arg-type]
    arts = [CodeArtifact("impl", {"src/add.ts": impl}, producer="impl_gen")]
    if tests is not None:
        arts.append(CodeArtifact("tests", {"tests/add.test.ts": tests}, producer="test_gen"))
    return CodeBundle(t, arts, attempt=2)


async def test_passing_typescript_project(ts: TypeScriptToolchain, sandbox: Sandbox) -> None:
    bundle = ts_bundle(acceptance_tests=ACCEPTANCE_TS)
    comp = await CompileValidator(toolchain=ts, sandbox=sandbox).check(bundle)
    assert comp.passed, comp
    assert comp.validator == "compile_val" and comp.bundle is bundle and comp.attempt == 2
    assert comp.diagnostics == [] and comp.reason == ""
    test = await TestValidator(toolchain=ts, sandbox=sandbox).check(bundle)
    assert test.passed, test
    assert (test.tests_passed, test.tests_failed) == (2, 0)
    hidden = await TestValidator(toolchain=ts, sandbox=sandbox, acceptance=True).check(bundle)
    assert hidden.passed and (hidden.tests_passed, hidden.tests_failed) == (1, 0), hidden


async def test_type_error_is_parsed_per_file_line_code(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    impl = "export function add(a: number, b: number): number {\n  return `${a}${b}`;\n}\n"
    res = await CompileValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(impl))
    assert not res.passed
    [d] = res.diagnostics
    assert (d.tool, d.file, d.line, d.code) == ("tsc", "src/add.ts", 2, "TS2322")
    assert "not assignable to type 'number'" in d.message
    assert d.fingerprint  # filled in with the flow's fingerprinter
    assert "src/add.ts(2," in res.output_tail


async def test_a_type_error_inside_the_generated_tests_names_the_test_file(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    tests = "import { add } from '../src/add';\ntest('t', () => { add('1', 2); });\n"
    res = await CompileValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(tests=tests))
    assert not res.passed
    assert [(d.file, d.code) for d in res.diagnostics] == [("tests/add.test.ts", "TS2345")]


async def test_failing_test_is_reported_per_test(ts: TypeScriptToolchain, sandbox: Sandbox) -> None:
    res = await TestValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(tests=FAILING_TEST_TS))
    assert not res.passed
    assert (res.tests_passed, res.tests_failed) == (1, 1)
    [f] = res.failures
    assert f.name == "wrong expectation" and f.file == "tests/add.test.ts"
    assert "Expected: 5" in f.message and "Received: 4" in f.message
    assert "node_modules" not in f.message  # toolchain stack frames are dropped
    assert f.fingerprint
    assert res.reason == ""


async def test_acceptance_runs_the_hidden_tests_not_the_generated_ones(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    # Generated tests fail (they contradict the task) but the hidden acceptance tests pass...
    bundle = ts_bundle(tests=FAILING_TEST_TS, acceptance_tests=ACCEPTANCE_TS)
    val = TestValidator(toolchain=ts, sandbox=sandbox)
    assert not (await val.check(bundle)).passed
    res = await val.check(bundle, acceptance=True)
    assert res.passed and res.tests_passed == 1, res
    # ...and an implementation that passes its own tests can fail the hidden ones.
    sub = "export function add(a: number, b: number): number { return a === 20 ? 0 : a + b; }\n"
    res = await val.check(ts_bundle(sub, acceptance_tests=ACCEPTANCE_TS), acceptance=True)
    assert not res.passed and res.failures[0].name == "hidden"
    # No hidden tests: a clear reason, not a crash.
    res = await val.check(ts_bundle(), acceptance=True)
    assert not res.passed and "no acceptance_tests" in res.reason


async def test_infinite_loop_is_killed_at_the_timeout_and_reported(
    ts: TypeScriptToolchain,
) -> None:
    impl = "export function add(a: number, b: number): number {\n  while (true) {}\n}\n"
    val = TestValidator(toolchain=ts, sandbox=Sandbox(timeout=8.0))
    start = time.monotonic()
    res = await val.check(ts_bundle(impl))
    assert time.monotonic() - start < 30
    assert not res.passed
    assert res.reason.startswith("test_val: jest was stopped by the sandbox: timeout after 8s")
    assert "infinite loop" in res.reason


async def test_a_test_file_that_throws_at_load_time_is_one_failure(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    tests = "import { add } from '../src/add';\nthrow new Error('boom at load');\n"
    tests += "test('x', () => {});\n"
    res = await TestValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(tests=tests))
    assert not res.passed and res.tests_failed == 1
    assert "boom at load" in res.failures[0].message
    assert res.failures[0].file == "tests/add.test.ts"


async def test_gigantic_output_is_truncated_in_the_tail(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    tests = (
        "import { add } from '../src/add';\n"
        "test('noisy', () => {\n"
        "  for (let i = 0; i < 40; i++) process.stdout.write('y'.repeat(1000000));\n"
        "  expect(add(1, 1)).toBe(2);\n"
        "});\n"
    )
    res = await TestValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(tests=tests))
    assert res.passed and res.tests_passed == 1, res.reason
    assert len(res.output_tail) < 5000


async def test_a_fork_bomb_in_generated_code_is_contained(
    ts: TypeScriptToolchain,
) -> None:
    tests = (
        "import { add } from '../src/add';\n"
        "import { spawn } from 'child_process';\n"
        "test('bomb', () => {\n"
        "  for (let i = 0; i < 5000; i++) {\n"
        "    try { spawn('sleep', ['300']).on('error', () => {}); } catch (e) { /* EAGAIN */ }\n"
        "  }\n"
        "  expect(add(1, 1)).toBe(2);\n"
        "});\n"
    )
    val = TestValidator(toolchain=ts, sandbox=Sandbox(timeout=20.0, max_processes=128))
    start = time.monotonic()
    res = await val.check(ts_bundle(tests=tests))
    assert time.monotonic() - start < 60
    assert isinstance(res, ValidationResult) and res.validator == "test_val"
    # The spawned sleeps keep jest from exiting: the sandbox stops it at its timeout.
    assert not res.passed and "stopped by the sandbox" in res.reason
    # Whatever jest reports, nothing the bomb started survives the sandbox.
    deadline = time.monotonic() + 5
    while any(_is_sandbox_sleep(p) for p in os.listdir("/proc")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_is_sandbox_sleep(p) for p in os.listdir("/proc"))


def _is_sandbox_sleep(pid: str) -> bool:
    try:
        return pid.isdigit() and Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x00300\x00"
    except OSError:
        return False


async def test_empty_bundle_is_a_failed_result_not_a_crash(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    bundle = CodeBundle(CodeTask("x", name="x"), [CodeArtifact("impl", {}, problems=[])])
    for val in (CompileValidator(toolchain=ts, sandbox=sandbox), TestValidator(toolchain=ts)):
        res = await val.check(bundle)
        assert not res.passed and "no code to check" in res.reason and val.id in res.reason


async def test_missing_toolchain_is_a_clear_error(tmp_path: Path) -> None:
    val = CompileValidator(toolchain=TypeScriptToolchain(path=tmp_path / "none"))
    with pytest.raises(ToolchainMissingError, match=r"agentic_nb\.codegen install typescript") as e:
        await val.check(ts_bundle())
    assert str(e.value).startswith("validator 'compile_val': ")
    # A broken cache: the error names the validator and the path.
    (tmp_path / "broken" / "node_modules").mkdir(parents=True)
    (tmp_path / "broken" / ".agentic-nb-complete").write_text("x")
    val = TestValidator(toolchain=TypeScriptToolchain(path=tmp_path / "broken"))
    with pytest.raises(ToolchainError, match=r"validator 'test_val': .* is broken") as e2:
        await val.check(ts_bundle())
    assert str(tmp_path / "broken") in str(e2.value)


async def test_toolchain_of_the_wrong_language_is_refused(ts: TypeScriptToolchain) -> None:
    bundle = CodeBundle(
        CodeTask("x", language="python"), [CodeArtifact("impl", {"src/x.py": "x = 1\n"})]
    )
    with pytest.raises(ValueError, match="typescript toolchain but the task is in 'python'"):
        await CompileValidator(toolchain=ts).check(bundle)
    with pytest.raises(TypeError, match="toolchain must be"):
        CompileValidator(toolchain="tsc")  # type: ignore[arg-type]


# -- Python -------------------------------------------------------------------------

ADD_PY = "def add(a: int, b: int) -> int:\n    return a + b\n"
ADD_TEST_PY = (
    "from add import add\n\n\ndef test_adds() -> None:\n    assert add(1, 2) == 3\n\n\n"
    "def test_wrong() -> None:\n    assert add(2, 2) == 5\n"
)


def py_bundle(impl: str = ADD_PY, tests: str = ADD_TEST_PY) -> CodeBundle:
    t = CodeTask("add two numbers", language="python", name="add")
    return CodeBundle(
        t,
        [
            CodeArtifact("impl", {"src/add.py": impl}),
            CodeArtifact("tests", {"tests/test_add.py": tests}),
        ],
    )


async def test_python_compile_with_mypy() -> None:
    val = CompileValidator()
    ok = await val.check(py_bundle())
    assert ok.passed, ok
    bad = await val.check(py_bundle("def add(a: int, b: int) -> int:\n    return str(a + b)\n"))
    assert not bad.passed
    [d] = bad.diagnostics
    assert (d.tool, d.file, d.line, d.code) == ("mypy", "src/add.py", 2, "return-value")


async def test_python_tests_with_pytest() -> None:
    res = await TestValidator().check(py_bundle())
    assert not res.passed and (res.tests_passed, res.tests_failed) == (1, 1)
    [f] = res.failures
    assert f.name.endswith("test_wrong") and f.file == "tests/test_add.py"
    assert "assert 4 == 5" in f.message
    fixed = ADD_TEST_PY.replace("== 5", "== 4")
    assert (await TestValidator().check(py_bundle(tests=fixed))).passed


async def test_python_infinite_loop_is_killed() -> None:
    val = TestValidator(sandbox=Sandbox(timeout=5.0))
    res = await val.check(
        py_bundle("def add(a: int, b: int) -> int:\n    while True:\n        pass\n")
    )
    assert not res.passed and "timeout after 5s" in res.reason


# -- Lint ---------------------------------------------------------------------------


async def test_lint_validator(ts: TypeScriptToolchain, sandbox: Sandbox) -> None:
    impl = ADD_TS.replace("  return", "  const unused = 1;\n  return")
    res = await LintValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle(impl))
    assert not res.passed
    assert [(d.code, d.severity) for d in res.diagnostics] == [("TS6133", "warning")]
    assert (await LintValidator(toolchain=ts, sandbox=sandbox).check(ts_bundle())).passed
    py = await LintValidator().check(py_bundle("import os\n" + ADD_PY))
    assert not py.passed and [d.code for d in py.diagnostics] == ["F401"]


# -- As executors in a workflow ------------------------------------------------------


async def test_validators_are_validator_executors_in_a_workflow(
    ts: TypeScriptToolchain, sandbox: Sandbox
) -> None:
    compile_val = CompileValidator(toolchain=ts, sandbox=sandbox)
    test_val = TestValidator(toolchain=ts, sandbox=sandbox)
    assert compile_val.kind is ExecutorKind.VALIDATOR and test_val.kind is ExecutorKind.VALIDATOR

    @executor(id="report")
    async def report(res: ValidationResult, ctx: WorkflowContext[None, ValidationResult]) -> None:
        await ctx.yield_output(res)

    wf = (
        WorkflowBuilder(name="validate", start=compile_val)
        .add_edge(compile_val, test_val, condition=lambda r: r.passed)
        .add_edge(compile_val, report, condition=lambda r: not r.passed)
        .add_edge(test_val, report)
        .build()
    )
    result = await wf.run(ts_bundle(tests=FAILING_TEST_TS))
    [out] = result.outputs
    assert out.validator == "test_val" and out.tests_failed == 1 and out.bundle is not None
    bad = await wf.run(ts_bundle("export const add = 1;\n"))
    [out] = bad.outputs
    assert out.validator == "compile_val" and not out.passed


# -- Parsers -------------------------------------------------------------------------


def test_parse_tsc_continuations_and_global_errors() -> None:
    out = (
        "src/a.ts(4,3): error TS2322: Type '{ a: number; }' is not assignable to type 'B'.\n"
        "  Object literal may only specify known properties.\n"
        "error TS5011: The common source directory of 'tsconfig.json' is './src'.\n"
    )
    a, b = parse_tsc(out)
    assert a.message.endswith("Object literal may only specify known properties.")
    assert (b.file, b.code) == (None, "TS5011")


def test_parse_mypy_attaches_notes() -> None:
    out = (
        "src/a.py:3:1: error: Missing return statement  [return]\n"
        "src/a.py:3:1: note: See https://mypy.rtfd.io\n"
    )
    [d] = parse_mypy(out)
    assert d.code == "return" and "See https" in d.message


def test_parse_jest_json_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        parse_jest_json("not json")


def test_python_toolchain_is_used_for_python_tasks() -> None:
    val = CompileValidator()
    assert isinstance(val._toolchain_for(py_bundle()), PythonToolchain)


async def test_acceptance_mode_runs_the_library_hidden_tests_where_they_are_kept() -> None:
    # The library keeps hidden tests under acceptance/; they must run, not be "no tests found".
    from agentic_nb.codegen import CodeArtifact, CodeBundle, TestValidator, get_task

    task = get_task("lru_cache")
    assert task.reference is not None and task.acceptance_tests is not None
    assert all(p.startswith("acceptance/") for p in task.acceptance_tests)
    arts = [
        CodeArtifact(role, {p: t for p, t in task.reference.items() if p.startswith(prefix)})
        for role, prefix in (("types", "src/types"), ("impl", "src/lru"), ("tests", "tests/"))
    ]
    result = await TestValidator(acceptance=True).check(CodeBundle(task, arts))
    assert result.passed, result.output_tail
    assert result.tests_passed > 0 and result.tests_failed == 0
