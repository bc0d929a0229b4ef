"""Approval cards for ``ctx.request_info``: one card per pending request, answered in place."""

from __future__ import annotations

import dataclasses
import json
from html import escape
from typing import Any

from agentic_nb.workflow._typing import type_name

from ._common import Throttle, drive, ipywidgets, is_stepping, short, spawn
from ._forms import Form, article, decision_fields, decision_value, supports_decision


def payload_html(value: Any) -> str:
    """The request payload, pretty-printed (JSON when it is data)."""
    try:
        if hasattr(value, "model_dump"):
            text = json.dumps(value.model_dump(mode="json"), indent=2)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            text = json.dumps(dataclasses.asdict(value), indent=2, default=str)
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, indent=2, default=str)
        else:
            text = value if isinstance(value, str) else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return (
        '<pre style="margin:2px 0;max-height:220px;overflow:auto;background:#f7f7f7;'
        f'padding:4px">{escape(short(text, 4000))}</pre>'
    )


class RequestCard:
    """One pending request: payload, reason, Approve / Reject / Edit and a Submit for the form.

    ``submitted`` becomes the value sent once ``run.respond`` accepted it; a
    rejected value (wrong type) shows in ``error`` and the buttons come back.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def ask(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ok = await ctx.request_info(f"publish {x}?", response_type=bool)
        ...     await ctx.yield_output("published" if ok else "dropped")
        >>> async def cell():
        ...     run = WorkflowBuilder(start=ask).build().start("post")
        ...     await run.until_idle()
        ...     card = RequestCard(run, run.pending_requests[0])
        ...     card.approve.click()
        ...     await card.last_task        # answered; the run goes on in the background
        ...     while run.status != "completed":
        ...         await asyncio.sleep(0.01)
        ...     return run.outputs
        >>> asyncio.run(cell())
        ['published']
    """

    def __init__(self, run: Any, request: Any, on_answered: Any = None) -> None:
        w = ipywidgets()
        self.run = run
        self.request = request
        self.request_id: str = request.request_id
        self.submitted: Any = None
        self.answered = False
        self.last_task: Any = None
        self._on_answered = on_answered
        rtype = request.response_type
        self.header = w.HTML(
            f"<b>{escape(request.executor_id)}</b> asks for {article(type_name(rtype))} "
            f"<code>{escape(type_name(rtype))}</code> "
            f'<span style="color:#777">(superstep {request.superstep}, request '
            f"{escape(self.request_id[:8])})</span>"
        )
        self.payload = w.HTML(payload_html(request.request))
        self.reason = w.Textarea(
            placeholder="reason (optional)", layout=w.Layout(width="98%", height="48px")
        )
        decide = supports_decision(rtype)
        self.approve = w.Button(description="Approve", button_style="success", disabled=not decide)
        self.reject = w.Button(description="Reject", button_style="danger", disabled=not decide)
        self.edit = w.Button(description="Edit", icon="pencil")
        self.form = Form(rtype, request.request)
        # The form starts from the request's values with the approve flag ticked (Submit
        # of an untouched form approves); its reason field is the card's reason box.
        self._flag, self._why = decision_fields(rtype)
        if self._flag is not None and self._flag in self.form.inputs:
            self.form.inputs[self._flag].value = True
        if self._why is not None and self._why in self.form.inputs:
            hidden = self.form.inputs[self._why]
            self.reason.value = str(hidden.value or "")
            self.form.box.children = [c for c in self.form.box.children if c is not hidden]
        self.submit = w.Button(description="Submit", button_style="primary")
        self.form_box = w.VBox([self.form.box, self.submit])
        self.form_box.layout.display = "none" if decide else None
        self.error = w.HTML()
        self.status = w.HTML()
        self.approve.on_click(lambda _b: self._send_decision(True))
        self.reject.on_click(lambda _b: self._send_decision(False))
        self.edit.on_click(lambda _b: self._toggle_form())
        self.submit.on_click(lambda _b: self._send_form())
        self.buttons = [self.approve, self.reject, self.edit, self.submit]
        self._decide = decide
        self.widget = w.VBox(
            [
                self.header,
                self.payload,
                self.reason,
                w.HBox([self.approve, self.reject, self.edit]),
                self.form_box,
                self.error,
                self.status,
            ],
            layout=w.Layout(border="1px solid #ccc", padding="6px", margin="4px 0"),
        )
        self.widget.add_class("agentic-request-card")

    # ------------------------------------------------------------- actions
    def _toggle_form(self) -> None:
        self.form_box.layout.display = None if self.form_box.layout.display == "none" else "none"

    def _form_values(self) -> dict[str, Any] | None:
        if not self.form.structured:
            return None
        if self._why is not None and self._why in self.form.inputs:
            self.form.inputs[self._why].value = self.reason.value.strip()
        try:
            return self.form.values()
        except ValueError:
            return None

    def _send_decision(self, approved: bool) -> None:
        try:
            value = decision_value(
                self.request.response_type, approved, self.reason.value.strip(), self._form_values()
            )
        except (TypeError, ValueError) as exc:
            self._show_error(str(exc))
            return
        self._send(value, "approved" if approved else "rejected")

    def _send_form(self) -> None:
        if self._why is not None and self._why in self.form.inputs:
            self.form.inputs[self._why].value = self.reason.value.strip()
        try:
            value = self.form.value()
        except (TypeError, ValueError) as exc:
            self._show_error(str(exc))
            return
        self._send(value, "edited")

    def _send(self, value: Any, how: str) -> None:
        if self.answered:
            return
        self._set_disabled(True)
        self.error.value = ""
        self.status.value = '<span style="color:#777">submitting…</span>'
        task = spawn(self._respond(value, how))
        if task is None:
            self._set_disabled(False)
            self._show_error(
                "no running event loop: answer with  await run.respond(request_id, value)"
            )
        self.last_task = task

    async def _respond(self, value: Any, how: str) -> None:
        try:
            # Record the answer (type-checked, durable); a background task then runs on,
            # so the kernel never waits on this card.
            await self.run.respond(self.request_id, value, resume=False)
        except Exception as exc:
            self._set_disabled(False)
            self.status.value = ""
            self._show_error(f"{type(exc).__name__}: {exc}")
            return
        self.answered = True
        self.submitted = value
        self.status.value = (
            f'<span style="color:#38761d" class="agentic-answered">✓ {how}: '
            f"<code>{escape(short(value, 120))}</code></span>"
        )
        if self._on_answered is not None:
            self._on_answered(self)
        if not is_stepping(self.run):  # a step-through run stays under step control
            drive(self.run)

    def mark_answered_elsewhere(self) -> None:
        if self.answered:
            return
        self.answered = True
        self._set_disabled(True)
        self.status.value = '<span style="color:#777">answered elsewhere</span>'

    def _set_disabled(self, disabled: bool) -> None:
        for b in self.buttons:
            b.disabled = disabled
        if not disabled and not self._decide:
            self.approve.disabled = self.reject.disabled = True
        self.reason.disabled = disabled

    def _show_error(self, text: str) -> None:
        self.error.value = (
            f'<div style="color:#cc0000" class="agentic-error">{escape(text)} '
            "— the request is still pending.</div>"
        )


