"""Type helpers the engine uses and other layers share (public).

``type_name(tp)`` is how types are shown in errors, events and pictures;
``could_flow(sent, accepted)`` says whether a message of type ``sent`` may reach a
handler of type ``accepted`` (what the builder checks on every edge).

Example::

    >>> type_name(list[int]), could_flow(int, int | str), could_flow(str, int)
    ('list[int]', True, False)
"""

from ._typing import could_flow, type_name

__all__ = ["could_flow", "type_name"]
