"""``petro.PetraSecurity``: the Petra Security API (usage, billable users, incidents, tenants).

Example:
    >>> petra = petro.PetraSecurity()          # key from PETRA_API_KEY
    >>> petra.usage()["totalTenants"]
    >>> petra.incidents(limit=20)
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import threading
import time
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from . import _config
from ._service import mask, raise_for_response, with_progress_note
from .async_sessions import AsyncSession
from .auth import BearerAuth
from .exceptions import RequestException
from .models import Response
from .retry import Retry
from .sessions import DEFAULT_TIMEOUT, Session

__all__ = ["AsyncPetraSecurity", "PetraSecurity"]

DEFAULT_BASE_URL = "https://api.petrasecurity.com"
#: The documented limit: 10 requests per minute per route.
DOCUMENTED_RATE = 10
_DEFAULT_RETRIES = Retry(3)


class _Pacer:
    """Keeps each route under ``per_minute`` requests in any ``window`` seconds, by waiting."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def reserve(self, route: str) -> float:
        """Take a slot for ``route`` and return 0, or return how long to wait first."""
        with self._lock:
            now = time.monotonic()
            q = self._sent[route]
            while q and now - q[0] >= self.window:
                q.popleft()
            if len(q) < self.per_minute:
                q.append(now)
                return 0.0
            return min(max(self.window - (now - q[0]), 0.01), self.window)

    def wait(self, route: str) -> None:
        while (pause := self.reserve(route)) > 0:
            time.sleep(pause)

    async def await_slot(self, route: str) -> None:
        while (pause := self.reserve(route)) > 0:
            await asyncio.sleep(pause)


class _Get(NamedTuple):
    """One Petra GET a plan asks for; the plan receives the ``Response`` or the exception."""

    route: str
    params: dict[str, Any] | None = None
    multi_msp: bool = False


_T = TypeVar("_T")
#: A call's logic without its I/O (see ``petroai._Plan``): yields ``list[_Get]``.
_Plan = Generator["list[_Get]", "list[Any]", _T]


def _one(get: _Get) -> Generator[list[_Get], list[Any], Response]:
    (result,) = yield [get]
    if isinstance(result, BaseException):
        raise result
    return result


def _date(value: Any, name: str, *, allow_time: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat() if allow_time else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            if allow_time and ("T" in text or " " in text):
                datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{name} must be a date like '2026-01-31'"
                + (" or a date-time like '2026-01-31T08:00:00Z'" if allow_time else "")
                + f", not {value!r}"
            ) from None
        return text
    raise TypeError(
        f"{name} must be a datetime.date, datetime.datetime or str, not {type(value).__name__}"
    )


