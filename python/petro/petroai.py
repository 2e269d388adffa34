"""``petro.PetroAI``: the Petro.ai data API in one line per task.

Example:
    >>> client = petro.PetroAI()              # credentials from env or ~/.config/petro
    >>> wells = client.data.query_df("Well", {"basinName": "Permian"})
    >>> ids = client.data.create("petron", [{"name": "P1"}])
"""

from __future__ import annotations

import datetime
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from . import _config
from ._service import (
    jwt_expiry,
    mask,
    progress_bar,
    raise_for_response,
    v4_quirk_status,
    with_progress_note,
)
from .auth import BearerAuth, HTTPBasicAuth
from .exceptions import AuthenticationError, RequestException, Timeout
from .models import Response
from .retry import Retry
from .sessions import DEFAULT_TIMEOUT, Session

__all__ = [
    "Collection",
    "DataAPI",
    "PetroAI",
    "QueryInterrupted",
    "TokenExpiredError",
    "TokenExpiryWarning",
]

_DEFAULT_RETRIES = Retry(3)
_TOKEN_HELP = (
    "Petro.ai tokens last 4 hours. Get a new one: sign in to Petro.ai in the browser, open the "
    "developer tools (F12) > Application > Local Storage, copy the value of 'petroai-token', "
    "then call client.set_token(new_token) or set PETRO_TOKEN. For scripts, prefer an API key "
    "(App ID + Secret Key from Settings > API Keys)."
)


class TokenExpiredError(AuthenticationError):
    """The Petro.ai JWT has expired; raised before any request is sent."""


class TokenExpiryWarning(UserWarning):
    """The Petro.ai JWT expires in under 10 minutes."""


class QueryInterrupted(KeyboardInterrupt):
    """Ctrl-C during a long pull. ``records`` holds what was fetched; resume with ``skip=next_skip``."""

    def __init__(self, records: list[dict[str, Any]], next_skip: int) -> None:
        super().__init__(
            f"Interrupted after {len(records)} records; the records are on this exception's "
            f".records, and the query resumes with skip={next_skip}"
        )
        self.records = records
        self.next_skip = next_skip


def _records(payload: Any) -> tuple[list[dict[str, Any]], int | None]:
    """Records and total count from either response shape (bare list or envelope)."""
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict):
        for key in ("data", "records", "items", "results"):
            if isinstance(payload.get(key), list):
                count = payload.get("count", payload.get("total"))
                return payload[key], count if isinstance(count, int) else None
    raise RequestException(
        f"Unexpected response shape from Petro.ai: expected a list of records or "
        f"{{'data': [...]}}, got {type(payload).__name__}"
    )


