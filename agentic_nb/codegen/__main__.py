"""``python -m agentic_nb.codegen install typescript|python`` and ``... status``.

Installs a language toolchain for the code-generation validators (the TypeScript one
from the committed lockfile into the toolchain cache), or says what is installed.
"""

from __future__ import annotations

import argparse
import sys

from ._toolchain import PythonToolchain, ToolchainError, TypeScriptToolchain, toolchains_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agentic_nb.codegen",
        description="Toolchains of agentic_nb's code-generation validators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="install a language toolchain")
    inst.add_argument("language", choices=["typescript", "python", "all"])
    inst.add_argument("--force", action="store_true", help="reinstall even when present")
    sub.add_parser("status", help="say which toolchains are installed, and where")
    args = parser.parse_args(argv)

    if args.command == "status":
        ts = TypeScriptToolchain()
        print(f"toolchains root: {toolchains_root()}")
        print(f"typescript: {'installed' if ts.installed else 'MISSING'} at {ts.path}")
        try:
            PythonToolchain().ensure()
            print(f"python: mypy + pytest available in {sys.executable}")
        except ToolchainError as exc:
            print(f"python: {exc}")
        return 0

    try:
        if args.language in ("typescript", "all"):
            ts = TypeScriptToolchain()
            if ts.installed and not args.force:
                print(f"typescript toolchain already installed at {ts.path}")
            else:
                print(f"installing the typescript toolchain (npm ci) into {ts.path} ...")
                ts.install(force=args.force)
                print(f"typescript toolchain installed at {ts.path}")
        if args.language in ("python", "all"):
            PythonToolchain().install(force=args.force)
            print(f"python toolchain ready (mypy + pytest in {sys.executable})")
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