class PetraSecurity:
    """A client for the Petra Security API.

    Args:
        api_key: the organisation key (``petra_...``); default ``PETRA_API_KEY`` or the
            profile's ``petra_api_key``. Never shown.
        base_url: default ``PETRA_BASE_URL`` or ``https://api.petrasecurity.com``.
        version: ``"v1"`` (default) or ``"beta"``.
        var_api_key: a Multi-MSP key (``petra_var_...``) for ``usage_xlsx``; default
            ``PETRA_VAR_API_KEY``.
        profile: a profile name in the petro config file.
        timeout: seconds or ``(connect, read)``.
        retries: default 3; 429s wait for ``Retry-After``.
        pace: keep each route under the documented 10 requests/minute by waiting
            (True), under N per minute (an int), or not at all (False, the default).
        concurrency: requests in flight at once for helpers that fan out over tenants
            (``billable_users_all``); default 4.

    Example:
        >>> petra = petro.PetraSecurity(pace=True)
        >>> for t in petra.tenants():
        ...     print(t["name"], petra.billable_users(t["petraTenantId"])["totalBillableUsers"])
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        version: str = "v1",
        var_api_key: str | None = None,
        profile: str | None = None,
        timeout: Any = DEFAULT_TIMEOUT,
        retries: Any = _DEFAULT_RETRIES,
        pace: bool | int = False,
        verify: Any = True,
        concurrency: int = 4,
    ) -> None:
        if version not in ("v1", "beta"):
            raise ValueError(f"version must be 'v1' or 'beta', not {version!r}")
        creds = _config.resolve(
            {
                "petra_api_key": (api_key, "PETRA_API_KEY"),
                "petra_var_api_key": (var_api_key, "PETRA_VAR_API_KEY"),
                "petra_base_url": (base_url, "PETRA_BASE_URL"),
            },
            profile,
        )
        key = creds.get("petra_api_key")
        var_key = creds.get("petra_var_api_key")
        if not key and not var_key:
            raise _config.ConfigError(
                "No Petra Security API key. Pass api_key='petra_...' or set PETRA_API_KEY "
                "(an admin creates keys in the Petra portal). Looked in: " + "; ".join(creds.looked)
            )
        self.base_url = str(creds.get("petra_base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.version = version
        self._key_source = creds.source("petra_api_key")
        self._var_source = creds.source("petra_var_api_key")
        self._auth = BearerAuth(str(key)) if key else None
        self._var_auth = BearerAuth(str(var_key)) if var_key else None
        self.credential_source = (
            f"API key {mask(str(key)[:10]) if key else '(none)'} from {self._key_source}"
        )
        self._session = self._session_class(timeout=timeout, retries=retries)
        self._session.verify = verify
        if pace is True:
            pace = DOCUMENTED_RATE
        self._pacer = _Pacer(int(pace)) if pace else None
        self.concurrency = _check_concurrency(concurrency)

    def _auth_help(self, multi_msp: bool) -> str:
        source = self._var_source if multi_msp else self._key_source
        kind = "Multi-MSP key (petra_var_...)" if multi_msp else "organisation key (petra_...)"
        return (
            "Petra Security refused the API key. Possible causes: the key is missing or "
            "invalid; it was deleted (deletion takes effect at once); the 'Bearer ' prefix is "
            "missing; it belongs to another organisation. "
            f"Used: the {kind} from {source}."
        )

    _session_class: type[Session] = Session

    def _call(self, get: _Get) -> dict[str, Any]:
        """The session ``request`` arguments for one GET (no pacing here)."""
        auth = self._var_auth if get.multi_msp else (self._auth or self._var_auth)
        if auth is None:
            raise _config.ConfigError(
                "usage_xlsx() needs a Multi-MSP key (petra_var_...): pass var_api_key= or set "
                "PETRA_VAR_API_KEY"
                if get.multi_msp
                else "No Petra Security organisation key (PETRA_API_KEY)"
            )
        return {
            "method": "GET",
            "url": f"{self.base_url}/{self.version}/{get.route}",
            "params": {k: v for k, v in (get.params or {}).items() if v is not None},
            "auth": auth,
        }

    def _check(self, resp: Any, get: _Get) -> Any:
        """The response, or the typed error for it (returned, not raised)."""
        if isinstance(resp, BaseException):
            return resp
        try:
            raise_for_response(
                resp,
                service="Petra Security",
                what=f"GET /{self.version}/{get.route}",
                auth_help=self._auth_help(get.multi_msp),
            )
        except RequestException as e:
            return e
        return resp

    def _send(self, gets: list[_Get], concurrency: int) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(gets), concurrency):
            window = gets[start : start + concurrency]
            try:
                calls = [self._call(g) for g in window]
            except RequestException as e:
                return out + [e] * (len(gets) - len(out))
            if self._pacer is not None:
                for g in window:
                    self._pacer.wait(g.route)
            if len(window) == 1:
                try:
                    resps: list[Any] = [self._session.request(**calls[0])]
                except RequestException as e:
                    resps = [e]
            else:
                resps = self._session.request_many(
                    calls, concurrency=len(calls), return_exceptions=True
                )
            out.extend(self._check(r, g) for r, g in zip(resps, window, strict=True))
        return out

    def _run(self, plan: _Plan[_T], concurrency: int | None = None) -> _T:
        n = self.concurrency if concurrency is None else _check_concurrency(concurrency)
        reply: list[Any] | None = None
        while True:
            try:
                step = plan.send(reply)  # type: ignore[arg-type]
            except StopIteration as stop:
                return stop.value
            reply = self._send(step, n)

    def _get(
        self, route: str, params: dict[str, Any] | None = None, *, multi_msp: bool = False
    ) -> Response:
        return self._run(_one(_Get(route, params, multi_msp)))

    def usage(self, as_of: Any = None) -> dict[str, Any]:
        """Usage for every tenant as of a date (default today): ``{asOf, tenants: [...], ...}``."""
        return self._run(self._usage(as_of))

    def _usage(self, as_of: Any) -> _Plan[dict[str, Any]]:
        return (yield from _one(_Get("usage", {"asOf": _date(as_of, "as_of")}))).json()

    def usage_df(self, as_of: Any = None) -> Any:
        """``usage()``'s tenants as a pandas DataFrame."""
        from ._frames import to_pandas

        return to_pandas(self.usage(as_of).get("tenants", []))

    def billable_users(self, tenant_id: str) -> dict[str, Any]:
        """Billable users of one tenant (Petra or Microsoft tenant id)."""
        return self._run(self._billable_users(tenant_id))

    def _billable_users(self, tenant_id: str) -> _Plan[dict[str, Any]]:
        if not isinstance(tenant_id, str) or not tenant_id.strip():
            raise ValueError("billable_users() needs a tenant_id string")
        return (yield from _one(_Get("billable-users", {"tenantId": tenant_id}))).json()

    def billable_users_all(self, *, concurrency: int | None = None) -> dict[str, dict[str, Any]]:
        """Billable users of every tenant, fetched concurrently within the rate limit.

        Lists the tenants, then asks for each tenant's billable users, ``concurrency`` at a
        time; with ``pace=`` on, every request still waits for the pacer first.

        Args:
            concurrency: requests in flight at once (default: the client's, 4).

        Returns:
            ``{petraTenantId: billable_users(...) result}``, in the order of ``tenants()``.

        Raises:
            HTTPError, ConnectionError, ...: the first tenant that failed, with a note
            saying how many succeeded.

        Example:
            >>> totals = {t: r["totalBillableUsers"]
            ...           for t, r in petra.billable_users_all().items()}
        """
        return self._run(self._billable_users_all(), concurrency)

    def _billable_users_all(self) -> _Plan[dict[str, dict[str, Any]]]:
        tenants = yield from self._tenants()
        ids = [str(t.get("petraTenantId") or t.get("tenantId") or t.get("id")) for t in tenants]
        replies = yield [_Get("billable-users", {"tenantId": i}) for i in ids]
        out: dict[str, dict[str, Any]] = {}
        for tenant_id, reply in zip(ids, replies, strict=True):
            if isinstance(reply, BaseException):
                with_progress_note(
                    reply,
                    f"billable users of tenant {tenant_id} failed; "
                    f"{sum(not isinstance(r, BaseException) for r in replies)} of {len(ids)} "
                    "tenants succeeded",
                )
                raise reply
            out[tenant_id] = reply.json()
        return out

    def incidents(
        self, tenant_id: str | None = None, start_date: Any = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Incidents, newest first.

        Args:
            tenant_id: a Petra or Microsoft tenant id (default: all tenants).
            start_date: only incidents created on or after this date or date-time.
            limit: 1 to 500 (default 100).
        """
        return self._run(self._incidents(tenant_id, start_date, limit))

    def _incidents(
        self, tenant_id: str | None, start_date: Any, limit: int
    ) -> _Plan[list[dict[str, Any]]]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise ValueError(f"limit must be an int from 1 to 500, not {limit!r}")
        params = {
            "tenantId": tenant_id,
            "startDate": _date(start_date, "start_date", allow_time=True),
            "limit": limit,
        }
        body = (yield from _one(_Get("incidents", params))).json()
        return body.get("incidents", []) if isinstance(body, dict) else body

    def tenants(self) -> list[dict[str, Any]]:
        """The organisation's tenants, sorted by name."""
        return self._run(self._tenants())

    def _tenants(self) -> _Plan[list[dict[str, Any]]]:
        body = (yield from _one(_Get("tenants"))).json()
        return body.get("tenants", []) if isinstance(body, dict) else body

    def usage_xlsx(self, as_of: Any = None) -> bytes:
        """The usage report as an ``.xlsx`` file's bytes (needs a Multi-MSP key)."""
        return self._run(self._usage_xlsx(as_of))

    def _usage_xlsx(self, as_of: Any) -> _Plan[bytes]:
        get = _Get("usage-xlsx", {"asOf": _date(as_of, "as_of")}, multi_msp=True)
        return (yield from _one(get)).content

    def usage_xlsx_df(self, as_of: Any = None) -> Any:
        """The ``.xlsx`` usage report read into a pandas DataFrame (needs openpyxl)."""
        import io

        import pandas as pd

        return pd.read_excel(io.BytesIO(self.usage_xlsx(as_of)))

    def close(self) -> None:
        """Close the client's connections."""
        self._session.close()

    def __enter__(self) -> PetraSecurity:
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<petro.PetraSecurity {self.base_url}/{self.version} auth={self.credential_source!r}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("petro.PetraSecurity holds an API key and cannot be pickled")


def _check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
    return concurrency


class AsyncPetraSecurity(PetraSecurity):
    """``PetraSecurity`` for asyncio: same arguments, awaitable methods.

    Pacing (``pace=``) waits with ``asyncio.sleep``, never blocking the event loop.

    Example:
        >>> async with petro.AsyncPetraSecurity(pace=True) as petra:
        ...     usage = await petra.usage()
        ...     per_tenant = await petra.billable_users_all()
    """

    _session_class = AsyncSession

    async def _asend(self, gets: list[_Get], concurrency: int) -> list[Any]:
        session: Any = self._session
        out: list[Any] = []
        for start in range(0, len(gets), concurrency):
            window = gets[start : start + concurrency]
            try:
                calls = [self._call(g) for g in window]
            except RequestException as e:
                return out + [e] * (len(gets) - len(out))
            if self._pacer is not None:
                for g in window:
                    await self._pacer.await_slot(g.route)
            if len(window) == 1:
                try:
                    resps: list[Any] = [await session.request(**calls[0])]
                except RequestException as e:
                    resps = [e]
            else:
                resps = await session.request_many(
                    calls, concurrency=len(calls), return_exceptions=True
                )
            out.extend(self._check(r, g) for r, g in zip(resps, window, strict=True))
        return out

    async def _arun(self, plan: _Plan[_T], concurrency: int | None = None) -> _T:
        n = self.concurrency if concurrency is None else _check_concurrency(concurrency)
        reply: list[Any] | None = None
        while True:
            try:
                step = plan.send(reply)  # type: ignore[arg-type]
            except StopIteration as stop:
                return stop.value
            reply = await self._asend(step, n)

    def _send(self, gets: list[_Get], concurrency: int) -> list[Any]:
        raise TypeError("AsyncPetraSecurity's calls are coroutines: use its async methods")

    async def usage(self, as_of: Any = None) -> dict[str, Any]:  # type: ignore[override]
        """Usage for every tenant (``PetraSecurity.usage``, awaitable)."""
        return await self._arun(self._usage(as_of))

    async def usage_df(self, as_of: Any = None) -> Any:  # type: ignore[override]
        """``usage()``'s tenants as a pandas DataFrame (awaitable)."""
        from ._frames import to_pandas

        return to_pandas((await self.usage(as_of)).get("tenants", []))

    async def billable_users(self, tenant_id: str) -> dict[str, Any]:  # type: ignore[override]
        """Billable users of one tenant (``PetraSecurity.billable_users``, awaitable)."""
        return await self._arun(self._billable_users(tenant_id))

    async def billable_users_all(  # type: ignore[override]
        self, *, concurrency: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """Billable users of every tenant (``PetraSecurity.billable_users_all``, awaitable)."""
        return await self._arun(self._billable_users_all(), concurrency)

    async def incidents(  # type: ignore[override]
        self, tenant_id: str | None = None, start_date: Any = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Incidents, newest first (``PetraSecurity.incidents``, awaitable)."""
        return await self._arun(self._incidents(tenant_id, start_date, limit))

    async def tenants(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The organisation's tenants (``PetraSecurity.tenants``, awaitable)."""
        return await self._arun(self._tenants())

    async def usage_xlsx(self, as_of: Any = None) -> bytes:  # type: ignore[override]
        """The usage report's ``.xlsx`` bytes (``PetraSecurity.usage_xlsx``, awaitable)."""
        return await self._arun(self._usage_xlsx(as_of))

    async def usage_xlsx_df(self, as_of: Any = None) -> Any:  # type: ignore[override]
        """The ``.xlsx`` usage report as a pandas DataFrame (awaitable)."""
        import io

        import pandas as pd

        return pd.read_excel(io.BytesIO(await self.usage_xlsx(as_of)))

    async def __aenter__(self) -> AsyncPetraSecurity:
        return self

    async def __aexit__(self, *a: Any) -> None:
        self.close()

    async def aclose(self) -> None:
        """Close the client's connections."""
        self.close()

    def __repr__(self) -> str:
        return (
            f"<petro.AsyncPetraSecurity {self.base_url}/{self.version} "
            f"auth={self.credential_source!r}>"
        )
