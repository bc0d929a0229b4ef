"""SimulatedCoder: a SIMULATION of a coding model, for offline tests, notebooks and benchmarks.

It is a chat client (same surface as the real ones) that never calls a model: it
answers with the reference solution of a task from the task library, altered by
realistic mistakes at stated rates. tsc / jest / mypy / pytest really run on what it
writes; only the model is simulated.

The prompt protocol it reads (the code generators write it; real models just read it
as text). In the user message(s), one per line:

- ``ROLE: types|impl|tests`` — which files to write; ``ROLE: all`` (or a comma list
  such as ``ROLE: types,impl,tests``) asks for several roles in one answer;
- ``TASK: <task name or the description's first line>``;
- ``LANGUAGE: typescript|python`` (optional, narrows the search);
- ``ATTEMPT: <n>`` (optional; without it the coder counts its own calls per task/role);
- ``CANDIDATE: <i>/<n>`` (optional, best-of-N: candidates draw their mistakes apart);
- ``FEEDBACK:`` followed by the diagnostics / failing tests, one per line (each may end
  with its fingerprint in brackets ``[fp:xxxx]``), up to the next ``UPPERCASE:`` header
  line, a code fence or the end of the message.

Mistakes (each a real edit of the reference, listed per task in the library):

================ ============================================ ==============
kind             what it does                                 default rate
================ ============================================ ==============
``type_error``   the compiler / type checker rejects the code 0.30
``missing_case`` a case of the task is not handled (a test    0.25
                 fails)
``off_by_one``   a boundary is off by one (a test fails)      0.25
``bad_test``     a generated test contradicts the task        0.20
================ ============================================ ==============

Each applicable mistake is drawn independently for every answer (a mistake in the types
file is drawn at half its kind's rate: its ``rate_scale`` in the library is 0.5). When the FEEDBACK
names a mistake (its file and compiler code such as ``TS2322`` / ``[return-value]``, or
the failing test's name), it is repaired with probability ``repair_rate`` (0.8) and
kept otherwise; a mistake whose code is shown in the prompt and not named is kept (the
model leaves code alone it was not told about); other mistakes are drawn again at
``rate * regression_factor`` (0.5) when answering feedback (rewriting a file risks new
mistakes). When one answer contains both the implementation and its tests, a
behavioural mistake (missing case, off-by-one) is copied into the tests with probability
``correlated_rate`` (0.7): tests written together with the code share its
misconceptions, so they pass while the hidden acceptance tests fail. The same rates
apply whoever asks: the coder never looks at which workflow calls it.

Answers are deterministic for (seed, task, roles, attempt, candidate, feedback, draw), where
``draw`` counts earlier identical requests (so N parallel candidates differ). A task it
cannot find gets a prose-only answer (no code). Token usage is estimated like the
scripted test double does (~4 characters per token).

Example::

    >>> import asyncio
    >>> coder = SimulatedCoder(seed=1, mistake_rates={"type_error": 0.0, "missing_case": 0.0,
    ...     "off_by_one": 0.0, "bad_test": 0.0})
    >>> r = asyncio.run(coder.get_response("ROLE: types\\nTASK: state_machine"))
    >>> "```ts src/types.ts" in r.text, r.usage.output_tokens > 0
    (True, True)
    >>> asyncio.run(coder.get_response("ROLE: impl\\nTASK: fly to the moon")).text.count("```")
    0
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from agentic_nb.llm import (
    ChatClient,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ChatResponseUpdate,
    ChatRetryPolicy,
    Usage,
    estimate_tokens,
)

from ._library import MISTAKE_KINDS, Mistake, library_entries, role_of_path
from ._types import CodeTask

DEFAULT_MISTAKE_RATES: dict[str, float] = {
    "type_error": 0.30,
    "missing_case": 0.25,
    "off_by_one": 0.25,
    "bad_test": 0.20,
}
_ROLES = ("types", "impl", "tests")
_HEADER = re.compile(r"^\s*([A-Z][A-Z_ -]{1,30}):\s?(.*)$")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the in of for to and or with from into by on as is are be it its this that write "
    "implement create make build code program typescript python class function generic small "
    "simple please".split()
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


@dataclass
class SimulatedAnswer:
    """What the simulation did for one call (kept in ``SimulatedCoder.answers``).

    ``mistakes`` are the mistakes this answer contains; ``repaired`` those the feedback
    named that this answer does not contain (fixed, or never made); ``mirrored`` the
    mistakes copied into tests written in the same answer.
    """

    task: str | None
    roles: tuple[str, ...]
    attempt: int
    draw: int
    files: dict[str, str] = field(default_factory=dict, repr=False)
    mistakes: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    mirrored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Prompt:
    roles: tuple[str, ...]
    task: str
    language: str
    attempt: int | None
    feedback: str
    text: str
    candidate: int = 0


def parse_prompt(text: str) -> _Prompt:
    """Read the protocol's header lines (ROLE, TASK, LANGUAGE, ATTEMPT, FEEDBACK).

    Example::

        >>> p = parse_prompt("ROLE: impl\\nTASK: lru_cache\\nFEEDBACK:\\nsrc/a.ts(1,1): TS2322 x")
        >>> p.roles, p.task, p.feedback
        (('impl',), 'lru_cache', 'src/a.ts(1,1): TS2322 x')
    """
    roles: tuple[str, ...] = ()
    task = language = ""
    attempt: int | None = None
    candidate = 0
    feedback: list[str] = []
    in_feedback = False
    for line in text.splitlines():
        m = _HEADER.match(line)
        if in_feedback and (m is not None or line.lstrip().startswith("```")):
            in_feedback = False
        if m is None:
            if in_feedback and line.strip():
                feedback.append(line.strip())
            continue
        key, value = m.group(1).strip().upper(), m.group(2).strip()
        if key == "ROLE" and not roles:
            asked = [r.strip().lower() for r in re.split(r"[,\s|+]+", value) if r.strip()]
            roles = _ROLES if "all" in asked else tuple(r for r in _ROLES if r in asked)
        elif key == "TASK" and not task:
            task = value
        elif key == "LANGUAGE" and not language:
            language = value.lower()
        elif key == "ATTEMPT" and attempt is None and value.isdigit():
            attempt = int(value)
        elif key == "CANDIDATE" and value.split("/")[0].strip().isdigit():
            candidate = int(value.split("/")[0])
        elif key == "FEEDBACK":
            in_feedback = True
            if value:
                feedback.append(value)
    return _Prompt(roles, task, language, attempt, "\n".join(feedback), text, candidate)


class SimulatedCoder(ChatClient):
    """A SIMULATED coding model: the library's reference solutions with realistic mistakes.

    ``tasks`` (``CodeTask`` objects with a ``reference``) replaces the built-in library;
    a given task whose name is also a library task keeps that task's mistakes, others are
    answered without mistakes. ``mistake_rates`` overrides the per-kind rates (see the
    module's table); ``repair_rate`` is the probability of fixing a mistake the feedback
    names; ``correlated_rate`` and ``regression_factor`` are explained in the module's
    documentation. ``answers`` records what each call did (task, mistakes made, repairs).
    """

    provider = "simulated"

    def __init__(
        self,
        tasks: Iterable[CodeTask] | None = None,
        *,
        seed: int = 0,
        mistake_rates: Mapping[str, float] | None = None,
        repair_rate: float = 0.8,
        correlated_rate: float = 0.7,
        regression_factor: float = 0.5,
        model: str = "simulated-coder",
        chunk_size: int = 64,
        timeout: float | None = 30.0,
        retry: ChatRetryPolicy | None = None,
    ) -> None:
        super().__init__(model, timeout=timeout, retry=retry or ChatRetryPolicy(max_attempts=1))
        rates = dict(DEFAULT_MISTAKE_RATES)
        for kind, rate in (mistake_rates or {}).items():
            if kind not in MISTAKE_KINDS:
                raise ValueError(
                    f"SimulatedCoder: unknown mistake kind {kind!r} in mistake_rates; "
                    f"use {', '.join(MISTAKE_KINDS)}"
                )
            rates[kind] = float(rate)
        for name, value in [
            *rates.items(),
            ("repair_rate", repair_rate),
            ("correlated_rate", correlated_rate),
            ("regression_factor", regression_factor),
        ]:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SimulatedCoder: {name} must be within [0, 1], got {value}")
        self.seed = seed
        self.mistake_rates = rates
        self.repair_rate = repair_rate
        self.correlated_rate = correlated_rate
        self.regression_factor = regression_factor
        self.chunk_size = max(1, chunk_size)
        self.answers: list[SimulatedAnswer] = []
        self._calls: dict[tuple[object, ...], int] = {}
        known = {e.task.name: e.mistakes for e in library_entries()}
        if tasks is None:
            self._tasks: list[tuple[CodeTask, tuple[Mistake, ...]]] = [
                (e.task, e.mistakes) for e in library_entries()
            ]
        else:
            self._tasks = []
            for t in tasks:
                if not t.reference:
                    raise ValueError(
                        f"SimulatedCoder(tasks=...): task {t.name or t.description[:40]!r} "
                        "has no reference solution to answer with; give CodeTask(reference=...)"
                    )
                self._tasks.append((t, known.get(t.name, ()) if t.name else ()))

    def __repr__(self) -> str:
        return f"SimulatedCoder(seed={self.seed}, simulation of a coding model)"

    # ------------------------------------------------------------ task search
    def find_task(self, key: str, language: str = "") -> CodeTask | None:
        """The task a prompt's ``TASK:`` value names: by name, else by description words."""
        pool = [(t, m) for t, m in self._tasks if not language or t.language == language]
        found = self._find(key, pool)
        return found[0] if found else None

    def _find(
        self, key: str, pool: list[tuple[CodeTask, tuple[Mistake, ...]]]
    ) -> tuple[CodeTask, tuple[Mistake, ...]] | None:
        norm = re.sub(r"[\s\-]+", "_", key.strip().lower())
        for t, m in pool:
            if t.name and t.name == norm:
                return t, m
        words = _words(key)
        if not words:
            return None
        best: tuple[float, int] = (0.0, -1)
        for i, (t, _) in enumerate(pool):
            if key.strip() and t.description.lower().startswith(key.strip().lower()[:60]):
                return pool[i]
            desc = _words(t.name.replace("_", " ") + " " + t.description)
            score = len(words & desc) / len(words)
            if score > best[0]:
                best = (score, i)
        return pool[best[1]] if best[0] >= 0.6 else None

    # ------------------------------------------------------------ answering
    def _answer(self, request: ChatRequest) -> tuple[str, SimulatedAnswer]:
        user = "\n".join(m.text for m in request.messages if m.role == "user" and m.text)
        prompt = parse_prompt(user)
        everything = "\n".join(m.text for m in request.messages if m.text)
        found = (
            self._find(
                prompt.task,
                [
                    (t, m)
                    for t, m in self._tasks
                    if not prompt.language or t.language == prompt.language
                ],
            )
            if prompt.task
            else None
        )
        roles = prompt.roles or ("impl",)
        if found is None:
            answer = SimulatedAnswer(None, roles, prompt.attempt or 1, 0)
            text = (
                "(simulated coder) I do not know how to write this: the task "
                f"{prompt.task or '(no TASK: line)'!r} is not one of the tasks this simulation "
                "can code, so I am answering in prose only, without any code."
            )
            return text, answer
        task, mistakes = found
        count_key = (task.name, roles)
        attempt = prompt.attempt
        if attempt is None:
            attempt = self._calls.get(count_key, 0) + 1
            self._calls[count_key] = attempt
        draw_key = (task.name, roles, attempt, prompt.candidate, prompt.feedback)
        draw = self._calls.get(draw_key, 0)
        self._calls[draw_key] = draw + 1
        answer = SimulatedAnswer(task.name, roles, attempt, draw)
        files = dict(task.reference or {})
        wanted = {p for p in files if role_of_path(p) in roles}
        rng = random.Random(
            _seed(self.seed, task.name, roles, attempt, prompt.candidate, draw, prompt.feedback)
        )
        made: list[Mistake] = []
        for m in mistakes:
            if m.file not in wanted:
                continue
            roll = rng.random()
            if _named(m, prompt.feedback):
                keep = roll >= self.repair_rate
                if not keep:
                    answer.repaired.append(_label(m))
            elif prompt.feedback and m.replace.strip() and m.replace.strip() in everything:
                keep = True
            else:
                rate = self.mistake_rates[m.kind] * m.rate_scale
                keep = roll < (rate * self.regression_factor if prompt.feedback else rate)
            if keep:
                try:
                    files = m.apply(files)
                except ValueError:
                    continue  # another mistake already rewrote this spot
                made.append(m)
                answer.mistakes.append(_label(m))
        for m in made:
            both = m.mirror_file in wanted and m.file in wanted
            if both and m.mirror_find and rng.random() < self.correlated_rate:
                try:
                    files = m.apply_mirror(files)
                except ValueError:
                    continue
                answer.mirrored.append(_label(m))
        answer.files = {p: files[p] for p in sorted(wanted)}
        return _render(task, roles, answer.files, bool(prompt.feedback)), answer

    async def _respond(self, request: ChatRequest) -> ChatResponse:
        text, answer = self._answer(request)
        self.answers.append(answer)
        await asyncio.sleep(0)
        prompt_tokens = sum(estimate_tokens(m.text) + 4 for m in request.messages)
        usage = Usage(prompt_tokens, estimate_tokens(text))
        return ChatResponse(ChatMessage.assistant(text), usage, "stop", self.model)

    async def _create(self, request: ChatRequest) -> ChatResponse:
        return await self._respond(request)

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        response = await self._respond(request)
        text = response.text
        for i in range(0, len(text), self.chunk_size):
            yield ChatResponseUpdate(text=text[i : i + self.chunk_size], model=self.model)
            await asyncio.sleep(0)
        yield ChatResponseUpdate(usage=response.usage, finish_reason="stop")


def _seed(seed: int, *parts: object) -> int:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _label(m: Mistake) -> str:
    return f"{m.task}#{m.index}:{m.kind}"


def _named(m: Mistake, feedback: str) -> bool:
    """Whether the feedback names this mistake (file + compiler code, or the test's name)."""
    if not feedback:
        return False
    if m.kind == "type_error":
        base = m.reported_in.rsplit("/", 1)[-1]
        codes = {c for d in m.detect for c in (d, d.strip("[]"))}  # mypy: "[arg-type]" / "arg-type"
        return any(base in line and any(c in line for c in codes) for line in feedback.splitlines())
    words = {w.replace("_", " ").lower() for w in m.detect}
    flat = feedback.replace("_", " ").lower()
    return any(w in flat for w in words)


def _render(task: CodeTask, roles: tuple[str, ...], files: dict[str, str], repair: bool) -> str:
    what = " and ".join(
        {"types": "the types", "impl": "the implementation", "tests": "the tests"}[r] for r in roles
    )
    intro = (
        f"(simulated coder) Here is {what} for {task.name or 'the task'}"
        + (", revised after the feedback" if repair else "")
        + ":"
    )
    parts = [intro]
    for path, text in files.items():
        fence = "ts" if path.endswith(".ts") else "python" if path.endswith(".py") else ""
        parts.append(f"```{fence} {path}\n{text.rstrip()}\n```")
    parts.append("Each file is complete; put them at the paths shown in the fence headers.")
    return "\n\n".join(parts)
