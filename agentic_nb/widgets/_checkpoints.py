"""Checkpoint browser: list a run's checkpoints, inspect and diff their state, resume or fork."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from agentic_nb.workflow import CheckpointSaved

from ._common import html_table, ipywidgets, short, spawn
from ._live import LiveRunWidget


def state_diff(old: dict[str, Any], new: dict[str, Any]) -> list[list[Any]]:
    """Rows ``[change, key, before, after]`` between two state dicts (sorted by key).

    Example::

        >>> state_diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0})
        [['changed', 'b', 2, 3], ['added', 'c', '', 0]]
    """
    rows: list[list[Any]] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            rows.append(["added", key, "", new[key]])
        elif key not in new:
            rows.append(["removed", key, old[key], ""])
        elif old[key] != new[key]:
            rows.append(["changed", key, old[key], new[key]])
    return rows


def _label(info: Any) -> str:
    when = datetime.fromtimestamp(info.created_at, UTC).strftime("%H:%M:%S")
    return (
        f"superstep {info.superstep} · {when} UTC · {info.queued} queued · "
        f"{info.pending_requests} pending · {info.status}"
    )


class CheckpointBrowser:
    """Browse the checkpoints of a run that has a checkpoint storage.

    The list shows superstep, time, queued messages and pending requests of each
    checkpoint; selecting one shows its shared state, its queue and its difference
    from the previous checkpoint. **Resume** continues from the selected
    checkpoint (a fork when it is not the latest); **Fork** starts a new run from
    it with the state edits typed in the JSON box. The new run appears below with
    its live widget (``new_run``).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.workflow import InMemoryCheckpointStorage
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> wf = WorkflowBuilder(start=echo, checkpoint_storage=InMemoryCheckpointStorage()).build()
        >>> import asyncio
        >>> async def cell():
        ...     run = wf.start("hi")
        ...     await run.until_idle()
        ...     browser = CheckpointBrowser(run)
        ...     await browser.last_task      # the list loads in the background
        ...     return len(browser.select.options)
        >>> asyncio.run(cell())
        2
    """

    def __init__(self, run: Any) -> None:
        w = ipywidgets()
        self.run = run
        self.infos: list[Any] = []
        self.checkpoint: Any = None
        self.previous: Any = None
        self.new_run: Any = None
        self.live: LiveRunWidget | None = None
        self.last_task: Any = None
        self.message = w.HTML()
        self.select = w.Select(options=[], rows=8, layout=w.Layout(width="98%"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.resume_button = w.Button(description="Resume", icon="play", button_style="primary")
        self.fork_button = w.Button(description="Fork", icon="code-branch", button_style="warning")
        self.state = w.HTML()
        self.diff = w.HTML()
        self.queue = w.HTML()
        self.editor = w.Textarea(
            placeholder="state at the selected checkpoint (JSON); edit it, then Fork",
            layout=w.Layout(width="98%", height="90px"),
        )
        self.child = w.VBox()
        self.refresh_button.on_click(lambda _b: self.reload())
        self.resume_button.on_click(lambda _b: self.resume())
        self.fork_button.on_click(lambda _b: self.fork())
        self.select.observe(self._on_select, names="value")
        self.widget = w.VBox(
            [
                self.message,
                self.select,
                w.HBox([self.refresh_button, self.resume_button, self.fork_button]),
                w.HTML("<b>State at this checkpoint</b>"),
                self.state,
                w.HTML("<b>Changes since the previous checkpoint</b>"),
                self.diff,
                w.HTML("<b>Queued for the next superstep</b>"),
                self.queue,
                self.editor,
                self.child,
            ]
        )
        self.widget.add_class("agentic-checkpoints")
        self._set_buttons()
        self._unsubscribe = run.subscribe(self._on_event)
        self.reload()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, CheckpointSaved):
            self.reload()

    def _set_buttons(self) -> None:
        none = self.checkpoint is None
        self.resume_button.disabled = none
        self.fork_button.disabled = none

    # ---------------------------------------------------------------- loading
    def reload(self) -> Any:
        """Re-read the checkpoint list in the background (returns the task)."""
        if self.run.storage is None:
            self.message.value = (
                '<span style="color:#b45f06">this run has no checkpoint storage: pass '
                "<code>checkpoint_storage=</code> to WorkflowBuilder or "
                "<code>wf.start(...)</code></span>"
            )
            return None
        self.last_task = spawn(self._reload())
        if self.last_task is None:
            self.message.value = "no running event loop: use  await run.history()"
        return self.last_task

    async def _reload(self) -> None:
        try:
            infos = await self.run.history()
        except Exception as exc:
            self.message.value = f'<span style="color:#cc0000">{escape(str(exc))}</span>'
            return
        self.infos = list(infos)
        self.message.value = (
            f"{len(self.infos)} checkpoint(s) of run <code>{escape(self.run.run_id)}</code>"
        )
        current = self.select.value
        self.select.options = [(_label(i), i.checkpoint_id) for i in self.infos]
        ids = [i.checkpoint_id for i in self.infos]
        if current in ids:
            self.select.value = current
        elif ids:
            self.select.value = ids[-1]

    def _on_select(self, change: Any) -> None:
        cid = change["new"]
        if cid:
            self.last_task = spawn(self._show(cid))

    async def _show(self, checkpoint_id: str) -> None:
        storage = self.run.storage
        cp = await storage.get(checkpoint_id)
        if cp is None:
            self.state.value = f"checkpoint {escape(checkpoint_id)} is gone from the storage"
            return
        ids = [i.checkpoint_id for i in self.infos]
        pos = ids.index(checkpoint_id) if checkpoint_id in ids else -1
        prev = await storage.get(ids[pos - 1]) if pos > 0 else None
        self.checkpoint, self.previous = cp, prev
        state = cp.decoded_state()
        self.state.value = html_table(
            ["key", "value"], [[k, v] for k, v in state.items()], empty="empty state"
        )
        before = prev.decoded_state() if prev is not None else {}
        self.diff.value = html_table(
            ["change", "key", "before", "after"],
            state_diff(before, state),
            empty="no change" if prev is not None else "first checkpoint",
        )
        self.queue.value = html_table(
            ["target", "source", "edge", "message"],
            [
                [q.get("target"), q.get("source") or "(input)", q.get("edge") or "", q["message"]]
                for q in cp.decoded_queue()
            ],
            empty="nothing queued",
        )
        self.editor.value = json.dumps(state, indent=1, default=repr)
        self._set_buttons()

    # ---------------------------------------------------------------- actions
    def _edited_state(self) -> dict[str, Any] | None:
        text = self.editor.value.strip()
        if not text or self.checkpoint is None:
            return None
        edited = json.loads(text)
        if not isinstance(edited, dict):
            raise ValueError("the state must be a JSON object {key: value}")
        original = self.checkpoint.decoded_state()
        original_json = json.loads(json.dumps(original, default=repr))
        return {k: v for k, v in edited.items() if original_json.get(k, object()) != v} or None

    def resume(self) -> Any:
        """Continue from the selected checkpoint (a fork if it is not the latest)."""
        if self.checkpoint is None:
            return None
        wf = self.run.workflow
        new = wf.resume(
            self.checkpoint.run_id,
            checkpoint_id=self.checkpoint.checkpoint_id,
            storage=self.run.storage,
        )
        return self._follow(new, "resumed")

    def fork(self) -> Any:
        """A new run from the selected checkpoint, with the edited state."""
        if self.checkpoint is None:
            return None
        try:
            edits = self._edited_state()
        except ValueError as exc:
            self.message.value = f'<span style="color:#cc0000">{escape(str(exc))}</span>'
            return None
        new = self.run.workflow.fork(
            self.checkpoint.checkpoint_id, state=edits, storage=self.run.storage
        )
        return self._follow(new, "forked" + (f" with {sorted(edits)} edited" if edits else ""))

    def _follow(self, new: Any, how: str) -> Any:
        w = ipywidgets()
        self.new_run = new
        self.live = LiveRunWidget(new)
        self.child.children = [
            w.HTML(
                f"<b>{escape(how)}</b> from checkpoint "
                f"<code>{escape(short(self.checkpoint.checkpoint_id, 20))}</code>"
            ),
            self.live.widget,
        ]
        self.last_task = self.live.driver
        return self.live

    def close(self) -> None:
        self._unsubscribe()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
