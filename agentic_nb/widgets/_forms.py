"""Response values for approval cards: Approve/Reject decisions and small edit forms.

A response type decides what the buttons send:

- ``bool`` (or ``Any``): Approve sends ``True``, Reject ``False``;
- ``str``: ``"approved"`` / ``"rejected"``, followed by ``": <reason>"`` when a reason is given;
- a pydantic model or dataclass with a ``bool`` field (``approved``, ``approve``,
  ``accepted``, ``ok`` ... or the first bool field): that field is set, a text field
  named ``reason`` / ``comment`` / ``feedback`` / ``note`` gets the reason, and the
  other fields take the edit form's values;
- anything else: only Edit (the form) can answer.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from ._common import ipywidgets

APPROVE_NAMES = ("approved", "approve", "accepted", "accept", "ok", "yes", "decision")
REASON_NAMES = ("reason", "comment", "comments", "feedback", "note", "notes", "explanation")

_MISSING = object()


@dataclass
class FieldSpec:
    """One editable field of a response."""

    name: str
    annotation: Any
    default: Any = _MISSING


def _is_any(tp: Any) -> bool:
    return tp is Any or tp is object or tp is None or isinstance(tp, typing.TypeVar)


def _strip_optional(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_fields")


def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def fields_of(tp: Any) -> list[FieldSpec] | None:
    """Editable fields of a structured response type (``None`` for a scalar type)."""
    if is_model(tp):
        out = []
        for name, f in tp.model_fields.items():
            value = _MISSING if f.is_required() else f.get_default(call_default_factory=True)
            out.append(FieldSpec(name, f.annotation, value))
        return out
    if is_dataclass_type(tp):
        hints = typing.get_type_hints(tp)
        out = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                default: Any = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = _MISSING
            out.append(FieldSpec(f.name, hints.get(f.name, Any), default))
        return out
    return None


def _pick(fields: list[FieldSpec], names: tuple[str, ...], kind: type) -> FieldSpec | None:
    typed = [f for f in fields if _strip_optional(f.annotation) is kind]
    for n in names:
        for f in typed:
            if f.name.lower() == n:
                return f
    if kind is bool and typed:
        return typed[0]
    return None


def supports_decision(tp: Any) -> bool:
    """True when Approve / Reject can build a response of type ``tp``."""
    if _is_any(tp) or tp is bool or tp is str:
        return True
    fields = fields_of(tp)
    return fields is not None and _pick(fields, APPROVE_NAMES, bool) is not None


def decision_fields(tp: Any) -> tuple[str | None, str | None]:
    """Names of the approve flag and of the reason field of a structured response type.

    Example::

        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Verdict:
        ...     approved: bool
        ...     reason: str = ""
        >>> decision_fields(Verdict), decision_fields(bool)
        (('approved', 'reason'), (None, None))
    """
    fields = fields_of(tp)
    if not fields:
        return None, None
    flag = _pick(fields, APPROVE_NAMES, bool)
    why = _pick(fields, REASON_NAMES, str)
    return (flag.name if flag else None), (why.name if why else None)


def article(word: str) -> str:
    """``"an"`` before a vowel, else ``"a"``.

    Example::

        >>> article("Approval"), article("Review")
        ('an', 'a')
    """
    return "an" if word[:1].lower() in "aeiou" else "a"


def decision_value(tp: Any, approved: bool, reason: str, form: dict[str, Any] | None = None) -> Any:
    """The response Approve (``approved=True``) or Reject sends for response type ``tp``.

    Example::

        >>> decision_value(bool, True, "")
        True
        >>> decision_value(str, False, "too expensive")
        'rejected: too expensive'
    """
    if _is_any(tp) or tp is bool:
        return approved
    if tp is str:
        word = "approved" if approved else "rejected"
        return f"{word}: {reason}" if reason else word
    fields = fields_of(tp)
    flag = _pick(fields or [], APPROVE_NAMES, bool)
    if not fields or flag is None:
        raise TypeError(
            f"Approve/Reject cannot build a {getattr(tp, '__name__', tp)!r}: it has no bool "
            f"field; use Edit to fill the response"
        )
    values = dict(form or {})
    values[flag.name] = approved
    why = _pick(fields, REASON_NAMES, str)
    if why is not None and (reason or why.name not in values):
        values[why.name] = reason
    return build_value(tp, values)


def build_value(tp: Any, values: dict[str, Any]) -> Any:
    """A response of type ``tp`` from form values (models get a dict: the engine validates it)."""
    if is_model(tp):
        return values
    if is_dataclass_type(tp):
        return tp(**values)
    return values.get("value")


def initial_values(tp: Any, request: Any) -> dict[str, Any]:
    """Form values to start from: the request itself when it is already a ``tp`` (a draft)."""
    fields = fields_of(tp)
    if fields is None:
        if isinstance(tp, type) and isinstance(request, tp) and not isinstance(request, bool):
            return {"value": request}
        return {}
    values: dict[str, Any] = {}
    draft = request if isinstance(tp, type) and isinstance(request, tp) else None
    if draft is None and isinstance(request, dict):
        draft = request
    for f in fields:
        if draft is not None:
            v = (
                draft.get(f.name, _MISSING)
                if isinstance(draft, dict)
                else getattr(draft, f.name, _MISSING)
            )
            if v is not _MISSING:
                values[f.name] = v
                continue
        if f.default is not _MISSING:
            values[f.name] = f.default
    return values


class Form:
    """Input widgets for a response type; ``value()`` builds the response from them.

    Example::

        >>> form = Form(int, None)
        >>> form.inputs["value"].value = 3
        >>> form.value()
        3
    """

    def __init__(self, tp: Any, request: Any) -> None:
        w = ipywidgets()
        self.type = tp
        start = initial_values(tp, request)
        fields = fields_of(tp)
        self.structured = fields is not None
        if fields is None:
            fields = [FieldSpec("value", tp)]
        self.fields = fields
        self.inputs: dict[str, Any] = {}
        self.json_fields: set[str] = set()
        for f in fields:
            self.inputs[f.name] = self._input(w, f, start.get(f.name, _MISSING))
        self.box = w.VBox(list(self.inputs.values()))

    def _input(self, w: Any, f: FieldSpec, value: Any) -> Any:
        tp = _strip_optional(f.annotation)
        style = {"description_width": "initial"}
        desc = f.name
        have = value is not _MISSING
        if tp is bool:
            return w.Checkbox(value=bool(value) if have else False, description=desc)
        if tp is int:
            return w.IntText(value=int(value) if have else 0, description=desc, style=style)
        if tp is float:
            return w.FloatText(value=float(value) if have else 0.0, description=desc, style=style)
        if get_origin(tp) is Literal:
            options = list(get_args(tp))
            return w.Dropdown(
                options=[(str(o), o) for o in options],
                value=value if have and value in options else options[0],
                description=desc,
                style=style,
            )
        if tp is str:
            text = str(value) if have else ""
            cls = w.Textarea if (len(text) > 60 or "\n" in text) else w.Text
            return cls(value=text, description=desc, style=style)
        self.json_fields.add(f.name)
        shown = json.dumps(value, default=str) if have else ""
        if have and hasattr(value, "model_dump"):
            shown = json.dumps(value.model_dump(mode="json"))
        return w.Textarea(
            value=shown, description=f"{desc} (JSON)", style=style, placeholder="JSON value"
        )

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, widget in self.inputs.items():
            v = widget.value
            if name in self.json_fields:
                try:
                    v = json.loads(v) if v.strip() else None
                except json.JSONDecodeError:
                    if _is_any(self.type) and not self.structured:
                        pass  # free text is a fine answer when anything is accepted
                    else:
                        raise ValueError(
                            f"field {name!r}: {v!r} is not valid JSON; write e.g. "
                            f'"text", 3, [1, 2] or {{"key": "value"}}'
                        ) from None
            out[name] = v
        return out

    def value(self) -> Any:
        """The response the form describes (may raise ``ValueError`` / ``TypeError``)."""
        return build_value(self.type, self.values())
