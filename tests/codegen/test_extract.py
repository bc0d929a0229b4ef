"""extract_files: files from model answers, however the model names them."""

from __future__ import annotations

import pytest

from agentic_nb.codegen import extract_files, normalize_path
from agentic_nb.codegen._extract import default_path, task_slug

TS = "export const x: number = 1;"


def _one(answer: str, **kw: str) -> dict[str, str]:
    out = extract_files(answer, **kw)
    assert out.ok, out.problems
    return out.files


@pytest.mark.parametrize(
    "answer",
    [
        f"```ts src/x.ts\n{TS}\n```",
        f"```typescript src/x.ts\n{TS}\n```",
        f'```typescript title="src/x.ts"\n{TS}\n```',
        f"```ts filename=src/x.ts\n{TS}\n```",
        f"```src/x.ts\n{TS}\n```",
        f"```ts\n// file: src/x.ts\n{TS}\n```",
        f"```ts\n// File: ./src/x.ts\n{TS}\n```",
        f"**src/x.ts**\n```ts\n{TS}\n```",
        f"`src/x.ts`\n\n```ts\n{TS}\n```",
        f"File: src/x.ts\n```ts\n{TS}\n```",
        f"### src/x.ts\n```ts\n{TS}\n```",
        f"src/x.ts:\n```ts\n{TS}\n```",
        f"~~~ts src/x.ts\n{TS}\n~~~",
    ],
)
def test_file_names_in_every_common_form(answer: str) -> None:
    files = _one(f"Sure! Here is the code.\n\n{answer}\n\nLet me know.", role="types")
    assert files == {"src/x.ts": TS + "\n"}


def test_prose_around_several_files() -> None:
    answer = (
        "I split the work in two files.\n\n"
        "```ts src/types.ts\nexport type S = 'a' | 'b';\n```\n\n"
        "Then the implementation:\n\n"
        "```ts src/machine.ts\nimport { S } from './types';\nexport const s: S = 'a';\n```\n"
        "And that's all, plus a command you may run:\n```bash\nnpx tsc\n```\n"
    )
    out = extract_files(answer, role="impl", task_name="machine")
    assert sorted(out.files) == ["src/machine.ts", "src/types.ts"]
    assert out.problems == []  # the unnamed bash block is not code of the project


def test_single_unnamed_block_goes_to_the_roles_default_path() -> None:
    assert _one(f"```ts\n{TS}\n```", role="impl", task_name="LRU cache") == {
        "src/lru_cache.ts": TS + "\n"
    }
    assert _one(f"```\n{TS}\n```", role="tests", task_name="emitter") == {
        "tests/emitter.test.ts": TS + "\n"
    }
    assert _one("```python\nx = 1\n```", role="tests", language="python", task_name="q") == {
        "tests/test_q.py": "x = 1\n"
    }


def test_extra_unnamed_blocks_are_dropped_with_a_warning() -> None:
    out = extract_files(f"```ts\n{TS}\n```\n\n```ts\nconst y = 2;\n```", role="types")
    assert out.files == {"src/types.ts": TS + "\n"}
    assert [p.code for p in out.problems] == ["unnamed-block"]
    assert out.problems[0].severity == "warning"
    assert out.ok


@pytest.mark.parametrize("answer", ["", "I cannot do that.", "```ts\n\n```", "```bash\nls\n```"])
def test_no_code_is_a_diagnostic_not_a_crash(answer: str) -> None:
    out = extract_files(answer, role="impl", producer="impl_gen", task_name="sm")
    assert out.files == {}
    assert not out.ok
    [problem] = out.problems
    assert problem.tool == "extract" and problem.code == "no-code"
    assert "impl_gen" in problem.message and "src/sm.ts" in problem.message


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd.ts", "absolute"),
        ("../outside.ts", "escapes"),
        ("src/../../outside.ts", "escapes"),
        ("C:\\x\\y.ts", "absolute"),
    ],
)
def test_absolute_and_escaping_paths_are_refused(path: str, why: str) -> None:
    out = extract_files(f"```ts {path}\n{TS}\n```\n```ts src/ok.ts\n{TS}\n```", role="impl")
    assert out.files == {"src/ok.ts": TS + "\n"}
    bad = [p for p in out.problems if p.code == "bad-path"]
    assert len(bad) == 1 and why in bad[0].message
    assert not out.ok


def test_only_refused_paths_gives_no_extra_no_code_problem() -> None:
    out = extract_files(f"```ts /abs.ts\n{TS}\n```", role="impl")
    assert out.files == {} and [p.code for p in out.problems] == ["bad-path"]


def test_paths_are_normalised() -> None:
    assert normalize_path("./src/./a/../x.ts") == ("src/x.ts", "")
    assert normalize_path("src\\win\\x.ts") == ("src/win/x.ts", "")
    assert normalize_path("")[0] is None
    assert normalize_path(".")[0] is None


def test_unterminated_fence_keeps_the_code_and_warns() -> None:
    out = extract_files(f"```ts src/x.ts\n{TS}\n", role="impl")
    assert out.files == {"src/x.ts": TS + "\n"}
    assert [p.code for p in out.problems] == ["unterminated-fence"]


def test_duplicate_file_keeps_the_last() -> None:
    out = extract_files("```ts src/x.ts\nA\n```\n```ts src/x.ts\nB\n```", role="impl")
    assert out.files == {"src/x.ts": "B\n"}
    assert [p.code for p in out.problems] == ["duplicate-file"]


def test_inline_backticks_in_prose_do_not_open_blocks() -> None:
    answer = "Use ```ts``` fences. Then:\n```ts src/a.ts\nconst a = `x`;\n```"
    assert _one(answer, role="impl") == {"src/a.ts": "const a = `x`;\n"}


def test_helpers() -> None:
    assert task_slug("Retry with back-off!") == "retry_with_back_off"
    assert default_path("types", "python", "q") == "src/q_types.py"
    assert default_path("unknown-role", "typescript", "x") == "src/x.ts"
