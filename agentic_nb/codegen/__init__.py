"""Code generation as a graph: the specification's TypeScript flow with real tsc and jest.

``codegen_workflow`` builds the graph of "Flow Complet: Exemple TypeScript": TypeGen
and TestGen start in parallel from a :class:`CodeTask` (the tests are written without
seeing the implementation), ImplGen writes the implementation against the types, the
assembler joins the three, ``tsc`` then ``jest`` run in a :class:`Sandbox`, and failures
come back as feedback — to ImplGen, or to TestGen when the tests themselves are wrong —
with every error fingerprinted so a repeated error stops the loop (or asks a human).
``linear_codegen`` is the old one-generator retry loop, kept for comparison. Both
return a ``Workflow`` whose input is a :class:`CodeTask` and whose output is a
:class:`GeneratedProject`.

Any chat client or agent can be the model. Offline, use :class:`SimulatedCoder` — a
SIMULATION of a model over the task library (``task_library()``); tsc and jest always
really run. Below, a test double answers by the ``ROLE:`` line of each prompt:

Example::

    >>> from agentic_nb.codegen import CodeTask, GeneratedProject, codegen_workflow
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> answers = {
    ...     "types": "```ts src/types.ts\\n"
    ...              "export type Add = (a: number, b: number) => number;\\n```",
    ...     "impl": "```ts src/add.ts\\nimport { Add } from './types';\\n"
    ...             "export const add: Add = (a, b) => a + b;\\n```",
    ...     "tests": "```ts tests/add.test.ts\\nimport { add } from '../src/add';\\n"
    ...              "test('adds', () => expect(add(2, 3)).toBe(5));\\n```",
    ... }
    >>> def model(request):  # a test double: answers by the prompt's ROLE line
    ...     return answers[request.messages[-1].text.split("\\n")[0].removeprefix("ROLE: ")]
    >>> wf = codegen_workflow(client=ScriptedChatClient([model] * 3))
    >>> result = wf.run_sync(CodeTask("Add two numbers.", name="add"))
    >>> project = result.get_output(GeneratedProject)
    >>> project.passed, project.attempts, sorted(project.files)
    (True, 1, ['src/add.ts', 'src/types.ts', 'tests/add.test.ts'])
"""

from ._arbiter import Arbiter, Candidate, pick_best
from ._extract import Extraction, default_path, extract_files, normalize_path
from ._fingerprint import (
    ErrorFingerprinter,
    fingerprint_diagnostic,
    fingerprint_failure,
    mask_message,
)
from ._flow import (
    FeedbackRouter,
    ProjectFinisher,
    ReviewDecision,
    ReviewRequest,
    Stop,
    TaskIntake,
    codegen_workflow,
)
from ._generators import CodeAssembler, CodeGenerator, Feedback, build_prompt, feedback_lines
from ._interpreter import code_interpreter
from ._library import get_task, task_library
from ._linear import linear_codegen
from ._patterns import FixPattern, NatsPatternMemory, PatternMemory
from ._sandbox import Sandbox, SandboxResult, SandboxUnavailableError
from ._simulated import SimulatedCoder
from ._toolchain import PythonToolchain, ToolchainMissingError, TypeScriptToolchain
from ._types import (
    CodeArtifact,
    CodeBundle,
    CodeTask,
    Diagnostic,
    GeneratedProject,
    TestFailure,
    ValidationResult,
)
from ._validators import CompileValidator, LintValidator, TestValidator

__all__ = [
    "Arbiter",
    "Candidate",
    "CodeArtifact",
    "CodeAssembler",
    "CodeBundle",
    "CodeGenerator",
    "CodeTask",
    "CompileValidator",
    "Diagnostic",
    "ErrorFingerprinter",
    "Extraction",
    "Feedback",
    "FeedbackRouter",
    "FixPattern",
    "GeneratedProject",
    "LintValidator",
    "NatsPatternMemory",
    "PatternMemory",
    "ProjectFinisher",
    "PythonToolchain",
    "ReviewDecision",
    "ReviewRequest",
    "Sandbox",
    "SandboxResult",
    "SandboxUnavailableError",
    "SimulatedCoder",
    "Stop",
    "TaskIntake",
    "TestFailure",
    "TestValidator",
    "ToolchainMissingError",
    "TypeScriptToolchain",
    "ValidationResult",
    "build_prompt",
    "code_interpreter",
    "codegen_workflow",
    "default_path",
    "extract_files",
    "feedback_lines",
    "fingerprint_diagnostic",
    "fingerprint_failure",
    "get_task",
    "linear_codegen",
    "mask_message",
    "normalize_path",
    "pick_best",
    "task_library",
]