class PetroAI:
    """A client for a Petro.ai organisation's data API.

    Credentials are looked up in order: the arguments, the environment
    (``PETRO_BASE_URL``, ``PETRO_APP_ID``, ``PETRO_SECRET_KEY``, ``PETRO_TOKEN``), then a
    profile in ``~/.config/petro/config.toml`` (``PETRO_PROFILE``, ``PETRO_CONFIG``). An
    App ID + Secret Key is sent as HTTP Basic; a JWT as ``Authorization: Bearer``.

    Args:
        base_url: ``https://<company>.petro.ai``.
        app_id: the API key's App ID.
        secret_key: the API key's Secret Key (never shown).
        token: a user JWT instead of an API key (valid 4 hours).
        profile: a profile name in the config file.
        timeout: seconds or ``(connect, read)``; default (10, 300).
        retries: a ``petro.Retry`` or an int; default 3 retries with backoff.
        deadline: a total time budget in seconds for each high-level call (all pages, all retries).
        page_size: records per page for paged reads (default 1000).
        progress: show progress bars (None: when interactive).

    Example:
        >>> client = petro.PetroAI("https://acme.petro.ai", app_id=..., secret_key=...)
        >>> client.data.query("petron", {"name": {"regex": "^My"}}, limit=10)
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        app_id: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        profile: str | None = None,
        timeout: Any = DEFAULT_TIMEOUT,
        retries: Any = _DEFAULT_RETRIES,
        deadline: float | None = None,
        page_size: int = 1000,
        progress: bool | None = None,
        verify: Any = True,
    ) -> None:
        creds = _config.resolve(
            {
                "base_url": (base_url, "PETRO_BASE_URL"),
                "app_id": (app_id, "PETRO_APP_ID"),
                "secret_key": (secret_key, "PETRO_SECRET_KEY"),
                "token": (token, "PETRO_TOKEN"),
            },
            profile,
        )
        url = creds.get("base_url")
        if not url:
            raise _config.ConfigError(
                "No Petro.ai base URL. Pass base_url='https://<company>.petro.ai' or set "
                "PETRO_BASE_URL. Looked in: " + "; ".join(creds.looked)
            )
        self.base_url: str = str(url).rstrip("/")
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        self.page_size = page_size
        self.progress = progress
        self.deadline = deadline
        self._session = Session(timeout=timeout, retries=retries)
        self._session.verify = verify
        self._app_id: str | None = None
        self._token_expires_at: datetime.datetime | None = None
        self._warned_expiry = False
        if creds.get("app_id") and creds.get("secret_key") and token is None:
            self._app_id = str(creds.get("app_id"))
            self._session.auth = HTTPBasicAuth(self._app_id, str(creds.get("secret_key")))
            self.credential_source = (
                f"API key (App ID {mask(self._app_id)}) from {creds.source('app_id')}"
                + (
                    ""
                    if creds.source("secret_key") == creds.source("app_id")
                    else f", Secret Key from {creds.source('secret_key')}"
                )
            )
        elif creds.get("token"):
            self._set_token(str(creds.get("token")), creds.source("token"))
        else:
            missing = "Secret Key" if creds.get("app_id") else "App ID and Secret Key (or a JWT)"
            raise _config.ConfigError(
                f"No Petro.ai credentials: missing the {missing}. Pass app_id= and secret_key= "
                "(or token=), set PETRO_APP_ID and PETRO_SECRET_KEY (or PETRO_TOKEN), or add them "
                "to a profile. Looked in: " + "; ".join(creds.looked)
            )
        self.data = DataAPI(self)

    # -- credentials ---------------------------------------------------------
    def _set_token(self, token: str, source: str) -> None:
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        self._token_expires_at = jwt_expiry(token)
        self._warned_expiry = False
        self._app_id = None
        self._session.auth = BearerAuth(token)
        self.credential_source = f"JWT from {source}"
        self._check_token()

    def set_token(self, token: str) -> None:
        """Swap in a new JWT on a live client (pages, settings and connections are kept)."""
        if not isinstance(token, str) or not token.strip():
            raise ValueError("set_token() needs a non-empty JWT string")
        self._set_token(token, "set_token()")

    @property
    def token_expires_at(self) -> datetime.datetime | None:
        """When the JWT expires (UTC), or None for API keys and tokens without ``exp``."""
        return self._token_expires_at

    def _check_token(self) -> None:
        exp = self._token_expires_at
        if exp is None:
            return
        left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if left <= 0:
            raise TokenExpiredError(
                f"The Petro.ai token ({self.credential_source}) expired at "
                f"{exp:%Y-%m-%d %H:%M:%S} UTC. {_TOKEN_HELP}"
            )
        if left < 600 and not self._warned_expiry:
            self._warned_expiry = True
            warnings.warn(
                f"The Petro.ai token expires in {int(left // 60)} min {int(left % 60)} s "
                f"({exp:%H:%M:%S} UTC). {_TOKEN_HELP}",
                TokenExpiryWarning,
                stacklevel=3,
            )

    def _auth_help(self) -> str:
        if self._app_id is not None:
            causes = (
                "the App ID or Secret Key is wrong; the key was disabled or deleted "
                "(Settings > API Keys); the organisation does not have API access on"
            )
        else:
            causes = (
                "the JWT is malformed or was not copied whole; the token expired (4 hours); "
                "the 'Bearer ' prefix is missing"
            )
        return (
            f"Petro.ai refused the credentials. Possible causes: {causes}. "
            f"Credentials used: {self.credential_source}."
        )

    # -- transport -----------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool | None = None,
        deadline_at: float | None = None,
    ) -> Any:
        """Send one request and return the parsed JSON body, raising typed errors."""
        self._check_token()
        retries: Any = self._session.retries
        if deadline_at is not None:
            left = deadline_at - time.monotonic()
            if left <= 0:
                raise Timeout(f"The deadline ({self.deadline} s) ran out before {method} {path}")
            if retries is not None:
                retries = Retry(
                    retries.total,
                    backoff_factor=retries.backoff_factor,
                    backoff_max=retries.backoff_max,
                    status_forcelist=retries.status_forcelist,
                    retry_after_max=retries.retry_after_max,
                    deadline=left,
                )
        resp = self._session.request(
            method,
            f"{self.base_url}/{path.lstrip('/')}",
            json=json,
            params=params,
            retries=retries,
            idempotent=idempotent,
        )
        return self._parse(resp, f"{method} /{path.lstrip('/')}")

    def _parse(self, resp: Response, what: str) -> Any:
        help_text = self._auth_help()
        raise_for_response(resp, service="Petro.ai", what=what, auth_help=help_text)
        if not resp.content:
            return None
        body = resp.json()
        quirk = v4_quirk_status(body)
        if quirk is not None:
            raise_for_response(
                resp,
                service="Petro.ai",
                what=what,
                auth_help=help_text,
                status=quirk,
                message=str(body.get("message")),
            )
        return body

    def collection(self, name: str) -> Collection:
        """A legacy collection endpoint, e.g. ``client.collection("Wells").get(Limit=10)``."""
        return Collection(self, name)

    def close(self) -> None:
        """Close the client's connections."""
        self._session.close()

    def __enter__(self) -> PetroAI:
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<petro.PetroAI {self.base_url} auth={self.credential_source!r}>"

    def __reduce__(self) -> Any:
        raise TypeError(
            "petro.PetroAI holds credentials and cannot be pickled; create the client in each "
            "worker (it reads PETRO_* from the environment or a profile)"
        )


