"""CodeGenerator prompts and extraction, CodeAssembler joining roles across loops."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import ChatAgent
from agentic_nb.codegen import CodeArtifact, CodeBundle, CodeTask, Diagnostic, ValidationResult
from agentic_nb.codegen._generators import (
    TASK_KEY,
    CodeAssembler,
    CodeGenerator,
    Feedback,
    build_prompt,
    feedback_lines,
)
from agentic_nb.codegen._patterns import FixPattern, PatternMemory
from agentic_nb.llm import ChatRequest, ScriptedChatClient

TASK = CodeTask("Add two numbers.\nMore text.", constraints=["export function add"], name="add")
TYPES = "```ts src/types.ts\nexport type Num = number;\n```"
IMPL = "Here:\n```ts src/add.ts\nimport { Num } from './types';\nexport const add = 1;\n```"
TESTS = "```ts tests/add.test.ts\ntest('x', () => {});\n```"


def _failed() -> ValidationResult:
    bundle = CodeBundle(TASK, [CodeArtifact("impl", {"src/add.ts": "old impl\n"}, "impl_gen")])
    return ValidationResult(
        "compile_val",
        False,
        diagnostics=[Diagnostic("tsc", "Type 'x' bad.", "src/add.ts", 2, 3, "TS2322", "fp01")],
        bundle=bundle,
    )


def test_prompt_header_and_sections() -> None:
    types = CodeArtifact("types", {"src/types.ts": "export type Num = number;\n"}, "type_gen")
    fb = Feedback("impl", _failed(), attempt=1, note="look at the types")
    text = build_prompt(
        "impl",
        TASK,
        attempt=2,
        upstream={"types": types},
        previous=_failed().bundle.artifact("impl"),  # type: ignore[union-attr]
        feedback=fb,
        patterns=[FixPattern("impl", "fp01", "tsc", "TS2322", "Type <q> bad.", "-a\n+b")],
        previous_errors=["ChatTimeoutError: slow"],
    )
    lines = text.splitlines()
    assert lines[:4] == ["ROLE: impl", "TASK: add", "LANGUAGE: typescript", "ATTEMPT: 2"]
    assert "- export function add" in lines
    assert "```ts src/types.ts" in text and "Your previous answer:" in text
    assert "old impl" in text and "[fp:fp01] tsc TS2322" in text
    assert "ChatTimeoutError: slow" in text and "NOTE: look at the types" in text
    feedback = lines[lines.index("FEEDBACK:") + 1 :]
    assert feedback == ["src/add.ts(2,3): tsc TS2322: Type 'x' bad. [fp:fp01]"]
    # Without a name, TASK is the description's first line.
    assert "TASK: Add two numbers." in build_prompt("tests", CodeTask("Add two numbers.\nx"))


def test_feedback_lines_for_failures_and_bare_failures() -> None:
    from agentic_nb.codegen import TestFailure

    r = ValidationResult(
        "test_val",
        False,
        failures=[TestFailure("add > sums", "Expected: 3\n\nGot: 4", "t.ts", "f9")],
    )
    assert feedback_lines(r) == ['t.ts: test "add > sums" failed: Expected: 3 Got: 4 [fp:f9]']
    bare = ValidationResult("test_val", False, output_tail="jest crashed\nbadly")
    assert feedback_lines(bare) == ["test_val failed: jest crashed badly [fp:-]"]


def test_generator_validates_role_and_model() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        CodeGenerator("docs", ScriptedChatClient())
    with pytest.raises(TypeError, match="chat client"):
        CodeGenerator("impl", object())


def test_produce_drops_foreign_files_and_reports_no_code() -> None:
    types = CodeArtifact("types", {"src/types.ts": "x"}, "type_gen")
    client = ScriptedChatClient([TYPES + "\n" + IMPL, "I am not sure how to do this."])
    gen = CodeGenerator("impl", client)
    out = asyncio.run(gen.produce(TASK, upstream={"types": types}))
    assert list(out.artifact.files) == ["src/add.ts"]
    assert [p.code for p in out.artifact.problems] == ["foreign-file"]
    assert out.usage.output_tokens > 0
    out = asyncio.run(gen.produce(TASK, upstream={"types": types}))
    assert out.artifact.files == {}
    assert [p.code for p in out.artifact.problems] == ["no-code"]
    assert "impl_gen" in out.artifact.problems[0].message


def test_an_agent_can_be_the_model() -> None:
    agent = ChatAgent(ScriptedChatClient([TESTS]), "You are careful.", name="tester")
    gen = CodeGenerator("tests", agent)
    out = asyncio.run(gen.produce(TASK))
    assert out.artifact.files == {"tests/add.test.ts": "test('x', () => {});\n"}


def test_relevant_patterns_reach_the_prompt() -> None:
    mem = PatternMemory()
    asyncio.run(mem.record(FixPattern("impl", "fp01", "tsc", "TS2322", "Type <q> bad.", "+fix")))
    asyncio.run(
        mem.record(FixPattern("impl", "fp01", "tsc", "TS2322", "Type <q> bad.", "+nope", "failure"))
    )
    client = ScriptedChatClient([IMPL])
    gen = CodeGenerator("impl", client, pattern_memory=mem)
    asyncio.run(gen.produce(TASK, feedback=Feedback("impl", _failed())))
    prompt = client.requests[0].messages[-1].text
    assert "Fixes that worked before" in prompt and "+fix" in prompt
    assert "did NOT fix" in prompt and "+nope" in prompt


@executor(id="start")
async def _start(task: CodeTask, ctx: WorkflowContext[CodeTask]) -> None:
    await ctx.set_state(TASK_KEY, task)
    await ctx.send_message(task)


@executor(id="sink")
async def _sink(msg: CodeBundle | ValidationResult, ctx: WorkflowContext[None, Any]) -> None:
    await ctx.yield_output(msg)


def _wf(types: list[Any], impl: list[Any], tests: list[Any]) -> tuple[Any, ScriptedChatClient]:
    impl_client = ScriptedChatClient(impl)
    tg = CodeGenerator("types", ScriptedChatClient(types))
    ig = CodeGenerator("impl", impl_client)
    sg = CodeGenerator("tests", ScriptedChatClient(tests))
    asm = CodeAssembler()
    wf = (
        WorkflowBuilder(name="gen", start=_start)
        .add_fan_out(_start, [tg, sg])
        .add_fan_out(tg, [ig, asm])
        .add_edge(ig, asm)
        .add_edge(sg, asm)
        .add_edge(asm, _sink)
        .build()
    )
    return wf, impl_client


def test_generators_and_assembler_in_a_workflow() -> None:
    wf, impl_client = _wf([TYPES], [IMPL], [TESTS])
    result = wf.run_sync(TASK)
    assert result.status == "completed", result
    [bundle] = result.outputs
    assert isinstance(bundle, CodeBundle) and bundle.attempt == 1
    assert [a.role for a in bundle.artifacts] == ["types", "impl", "tests"]
    assert sorted(bundle.files) == ["src/add.ts", "src/types.ts", "tests/add.test.ts"]
    # ImplGen saw the types produced by TypeGen.
    prompt = impl_client.requests[0].messages[-1].text
    assert "export type Num = number;" in prompt and "ROLE: impl" in prompt
    # Usage is recorded per executor in the run's state.
    assert result.state["codegen.usage.impl_gen"]["calls"] == 1


def test_no_code_answer_becomes_a_failed_result_not_a_crash() -> None:
    wf, _ = _wf([TYPES], ["I can't write TypeScript, sorry."], [TESTS])
    result = wf.run_sync(TASK)
    assert result.status == "completed"
    [res] = result.outputs
    assert isinstance(res, ValidationResult) and not res.passed
    assert res.validator == "assembler" and res.diagnostics[0].code == "no-code"
    assert "impl_gen" in res.diagnostics[0].message


def test_assembler_keeps_roles_across_loops_and_waits_for_impl_after_new_types() -> None:
    asm = CodeAssembler()

    @executor(id="feed")
    async def feed(items: list[CodeArtifact], ctx: WorkflowContext[CodeArtifact]) -> None:
        await ctx.set_state(TASK_KEY, TASK)
        for art in items:
            await ctx.send_message(art)

    wf = WorkflowBuilder(start=feed).add_edge(feed, asm).add_edge(asm, _sink).build()

    def art(role: str, n: int) -> CodeArtifact:
        return CodeArtifact(role, {f"{role}.ts": f"v{n}"}, attempt=n)

    seq = [art("types", 1), art("tests", 1), art("impl", 1), art("impl", 2), art("types", 2)]
    seq += [art("impl", 3), art("tests", 2)]
    outs = wf.run_sync(seq).outputs
    assert [b.attempt for b in outs] == [1, 2, 3, 4]
    assert [b.files["impl.ts"] for b in outs] == ["v1", "v2", "v3", "v3"]
    assert [b.files["types.ts"] for b in outs] == ["v1", "v1", "v2", "v2"]
    assert outs[-1].files["tests.ts"] == "v2"


def test_requests_carry_the_system_instructions() -> None:
    client = ScriptedChatClient([TYPES])
    asyncio.run(CodeGenerator("types", client, instructions="ONLY TYPES").produce(TASK))
    req: ChatRequest = client.requests[0]
    assert req.messages[0].role == "system" and req.messages[0].text == "ONLY TYPES"


def test_pick_best_order_and_ties() -> None:
    from agentic_nb.codegen import Candidate, pick_best

    def cand(i: int, passed: int, errors: int = 0, size: int = 10, ok: bool = False) -> Candidate:
        diags = [Diagnostic("tsc", "x", "a.ts", code="TS1")] * errors
        v = ValidationResult("test_val", ok, diagnostics=diags, tests_passed=passed)
        return Candidate(i, CodeArtifact("impl", {"a.ts": "x" * size}), v)

    assert pick_best([cand(0, 1), cand(1, 3), cand(2, 2)]).index == 1  # most tests passed
    assert pick_best([cand(0, 0, errors=2), cand(1, 0, errors=1)]).index == 1  # fewer errors
    assert pick_best([cand(0, 2, size=30), cand(1, 2, size=20)]).index == 1  # smaller
    assert pick_best([cand(3, 2), cand(1, 2), cand(2, 2)]).index == 1  # tie: lowest index
    empty = Candidate(0, CodeArtifact("impl", {}), ValidationResult("impl_gen", False))
    assert pick_best([empty, cand(1, 0, errors=5)]).index == 1  # no code ranks last
    with pytest.raises(ValueError, match="no candidates"):
        pick_best([])


def test_a_retried_generator_sees_its_earlier_errors_in_the_prompt() -> None:
    from agentic_nb.llm import ChatTimeoutError
    from agentic_nb.workflow import RetryPolicy

    impl_client = ScriptedChatClient([ChatTimeoutError("scripted", "m", "too slow"), IMPL])
    tg = CodeGenerator("types", ScriptedChatClient([TYPES]))
    ig = CodeGenerator("impl", impl_client, retry=RetryPolicy(max_attempts=2))
    sg = CodeGenerator("tests", ScriptedChatClient([TESTS]))
    asm = CodeAssembler()
    wf = (
        WorkflowBuilder(name="gen", start=_start)
        .add_fan_out(_start, [tg, sg])
        .add_fan_out(tg, [ig, asm])
        .add_edge(ig, asm)
        .add_edge(sg, asm)
        .add_edge(asm, _sink)
        .build()
    )
    result = wf.run_sync(TASK)
    assert result.status == "completed" and isinstance(result.outputs[0], CodeBundle)
    retry_prompt = impl_client.requests[1].messages[-1].text
    assert "Errors of earlier tries of this step:" in retry_prompt and "too slow" in retry_prompt
