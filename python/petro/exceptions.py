"""Exceptions raised by petro, with requests' names and inheritance.

Code written for ``requests`` keeps working: ``except requests.exceptions.HTTPError``
becomes ``except petro.exceptions.HTTPError`` and catches the same failures. Every
exception can be pickled (so it crosses process boundaries with its ``response``)
and never carries a secret in its message.

The tree::

    OSError
     └── RequestException                 .request / .response where known
          ├── HTTPError                   raise_for_status(), service clients
          │    ├── BadRequestError        400, 422
          │    ├── AuthenticationError    401
          │    ├── PermissionDeniedError  403
          │    ├── NotFoundError          404
          │    ├── ConflictError          409
          │    ├── RateLimitError         429 (.retry_after)
          │    └── ServerError            5xx
          ├── ConnectionError
          │    ├── ProxyError
          │    ├── SSLError
          │    └── ConnectTimeout         (also a Timeout)
          ├── Timeout
          │    └── ReadTimeout
          ├── TooManyRedirects
          ├── InvalidJSONError            (also a ValueError)
          │    └── JSONDecodeError        (also a json.JSONDecodeError)
          ├── MissingSchema, InvalidSchema, InvalidURL, InvalidHeader   (also ValueErrors)
          ├── ChunkedEncodingError, ContentDecodingError
          ├── StreamConsumedError         (also a TypeError)
          ├── InvalidFileError            a CA bundle or client certificate that cannot be used
          ├── RetryError
          └── BatchError                  request_many(): .errors [(index, exception)], .responses
"""

from __future__ import annotations

import json as _json
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "ChunkedEncodingError",
    "ConflictError",
    "ConnectTimeout",
    "ConnectionError",
    "ContentDecodingError",
    "HTTPError",
    "InvalidFileError",
    "InvalidHeader",
    "InvalidJSONError",
    "InvalidSchema",
    "InvalidURL",
    "JSONDecodeError",
    "MissingSchema",
    "NotFoundError",
    "PermissionDeniedError",
    "ProxyError",
    "RateLimitError",
    "ReadTimeout",
    "RequestException",
    "RetryError",
    "SSLError",
    "ServerError",
    "StreamConsumedError",
    "Timeout",
    "TooManyRedirects",
]


class RequestException(OSError):
    """Something went wrong with a request (the base of every petro error).

    Attributes:
        request: the request that failed, when known.
        response: the response that caused the error, when there was one.
    """

    def __init__(self, *args: Any, request: Any = None, response: Any = None) -> None:
        self.response = response
        self.request = request
        if response is not None and request is None and hasattr(response, "request"):
            self.request = response.request
        super().__init__(*args)

    def __reduce__(self) -> Any:
        # Keep .request/.response (kept in __dict__) across pickling.
        return (_construct, (self.__class__, self.args), self.__dict__)


def _construct(cls: type, args: tuple) -> BaseException:
    """Unpickle an exception without calling ``__init__`` (its keywords are in the state)."""
    exc = cls.__new__(cls)
    exc.args = args
    return exc


class InvalidJSONError(RequestException, ValueError):
    """The body could not be turned into JSON, or JSON could not be read."""


class JSONDecodeError(InvalidJSONError, _json.JSONDecodeError):
    """The response body is not valid JSON (also a ``json.JSONDecodeError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _json.JSONDecodeError.__init__(self, *args)
        InvalidJSONError.__init__(self, *self.args, **kwargs)

    def __reduce__(self) -> Any:
        return (self.__class__, (self.msg, self.doc, self.pos))


class HTTPError(RequestException):
    """The server answered with an error status (4xx or 5xx).

    Attributes:
        status_code: the HTTP status, or None.
        body: the error body parsed as JSON when it was JSON, else its text.
        request_id: the server's request id header, when it sent one.
    """

    @property
    def status_code(self) -> int | None:
        return getattr(self.response, "status_code", None)

    @property
    def body(self) -> Any:
        resp = self.response
        if resp is None:
            return None
        try:
            return resp.json()
        except Exception:
            try:
                return resp.text
            except Exception:
                return None

    @property
    def request_id(self) -> str | None:
        headers = getattr(self.response, "headers", None) or {}
        for name in ("x-request-id", "request-id", "x-amzn-requestid", "x-correlation-id"):
            value = headers.get(name)
            if value:
                return value
        return None


class BadRequestError(HTTPError):
    """400 or 422: the request was malformed or had a bad parameter."""


class AuthenticationError(HTTPError):
    """401: the credentials were missing, wrong, disabled, deleted or expired."""


class PermissionDeniedError(HTTPError):
    """403: the credentials are valid but not allowed to do this."""


class NotFoundError(HTTPError):
    """404: no such route or resource (or it belongs to another organisation)."""


class ConflictError(HTTPError):
    """409: the request conflicts with the resource's current state."""