class DataAPI:
    """``client.data``: query, page, write and inspect typed records (``/api/data``)."""

    def __init__(self, client: PetroAI) -> None:
        self._client = client

    def _deadline_at(self) -> float | None:
        d = self._client.deadline
        return time.monotonic() + d if d else None

    @staticmethod
    def _check_type(type: str) -> str:
        if not isinstance(type, str) or not type.strip():
            raise ValueError(f"type must be a non-empty string such as 'Well', not {type!r}")
        return type

    def _page(
        self,
        type: str,
        query: dict[str, Any] | None,
        *,
        fields: list[str] | None,
        sort: dict[str, int] | None,
        skip: int,
        limit: int,
        deadline_at: float | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        options: dict[str, Any] = {"limit": limit, "skip": skip}
        if fields is not None:
            options["fields"] = list(fields)
        if sort is not None:
            options["sort"] = dict(sort)
        body = {"type": type, "query": query or {}, "options": options}
        payload = self._client._request(
            "POST", "api/data/query", json=body, idempotent=True, deadline_at=deadline_at
        )
        return _records(payload)

    def iter(
        self,
        type: str,
        query: dict[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        sort: dict[str, int] | None = None,
        limit: int | None = None,
        skip: int = 0,
        page_size: int | None = None,
        progress: bool | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield matching records page by page (memory stays bounded by one page).

        Pages with ``options.skip`` / ``options.limit`` until a page comes back short.
        A failure mid-way raises with a note saying how many records came and the
        ``skip`` to resume from.
        """
        self._check_type(type)
        _check_query(query)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, not {limit!r}")
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, not {skip!r}")
        size = page_size or self._client.page_size
        deadline_at = self._deadline_at()
        fetched = 0
        bar = progress_bar(self._client.progress if progress is None else progress, f"{type}")
        try:
            while limit is None or fetched < limit:
                want = size if limit is None else min(size, limit - fetched)
                try:
                    page, _count = self._page(
                        type,
                        query,
                        fields=fields,
                        sort=sort,
                        skip=skip + fetched,
                        limit=want,
                        deadline_at=deadline_at,
                    )
                except RequestException as e:
                    with_progress_note(
                        e,
                        f"{fetched} records were fetched before this failure; "
                        f"resume with skip={skip + fetched}",
                    )
                    e.next_skip = skip + fetched  # type: ignore[attr-defined]
                    raise
                yield from page
                fetched += len(page)
                bar.update(len(page))
                if len(page) < want:
                    break
        finally:
            bar.close()

    def query(
        self,
        type: str,
        query: dict[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        sort: dict[str, int] | None = None,
        limit: int | None = None,
        skip: int = 0,
        page_size: int | None = None,
        progress: bool | None = None,
    ) -> list[dict[str, Any]]:
        """All records of ``type`` matching ``query``, as a list of dicts.

        Args:
            type: the record type, e.g. ``"Well"`` or ``"petron"`` (case-insensitive).
            query: a filter: ``{"basinName": "Permian"}``, ``{"tvd_ft": {"gt": 8000}}``,
                ``{"basinName": ["Permian", "Delaware"]}`` (any of); None or ``{}`` for all.
            fields: only these fields. sort: ``{"field": 1 | -1}``.
            limit: at most this many records. skip: start after this many.
            page_size: records per request (default: the client's, 1000).
            progress: show a progress bar (None: when interactive).

        Raises:
            QueryInterrupted: on Ctrl-C, with ``.records`` fetched so far and ``.next_skip``.
        """
        out: list[dict[str, Any]] = []
        try:
            for rec in self.iter(
                type,
                query,
                fields=fields,
                sort=sort,
                limit=limit,
                skip=skip,
                page_size=page_size,
                progress=progress,
            ):
                out.append(rec)
        except KeyboardInterrupt:
            raise QueryInterrupted(out, skip + len(out)) from None
        return out

    def query_df(self, type: str, query: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Like ``query`` but returns a pandas DataFrame (dates parsed, nullable integers)."""
        from ._frames import to_pandas

        return to_pandas(self.query(type, query, **kwargs))

    def query_pl(self, type: str, query: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Like ``query`` but returns a polars DataFrame."""
        from ._frames import to_polars

        return to_polars(self.query(type, query, **kwargs))

    to_polars = query_pl

    def count(self, type: str, query: dict[str, Any] | None = None) -> int:
        """How many records match: the service's count when it sends one, else by paging ids."""
        self._check_type(type)
        _check_query(query)
        page, count = self._page(
            type, query, fields=["id"], sort=None, skip=0, limit=1, deadline_at=self._deadline_at()
        )
        if count is not None and count > len(page):
            return count  # the envelope's count is a total, not the page's length
        if not page:
            return 0
        return sum(1 for _ in self.iter(type, query, fields=["id"], progress=False))

    def create(
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Insert records (in chunks) and return their new ids, in order.

        Creates are not retried (a repeat could insert twice); connection failures raise.
        """
        return self._write("POST", type, records, chunk_size)

    def replace(
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Replace records by ``id`` (records without a known id are inserted); returns ids."""
        return self._write("PUT", type, records, chunk_size)

    def _write(
        self, method: str, type: str, records: Iterable[dict[str, Any]], chunk_size: int
    ) -> list[Any]:
        self._check_type(type)
        if isinstance(records, dict):
            records = [records]
        records = list(records)
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise TypeError(f"records[{i}] must be a dict, not {type_name(r)}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, not {chunk_size!r}")
        ids: list[Any] = []
        deadline_at = self._deadline_at()
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            try:
                payload = self._client._request(
                    method,
                    "api/data",
                    json={"type": type, "data": chunk},
                    idempotent=method == "PUT",
                    deadline_at=deadline_at,
                )
            except RequestException as e:
                with_progress_note(
                    e, f"{start} of {len(records)} records were written before this failure"
                )
                e.written_ids = ids  # type: ignore[attr-defined]
                raise
            written, _ = _records(payload) if payload is not None else ([], None)
            ids.extend(r.get("id") for r in written if isinstance(r, dict))
        return ids

    def update(self, type: str, query: dict[str, Any], set: dict[str, Any]) -> int:
        """Set fields on every record matching ``query``; returns how many matched."""
        self._check_type(type)
        _check_query(query, required=True, what="update")
        if not isinstance(set, dict) or not set:
            raise ValueError("update() needs a non-empty dict of fields to set")
        payload = self._client._request(
            "PATCH",
            "api/data",
            json={"type": type, "query": query, "body": set},
            deadline_at=self._deadline_at(),
        )
        return _count_of(payload)

    def delete(self, type: str, query: dict[str, Any]) -> int:
        """Delete the records matching ``query``; an empty query is refused before sending."""
        self._check_type(type)
        _check_query(query, required=True, what="delete")
        payload = self._client._request(
            "DELETE",
            "api/data",
            json={"type": type, "query": query},
            deadline_at=self._deadline_at(),
        )
        return _count_of(payload)

    def schema(self, type: str) -> dict[str, Any]:
        """An example record of ``type`` (its fields and value types)."""
        self._check_type(type)
        return self._client._request("GET", "api/data/schema", params={"type": type})

    def types(self) -> list[str]:
        """The names of the record types the organisation has."""
        payload = self._client._request("GET", "api/data/types")
        if isinstance(payload, dict):
            payload = payload.get("types", payload.get("data", []))
        return list(payload)


def type_name(v: Any) -> str:
    return type(v).__name__


def _check_query(query: Any, *, required: bool = False, what: str = "query") -> None:
    if query is None:
        if required:
            raise ValueError(f"{what}() needs a query; refusing to {what} every record")
        return
    if not isinstance(query, dict):
        raise TypeError(
            f"query must be a dict such as {{'basinName': 'Permian'}}, not {type_name(query)}"
        )
    if required and not query:
        raise ValueError(
            f"{what}() with an empty query would touch every record; refusing. "
            "Pass a filter such as {'id': ...}."
        )


def _count_of(payload: Any) -> int:
    if isinstance(payload, dict):
        for key in ("count", "deletedCount", "modifiedCount", "matchedCount", "n"):
            if isinstance(payload.get(key), int):
                return payload[key]
        if isinstance(payload.get("data"), list):
            return len(payload["data"])
    if isinstance(payload, list):
        return len(payload)
    return 0


class Collection:
    """A legacy v4 collection endpoint: ``GET /api/<Collection>``."""

    def __init__(self, client: PetroAI, name: str) -> None:
        if not isinstance(name, str) or not name.strip("/ "):
            raise ValueError(f"collection name must be a string such as 'Wells', not {name!r}")
        self._client = client
        self.name = name.strip("/ ")

    def get(self, **params: Any) -> list[dict[str, Any]]:
        """Records of the collection. Takes v4's query parameters: ``Ids``, ``Limit``,
        ``SortBy``, ``SortOrder="Ascending"|"Descending"``, ...

        Example:
            >>> client.collection("Wells").get(Limit=10, SortBy="spudDate", SortOrder="Descending")
        """
        clean: dict[str, Any] = {}
        for k, v in params.items():
            if v is None:
                continue
            if k == "SortOrder" and v not in ("Ascending", "Descending"):
                raise ValueError("SortOrder must be 'Ascending' or 'Descending'")
            clean[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v
        payload = self._client._request("GET", f"api/{self.name}", params=clean)
        if isinstance(payload, dict) and not isinstance(payload.get("data"), list):
            for v in payload.values():  # v4's "...Result" wrapper
                if isinstance(v, list):
                    return v
        records, _ = _records(payload)
        return records

    def __repr__(self) -> str:
        return f"<petro.Collection {self.name}>"
