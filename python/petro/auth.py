"""Authentication helpers: HTTP Basic (App ID + Secret Key) and Bearer tokens.

An auth object is any callable taking the prepared request and returning it, as in
requests; petro's own classes also expose the header value directly, so they cost
nothing per request. No auth object ever shows its secret in ``repr`` or a pickle.
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["AuthBase", "BearerAuth", "HTTPBasicAuth", "HTTPProxyAuth", "basic_auth_header"]


def _latin1_or_utf8(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError(f"Basic auth parts must be str or bytes, not {type(value).__name__}")
    try:
        return value.encode("latin1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def basic_auth_header(username: str | bytes, password: str | bytes) -> str:
    """The ``Authorization`` value for HTTP Basic, byte for byte as requests builds it."""
    token = base64.b64encode(_latin1_or_utf8(username) + b":" + _latin1_or_utf8(password))
    return "Basic " + token.decode("ascii")


class AuthBase:
    """Base class for auth callables: ``__call__(request)`` edits and returns the request."""

    def __call__(self, r: Any) -> Any:
        raise NotImplementedError("Auth hooks must be callable.")


class HTTPBasicAuth(AuthBase):
    """HTTP Basic auth, e.g. a Petro.ai App ID and Secret Key.

    Args:
        username: the user name (Petro.ai: the App ID).
        password: the password (Petro.ai: the Secret Key). Never shown in ``repr``.

    Example:
        >>> petro.get(url, auth=petro.HTTPBasicAuth(app_id, secret_key))
    """

    __slots__ = ("_header", "password", "username")

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self.username = username
        self.password = password
        self._header = basic_auth_header(username, password)

    def header_value(self) -> str:
        """The ``Authorization`` header value."""
        return self._header

    def __call__(self, r: Any) -> Any:
        r.headers["Authorization"] = self._header
        return r

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, HTTPBasicAuth)
            and self.username == other.username
            and self.password == other.password
        )

    def __hash__(self) -> int:
        return hash((type(self), self.username))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r}, password='***')"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds a secret and cannot be pickled")


class HTTPProxyAuth(HTTPBasicAuth):
    """Basic auth for a proxy (``Proxy-Authorization``)."""

    def __call__(self, r: Any) -> Any:
        r.headers["Proxy-Authorization"] = self._header
        return r


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``: a Petro.ai JWT or a Petra Security API key.

    Args:
        token: the token. Never shown in ``repr``.

    Example:
        >>> petro.get(url, auth=petro.BearerAuth(os.environ["PETRA_API_KEY"]))
    """

    __slots__ = ("_header", "token")

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("BearerAuth needs a non-empty token string")
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        self.token = token
        self._header = "Bearer " + token

    def header_value(self) -> str:
        """The ``Authorization`` header value."""
        return self._header

    def __call__(self, r: Any) -> Any:
        r.headers["Authorization"] = self._header
        return r

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BearerAuth) and self.token == other.token

    def __hash__(self) -> int:
        return hash((type(self), self.token))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token='***')"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds a secret and cannot be pickled")
