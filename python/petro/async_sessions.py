"""``AsyncSession``: ``Session`` for asyncio, on the same Rust core.

Requests are prepared and finished by ``Session``'s own code, so headers, auth,
cookies, retries, hooks and errors behave identically; only the wait differs:
the request runs on petro's tokio runtime and its result is handed to the
running event loop (no second loop, no ``nest_asyncio``), which is why it works
under Jupyter's loop with top-level ``await``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._bridge import _resolve, run_native
from .exceptions import RequestException
from .models import Response
from .sessions import _UNSET, DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, Session

__all__ = ["AsyncSession"]


class AsyncSession(Session):
    """A ``Session`` whose verbs are awaitable: ``await s.get(url)``.

    Same attributes, defaults and keyword arguments as ``petro.Session``, and the same
    ``Response`` (body already read unless ``stream=True``; ``json()`` is synchronous).
    For a streamed body use ``async for chunk in resp.aiter_bytes()`` or ``await
    resp.aread()``. Cancelling the awaiting task (``asyncio.wait_for``, ``task.cancel()``,
    a notebook interrupt) aborts the request and closes its connection.

    Example:
        >>> async with petro.AsyncSession() as s:
        ...     s.auth = (app_id, secret_key)
        ...     r = await s.post(base + "/api/data/query", json={"type": "petron"})
        ...     rows = r.json()
    """

    def __init__(self, *, timeout: Any = DEFAULT_TIMEOUT, retries: Any = None) -> None:
        super().__init__(timeout=timeout, retries=retries)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *args: Any) -> None:
        self.close()

    async def aclose(self) -> None:
        """Close the session's idle connections (``close()`` works too)."""
        self.close()

    def __repr__(self) -> str:
        return (
            f"<petro.AsyncSession headers={len(self.headers)} "
            f"auth={'set' if self.auth else 'none'}>"
        )

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = _UNSET,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
        *,
        retries: Any = _UNSET,
        idempotent: bool | None = None,
    ) -> Response:
        """Send a request and return its ``Response`` (``Session.request``, awaitable).

        Args:
            method: ``"GET"``, ``"POST"``, ...
            url: the absolute URL.
            params, data, headers, cookies, files, auth, timeout, allow_redirects, proxies,
            hooks, stream, verify, cert, json, retries, idempotent: as for
                ``petro.Session.request``.

        Returns:
            The ``Response``.

        Raises:
            ConnectionError, Timeout, TooManyRedirects, InvalidURL, ...: see
            ``petro.exceptions``; ``asyncio.CancelledError`` when cancelled.

        Example:
            >>> r = await s.request("GET", url, params={"limit": 10})
        """
        call = self._prepare(
            method,
            url,
            params,
            data,
            headers,
            cookies,
            files,
            auth,
            timeout,
            allow_redirects,
            proxies,
            stream,
            verify,
            cert,
            json,
            retries,
            idempotent,
        )
        # run_native's body, inlined on this hot path: one coroutine less per request
        # (W3 asyncio runs against pyreqwest, alternated: 1.08-1.12x via run_native,
        # 1.14-1.22x inlined). Keep the two in step.
        future = asyncio.get_running_loop().create_future()
        handle = self._native.request_async(
            call.args, future.get_loop(), functools.partial(_resolve, future)
        )
        try:
            raw = await future
        except asyncio.CancelledError:
            handle.abort()  # the awaiting task was cancelled: close the connection
            raise
        except RequestException as e:
            call.failed(e)
            raise
        return self._finish(raw, call, hooks)

    async def request_many(  # type: ignore[override]
        self,
        requests: Iterable[Mapping[str, Any] | Sequence[Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Send many requests concurrently and return them in order (awaitable).

        Same items, options and errors as ``petro.Session.request_many``; cancelling the
        awaiting task cancels every request still in flight.

        Args:
            requests: dicts of ``request``'s arguments, or ``(method, url)`` tuples.
            concurrency: most requests in flight at once (default 16).
            return_exceptions: put failures in place instead of raising ``BatchError``.

        Returns:
            One ``Response`` (or exception) per request, in input order.

        Raises:
            BatchError: when any request failed (after all ended).

        Example:
            >>> rs = await s.request_many([("GET", u) for u in urls], concurrency=32)
        """
        calls, hooks = self._prepare_many(requests, concurrency)
        results = await run_native(
            functools.partial(self._native.request_many_async, [c.args for c in calls], concurrency)
        )
        return self._collect_many(results, calls, hooks, return_exceptions)

    async def get(self, url: str, params: Any = None, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a GET request. See ``request`` for the keyword arguments."""
        return await self.request("GET", url, params=params, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send an OPTIONS request."""
        return await self.request("OPTIONS", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a HEAD request (redirects are not followed unless asked)."""
        kwargs.setdefault("allow_redirects", False)
        return await self.request("HEAD", url, **kwargs)

    async def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a POST request with form ``data`` or a ``json`` body."""
        return await self.request("POST", url, data=data, json=json, **kwargs)

    async def put(self, url: str, data: Any = None, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a PUT request."""
        return await self.request("PUT", url, data=data, **kwargs)

    async def patch(self, url: str, data: Any = None, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a PATCH request."""
        return await self.request("PATCH", url, data=data, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:  # type: ignore[override]
        """Send a DELETE request (a ``json=`` body is allowed, as Petro.ai needs)."""
        return await self.request("DELETE", url, **kwargs)
