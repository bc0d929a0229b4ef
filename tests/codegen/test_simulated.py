"""SimulatedCoder — a SIMULATION of a coding model: its protocol, its mistakes, its repairs.

Everything here is deterministic (seeded). The mistakes' effect on the real toolchain
(tsc / jest / mypy / pytest) is proven in ``test_library.py``.
"""

from __future__ import annotations

import pytest

from agentic_nb.codegen._library import get_task, library_entries
from agentic_nb.codegen._simulated import SimulatedCoder, parse_prompt
from agentic_nb.codegen._types import CodeTask

NONE = {"type_error": 0.0, "missing_case": 0.0, "off_by_one": 0.0, "bad_test": 0.0}
ALL = {"type_error": 1.0, "missing_case": 1.0, "off_by_one": 1.0, "bad_test": 1.0}


def _mistakes(task: str):  # type: ignore[no-untyped-def]
    return next(e.mistakes for e in library_entries() if e.task.name == task)


async def test_simulation_answers_the_reference_by_role_with_the_path_in_the_fence() -> None:
    coder = SimulatedCoder(mistake_rates=NONE)
    ref = get_task("state_machine").reference or {}
    for role, path in [
        ("types", "src/types.ts"),
        ("impl", "src/state_machine.ts"),
        ("tests", "tests/state_machine.test.ts"),
    ]:
        r = await coder.get_response(f"ROLE: {role}\nTASK: state_machine\nLANGUAGE: typescript")
        assert f"```ts {path}\n" in r.text
        assert ref[path].rstrip() in r.text
        assert r.text.count("```") == 2
        assert "simulated" in r.text
        assert r.usage.input_tokens > 0 and r.usage.output_tokens > 100
    r = await coder.get_response("ROLE: all\nTASK: merge_intervals\nLANGUAGE: python")
    assert r.text.count("```python ") == 3
    assert "simulation" in repr(coder)


async def test_simulation_finds_a_task_by_description_and_answers_prose_for_an_unknown_one() -> (
    None
):
    coder = SimulatedCoder(mistake_rates=NONE)
    r = await coder.get_response("ROLE: impl\nTASK: Implement a generic LRU cache in TypeScript")
    assert "```ts src/lru_cache.ts" in r.text
    for prompt in ["ROLE: impl\nTASK: write a compiler for COBOL", "hello, how are you?"]:
        r = await coder.get_response(prompt)
        assert "```" not in r.text and "prose only" in r.text
        assert coder.answers[-1].task is None


async def test_simulation_is_deterministic_and_parallel_candidates_differ() -> None:
    prompt = "ROLE: impl\nTASK: lru_cache\nATTEMPT: 1"
    a = [(await SimulatedCoder(seed=7).get_response(prompt)).text for _ in range(2)]
    assert a[0] == a[1]
    coder = SimulatedCoder(seed=7)
    texts = {(await coder.get_response(prompt + f"\nCANDIDATE: {i}/8")).text for i in range(8)}
    assert len(texts) > 1  # best-of-N has something to choose from
    again = SimulatedCoder(seed=7)
    texts2 = {(await again.get_response(prompt + f"\nCANDIDATE: {i}/8")).text for i in range(8)}
    assert texts == texts2


async def test_simulation_makes_each_mistake_as_a_real_edit_at_its_rate() -> None:
    coder = SimulatedCoder(mistake_rates=ALL, correlated_rate=0.0)
    r = await coder.get_response("ROLE: impl\nTASK: lru_cache")
    made = coder.answers[-1]
    impl = made.files["src/lru_cache.ts"]
    for m in _mistakes("lru_cache"):
        if m.file == "src/lru_cache.ts":
            assert f"lru_cache#{m.index}:{m.kind}" in made.mistakes
    assert "return this.entries;" in impl and impl in r.text
    # rates are frequencies: over many tasks and seeds, type errors come out near 0.30
    hits = total = 0
    for seed in range(40):
        c = SimulatedCoder(seed=seed)
        for entry in library_entries("typescript"):
            await c.get_response(f"ROLE: impl\nTASK: {entry.task.name}")
            total += 1
            hits += any(k.endswith("type_error") for k in c.answers[-1].mistakes)
    assert 0.2 < hits / total < 0.4


async def test_simulation_repairs_a_mistake_the_feedback_names_with_the_stated_probability() -> (
    None
):
    feedback = (
        "ROLE: impl\nTASK: lru_cache\nATTEMPT: 2\nFEEDBACK:\n"
        "src/lru_cache.ts(16,5): tsc TS2322: Type 'Map<K, V>' is not assignable to type "
        "'number'. [fp:1a2b3c]\n"
    )
    always = SimulatedCoder(mistake_rates=ALL, repair_rate=1.0, regression_factor=0.0)
    await always.get_response(feedback)
    assert always.answers[-1].repaired == ["lru_cache#0:type_error"]
    assert "return this.entries.size;" in always.answers[-1].files["src/lru_cache.ts"]
    never = SimulatedCoder(mistake_rates=ALL, repair_rate=0.0, regression_factor=0.0)
    await never.get_response(feedback)
    assert never.answers[-1].mistakes == ["lru_cache#0:type_error"]
    # a failing test named in the feedback names the behavioural mistake it catches
    test_fb = (
        "ROLE: impl\nTASK: lru_cache\nFEEDBACK:\nLRUCache get marks the entry as recently used"
    )
    await always.get_response(test_fb)
    assert always.answers[-1].repaired == ["lru_cache#1:missing_case"]
    # measured repair rate is close to the stated one
    repaired = 0
    for seed in range(200):
        c = SimulatedCoder(seed=seed, repair_rate=0.8, regression_factor=0.0)
        await c.get_response(feedback)
        repaired += "lru_cache#0:type_error" in c.answers[-1].repaired
    assert 0.7 < repaired / 200 < 0.9


