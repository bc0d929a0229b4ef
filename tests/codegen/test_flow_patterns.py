"""Pattern memory: per-role success/failure fixes, in memory, in a JSON file, in NATS KV."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentic_nb.codegen import CodeArtifact, CodeBundle, CodeTask, Diagnostic, ValidationResult
from agentic_nb.codegen._flow import codegen_workflow
from agentic_nb.codegen._patterns import (
    FixPattern,
    NatsPatternMemory,
    PatternMemory,
    learn_from,
    pattern_key,
)

from .conftest import role_client
from .test_flow import IMPL, IMPL_TYPE_ERROR, TASK, TESTS, TYPES


def _result(impl: str, fps: list[str], passed: bool = False) -> ValidationResult:
    task = CodeTask("t", name="t")
    bundle = CodeBundle(task, [CodeArtifact("impl", {"src/t.ts": impl}, "impl_gen")])
    diags = [Diagnostic("tsc", f"Bad {fp}.", "src/t.ts", 1, 1, "TS2322", fp) for fp in fps]
    return ValidationResult("compile_val", passed, diagnostics=diags, bundle=bundle)


def test_keys_follow_the_specification() -> None:
    assert pattern_key("impl", "failure") == "patterns.impl.failure"
    with pytest.raises(ValueError, match="outcome"):
        pattern_key("impl", "maybe")
    with pytest.raises(ValueError, match="plain name"):
        pattern_key("a.b", "success")


def test_learn_records_successes_and_failures() -> None:
    mem = PatternMemory()
    before = _result("let n = 'x';\n", ["aa", "bb"])
    after = _result("let n = 1;\n", ["bb"])
    out = asyncio.run(learn_from(mem, before, after, "impl", task="t"))
    assert {(p.fingerprint, p.outcome) for p in out} == {("aa", "success"), ("bb", "failure")}
    [good] = asyncio.run(mem.patterns("impl"))
    assert "-let n = 'x';" in good.fix and "+let n = 1;" in good.fix and good.task == "t"
    assert [p.fingerprint for p in asyncio.run(mem.patterns("impl", "failure"))] == ["bb"]
    # No change of the role's files: nothing learned.
    assert asyncio.run(learn_from(mem, before, _result("let n = 'x';\n", []), "impl")) == []


def test_relevance_same_fingerprint_then_same_code_and_dedup() -> None:
    mem = PatternMemory()
    p1 = FixPattern("impl", "f1", "tsc", "TS2322", "e", "fix1")
    p2 = FixPattern("impl", "f2", "tsc", "TS2322", "e", "fix2")
    p3 = FixPattern("impl", "f3", "tsc", "TS7006", "e", "fix3")
    for p in (p1, p2, p3, p1):
        asyncio.run(mem.record(p))
    assert len(asyncio.run(mem.patterns("impl"))) == 3
    found = asyncio.run(mem.relevant("impl", ["f1"], [("tsc", "TS2322")]))
    assert [p.fingerprint for p in found] == ["f1", "f2"] and found[0].count == 2
    assert asyncio.run(mem.relevant("tests", ["f1"])) == []


def test_json_file_persists_and_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    asyncio.run(PatternMemory(path).record(FixPattern("tests", "f", "jest", "", "e", "x")))
    assert "patterns.tests.success" in json.loads(path.read_text())
    assert len(asyncio.run(PatternMemory(path).patterns("tests"))) == 1
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        PatternMemory(path)


def test_nats_kv_memory_is_shared_between_clients() -> None:
    from agentic_nb.nats import LocalNatsServer, connect

    async def main(url: str) -> tuple[list[str], list[str]]:
        nc1, nc2 = await connect(url), await connect(url)
        try:
            a, b = NatsPatternMemory(nc1), NatsPatternMemory(nc2)
            await asyncio.gather(
                *(
                    a.record(FixPattern("impl", f"a{i}", "tsc", "TS1", "e", f"x{i}"))
                    for i in range(3)
                ),
                *(
                    b.record(FixPattern("impl", f"b{i}", "tsc", "TS1", "e", f"y{i}"))
                    for i in range(3)
                ),
            )
            seen = [p.fingerprint for p in await NatsPatternMemory(nc2).patterns("impl")]
            kv = await nc1.jetstream().key_value("agentic_patterns")
            keys = sorted(await kv.keys())
            return seen, keys
        finally:
            await nc1.close()
            await nc2.close()

    with LocalNatsServer() as server:
        seen, keys = asyncio.run(main(server.url))
    assert sorted(seen) == ["a0", "a1", "a2", "b0", "b1", "b2"]  # no lost update
    assert keys == ["patterns.impl.success"]


def test_the_flow_learns_a_fix_and_the_next_run_receives_it(
    ts_validators: Callable[[], list[Any]],
) -> None:
    mem = PatternMemory()
    client = role_client({"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR, IMPL]})
    wf = codegen_workflow(client=client, validators=ts_validators(), pattern_memory=mem)
    project = wf.run_sync(TASK).outputs[0]
    assert project.passed and project.attempts == 2
    [learned] = asyncio.run(mem.patterns("impl"))
    assert learned.code == "TS2322" and '"zero"' in learned.fix
    # A later run making the same mistake sees the fix in its retry prompt.
    client2 = role_client({"types": [TYPES], "tests": [TESTS], "impl": [IMPL_TYPE_ERROR, IMPL]})
    wf2 = codegen_workflow(client=client2, validators=ts_validators(), pattern_memory=mem)
    assert wf2.run_sync(TASK).outputs[0].passed
    retry = [r.messages[-1].text for r in client2.requests if "ROLE: impl" in r.messages[-1].text]
    assert "Fixes that worked before" in retry[1] and learned.fingerprint in retry[1]
