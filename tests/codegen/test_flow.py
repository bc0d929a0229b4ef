"""codegen_workflow and linear_codegen end to end, with REAL tsc and jest in the sandbox.

The model is a role-scripted ScriptedChatClient (a test double) so each path through
the graph is exact; the SimulatedCoder runs in test_flow_simulated.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentic_nb.codegen import CodeTask, GeneratedProject
from agentic_nb.codegen._flow import ReviewDecision, ReviewRequest, codegen_workflow
from agentic_nb.codegen._linear import linear_codegen
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.workflow import Custom, ExecutorCompleted, FileCheckpointStorage

from .conftest import role_client

TASK = CodeTask(
    "Write a counter: makeCounter(start = 0) returns a Counter whose increment(by = 1) adds "
    "`by` and returns the new value, and value() returns the current value.",
    constraints=["src/counter.ts exports function makeCounter(start?: number): Counter"],
    name="counter",
)
TYPES = """```ts src/types.ts
export interface Counter {
  increment(by?: number): number;
  value(): number;
}
```"""
IMPL = """Here is the implementation.
```ts src/counter.ts
import { Counter } from "./types";

export function makeCounter(start = 0): Counter {
  let n = start;
  return {
    increment(by = 1) {
      n += by;
      return n;
    },
    value() {
      return n;
    },
  };
}
```"""
IMPL_TYPE_ERROR = IMPL.replace("let n = start;", 'let n: number = "zero";')
IMPL_OFF_BY_ONE = IMPL.replace("n += by;", "n += by + 1;")
TESTS = """```ts tests/counter.test.ts
import { makeCounter } from "../src/counter";

test("starts at the given value", () => {
  expect(makeCounter(5).value()).toBe(5);
});

test("increments by one by default", () => {
  const c = makeCounter();
  c.increment();
  expect(c.value()).toBe(1);
});
```"""
TESTS_CONTRADICTING = TESTS.replace("toBe(5)", "toBe(0)")


def _prompts(client: ScriptedChatClient, role: str) -> list[str]:
    texts = [r.messages[-1].text for r in client.requests]
    return [t for t in texts if t.startswith(f"ROLE: {role}\n")]


def _project(result: Any) -> GeneratedProject:
    assert result.status == "completed", (result.status, result.error)
    [project] = result.outputs
    assert isinstance(project, GeneratedProject)
    return project


def test_graph_shape_follows_the_specification(ts_validators: Callable[[], list[Any]]) -> None:
    wf = codegen_workflow(client=role_client({}), validators=ts_validators())
    ids = [e.id for e in wf.executors]
    for expected in ["task", "type_gen", "test_gen", "impl_gen", "assembler", "compile_val"]:
        assert expected in ids
    assert {"test_val", "feedback", "finish"} <= set(ids)
    assert wf.start_executor_id == "task"
    edges = {(e.sources, e.targets, e.label) for e in wf.edges}
    flat = {(s, t, lab) for ss, ts, lab in edges for s in ss for t in ts}
    assert ("task", "type_gen", None) in flat and ("task", "test_gen", None) in flat
    assert ("type_gen", "impl_gen", None) in flat and ("type_gen", "assembler", None) in flat
    assert ("compile_val", "test_val", "on_compile_success") in flat
    assert ("compile_val", "feedback", "on_compile_failure") in flat
    assert ("test_val", "feedback", "on_test_failure") in flat
    assert ("feedback", "impl_gen", "fix the implementation") in flat
    assert ("feedback", "test_gen", "fix the tests") in flat
    dot = wf.to_dot()
    assert "on_compile_failure" in dot and "fix the tests" in dot


def test_a_run_that_passes_first_time(ts_validators: Callable[[], list[Any]]) -> None:
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [IMPL]})
    result = codegen_workflow(client=client, validators=ts_validators()).run_sync(TASK)
    project = _project(result)
    assert project.passed and project.attempts == 1 and project.reason == ""
    assert sorted(project.files) == ["src/counter.ts", "src/types.ts", "tests/counter.test.ts"]
    assert project.validation.validator == "test_val" and project.validation.tests_passed == 2
    assert project.stats["model_calls"] == 3 and project.stats["validator_runs"] == 2
    # ImplGen was written against the types TypeGen produced; TestGen never saw an impl.
    assert "export interface Counter" in _prompts(client, "impl")[0]
    assert "makeCounter(start = 0): Counter {" not in _prompts(client, "tests")[0]


def test_feedback_loop_repairs_a_type_error(ts_validators: Callable[[], list[Any]]) -> None:
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR, IMPL]})
    project = _project(codegen_workflow(client=client, validators=ts_validators()).run_sync(TASK))
    assert project.passed and project.attempts == 2
    first = project.history[0]
    assert first.validator == "compile_val" and not first.passed
    [diag] = [d for d in first.diagnostics if d.severity == "error"]
    assert diag.code == "TS2322" and diag.file == "src/counter.ts" and diag.fingerprint
    retry = _prompts(client, "impl")[1]
    assert "FEEDBACK:" in retry and f"[fp:{diag.fingerprint}]" in retry
    assert "Your previous answer:" in retry and '"zero"' in retry
    # TypeGen and TestGen ran once: only the implementation looped.
    assert len(_prompts(client, "types")) == 1 and len(_prompts(client, "tests")) == 1


def test_a_contradicting_test_is_routed_to_testgen(ts_validators: Callable[[], list[Any]]) -> None:
    client = role_client(
        {"types": [TYPES], "tests": [TESTS_CONTRADICTING, TESTS], "impl": [IMPL, IMPL]}
    )
    project = _project(codegen_workflow(client=client, validators=ts_validators()).run_sync(TASK))
    assert project.passed, project.reason
    assert project.attempts == 3
    assert [r.validator for r in project.history] == ["test_val", "test_val", "test_val"]
    # The implementation was asked once to fix it; when the same test still failed,
    # the tests generator was asked to check the test against the task.
    tests_retry = _prompts(client, "tests")[1]
    assert "NOTE: these tests still fail" in tests_retry
    assert "starts at the given value" in tests_retry.split("FEEDBACK:")[1]


def test_tests_that_do_not_compile_go_back_to_testgen(
    ts_validators: Callable[[], list[Any]],
) -> None:
    bad_tests = TESTS.replace("c.increment();", "c.incrementBy(1);")
    client = role_client({"types": [TYPES], "tests": [bad_tests, TESTS], "impl": [IMPL]})
    project = _project(codegen_workflow(client=client, validators=ts_validators()).run_sync(TASK))
    assert project.passed and project.attempts == 2
    assert project.history[0].diagnostics[0].file == "tests/counter.test.ts"
    assert "the tests do not compile" in _prompts(client, "tests")[1]
    assert len(_prompts(client, "impl")) == 1


def test_a_repeated_fingerprint_stops_the_loop_early(
    ts_validators: Callable[[], list[Any]],
) -> None:
    client = role_client({"types": [TYPES, TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR] * 4})
    wf = codegen_workflow(
        client=client, validators=ts_validators(), max_attempts=5, escalate_best_of=0
    )
    project = _project(wf.run_sync(TASK))
    # attempt 2 repeats the error: the types are asked once to check themselves (a wrong
    # type can make correct code fail); attempt 3 repeats it again: stop.
    assert not project.passed and project.attempts == 3
    assert "stopped early at attempt 3 of 5" in project.reason
    assert project.history[0].fingerprints[0] in project.reason
    assert "NOTE: these compile errors remain" in _prompts(client, "types")[1]
    assert len(_prompts(client, "impl")) == 3  # never a fourth, endless try


def test_a_repeated_error_escalates_to_best_of_n_once_then_stops(
    ts_validators: Callable[[], list[Any]],
) -> None:
    client = role_client({"types": [TYPES, TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR] * 6})
    wf = codegen_workflow(client=client, validators=ts_validators(), max_attempts=5)
    project = _project(wf.run_sync(TASK))
    # best-of-3 once, then the types once, then stop.
    assert not project.passed and project.attempts == 4
    assert "stopped early at attempt 4 of 5" in project.reason
    prompts = _prompts(client, "impl")
    assert len(prompts) == 1 + 1 + 3 + 1
    assert len(_prompts(client, "types")) == 2
    assert all(f"CANDIDATE: {i}/3" in prompts[1 + i] for i in (1, 2, 3))
    assert "NOTE: this error came back after a fix: 3 candidates" in prompts[2]


def test_the_best_of_n_escalation_can_repair(ts_validators: Callable[[], list[Any]]) -> None:
    def by_candidate(request: Any) -> str:
        return IMPL if "CANDIDATE: 2/3" in request.messages[-1].text else IMPL_TYPE_ERROR

    impl = [IMPL_TYPE_ERROR, IMPL_TYPE_ERROR, by_candidate, by_candidate, by_candidate]
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": impl})
    project = _project(codegen_workflow(client=client, validators=ts_validators()).run_sync(TASK))
    assert project.passed and project.attempts == 3
    assert project.stats["model_calls"] == 2 + 5


def test_human_review_is_asked_when_an_error_repeats(
    ts_validators: Callable[[], list[Any]],
) -> None:
    client = role_client(
        {"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR, IMPL_TYPE_ERROR, IMPL]}
    )
    wf = codegen_workflow(client=client, validators=ts_validators(), human_review=True)

    async def main() -> Any:
        run = wf.start(TASK)
        first = await run.until_idle()
        assert first.status == "waiting"
        [pending] = run.pending_requests
        req = pending.request
        assert isinstance(req, ReviewRequest) and req.attempt == 2 and req.repeated
        assert any("TS2322" in line for line in req.feedback)
        assert "src/counter.ts" in req.files
        return await run.respond(pending.request_id, ReviewDecision("retry", hint="n is a number"))

    import asyncio

    project = _project(asyncio.run(main()))
    assert project.passed and project.attempts == 3
    assert "NOTE: a human reviewer says: n is a number" in _prompts(client, "impl")[2]


def test_human_review_can_stop(ts_validators: Callable[[], list[Any]]) -> None:
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR] * 2})
    wf = codegen_workflow(client=client, validators=ts_validators(), human_review=True)

    async def main() -> Any:
        run = wf.start(TASK)
        await run.until_idle()
        [pending] = run.pending_requests
        return await run.respond(pending.request_id, ReviewDecision("stop", hint="enough"))

    import asyncio

    project = _project(asyncio.run(main()))
    assert not project.passed and "stopped by the reviewer at attempt 2: enough" in project.reason


def test_best_of_three_picks_deterministically(ts_validators: Callable[[], list[Any]]) -> None:
    commented = IMPL.replace("let n = start;", "// the current value\n  let n = start;")

    def by_candidate(request: Any) -> str:
        text = request.messages[-1].text
        if "CANDIDATE: 1/3" in text:
            return IMPL_TYPE_ERROR
        if "CANDIDATE: 2/3" in text:
            return commented  # passes, but larger
        return IMPL  # passes, smallest

    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [by_candidate] * 3})
    result = codegen_workflow(client=client, validators=ts_validators(), best_of=3).run_sync(TASK)
    project = _project(result)
    assert project.passed and project.attempts == 1
    assert project.files["src/counter.ts"] == IMPL.split("```ts src/counter.ts\n")[1][:-3]
    [event] = [e for e in result.events if isinstance(e, Custom) and "arbiter" in str(e.data)]
    assert event.data["winner"] == 2
    assert [c["passed"] for c in event.data["candidates"]] == [False, True, True]
    assert project.stats["model_calls"] == 5  # types + tests + 3 candidates


def test_resume_mid_loop_does_not_rerun_finished_validations(
    ts_validators: Callable[[], list[Any]], tmp_path: Any
) -> None:
    import asyncio

    store = FileCheckpointStorage(tmp_path)
    counts: dict[str, int] = {}

    def counted() -> list[Any]:
        vals = ts_validators()
        for v in vals:
            original = v.check

            async def check(bundle: Any, *a: Any, _o: Any = original, _id: str = v.id) -> Any:
                counts[_id] = counts.get(_id, 0) + 1
                return await _o(bundle, *a)

            v.check = check
        return vals

    answers = {"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR, IMPL]}
    client = role_client(answers)
    wf = codegen_workflow(client=client, validators=counted(), checkpoint_storage=store)

    async def first_part() -> str:
        run = wf.start(TASK)
        while True:
            report = await run.step()
            done = [e for e in run.events if isinstance(e, ExecutorCompleted)]
            if any(e.executor_id == "compile_val" for e in done):
                return run.run_id
            assert report is not None

    run_id = asyncio.run(first_part())
    assert counts == {"compile_val": 1}
    # The process "dies" here; a new process builds the same graph and resumes.
    counts.clear()
    client2 = role_client({"impl": [IMPL]})
    wf2 = codegen_workflow(client=client2, validators=counted(), checkpoint_storage=store)

    async def second_part() -> Any:
        run = await wf2.resume(run_id)
        return await run.until_idle()

    project = _project(asyncio.run(second_part()))
    assert project.passed and project.attempts == 2
    assert counts == {"compile_val": 1, "test_val": 1}  # only the second attempt ran
    assert len(client2.requests) == 1  # only ImplGen's retry asked the model


def test_empty_task_is_a_clear_error(ts_validators: Callable[[], list[Any]]) -> None:
    wf = codegen_workflow(client=role_client({}), validators=ts_validators())
    result = wf.run_sync(CodeTask("   "))
    assert result.status == "failed"
    assert "task" in str(result.error) and "empty description" in str(result.error)
    wrong = wf.run_sync(CodeTask("x = 1", language="python"))
    assert wrong.status == "failed" and "language='python'" in str(wrong.error)
    with pytest.raises(ValueError, match="chat client"):
        codegen_workflow(client=None, validators=ts_validators())
    with pytest.raises(ValueError, match="best_of"):
        codegen_workflow(client=role_client({}), validators=ts_validators(), best_of=0)


def test_prose_only_ends_failed_after_max_attempts(
    ts_validators: Callable[[], list[Any]],
) -> None:
    prose = "I would write a counter with a closure over a number."
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [prose] * 3})
    vals = ts_validators()
    project = _project(
        codegen_workflow(client=client, validators=vals, max_attempts=3).run_sync(TASK)
    )
    assert not project.passed and project.attempts == 3
    assert "max_attempts=3 reached" in project.reason and "no typescript code" in project.reason
    assert all(r.validator == "assembler" for r in project.history)
    assert project.stats["validator_runs"] == 0  # no tsc run on an empty answer
    assert "FEEDBACK:" in _prompts(client, "impl")[1]


def test_linear_baseline_retries_with_the_errors(ts_validators: Callable[[], list[Any]]) -> None:
    everything_bad = "\n".join([TYPES, IMPL_TYPE_ERROR, TESTS])
    everything = "\n".join([TYPES, IMPL, TESTS])
    client = role_client({"all": [everything_bad, everything]})
    wf = linear_codegen(client, validators=ts_validators())
    assert [e.id for e in wf.executors][:2] == ["task", "coder"]
    project = _project(wf.run_sync(TASK))
    assert project.passed and project.attempts == 2
    assert "TS2322" in _prompts(client, "all")[1]
    assert project.stats["model_calls"] == 2


def test_an_infinite_loop_is_killed_and_fed_back(ts_toolchain: Any, sandbox: Any) -> None:
    from agentic_nb.codegen import CompileValidator, TestValidator

    looping = IMPL.replace("n += by;", "while (by > 0) { n += 0; }")
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [looping, IMPL]})
    vals = [
        CompileValidator(id="compile_val", toolchain=ts_toolchain, sandbox=sandbox),
        TestValidator(id="test_val", toolchain=ts_toolchain, sandbox=sandbox, timeout=8.0),
    ]
    project = _project(codegen_workflow(client=client, validators=vals).run_sync(TASK))
    assert project.passed and project.attempts == 2
    killed = project.history[0]
    assert killed.validator == "test_val" and not killed.passed
    assert "test_val" in killed.reason and "sandbox" in killed.reason
    assert "stopped by the sandbox" in _prompts(client, "impl")[1].split("FEEDBACK:")[1]
    assert project.stats["validator_runs"] == 4  # compile + killed test, compile + test


TYPES_WRONG = TYPES.replace("value(): number;", "value(): string;")


def test_a_compile_error_the_implementation_cannot_fix_goes_to_the_types(
    ts_validators: Callable[[], list[Any]],
) -> None:
    # A wrong type in src/types.ts makes correct code fail: tsc blames src/counter.ts.
    client = role_client(
        {"types": [TYPES_WRONG, TYPES], "tests": [TESTS], "impl": [IMPL, IMPL, IMPL]}
    )
    wf = codegen_workflow(client=client, validators=ts_validators(), escalate_best_of=0)
    project = _project(wf.run_sync(TASK))
    assert project.passed, project.reason
    first, second = project.history[0], project.history[1]
    assert first.validator == second.validator == "compile_val"
    assert {d.file for d in first.diagnostics if d.severity == "error"} == {"src/counter.ts"}
    # The implementation was told once; when the same error came back the types were asked.
    types_retry = _prompts(client, "types")[1]
    assert "NOTE: these compile errors remain" in types_retry
    assert len(_prompts(client, "impl")) == 3
