"""One error hierarchy for every chat client: which provider, which model, what to do.

Example::

    >>> e = RateLimitError("openai", "gpt-4o", "429 Too Many Requests", retry_after=2.0)
    >>> str(e).startswith("openai model 'gpt-4o': 429 Too Many Requests")
    True
    >>> e.retryable
    True
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any


class ChatClientError(Exception):
    """A chat client call failed. ``provider``, ``model``, ``status_code``, ``hint``.

    ``retryable`` tells whether the client's retry policy may try again;
    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    """

    retryable: bool = False
    default_hint: str = "check the request and the provider's status page"

    def __init__(
        self,
        provider: str,
        model: str,
        what: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.what = what
        self.hint = hint or self.default_hint
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(self._text())

    def _text(self) -> str:
        return f"{self.provider} model {self.model!r}: {self.what}; {self.hint}"

    def with_hint(self, hint: str) -> ChatClientError:
        """Replace the "what to do" part of the message (returns ``self``)."""
        self.hint = hint
        self.args = (self._text(),)
        return self


class AuthenticationError(ChatClientError):
    """401/403: the API key is missing, wrong or lacks access to the model."""

    default_hint = "check the API key (argument api_key= or the provider's environment variable)"


class BadRequestError(ChatClientError):
    """400/404/422: the provider rejected the request (model name, parameters, schema)."""

    default_hint = "check the model name and the request parameters (tools, response_format)"


class RateLimitError(ChatClientError):
    """429: too many requests or tokens; retried with backoff honouring ``Retry-After``."""

    retryable = True
    default_hint = "slow down, raise your quota, or raise RetryPolicy.max_attempts"


class ServerError(ChatClientError):
    """5xx: the provider failed; retried with backoff."""

    retryable = True
    default_hint = "the provider had a problem; retry later"


class ChatConnectionError(ChatClientError):
    """The server could not be reached (refused, reset, DNS); retried with backoff."""

    retryable = True
    default_hint = "check base_url / network access and that the server is running"


class ChatTimeoutError(ChatClientError):
    """No answer within the client's ``timeout``; retried with backoff."""

    retryable = True
    default_hint = "raise timeout= on the client or ask for a shorter answer (max_tokens)"


class StructuredOutputError(ChatClientError):
    """The model's answer does not parse into the requested ``response_format`` type."""

    default_hint = (
        "use a model that supports JSON-schema output, simplify the schema, or raise max_tokens"
    )


class ResponseFormatError(BadRequestError):
    """``response_format`` is not a pydantic model class (or a JSON-schema dict)."""


def error_for_status(
    provider: str,
    model: str,
    status: int | None,
    what: str,
    *,
    retry_after: float | None = None,
) -> ChatClientError:
    """Map an HTTP status code to the matching :class:`ChatClientError` subclass.

    Example::

        >>> type(error_for_status("gemini", "m", 503, "unavailable")).__name__
        'ServerError'
    """
    cls: type[ChatClientError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = RateLimitError
    elif status in (408,):
        cls = ChatTimeoutError
    elif status is not None and status >= 500:
        cls = ServerError
    elif status is not None and 400 <= status < 500:
        cls = BadRequestError
    else:
        cls = ChatClientError
    return cls(provider, model, what, status_code=status, retry_after=retry_after)


def parse_retry_after(headers: Mapping[str, str] | Any | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date).

    Example::

        >>> parse_retry_after({"retry-after": "3"})
        3.0
    """
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
