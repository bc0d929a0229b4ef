"""The flows with the SimulatedCoder (a simulation of a model) and the REAL toolchains.

Seeds are fixed, so each run takes the same path every time; what is checked is that
the graph's loop repairs what the simulated model got wrong, and that the hidden
acceptance tests catch what the linear loop's own tests share with its code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentic_nb.codegen import (
    CodeArtifact,
    CodeBundle,
    CodeTask,
    GeneratedProject,
    PythonToolchain,
    SimulatedCoder,
    TestValidator,
    codegen_workflow,
    get_task,
    linear_codegen,
)


def _accepted(task: CodeTask, project: GeneratedProject, toolchain: Any, sandbox: Any) -> bool:
    src = {p: t for p, t in project.files.items() if not p.startswith("tests/")}
    assert task.acceptance_tests
    hidden = {"tests/" + p.rsplit("/", 1)[-1]: t for p, t in task.acceptance_tests.items()}
    bundle = CodeBundle(task, [CodeArtifact("impl", src), CodeArtifact("tests", hidden)])
    judge = TestValidator(id="acceptance", toolchain=toolchain, sandbox=sandbox)
    return asyncio.run(judge.check(bundle)).passed


def test_graph_repairs_the_simulated_mistakes(ts_toolchain: Any, sandbox: Any) -> None:
    task = get_task("state_machine")
    coder = SimulatedCoder(seed=0)
    wf = codegen_workflow(client=coder, toolchain=ts_toolchain, sandbox=sandbox)
    project = wf.run_sync(task).get_output(GeneratedProject)
    assert project is not None and project.passed and project.attempts == 3
    made = [m for a in coder.answers for m in a.mistakes]
    repaired = [m for a in coder.answers for m in a.repaired]
    assert sorted(made) == sorted(repaired) and made  # every mistake was fed back and fixed
    assert [a.roles for a in coder.answers].count(("tests",)) == 2  # the bad test went back
    assert _accepted(task, project, ts_toolchain, sandbox)


def test_linear_own_tests_share_the_codes_mistake(ts_toolchain: Any, sandbox: Any) -> None:
    task = get_task("state_machine")
    coder = SimulatedCoder(seed=0)
    wf = linear_codegen(coder, toolchain=ts_toolchain, sandbox=sandbox)
    project = wf.run_sync(task).get_output(GeneratedProject)
    assert project is not None and project.passed and project.attempts == 1
    assert coder.answers[0].mirrored  # the tests were written to agree with the bug
    assert not _accepted(task, project, ts_toolchain, sandbox)  # hidden tests catch it


def test_python_flow_with_mypy_and_pytest(sandbox: Any) -> None:
    task = get_task("merge_intervals")
    coder = SimulatedCoder(seed=0)
    wf = codegen_workflow(
        client=coder, language="python", toolchain=PythonToolchain(), sandbox=sandbox
    )
    project = wf.run_sync(task).get_output(GeneratedProject)
    assert project is not None and project.passed and project.attempts == 3
    first, second = project.history[:2]
    assert first.validator == "compile_val" and first.diagnostics[0].tool == "mypy"
    assert second.validator == "test_val" and second.failures