async def test_simulation_keeps_unnamed_mistakes_shown_in_its_previous_answer() -> None:
    coder = SimulatedCoder(mistake_rates=NONE, repair_rate=1.0)
    bad = _mistakes("lru_cache")[2].apply(get_task("lru_cache").reference or {})
    prompt = (
        "ROLE: impl\nTASK: lru_cache\nATTEMPT: 2\n\nYour previous answer:\n```ts src/lru_cache.ts\n"
        + bad["src/lru_cache.ts"]
        + "```\n\nFEEDBACK:\nsomething unrelated failed\n"
    )
    await coder.get_response(prompt)
    assert coder.answers[-1].mistakes == ["lru_cache#2:off_by_one"]


async def test_simulation_copies_a_misconception_into_tests_written_in_the_same_answer() -> None:
    rates = {**NONE, "missing_case": 1.0}
    together = SimulatedCoder(mistake_rates=rates, correlated_rate=1.0)
    await together.get_response("ROLE: all\nTASK: state_machine")
    files = together.answers[-1].files
    assert together.answers[-1].mirrored == ["state_machine#1:missing_case"]
    assert 'expect(m.send("emergency")).toBe("green");' in files["tests/state_machine.test.ts"]
    apart = SimulatedCoder(mistake_rates=rates, correlated_rate=1.0)
    await apart.get_response("ROLE: tests\nTASK: state_machine")
    assert apart.answers[-1].mirrored == [] and apart.answers[-1].mistakes == []


async def test_simulation_codes_given_tasks_instead_of_the_library() -> None:
    task = CodeTask(
        "Add two numbers.",
        name="add",
        reference={"src/add.ts": "export const add = (a: number, b: number): number => a + b;\n"},
    )
    coder = SimulatedCoder(tasks=[task])
    r = await coder.get_response("ROLE: impl\nTASK: add")
    assert "```ts src/add.ts" in r.text and "a + b" in r.text
    r = await coder.get_response("ROLE: impl\nTASK: lru_cache")
    assert "```" not in r.text
    with pytest.raises(ValueError, match="no reference solution"):
        SimulatedCoder(tasks=[CodeTask("x", name="x")])
    with pytest.raises(ValueError, match="unknown mistake kind"):
        SimulatedCoder(mistake_rates={"typo": 0.5})


async def test_simulation_streams_the_same_answer() -> None:
    prompt = "ROLE: tests\nTASK: tokenizer\nATTEMPT: 1"
    whole = (await SimulatedCoder(seed=3).get_response(prompt)).text
    chunks = [u.text async for u in SimulatedCoder(seed=3).get_streaming_response(prompt)]
    assert "".join(chunks) == whole and len(chunks) > 2


def test_simulation_prompt_protocol() -> None:
    p = parse_prompt(
        "ROLE: types, impl\nTASK: tokenizer\nLANGUAGE: TypeScript\nATTEMPT: 3\nCANDIDATE: 2/4\n"
        "Task:\nTokenize.\nFEEDBACK:\nsrc/tokenizer.ts(3,1): tsc TS2345: bad [fp:9]\n"
        "tokenize reads decimal numbers\nPATTERNS:\nignored\n```ts src/x.ts\n```"
    )
    assert p.roles == ("types", "impl") and p.task == "tokenizer"
    assert (p.language, p.attempt, p.candidate) == ("typescript", 3, 2)
    assert p.feedback.splitlines() == [
        "src/tokenizer.ts(3,1): tsc TS2345: bad [fp:9]",
        "tokenize reads decimal numbers",
    ]
    assert parse_prompt("ROLE: all").roles == ("types", "impl", "tests")


async def test_simulation_recognises_a_mypy_code_with_or_without_brackets() -> None:
    for code in ("[arg-type]", "arg-type"):
        coder = SimulatedCoder(mistake_rates=ALL, repair_rate=1.0, regression_factor=0.0)
        await coder.get_response(
            "ROLE: impl\nTASK: rpn_calculator\nFEEDBACK:\n"
            f"src/rpn_calculator.py(20,30): mypy {code}: Argument 1 has incompatible type [fp:1]"
        )
        assert "rpn_calculator#0:type_error" in coder.answers[-1].repaired


async def test_simulation_types_mistakes_are_reported_in_the_code_that_uses_them() -> None:
    rates = {**NONE, "type_error": 1.0}
    hits = 0
    for seed in range(40):  # drawn at rate_scale 0.5 x the type-error rate
        c = SimulatedCoder(seed=seed, mistake_rates=rates)
        await c.get_response("ROLE: types\nTASK: state_machine")
        hits += c.answers[-1].mistakes == ["state_machine#4:type_error"]
    assert 10 < hits < 30
    fixer = SimulatedCoder(mistake_rates=rates, repair_rate=1.0, regression_factor=0.0)
    await fixer.get_response(
        "ROLE: types\nTASK: state_machine\nFEEDBACK:\nsrc/state_machine.ts(24,70): tsc TS2345: "
        "Argument of type 'string | undefined' is not assignable [fp:3]"
    )
    assert fixer.answers[-1].repaired == ["state_machine#4:type_error"]