class ApprovalPanel:
    """One :class:`RequestCard` per pending request of ``run``; keeps itself up to date.

    Answering never blocks the kernel: Submit schedules ``run.respond`` on the
    running loop and the run continues in a background task.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def ask(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ok = await ctx.request_info(f"publish {x}?", response_type=bool)
        ...     await ctx.yield_output("published" if ok else "dropped")
        >>> run = WorkflowBuilder(start=ask).build().start("post")
        >>> panel = ApprovalPanel(run)
        >>> len(panel.cards)
        0
    """

    def __init__(self, run: Any, *, follow: bool = True) -> None:
        w = ipywidgets()
        self.run = run
        self.cards: dict[str, RequestCard] = {}
        self.empty = w.HTML('<div style="color:#777;font-style:italic">No pending requests.</div>')
        self.widget = w.VBox([self.empty])
        self.widget.add_class("agentic-approvals")
        self._throttle = Throttle(self.refresh)
        self._unsubscribe = run.subscribe(lambda _ev: self._throttle.poke()) if follow else None
        if not run.loaded:
            spawn(self._load())
        self.refresh()

    async def _load(self) -> None:
        await self.run.load()
        self.refresh()

    def refresh(self) -> None:
        """Add cards for new requests; mark those answered elsewhere."""
        if not self.run.loaded:
            return
        pending = {p.request_id: p for p in self.run.pending_requests}
        changed = False
        for rid, p in pending.items():
            if rid not in self.cards:
                self.cards[rid] = RequestCard(self.run, p)
                changed = True
        for rid, card in self.cards.items():
            if rid not in pending and not card.answered:
                card.mark_answered_elsewhere()
        open_cards = [c for c in self.cards.values() if not c.answered]
        if changed or len(self.widget.children) != len(self.cards) + (0 if self.cards else 1):
            children = [c.widget for c in self.cards.values()]
            self.widget.children = children or [self.empty]
        self.pending_count = len(open_cards)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
