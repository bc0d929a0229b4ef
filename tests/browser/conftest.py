"""A real JupyterLab on loopback and Debian's Chromium driven by Playwright, for browser tests.

``lab_server(notebooks)`` writes the given notebooks (name -> NotebookNode) into a fresh
root, signs them in a private Jupyter data dir when asked (what ``make lab`` does with
``jupyter trust``), starts ``jupyter lab`` with fresh workspace/runtime/settings dirs and
returns its base URL. ``chromium`` launches the browser with the flags that work here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "test-output" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def code_notebook(cells: list[str]) -> Any:
    """A notebook of code cells with the ipykernel kernelspec."""
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.strip()) for c in cells])
    book.metadata["kernelspec"] = KERNELSPEC
    return book


def _write_settings(settings_dir: Path) -> None:
    """User settings for this server only: no news pop-up, no update check, no autosave."""
    notification = settings_dir / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    docmanager = settings_dir / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a JupyterLab serving the given notebooks; returns the base URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    procs: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(notebooks: dict[str, Any], *, trust: bool = False) -> str:
        root = tmp_path / "root"
        root.mkdir()
        for name, book in notebooks.items():
            nbformat.write(book, root / name)
        settings = tmp_path / "settings"
        _write_settings(settings)
        env = dict(os.environ)
        env.update(
            JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
            JUPYTER_DATA_DIR=str(tmp_path / "data"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            PYTHONPATH=str(REPO),
        )
        jupyter = Path(sys.executable).with_name("jupyter")
        if trust:  # the same command `make lab` runs before opening JupyterLab
            subprocess.run(
                [str(jupyter), "trust", *[str(root / n) for n in notebooks]],
                env=env,
                check=True,
                capture_output=True,
            )
        port = free_port()
        log = (tmp_path / "jupyter.log").open("w")
        proc = subprocess.Popen(
            [
                str(jupyter),
                "lab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=None",
                "--LabApp.extension_manager=readonly",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append((proc, log))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return base
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("jupyter lab did not answer /api/status within 60 s")
            time.sleep(0.25)

    try:
        yield start
    finally:
        for proc, log in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A Chromium browser (Playwright, Debian's binary; never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(browser: Any, base: str, name: str, *, wait_kernel: bool = True) -> Any:
    """A page with notebook ``name`` open (and its kernel idle when ``wait_kernel``)."""
    import re

    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/tree/{name}?reset")
    if wait_kernel:
        kernel = page.get_by_role("button", name=re.compile(r"\(ipykernel\) \| Idle$"))
        expect(kernel).to_be_visible(timeout=60_000)
    return page


def run_all(page: Any) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
