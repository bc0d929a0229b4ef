"""Toolchains: where the compiler and test runner of a language live, and project scaffolding.

:class:`TypeScriptToolchain` pins ``typescript`` and ``jest`` through the lockfile
committed in ``agentic_nb/codegen/toolchains/typescript/``; ``python -m agentic_nb.codegen
install typescript`` runs ``npm ci`` from it into a cache directory named after the
lockfile's hash (``~/.cache/agentic_nb/toolchains/typescript-<hash>``, or under
``$AGENTIC_NB_TOOLCHAINS``), so a changed lockfile installs next to the old one.
:class:`PythonToolchain` uses the running interpreter's ``mypy`` and ``pytest``.

Each toolchain writes the scaffolding of a generated project (``tsconfig.json`` and the
jest configuration, or ``mypy.ini`` and ``pytest.ini``) and knows the command lines the
validators run inside the :class:`~agentic_nb.codegen._sandbox.Sandbox`.

Example::

    >>> tc = PythonToolchain()
    >>> sorted(tc.scaffold({"src/add.py": "x = 1"}))
    ['mypy.ini', 'pytest.ini', 'src/add.py']
    >>> TypeScriptToolchain(path="/nonexistent/tc").installed
    False
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ._sandbox import interpreter_paths

__all__ = [
    "INSTALL_HINT",
    "PythonToolchain",
    "Toolchain",
    "ToolchainError",
    "ToolchainMissingError",
    "TypeScriptToolchain",
    "get_toolchain",
    "toolchains_root",
]

_SPEC_DIR = Path(__file__).parent / "toolchains"
_COMPLETE = ".agentic-nb-complete"
INSTALL_HINT = "python -m agentic_nb.codegen install {language}"


class ToolchainError(RuntimeError):
    """A toolchain exists but cannot be used (unreadable cache, broken install...)."""


class ToolchainMissingError(ToolchainError):
    """The toolchain of a language is not installed; the message names the command."""


def toolchains_root() -> Path:
    """Where toolchains live: ``$AGENTIC_NB_TOOLCHAINS`` or ``~/.cache/agentic_nb/toolchains``.

    Example::

        >>> toolchains_root().name
        'toolchains'
    """
    env = os.environ.get("AGENTIC_NB_TOOLCHAINS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentic_nb" / "toolchains"


class Toolchain:
    """What validators need from a language's toolchain (see the two subclasses)."""

    language: str = ""
    source_ext: str = ""

    @property
    def readonly_paths(self) -> list[Path]:
        """Host directories the sandbox must show (read-only) to run the tools."""
        raise NotImplementedError

    def ensure(self) -> None:
        """Raise :class:`ToolchainMissingError` (naming the install command) when unusable."""
        raise NotImplementedError

    def scaffold(self, files: Mapping[str, str]) -> dict[str, str]:
        """``files`` plus the configuration files the tools need (generated ones win)."""
        raise NotImplementedError

    def compile_argv(self) -> list[str]:
        """The type-check command, run in the project directory."""
        raise NotImplementedError

    def test_argv(self, report: str, test_timeout_ms: int = 5000) -> list[str]:
        """The test command, writing a machine-readable report to ``report``."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Extra environment variables for the tools (never secrets)."""
        return {}

    def describe(self) -> str:
        return f"{type(self).__name__}()"

    def __repr__(self) -> str:
        return self.describe()