class RateLimitError(HTTPError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if given."""

    @property
    def retry_after(self) -> float | None:
        headers = getattr(self.response, "headers", None) or {}
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from datetime import datetime, timezone
            from email.utils import parsedate_to_datetime

            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class ServerError(HTTPError):
    """5xx: the server failed. Usually worth retrying later."""


class ConnectionError(RequestException):
    """The connection could not be made or was lost."""


class ProxyError(ConnectionError):
    """The proxy could not be reached or refused the connection."""


class SSLError(ConnectionError):
    """TLS failed: an untrusted or expired certificate, a wrong hostname, a protocol error."""


class Timeout(RequestException):
    """The request timed out (catch this for both connect and read timeouts)."""


class ConnectTimeout(ConnectionError, Timeout):
    """No connection within the connect timeout; safe to retry."""


class ReadTimeout(Timeout):
    """The server sent nothing for longer than the read timeout."""


class URLRequired(RequestException):
    """A valid URL is required to make a request."""


class TooManyRedirects(RequestException):
    """Too many redirects (30 by default, ``Session.max_redirects``)."""


class MissingSchema(RequestException, ValueError):
    """The URL has no scheme: did you mean ``https://...``?"""


class InvalidSchema(RequestException, ValueError):
    """The URL's scheme is not http or https."""


class InvalidURL(RequestException, ValueError):
    """The URL cannot be parsed or has no host."""


class InvalidProxyURL(InvalidURL):
    """The proxy URL is not valid."""


class InvalidHeader(RequestException, ValueError):
    """A header name or value is not valid HTTP (the value is never shown)."""


class ChunkedEncodingError(RequestException):
    """The body ended early or its framing was broken."""


class ContentDecodingError(RequestException):
    """The body's gzip/deflate/brotli/zstd encoding could not be decoded."""


class StreamConsumedError(RequestException, TypeError):
    """The content of this response was already consumed by streaming."""


class InvalidFileError(RequestException, ValueError):
    """A CA bundle or client certificate file is missing or unusable."""


class RetryError(RequestException):
    """Retries ran out (see ``__cause__`` for the last failure)."""


class BatchError(RequestException):
    """Some requests of a ``request_many()`` batch failed (raised after all of them ended).

    Attributes:
        errors: ``(index, exception)`` for each failed request, by input position.
        responses: one entry per request, in input order: the ``Response``, or None
            where that request failed.

    Example:
        >>> try:
        ...     responses = s.request_many(batch)
        ... except petro.exceptions.BatchError as e:
        ...     for i, exc in e.errors:
        ...         print(i, exc)
    """

    def __init__(
        self,
        *args: Any,
        errors: list[tuple[int, BaseException]] | None = None,
        responses: list[Any] | None = None,
    ) -> None:
        super().__init__(*args)
        self.errors: list[tuple[int, BaseException]] = list(errors or [])
        self.responses: list[Any] = list(responses or [])


_STATUS_CLASSES: dict[int, type[HTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def http_error_class(status: int) -> type[HTTPError]:
    """The most specific ``HTTPError`` subclass for a status code."""
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    if 500 <= status < 600:
        return ServerError
    return HTTPError
