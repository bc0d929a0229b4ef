"""Code generation as a graph: generators, assembler, real compile/test validators.

(The full module docstring with a runnable example lands with the workflow builders.)
"""

from ._extract import Extraction, default_path, extract_files, normalize_path
from ._fingerprint import (
    ErrorFingerprinter,
    fingerprint_diagnostic,
    fingerprint_failure,
    mask_message,
)
from ._types import (
    CodeArtifact,
    CodeBundle,
    CodeTask,
    Diagnostic,
    GeneratedProject,
    TestFailure,
    ValidationResult,
)

__all__ = [
    "CodeArtifact",
    "CodeBundle",
    "CodeTask",
    "Diagnostic",
    "ErrorFingerprinter",
    "Extraction",
    "GeneratedProject",
    "TestFailure",
    "ValidationResult",
    "default_path",
    "extract_files",
    "fingerprint_diagnostic",
    "fingerprint_failure",
    "mask_message",
    "normalize_path",
]