class TypeScriptToolchain(Toolchain):
    """``tsc`` 7 and ``jest`` 30 installed from the committed lockfile (see module docs).

    ``path`` overrides the install directory (default: under :func:`toolchains_root`,
    named after the lockfile hash).

    Example::

        >>> tc = TypeScriptToolchain(path="/nonexistent/tc")
        >>> try:
        ...     tc.ensure()
        ... except ToolchainMissingError as e:
        ...     "python -m agentic_nb.codegen install typescript" in str(e)
        True
    """

    language = "typescript"
    source_ext = ".ts"
    spec_dir = _SPEC_DIR / "typescript"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._explicit = Path(path) if path is not None else None

    @classmethod
    def lockfile_hash(cls) -> str:
        """First 12 hex digits of the SHA-256 of ``package.json`` + ``package-lock.json``."""
        h = hashlib.sha256()
        for name in ("package.json", "package-lock.json"):
            h.update((cls.spec_dir / name).read_bytes())
        return h.hexdigest()[:12]

    @property
    def path(self) -> Path:
        """The install directory (holding ``node_modules``)."""
        if self._explicit is not None:
            return self._explicit
        return toolchains_root() / f"typescript-{self.lockfile_hash()}"

    @property
    def node_modules(self) -> Path:
        return self.path / "node_modules"

    @property
    def tsc(self) -> Path:
        return self.node_modules / "typescript" / "bin" / "tsc"

    @property
    def jest(self) -> Path:
        return self.node_modules / "jest" / "bin" / "jest.js"

    @property
    def installed(self) -> bool:
        try:
            return (self.path / _COMPLETE).is_file() and self.tsc.is_file() and self.jest.is_file()
        except OSError:
            return False

    @property
    def readonly_paths(self) -> list[Path]:
        return [self.path]

    def ensure(self) -> None:
        path = self.path
        try:
            complete = (path / _COMPLETE).is_file()
            if complete:
                os.listdir(self.node_modules)
                with open(self.tsc, "rb") as fh:
                    fh.read(1)
        except PermissionError as exc:
            raise ToolchainError(
                f"the TypeScript toolchain at {path} is unreadable ({exc.strerror}): fix its "
                f"permissions, or delete it and run  {INSTALL_HINT.format(language='typescript')}"
            ) from exc
        except OSError as exc:
            raise ToolchainError(
                f"the TypeScript toolchain at {path} is broken ({exc}): delete it and run  "
                f"{INSTALL_HINT.format(language='typescript')}"
            ) from exc
        if not complete or not self.jest.is_file():
            raise ToolchainMissingError(
                f"the TypeScript toolchain (typescript + jest) is not installed at {path}: run  "
                f"{INSTALL_HINT.format(language='typescript')}  (scripts/setup.sh does it)"
            )
        if shutil.which("node") is None:
            raise ToolchainMissingError(
                "node is not installed: run  apt-get install nodejs npm  (scripts/setup.sh does it)"
            )

    def install(self, *, force: bool = False, quiet: bool = False) -> Path:
        """Run ``npm ci`` from the committed lockfile into :attr:`path`; returns it.

        Installs into a staging directory and renames it into place, so a half-finished
        install is never taken for a toolchain.
        """
        target = self.path
        if self.installed and not force:
            return target
        npm = shutil.which("npm")
        if npm is None:
            raise ToolchainMissingError(
                "npm is not installed: run  apt-get install nodejs npm  (scripts/setup.sh does it)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(self.spec_dir / name, staging / name)
            cmd = [npm, "ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"]
            cmd.append("--loglevel=error")
            proc = subprocess.run(cmd, cwd=staging, capture_output=quiet, text=True)
            if proc.returncode != 0:
                detail = (proc.stderr or "")[-2000:] if quiet else "see npm's output above"
                raise ToolchainError(f"`npm ci` failed in {staging}: {detail}")
            (staging / _COMPLETE).write_text(self.lockfile_hash() + "\n")
            os.chmod(staging, 0o755)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    # -- project layout ------------------------------------------------------------

    def tsconfig(self) -> dict[str, object]:
        return {
            "compilerOptions": {
                "target": "ES2022",
                "module": "commonjs",
                "lib": ["ES2022"],
                "strict": True,
                "esModuleInterop": True,
                "skipLibCheck": True,
                "forceConsistentCasingInFileNames": True,
                "rootDir": ".",
                "outDir": "dist",
                "types": ["jest", "node"],
                "typeRoots": [str(self.node_modules / "@types")],
                "noEmitOnError": False,
            },
            "include": ["src/**/*.ts", "tests/**/*.ts"],
        }

    def jest_config(self) -> dict[str, object]:
        return {
            "rootDir": "dist",
            "testEnvironment": "node",
            "testMatch": ["**/*.test.js"],
            "cache": False,
            "transform": {},
            "watchman": False,
            "haste": {"enableSymlinks": False},
        }

    def scaffold(self, files: Mapping[str, str]) -> dict[str, str]:
        out = {
            "tsconfig.json": json.dumps(self.tsconfig(), indent=2) + "\n",
            "jest.config.json": json.dumps(self.jest_config(), indent=2) + "\n",
        }
        out.update(files)
        return out

    def compile_argv(self) -> list[str]:
        """Type-check only (``tsc --noEmit``)."""
        return ["node", str(self.tsc), "--noEmit", "--pretty", "false", "-p", "tsconfig.json"]

    def build_argv(self) -> list[str]:
        """Compile to ``dist/`` (used before running the tests)."""
        return ["node", str(self.tsc), "--pretty", "false", "-p", "tsconfig.json"]

    def test_argv(self, report: str, test_timeout_ms: int = 5000) -> list[str]:
        """Run the compiled tests in ``dist/`` with a JSON report written to ``report``."""
        return [
            "node",
            str(self.jest),
            "--config",
            "jest.config.json",
            "--json",
            f"--outputFile={report}",
            "--ci",
            "--runInBand",
            "--colors=false",
            f"--testTimeout={test_timeout_ms}",
        ]

    def describe(self) -> str:
        return f"TypeScriptToolchain(path={str(self.path)!r}, installed={self.installed})"


class PythonToolchain(Toolchain):
    """``mypy`` and ``pytest`` of the running interpreter (``python``: another interpreter).

    Example::

        >>> PythonToolchain().ensure()  # this venv has both
    """

    language = "python"
    source_ext = ".py"

    def __init__(self, python: str | os.PathLike[str] | None = None) -> None:
        self.python = str(python) if python is not None else sys.executable

    @property
    def readonly_paths(self) -> list[Path]:
        paths = interpreter_paths() if self.python == sys.executable else []
        exe = Path(self.python).resolve()
        return [*paths, exe.parent.parent]

    def ensure(self) -> None:
        if self.python == sys.executable:
            missing = [m for m in ("mypy", "pytest") if importlib.util.find_spec(m) is None]
        else:
            probe = (
                "import importlib.util as u; print(u.find_spec('mypy') and u.find_spec('pytest'))"
            )
            try:
                out = subprocess.run(
                    [self.python, "-c", probe], capture_output=True, text=True, timeout=30
                ).stdout
            except OSError as exc:
                raise ToolchainMissingError(f"cannot run Python at {self.python}: {exc}") from exc
            missing = [] if out.strip() not in ("", "None") else ["mypy", "pytest"]
        if missing:
            raise ToolchainMissingError(
                f"the Python toolchain needs {' and '.join(missing)} in {self.python}: run  "
                f"{INSTALL_HINT.format(language='python')}  (pip install mypy pytest)"
            )

    def install(self, *, force: bool = False, quiet: bool = False) -> None:
        """``pip install mypy pytest`` into the interpreter when missing."""
        try:
            if not force:
                self.ensure()
                return
        except ToolchainMissingError:
            pass
        cmd = [self.python, "-m", "pip", "install", "mypy>=1.11", "pytest>=8"]
        proc = subprocess.run(cmd, capture_output=quiet, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"`{' '.join(cmd)}` failed: {(proc.stderr or '')[-2000:]}")

    def scaffold(self, files: Mapping[str, str]) -> dict[str, str]:
        out = {
            "mypy.ini": (
                "[mypy]\nmypy_path = src\ncheck_untyped_defs = True\n"
                "ignore_missing_imports = True\ncache_dir = /dev/null\n"
                "explicit_package_bases = True\nnamespace_packages = True\n"
            ),
            "pytest.ini": (
                "[pytest]\npythonpath = src .\ntestpaths = tests\naddopts = -p no:cacheprovider\n"
            ),
        }
        out.update(files)
        return out

    def env(self) -> dict[str, str]:
        return {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": "src"}

    def compile_argv(self) -> list[str]:
        return [
            self.python,
            "-m",
            "mypy",
            "--no-error-summary",
            "--show-column-numbers",
            "--show-error-codes",
            "--no-color-output",
            "--config-file",
            "mypy.ini",
            ".",
        ]

    def test_argv(self, report: str, test_timeout_ms: int = 5000) -> list[str]:
        return [
            self.python,
            "-m",
            "pytest",
            "-q",
            "--color=no",
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit2",
        ]

    def describe(self) -> str:
        return f"PythonToolchain(python={self.python!r})"


def get_toolchain(language: str) -> Toolchain:
    """The default toolchain of ``language`` (``"typescript"`` or ``"python"``).

    Example::

        >>> get_toolchain("python").language
        'python'
    """
    if language == "typescript":
        return TypeScriptToolchain()
    if language == "python":
        return PythonToolchain()
    raise ValueError(f"no toolchain for language {language!r}: use 'typescript' or 'python'")
