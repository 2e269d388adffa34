"""``petro.PetraSecurity``: the Petra Security API (usage, billable users, incidents, tenants).

Example:
    >>> petra = petro.PetraSecurity()          # key from PETRA_API_KEY
    >>> petra.usage()["totalTenants"]
    >>> petra.incidents(limit=20)
"""

from __future__ import annotations

import collections
import datetime
import threading
import time
from typing import Any

from . import _config
from ._service import mask, raise_for_response
from .auth import BearerAuth
from .retry import Retry
from .sessions import DEFAULT_TIMEOUT, Session

__all__ = ["PetraSecurity"]

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

    def wait(self, route: str) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                q = self._sent[route]
                while q and now - q[0] >= self.window:
                    q.popleft()
                if len(q) < self.per_minute:
                    q.append(now)
                    return
                pause = self.window - (now - q[0])
            time.sleep(min(max(pause, 0.01), self.window))


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
        self._session = Session(timeout=timeout, retries=retries)
        self._session.verify = verify
        if pace is True:
            pace = DOCUMENTED_RATE
        self._pacer = _Pacer(int(pace)) if pace else None

    def _auth_help(self, multi_msp: bool) -> str:
        source = self._var_source if multi_msp else self._key_source
        kind = "Multi-MSP key (petra_var_...)" if multi_msp else "organisation key (petra_...)"
        return (
            "Petra Security refused the API key. Possible causes: the key is missing or "
            "invalid; it was deleted (deletion takes effect at once); the 'Bearer ' prefix is "
            "missing; it belongs to another organisation. "
            f"Used: the {kind} from {source}."
        )

    def _get(
        self, route: str, params: dict[str, Any] | None = None, *, multi_msp: bool = False
    ) -> Any:
        auth = self._var_auth if multi_msp else (self._auth or self._var_auth)
        if auth is None:
            raise _config.ConfigError(
                "usage_xlsx() needs a Multi-MSP key (petra_var_...): pass var_api_key= or set "
                "PETRA_VAR_API_KEY"
                if multi_msp
                else "No Petra Security organisation key (PETRA_API_KEY)"
            )
        if self._pacer is not None:
            self._pacer.wait(route)
        path = f"/{self.version}/{route}"
        resp = self._session.get(
            self.base_url + path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            auth=auth,
        )
        raise_for_response(
            resp, service="Petra Security", what=f"GET {path}", auth_help=self._auth_help(multi_msp)
        )
        return resp

    def usage(self, as_of: Any = None) -> dict[str, Any]:
        """Usage for every tenant as of a date (default today): ``{asOf, tenants: [...], ...}``."""
        return self._get("usage", {"asOf": _date(as_of, "as_of")}).json()

    def usage_df(self, as_of: Any = None) -> Any:
        """``usage()``'s tenants as a pandas DataFrame."""
        from ._frames import to_pandas

        return to_pandas(self.usage(as_of).get("tenants", []))

    def billable_users(self, tenant_id: str) -> dict[str, Any]:
        """Billable users of one tenant (Petra or Microsoft tenant id)."""
        if not isinstance(tenant_id, str) or not tenant_id.strip():
            raise ValueError("billable_users() needs a tenant_id string")
        return self._get("billable-users", {"tenantId": tenant_id}).json()

    def incidents(
        self, tenant_id: str | None = None, start_date: Any = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Incidents, newest first.

        Args:
            tenant_id: a Petra or Microsoft tenant id (default: all tenants).
            start_date: only incidents created on or after this date or date-time.
            limit: 1 to 500 (default 100).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise ValueError(f"limit must be an int from 1 to 500, not {limit!r}")
        params = {
            "tenantId": tenant_id,
            "startDate": _date(start_date, "start_date", allow_time=True),
            "limit": limit,
        }
        body = self._get("incidents", params).json()
        return body.get("incidents", []) if isinstance(body, dict) else body

    def tenants(self) -> list[dict[str, Any]]:
        """The organisation's tenants, sorted by name."""
        body = self._get("tenants").json()
        return body.get("tenants", []) if isinstance(body, dict) else body

    def usage_xlsx(self, as_of: Any = None) -> bytes:
        """The usage report as an ``.xlsx`` file's bytes (needs a Multi-MSP key)."""
        return self._get("usage-xlsx", {"asOf": _date(as_of, "as_of")}, multi_msp=True).content

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
