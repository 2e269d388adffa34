"""Module-level verbs: ``petro.get(...)``, ``petro.post(...)``, as in requests.

Each call uses a short-lived ``Session`` (so cookies do not leak between calls)
over a process-wide connection pool (so repeated calls reuse connections).
"""

from __future__ import annotations

from typing import Any

from .models import Response
from .sessions import Session

__all__ = ["delete", "get", "head", "options", "patch", "post", "put", "request"]


def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send a request. Takes the same keyword arguments as ``Session.request``.

    Example:
        >>> r = petro.request("POST", base + "/api/data/query", auth=(app_id, secret),
        ...                   json={"type": "petron", "query": {}, "options": {"limit": 10}})
    """
    with Session(_shared_pool=True) as s:
        return s.request(method=method, url=url, **kwargs)


def get(url: str, params: Any = None, **kwargs: Any) -> Response:
    """Send a GET request."""
    return request("GET", url, params=params, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    """Send an OPTIONS request."""
    return request("OPTIONS", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    """Send a HEAD request (redirects are not followed unless asked)."""
    kwargs.setdefault("allow_redirects", False)
    return request("HEAD", url, **kwargs)


def post(url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    """Send a POST request with form ``data`` or a ``json`` body.

    Example:
        >>> rows = petro.post(base + "/api/data/query", auth=(app_id, secret),
        ...                   json={"type": "petron", "query": {}}).json()
    """
    return request("POST", url, data=data, json=json, **kwargs)


def put(url: str, data: Any = None, **kwargs: Any) -> Response:
    """Send a PUT request."""
    return request("PUT", url, data=data, **kwargs)


def patch(url: str, data: Any = None, **kwargs: Any) -> Response:
    """Send a PATCH request."""
    return request("PATCH", url, data=data, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """Send a DELETE request (a ``json=`` body is allowed)."""
    return request("DELETE", url, **kwargs)
