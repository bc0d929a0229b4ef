"""First launch: the shipped notebooks show their pictures when opened, before anything runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import nbformat
import pytest

from .conftest import OUTPUT_DIR, REPO, open_notebook

pytestmark = pytest.mark.browser

SHIPPED = ["01_build_cell_by_cell.ipynb", "03_step_through_supersteps.ipynb"]


def test_shipped_notebooks_hold_no_stale_widget_outputs() -> None:
    """A saved widget output cannot come back to life: it would show `VBox(children=…` text."""
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        if path.name.startswith(("05_", "06_")):  # owned by the patterns / codegen work
            continue
        book = nbformat.read(path, as_version=4)
        assert "widgets" not in book.metadata, f"{path.name}: saved widget state"
        for i, cell in enumerate(book.cells):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                assert "application/vnd.jupyter.widget-view+json" not in data, (
                    f"{path.name} cell {i}: stale widget output"
                )
                assert "VBox(children=" not in str(data.get("text/plain", "")), path.name


def test_first_open_shows_the_graph_pictures(lab_server: Callable[..., str], chromium: Any) -> None:
    from playwright.sync_api import expect

    names = {f"{uuid.uuid4().hex[:6]}-{n}": n for n in SHIPPED}
    base = lab_server(
        {new: nbformat.read(REPO / "notebooks" / old, as_version=4) for new, old in names.items()},
        trust=True,
    )
    for new, old in names.items():
        page = open_notebook(chromium, base, new, wait_kernel=False)
        pictures = page.locator(".jp-RenderedSVG img")
        expect(pictures.first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(500)
        text = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        page.screenshot(path=str(OUTPUT_DIR / f"first_open_{old}.png"))
        assert "VBox(children=" not in text, old
        # an untrusted notebook would show the text fallback instead of the picture
        assert "WorkflowBuilder '" not in text and "Workflow '" not in text, text[:300]
        src = pictures.first.get_attribute("src") or ""
        assert src.startswith("data:image/svg+xml"), src[:60]
        page.close()
