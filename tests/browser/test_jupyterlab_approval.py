"""End to end: a real JupyterLab on loopback, driven in Debian's Chromium with Playwright.

Opens a notebook, runs all cells, clicks Approve on the pending request card and checks
in the page that the run completed and that the graph SVG shows every executor in its
final colour. A screenshot is saved under ``test-output/browser/``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from agentic_nb.notebook import STATE_COLORS

pytestmark = pytest.mark.browser

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

NOTEBOOK_CELLS = [
    """
from agentic_nb import WorkflowBuilder, WorkflowContext, executor


@executor(id="draft")
async def draft(topic: str, ctx: WorkflowContext[str]) -> None:
    await ctx.send_message(f"A post about {topic}")


@executor(id="review")
async def review(text: str, ctx: WorkflowContext[str, str]) -> None:
    ok = await ctx.request_info(text, response_type=bool)
    await ctx.yield_output(("published: " if ok else "dropped: ") + text)
    await ctx.send_message(text)


@executor(id="escalate")
async def escalate(text: str, ctx: WorkflowContext[None, str]) -> None:
    await ctx.yield_output("escalated: " + text)


wf = (
    WorkflowBuilder(name="publish", start=draft)
    .add_edge(draft, review)
    .add_edge(review, escalate, condition=lambda t: "urgent" in t, label="urgent")
    .build()
)
""",
    """
live = wf.run_live("cats")
live
""",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
def jupyterlab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 with fresh workspace/runtime/settings dirs."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    root = tmp_path / "root"
    root.mkdir()
    name = f"approval-{uuid.uuid4().hex[:8]}.ipynb"
    book = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c.strip()) for c in NOTEBOOK_CELLS]
    )
    book.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(book, root / name)
    settings = tmp_path / "settings"
    _write_settings(settings)
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        PYTHONPATH=str(REPO),
    )
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
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
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("jupyter lab did not answer /api/status within 60 s")
            time.sleep(0.25)
        yield base, name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


_GRAPH_FILLS_JS = """
() => {
  const svgs = document.querySelectorAll('.agentic-live-run .agentic-graph-svg svg');
  const svg = svgs[svgs.length - 1];
  if (!svg) return null;
  const out = {};
  for (const g of svg.querySelectorAll('g.node')) {
    const title = g.querySelector('title');
    const shape = g.querySelector('path, polygon, ellipse');
    if (title && shape) out[title.textContent] = shape.getAttribute('fill');
  }
  return out;
}
"""


def test_run_all_approve_and_see_the_final_graph(jupyterlab: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, name = jupyterlab
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT_DIR / "approval_completed.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{name}?reset")
            kernel = page.get_by_role("button", name=re.compile(r"\(ipykernel\) \| Idle$"))
            expect(kernel).to_be_visible(timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()

            card = page.locator(".agentic-request-card")
            expect(card).to_be_visible(timeout=60_000)
            expect(card).to_contain_text("A post about cats")
            waiting = page.locator('.agentic-live-run .agentic-status[data-status="waiting"]')
            expect(waiting).to_be_visible(timeout=30_000)
            approve = card.locator("button.widget-button", has_text="Approve")
            approve.click()

            done = page.locator('.agentic-live-run .agentic-status[data-status="completed"]')
            expect(done).to_be_visible(timeout=30_000)
            expect(card.locator(".agentic-answered")).to_contain_text("approved")
            expect(approve).to_be_disabled()
            outputs = page.locator(".agentic-live-run").first
            expect(outputs).to_contain_text("1 output(s)")
            page.wait_for_timeout(300)  # let the last throttled redraw land
            fills = page.evaluate(_GRAPH_FILLS_JS)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert fills is not None, "no graph SVG in the live widget"
    assert fills["draft"] == STATE_COLORS["done"]
    assert fills["review"] == STATE_COLORS["done"]
    assert fills["escalate"] == STATE_COLORS["skipped"]  # the urgent branch was never taken
    assert shot.exists() and shot.stat().st_size > 10_000
