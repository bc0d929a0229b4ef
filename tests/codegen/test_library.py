"""The task library: every reference really passes the real toolchain, every mistake fails it.

TypeScript: all tasks' references (and the mutants) go into ONE tsc project and ONE jest
run (each case in its own folder). Python: one mypy --strict run and one pytest run per
group (the three tasks' module names differ, so they share a folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentic_nb.codegen._library import (
    get_task,
    library_entries,
    role_of_path,
    task_library,
)
from agentic_nb.codegen._toolchain import TypeScriptToolchain

DETAILED = ("state_machine", "lru_cache", "tokenizer")  # behavioural mutants run under jest


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_library_has_the_issue_tasks_split_by_role() -> None:
    names = {t.name for t in task_library("typescript")}
    assert {
        "state_machine", "lru_cache", "event_emitter", "tokenizer",
        "priority_queue", "retry_backoff", "json_path", "rate_limiter",
    } <= names  # fmt: skip
    assert len(task_library("python")) >= 3
    for task in task_library("typescript") + task_library("python"):
        roles = sorted(role_of_path(p) for p in task.reference or {})
        assert roles == ["impl", "tests", "types"], task.name
        assert task.acceptance_tests and task.description and task.constraints
        assert all(p.startswith("acceptance/") for p in task.acceptance_tests)
    ts = get_task("state_machine")
    assert "src/state_machine.ts" in (ts.reference or {})
    ts.reference = {}
    assert get_task("state_machine").reference, "callers get copies"
    with pytest.raises(KeyError, match=r"known tasks: .*lru_cache"):
        get_task("nope")
    with pytest.raises(ValueError, match="unknown language"):
        task_library("cobol")


@pytest.fixture(scope="module")
def ts_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tc = TypeScriptToolchain()
    tc.ensure()  # a missing toolchain is a loud failure naming the install command
    root = tmp_path_factory.mktemp("tslib")
    cases: dict[str, tuple[str, Any]] = {}
    for entry in library_entries("typescript"):
        files = {**(entry.task.reference or {}), **(entry.task.acceptance_tests or {})}
        cases[f"ref_{entry.task.name}"] = ("ref", None)
        _write(root / "cases" / f"ref_{entry.task.name}", files)
        for m in entry.mistakes:
            if m.kind == "type_error":
                cid = f"tsc_{entry.task.name}_{m.index}"  # compile only
                _write(root / "tsc_only" / cid, m.apply(files))
                cases[cid] = ("type_error", m)
            elif entry.task.name in DETAILED:
                cid = f"m_{entry.task.name}_{m.index}"
                _write(root / "cases" / cid, m.apply(files))
                cases[cid] = (m.kind, m)
                if m.mirror_find:
                    _write(root / "cases" / f"mm{cid}", m.apply_mirror(m.apply(files)))
                    cases[f"mm{cid}"] = ("mirror", m)
    config = tc.tsconfig()
    config["include"] = ["cases/**/*.ts", "tsc_only/**/*.ts"]
    (root / "tsconfig.json").write_text(json.dumps(config))
    jest = dict(tc.jest_config())
    jest["testPathIgnorePatterns"] = ["/tsc_only/"]
    (root / "jest.config.json").write_text(json.dumps(jest))
    tsc = subprocess.run(tc.build_argv(), cwd=root, capture_output=True, text=True, timeout=300)
    report = root / "report.json"
    argv = [a for a in tc.test_argv(str(report), 10_000) if a != "--runInBand"]
    subprocess.run([*argv, "--maxWorkers=2"], cwd=root, capture_output=True, timeout=600)
    errors: dict[str, list[str]] = {}
    for line in tsc.stdout.splitlines():
        if line.startswith(("cases/", "tsc_only/")):
            errors.setdefault(line.split("/")[1], []).append(line)
    failed: dict[str, list[str]] = {}
    passed: dict[str, int] = {}
    data = json.loads(report.read_text())
    for suite in data["testResults"]:
        rel = Path(suite["name"]).relative_to(root / "dist" / "cases")
        cid, which = rel.parts[0], ("acc" if rel.parts[1] == "acceptance" else "own")
        if not suite["assertionResults"]:
            failed.setdefault(cid, []).append(f"{which}: SUITE {suite['message'][:200]}")
        for a in suite["assertionResults"]:
            if a["status"] == "passed":
                passed[cid] = passed.get(cid, 0) + 1
            else:
                failed.setdefault(cid, []).append(f"{which}: {a['fullName']}")
    return {"cases": cases, "errors": errors, "failed": failed, "passed": passed}


def test_every_typescript_reference_passes_tsc_strict_its_tests_and_acceptance(
    ts_run: dict[str, Any],
) -> None:
    for cid, (kind, _) in ts_run["cases"].items():
        if kind == "ref":
            assert ts_run["errors"].get(cid, []) == [], cid
            assert ts_run["failed"].get(cid, []) == [], cid
            assert ts_run["passed"].get(cid, 0) >= 8, cid  # own tests + acceptance ran


def test_every_typescript_type_error_mistake_fails_tsc_with_its_code(
    ts_run: dict[str, Any],
) -> None:
    for cid, (kind, m) in ts_run["cases"].items():
        if kind == "type_error":
            lines = ts_run["errors"].get(cid, [])
            assert lines, f"{cid}: tsc accepted the type error {m.summary!r}"
            assert all(m.reported_in in line for line in lines), lines
            assert any(d in line for d in m.detect for line in lines), lines


def test_behavioural_mistakes_compile_and_fail_the_test_they_name(
    ts_run: dict[str, Any],
) -> None:
    seen = set()
    for cid, (kind, m) in ts_run["cases"].items():
        if kind in ("missing_case", "off_by_one", "bad_test"):
            seen.add(kind)
            assert ts_run["errors"].get(cid, []) == [], cid
            fails = ts_run["failed"].get(cid, [])
            own = [f for f in fails if f.startswith("own") and any(d in f for d in m.detect)]
            assert own, f"{cid}: no own test named {m.detect} failed: {fails}"
            acceptance = [f for f in fails if f.startswith("acc")]
            if kind == "bad_test":
                assert not acceptance, f"{cid}: a wrong test must not break the code"
            else:
                assert acceptance, f"{cid}: the hidden acceptance tests missed {m.summary!r}"
        elif kind == "mirror":
            fails = ts_run["failed"].get(cid, [])
            assert not any(d in f for d in m.detect for f in fails if f.startswith("own")), cid
            assert any(f.startswith("acc") for f in fails), cid
    assert seen == {"missing_case", "off_by_one", "bad_test"}


def _py(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": "src", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=root, capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return _py(root, "pytest", "-q", "-p", "no:cacheprovider", "-o", "pythonpath=src",
               "--rootdir", str(root), "tests", "acceptance")  # fmt: skip


def test_python_references_pass_mypy_strict_and_pytest_and_mistakes_fail(tmp_path: Path) -> None:
    entries = library_entries("python")
    ref = tmp_path / "ref"
    for e in entries:
        _write(ref, {**(e.task.reference or {}), **(e.task.acceptance_tests or {})})
    mypy = _py(ref, "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), ".")
    assert mypy.returncode == 0, mypy.stdout
    run = _pytest(ref)
    assert run.returncode == 0 and " passed" in run.stdout, run.stdout[-2000:]
    # the type errors: one mypy run over all three mutated tasks
    bad = tmp_path / "type_errors"
    mistakes = {e.task.name: {m.kind: m for m in e.mistakes} for e in entries}
    for e in entries:
        _write(bad, mistakes[e.task.name]["type_error"].apply(e.task.reference or {}))
    out = _py(bad, "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), ".").stdout
    for name, by_kind in mistakes.items():
        m = by_kind["type_error"]
        assert any(m.file in ln and m.detect[0] in ln for ln in out.splitlines()), (name, out)
    # one behavioural kind (all three tasks at once): the named own test fails
    mut = tmp_path / "missing_case"
    for e in entries:
        m = mistakes[e.task.name]["missing_case"]
        _write(mut, m.apply({**(e.task.reference or {}), **(e.task.acceptance_tests or {})}))
    run = _pytest(mut)
    failed = [ln for ln in run.stdout.splitlines() if ln.startswith("FAILED")]
    for name, by_kind in mistakes.items():
        m = by_kind["missing_case"]
        assert any(m.detect[0] in ln and ln.startswith("FAILED tests/") for ln in failed), failed
        assert any(f"acceptance/test_{name}_acceptance" in ln for ln in failed), (name, failed)
