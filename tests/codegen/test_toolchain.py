"""Toolchains: the pinned lockfile, the install command, clear errors, real tsc/jest/mypy."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_nb.codegen._sandbox import Sandbox
from agentic_nb.codegen._toolchain import (
    PythonToolchain,
    ToolchainError,
    ToolchainMissingError,
    TypeScriptToolchain,
    get_toolchain,
    toolchains_root,
)

WT = Path(__file__).resolve().parents[2]
SPEC = WT / "agentic_nb" / "codegen" / "toolchains" / "typescript"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(WT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "agentic_nb.codegen", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )


def test_versions_are_pinned_by_the_committed_lockfile() -> None:
    pkg = json.loads((SPEC / "package.json").read_text())
    deps = pkg["devDependencies"]
    assert deps["typescript"] == "7.0.2"
    assert deps["@types/node"].startswith("20.")  # the node on this machine
    assert deps["jest"].startswith("30.")
    assert "@types/jest" in deps
    lock = json.loads((SPEC / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/typescript"]["version"] == "7.0.2"
    assert lock["packages"]["node_modules/jest"]["version"] == deps["jest"]


def test_cache_dir_is_named_after_the_lockfile_and_overridable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTIC_NB_TOOLCHAINS", str(tmp_path))
    tc = TypeScriptToolchain()
    assert toolchains_root() == tmp_path
    assert tc.path == tmp_path / f"typescript-{TypeScriptToolchain.lockfile_hash()}"
    monkeypatch.delenv("AGENTIC_NB_TOOLCHAINS")
    assert toolchains_root() == Path.home() / ".cache" / "agentic_nb" / "toolchains"


def test_missing_toolchain_names_the_install_command(tmp_path: Path) -> None:
    tc = TypeScriptToolchain(path=tmp_path / "nothing-here")
    assert not tc.installed
    with pytest.raises(
        ToolchainMissingError, match=r"python -m agentic_nb\.codegen install typescript"
    ):
        tc.ensure()


def test_half_installed_toolchain_is_not_taken_for_one(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "typescript" / "bin").mkdir(parents=True)
    (tmp_path / "node_modules" / "typescript" / "bin" / "tsc").write_text("")
    tc = TypeScriptToolchain(path=tmp_path)  # no completion marker: npm ci did not finish
    with pytest.raises(ToolchainMissingError, match="install typescript"):
        tc.ensure()


def test_unreadable_cache_is_a_clear_error_naming_the_path(tmp_path: Path) -> None:
    # A completed install whose node_modules was replaced by a file: unreadable as a toolchain.
    (tmp_path / ".agentic-nb-complete").write_text("x")
    (tmp_path / "node_modules").write_text("not a directory")
    tc = TypeScriptToolchain(path=tmp_path)
    with pytest.raises(ToolchainError, match=str(tmp_path)) as info:
        tc.ensure()
    assert "install typescript" in str(info.value)


def test_unreadable_cache_for_a_non_root_user() -> None:
    # Run as the sandbox's unprivileged uid: a cache it may not read is reported by path.
    root = WT / f".tc-probe-{os.getpid()}"
    (root / "node_modules").mkdir(parents=True)
    try:
        (root / ".agentic-nb-complete").write_text("x")
        os.chmod(root / "node_modules", 0o000)
        code = (
            "from agentic_nb.codegen._toolchain import TypeScriptToolchain, ToolchainError\n"
            f"try:\n    TypeScriptToolchain(path={str(root)!r}).ensure()\n"
            "except ToolchainError as e:\n    print('ERR', e)\n"
        )
        sb = Sandbox(isolation="bwrap", timeout=60).with_paths(
            *PythonToolchain().readonly_paths,
            WT,  # the checkout: agentic_nb is imported from it
        )
        res = asyncio.run(sb.run([sys.executable, "-c", code], env={"PYTHONPATH": str(WT)}))
        assert f"ERR the TypeScript toolchain at {root} is unreadable" in res.stdout, res
    finally:
        os.chmod(root / "node_modules", 0o755)
        shutil.rmtree(root)


def test_installed_toolchain_runs_the_pinned_tsc_inside_the_sandbox() -> None:
    tc = TypeScriptToolchain()
    tc.ensure()  # scripts/setup.sh installs it: a missing one fails here, loudly
    sb = Sandbox(timeout=60).with_paths(*tc.readonly_paths)
    res = asyncio.run(sb.run(["node", str(tc.tsc), "--version"]))
    assert res.returncode == 0, res
    assert "7.0.2" in res.stdout


def test_scaffold_is_strict_commonjs_with_rootdir_and_generated_files_win() -> None:
    tc = TypeScriptToolchain()
    files = tc.scaffold({"src/a.ts": "x", "jest.config.json": "{}"})
    cfg = json.loads(files["tsconfig.json"])["compilerOptions"]
    assert cfg["strict"] is True and cfg["module"] == "commonjs"
    assert cfg["rootDir"] == "." and cfg["outDir"] == "dist"
    assert files["jest.config.json"] == "{}" and files["src/a.ts"] == "x"
    assert set(PythonToolchain().scaffold({})) == {"mypy.ini", "pytest.ini"}


def test_python_toolchain_has_mypy_and_pytest() -> None:
    PythonToolchain().ensure()
    with pytest.raises(ToolchainMissingError, match="install python"):
        PythonToolchain(python="/bin/false").ensure()


def test_get_toolchain_refuses_unknown_languages() -> None:
    assert isinstance(get_toolchain("typescript"), TypeScriptToolchain)
    with pytest.raises(ValueError, match="no toolchain for language 'cobol'"):
        get_toolchain("cobol")


def test_status_command() -> None:
    res = cli("status")
    assert res.returncode == 0, res.stderr
    assert "typescript: installed" in res.stdout


def test_install_command_installs_from_the_lockfile(tmp_path: Path) -> None:
    # The real `npm ci` from the committed lockfile (the npm cache makes it offline-fast).
    env = {"AGENTIC_NB_TOOLCHAINS": str(tmp_path)}
    res = cli("install", "typescript", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    target = tmp_path / f"typescript-{TypeScriptToolchain.lockfile_hash()}"
    assert f"installed at {target}" in res.stdout
    tc = TypeScriptToolchain(path=target)
    tc.ensure()
    version = subprocess.run(
        ["node", str(tc.tsc), "--version"], capture_output=True, text=True, check=True
    )
    assert "7.0.2" in version.stdout
    # No staging directory is left behind; a second install is a no-op.
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    again = cli("install", "typescript", env=env)
    assert "already installed" in again.stdout
