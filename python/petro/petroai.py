"""``petro.PetroAI``: the Petro.ai data API in one line per task.

Example:
    >>> client = petro.PetroAI()              # credentials from env or ~/.config/petro
    >>> wells = client.data.query_df("Well", {"basinName": "Permian"})
    >>> ids = client.data.create("petron", [{"name": "P1"}])
"""

from __future__ import annotations

import contextlib
import datetime
import time
import warnings
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from . import _config, _core
from ._service import (
    jwt_expiry,
    mask,
    progress_bar,
    raise_for_response,
    v4_quirk_status,
    with_progress_note,
)
from .async_sessions import AsyncSession
from .auth import BearerAuth, HTTPBasicAuth
from .exceptions import AuthenticationError, RequestException, Timeout
from .models import Response
from .retry import Retry
from .sessions import DEFAULT_TIMEOUT, Session

__all__ = [
    "AsyncCollection",
    "AsyncDataAPI",
    "AsyncPetroAI",
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


def _records(payload: Any) -> tuple[Any, int | None]:
    """Records and total count from either response shape (bare list or envelope).

    A page already parsed into columns (``query_df``) carries both itself.
    """
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, _core.RecordPage):
        return payload, payload.count
    if isinstance(payload, dict):
        for key in ("data", "records", "items", "results"):
            if isinstance(payload.get(key), list):
                count = payload.get("count", payload.get("total"))
                return payload[key], count if isinstance(count, int) else None
    raise RequestException(
        f"Unexpected response shape from Petro.ai: expected a list of records or "
        f"{{'data': [...]}}, got {type(payload).__name__}"
    )


class _NotColumnar(Exception):
    """A page that is not a list of records: ``query_df`` falls back to dicts."""


class _Req(NamedTuple):
    """One Petro.ai call a plan asks for (the arguments of ``PetroAI._request``)."""

    method: str
    path: str
    json: Any = None
    params: Any = None
    idempotent: bool | None = None
    deadline_at: float | None = None


class _Pages(list):  # type: ignore[type-arg]
    """A plan step of page requests (a ``list[_Req]``): at most ``concurrency`` in flight,
    and ``rows[i]`` the records page ``i`` should hold. A page with fewer is the end of
    the data: a driver that parses pages natively then sends none of the requests after
    it (their replies are None; the plan stops at the short page before reaching them)."""

    def __init__(self, reqs: list[_Req], concurrency: int, rows: list[int]) -> None:
        super().__init__(reqs)
        self.concurrency = concurrency
        self.rows = rows


class _Emit(NamedTuple):
    """Records a plan hands to the caller of ``iter`` / ``aiter``."""

    records: list[dict[str, Any]]


_T = TypeVar("_T")
#: The logic of a call without its I/O: a generator that yields ``list[_Req]`` (sent
#: concurrently; it receives each parsed body, or the exception, in order) or ``_Emit``
#: (records for the caller), and returns the call's result. One plan, two drivers
#: (``PetroAI`` and ``AsyncPetroAI``), so the sync and async clients cannot drift apart.
_Plan = Generator["list[_Req] | _Emit", "list[Any] | None", _T]


def _one(req: _Req) -> Generator[list[_Req], list[Any] | None, Any]:
    """A plan step: send one request, return its parsed body (or raise its error)."""
    reply = yield [req]
    result = reply[0] if reply else None
    if isinstance(result, BaseException):
        raise result
    return result


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
        concurrency: pages fetched at once by paged reads once the first page shows there
            are more (default 4; 1 pages one at a time). Results are the same either way.

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
        concurrency: int = 4,
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
        self.concurrency = _check_concurrency(concurrency)
        self.progress = progress
        self.deadline = deadline
        self.profile = profile
        self._session = self._session_class(timeout=timeout, retries=retries)
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
        self.data = self._data_class(self)

    _session_class: type[Session] = Session
    _data_class: type[DataAPI]

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
    def _call(self, req: _Req) -> dict[str, Any]:
        """The session ``request`` arguments for one call (token and deadline checked)."""
        self._check_token()
        retries: Any = self._session.retries
        if req.deadline_at is not None:
            left = req.deadline_at - time.monotonic()
            if left <= 0:
                raise Timeout(
                    f"The deadline ({self.deadline} s) ran out before {req.method} {req.path}"
                )
            if retries is not None:
                retries = Retry(
                    retries.total,
                    backoff_factor=retries.backoff_factor,
                    backoff_max=retries.backoff_max,
                    status_forcelist=retries.status_forcelist,
                    retry_after_max=retries.retry_after_max,
                    deadline=left,
                )
        return {
            "method": req.method,
            "url": f"{self.base_url}/{req.path.lstrip('/')}",
            "json": req.json,
            "params": req.params,
            "retries": retries,
            "idempotent": req.idempotent,
        }

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
        req = _Req(method, path, json, params, idempotent, deadline_at)
        return self._parse(self._session.request(**self._call(req)), _what(req))

    def _send(self, reqs: list[_Req], columnar: bool = False, frames: Any = None) -> list[Any]:
        """Send a plan step's requests (concurrently when several); bodies or errors, in order.

        ``columnar``: pages of records come back as ``_core.RecordPage`` (``query_df``),
        for ``frames``, the ``_core.FrameBuilder`` they go to.
        """
        if len(reqs) == 1:
            try:
                resp = self._session.request(**self._call(reqs[0]))
                return [self._parse_body(resp, _what(reqs[0]), columnar)]
            except RequestException as e:
                return [e]
        calls = [self._call(r) for r in reqs]
        pages = reqs if isinstance(reqs, _Pages) else None
        responses = self._session._request_many(
            calls,
            len(calls) if pages is None else pages.concurrency,
            True,
            parse_records=columnar,
            page_rows=pages.rows if pages is not None and columnar else None,
            frames=frames if columnar else None,
        )
        return [
            self._parse_or_error(r, req, columnar) for r, req in zip(responses, reqs, strict=True)
        ]

    def _parse_or_error(self, resp: Any, req: _Req, columnar: bool = False) -> Any:
        if resp is None or isinstance(resp, BaseException):
            return resp  # None: not sent, being past the end of the data
        try:
            return self._parse_body(resp, _what(req), columnar)
        except RequestException as e:
            return e

    def _parse_body(self, resp: Response, what: str, columnar: bool) -> Any:
        return self._parse_columns(resp, what) if columnar else self._parse(resp, what)

    def _parse_columns(self, resp: Response, what: str) -> Any:
        """A page of records parsed straight into columns (``query_df``); any other
        body goes through ``_parse``, which raises what it should."""
        raw = resp._raw
        if resp.ok and raw is not None and not resp._content_consumed:
            page = _core.parse_records(raw)
            if page is not None:
                return page
        return self._parse(resp, what)

    def _frame(self, plan: _Plan[Any], skip: int = 0) -> Any:
        """Drive a paging plan into a pandas DataFrame without per-record dicts."""
        from ._frames import arrow_text, from_builder

        # Text handed over as str (not Arrow): each page makes its str as it arrives.
        builder = _core.FrameBuilder(text_objects=not arrow_text())
        try:
            for page in self._pages(plan, columnar=True, frames=builder):
                if not isinstance(page, _core.RecordPage):
                    raise _NotColumnar
                builder.append(page)
        except KeyboardInterrupt:
            stopped = QueryInterrupted([], skip + len(builder))
            stopped.frame = from_builder(builder)  # type: ignore[attr-defined]
            raise stopped from None
        return from_builder(builder)

    def _run(self, plan: _Plan[_T]) -> _T:
        """Drive a plan that emits no records to its result."""
        reply: list[Any] | None = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as stop:
                return stop.value
            reply = self._send(step) if isinstance(step, list) else None

    def _iterate(self, plan: _Plan[Any]) -> Iterator[dict[str, Any]]:
        """Drive a plan, yielding the records it emits."""
        with contextlib.closing(self._pages(plan)) as pages:
            for page in pages:
                yield from page

    def _pages(self, plan: _Plan[Any], columnar: bool = False, frames: Any = None) -> Iterator[Any]:
        """Drive a plan, yielding each page of records it emits (closing it when stopped);
        ``columnar`` and ``frames`` as for ``_send``."""
        reply: list[Any] | None = None
        with _closing(plan):
            while True:
                try:
                    step = plan.send(reply)
                except StopIteration:
                    return
                if isinstance(step, _Emit):
                    reply = None
                    yield step.records
                else:
                    reply = self._send(step, columnar, frames)

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
        return self._collection_class(self, name)

    _collection_class: type[Collection]

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
    ) -> _Req:
        """The request for one page."""
        options: dict[str, Any] = {"limit": limit, "skip": skip}
        if fields is not None:
            options["fields"] = list(fields)
        if sort is not None:
            options["sort"] = dict(sort)
        body = {"type": type, "query": query or {}, "options": options}
        return _Req("POST", "api/data/query", body, None, True, deadline_at)

    def _scan(
        self,
        type: str,
        query: dict[str, Any] | None,
        *,
        fields: list[str] | None,
        sort: dict[str, int] | None,
        limit: int | None,
        skip: int,
        page_size: int | None,
        progress: bool | None,
        concurrency: int | None,
        columnar: bool = False,
    ) -> _Plan[None]:
        """The paging plan behind ``iter`` / ``query`` (and their async twins).

        The first page is fetched alone. If it is full, the next pages are fetched in
        windows of ``concurrency`` pages and emitted in order; the scan stops at the first
        short page and drops any pages fetched past it, so the records are exactly those of
        a page-by-page scan. Memory stays bounded by one window.

        ``columnar`` (``query_df``, whose pages are parsed natively into compact columns
        and all kept anyway): a step asks for up to 16 windows of pages, still with
        ``concurrency`` in flight, so the pause where one step ends and the next begins
        comes 16 times less often. The native driver sends no request past a short page,
        so no more requests are wasted than with one window. A step is also capped at about
        50,000 records (or one window): its responses live until it ends, and a reply that
        is not a page of records keeps its body (pages' bodies are dropped once parsed).
        """
        self._check_type(type)
        _check_query(query)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"limit must be a non-negative int or None, not {limit!r}")
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, not {skip!r}")
        size = page_size or self._client.page_size
        in_flight = (
            self._client.concurrency if concurrency is None else _check_concurrency(concurrency)
        )
        window = max(in_flight, min(16 * in_flight, 50_000 // size)) if columnar else in_flight
        deadline_at = self._deadline_at()
        fetched = 0
        total: int | None = None  # the envelope's count, when the service sends one
        bar = progress_bar(self._client.progress if progress is None else progress, f"{type}")
        try:
            first = True
            while limit is None or fetched < limit:
                # Plan the next window: one page first, then up to `window` pages.
                reqs: list[_Req] = []
                wants: list[int] = []
                at = fetched
                for _ in range(1 if first else window):
                    if limit is not None and at >= limit:
                        break
                    if total is not None and skip + at >= total and reqs:
                        break
                    want = size if limit is None else min(size, limit - at)
                    reqs.append(
                        self._page(
                            type,
                            query,
                            fields=fields,
                            sort=sort,
                            skip=skip + at,
                            limit=want,
                            deadline_at=deadline_at,
                        )
                    )
                    wants.append(want)
                    at += want
                first = False
                replies = yield _Pages(reqs, in_flight, wants)
                for want, reply in zip(wants, replies or [], strict=True):
                    try:
                        if isinstance(reply, BaseException):
                            raise reply
                        page, count = _records(reply)
                    except RequestException as e:
                        with_progress_note(
                            e,
                            f"{fetched} records were fetched before this failure; "
                            f"resume with skip={skip + fetched}",
                        )
                        e.next_skip = skip + fetched  # type: ignore[attr-defined]
                        raise
                    if count is not None and count > len(page):
                        total = count
                    yield _Emit(page)
                    fetched += len(page)
                    bar.update(len(page))
                    if len(page) < want:
                        return  # a short page ends the scan; later pages are dropped
        finally:
            bar.close()

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
        concurrency: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield matching records page by page (memory stays bounded by a few pages).

        Pages with ``options.skip`` / ``options.limit`` until a page comes back short;
        after the first page, up to ``concurrency`` pages are fetched at once (same records,
        same order as one page at a time). A failure mid-way raises with a note saying how
        many records came and the ``skip`` to resume from (also on ``e.next_skip``).

        Args:
            type, query, fields, sort, limit, skip, page_size, progress: as for ``query``.
            concurrency: pages fetched at once (default: the client's, 4).

        Returns:
            An iterator of record dicts (lazy: nothing is sent until the first ``next``).

        Example:
            >>> for well in client.data.iter("Well", {"basinName": "Permian"}):
            ...     handle(well)
        """
        return self._client._iterate(
            self._scan(
                type,
                query,
                fields=fields,
                sort=sort,
                limit=limit,
                skip=skip,
                page_size=page_size,
                progress=progress,
                concurrency=concurrency,
            )
        )

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
        concurrency: int | None = None,
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
            concurrency: pages fetched at once after the first (default: the client's, 4).

        Returns:
            The records, in the service's order.

        Raises:
            QueryInterrupted: on Ctrl-C, with ``.records`` fetched so far and ``.next_skip``.
            HTTPError, ConnectionError, Timeout: with a note and ``.next_skip`` to resume.

        Example:
            >>> client.data.query("Well", {"tvd_ft": {"gt": 8000}}, fields=["wellId"])
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
                concurrency=concurrency,
            ):
                out.append(rec)
        except KeyboardInterrupt:
            raise QueryInterrupted(out, skip + len(out)) from None
        return out

    def query_df(self, type: str, query: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Like ``query`` but returns a pandas DataFrame (dates parsed, nullable integers).

        Pages are parsed in Rust straight into columns, without a dict per record: much
        faster and lighter than ``pandas.DataFrame(client.data.query(...))``, same result.
        Columns: numbers as ``int64`` / ``float64`` (``Int64`` when an integer field has
        gaps), ISO date strings as ``datetime64`` (UTC when they carry a zone), text as
        pandas' ``str`` (built in Rust as Arrow buffers, with no Python object per cell,
        when pandas keeps text in Arrow: pandas 3 with pyarrow installed), other values
        as objects. Takes the same keyword arguments as ``query``.

        Raises:
            QueryInterrupted: on Ctrl-C, with ``.next_skip`` (``.records`` is empty; the
                rows fetched so far are on ``.frame``).
            HTTPError, ConnectionError, Timeout: as ``query``.

        Example:
            >>> df = client.data.query_df("MonthlyProduction", {"wellId": "42-123-45678"})
            >>> df.groupby("wellId").oilVol_bbl.sum()
        """
        from ._frames import to_pandas

        options = _scan_options(kwargs)
        try:
            plan = self._scan(type, query, **options, columnar=True)
            return self._client._frame(plan, options["skip"])
        except _NotColumnar:
            return to_pandas(self.query(type, query, **kwargs))

    def query_pl(self, type: str, query: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Like ``query`` but returns a polars DataFrame."""
        from ._frames import to_polars

        return to_polars(self.query(type, query, **kwargs))

    to_polars = query_pl

    def query_dask(
        self,
        type: str,
        query: dict[str, Any] | None = None,
        *,
        npartitions: int | None = None,
        partition_size: int | None = None,
        fields: list[str] | None = None,
        sort: dict[str, int] | None = None,
    ) -> Any:
        """The query as a lazy dask DataFrame, each partition a skip/limit range of it.

        Counts the matching records first (``count``) and reads a few to learn the columns;
        each partition is then fetched by a dask worker with its own ``PetroAI``. The task
        graph carries no secret (base URL, profile name, type, query, skip, limit only), so
        every worker needs credentials of its own: ``PETRO_APP_ID`` / ``PETRO_SECRET_KEY``
        (or ``PETRO_TOKEN``) in its environment, or a profile. Pass a stable ``sort`` when the
        data may change while the frame is computed.

        Args:
            type: the record type. query: a filter, as for ``query``.
            npartitions: split into this many partitions, or
            partition_size: records per partition (default 50,000).
            fields: only these fields. sort: ``{"field": 1 | -1}``.

        Returns:
            A ``dask.dataframe.DataFrame`` (index: the record's position in the query).

        Raises:
            ImportError: dask is not installed (``pip install 'petro[dask]'``).
            ConfigError: on a worker without credentials (when computed).

        Example:
            >>> ddf = client.data.query_dask("MonthlyProduction", npartitions=8)
            >>> ddf.groupby("wellId").oilVol_bbl.sum().compute()
        """
        total = self.count(type, query)
        sample = self.query(type, query, fields=fields, sort=sort, limit=100, progress=False)
        return self._dask_frame(
            type, query, total, sample, npartitions, partition_size, fields, sort
        )

    def _dask_frame(
        self,
        type: str,
        query: dict[str, Any] | None,
        total: int,
        sample: list[dict[str, Any]],
        npartitions: int | None,
        partition_size: int | None,
        fields: list[str] | None,
        sort: dict[str, int] | None,
    ) -> Any:
        from . import _dask

        return _dask.frame(
            base_url=self._client.base_url,
            profile=self._client.profile,
            type=type,
            query=query,
            fields=fields,
            sort=sort,
            ranges=_dask.partitions(total, npartitions=npartitions, partition_size=partition_size),
            meta=_dask.meta_of(sample),
        )

    def count(self, type: str, query: dict[str, Any] | None = None) -> int:
        """How many records match: the service's count when it sends one, else by paging ids.

        Args:
            type: the record type. query: a filter, as for ``query``.

        Returns:
            The number of matching records.

        Example:
            >>> client.data.count("Well", {"basinName": "Permian"})
        """
        return self._client._run(self._count(type, query))

    def _count(self, type: str, query: dict[str, Any] | None) -> _Plan[int]:
        self._check_type(type)
        _check_query(query)
        first = self._page(
            type, query, fields=["id"], sort=None, skip=0, limit=1, deadline_at=self._deadline_at()
        )
        page, count = _records((yield from _one(first)))
        if count is not None and count > len(page):
            return count  # the envelope's count is a total, not the page's length
        if not page:
            return 0
        scan = self._scan(
            type,
            query,
            fields=["id"],
            sort=None,
            limit=None,
            skip=0,
            page_size=None,
            progress=False,
            concurrency=None,
        )
        n = 0
        reply: list[Any] | None = None
        with _closing(scan):
            while True:
                try:
                    step = scan.send(reply)
                except StopIteration:
                    return n
                if isinstance(step, _Emit):
                    n += len(step.records)
                    reply = None
                else:
                    reply = yield step

    def create(
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Insert records (in chunks) and return their new ids, in order.

        Creates are not retried (a repeat could insert twice); connection failures raise.
        """
        return self._client._run(self._write("POST", type, records, chunk_size))

    def replace(
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Replace records by ``id`` (records without a known id are inserted); returns ids."""
        return self._client._run(self._write("PUT", type, records, chunk_size))

    def _write(
        self, method: str, type: str, records: Iterable[dict[str, Any]], chunk_size: int
    ) -> _Plan[list[Any]]:
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
            req = _Req(
                method,
                "api/data",
                {"type": type, "data": chunk},
                None,
                method == "PUT",
                deadline_at,
            )
            try:
                payload = yield from _one(req)
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
        return self._client._run(self._update(type, query, set))

    def _update(self, type: str, query: dict[str, Any], set: dict[str, Any]) -> _Plan[int]:
        self._check_type(type)
        _check_query(query, required=True, what="update")
        if not isinstance(set, dict) or not set:
            raise ValueError("update() needs a non-empty dict of fields to set")
        body = {"type": type, "query": query, "body": set}
        payload = yield from _one(_Req("PATCH", "api/data", body, None, None, self._deadline_at()))
        return _count_of(payload)

    def delete(self, type: str, query: dict[str, Any]) -> int:
        """Delete the records matching ``query``; an empty query is refused before sending."""
        return self._client._run(self._delete(type, query))

    def _delete(self, type: str, query: dict[str, Any]) -> _Plan[int]:
        self._check_type(type)
        _check_query(query, required=True, what="delete")
        body = {"type": type, "query": query}
        payload = yield from _one(_Req("DELETE", "api/data", body, None, None, self._deadline_at()))
        return _count_of(payload)

    def schema(self, type: str) -> dict[str, Any]:
        """An example record of ``type`` (its fields and value types)."""
        return self._client._run(self._schema(type))

    def _schema(self, type: str) -> _Plan[dict[str, Any]]:
        self._check_type(type)
        return (yield from _one(_Req("GET", "api/data/schema", params={"type": type})))

    def types(self) -> list[str]:
        """The names of the record types the organisation has."""
        return self._client._run(self._types())

    def _types(self) -> _Plan[list[str]]:
        payload = yield from _one(_Req("GET", "api/data/types"))
        if isinstance(payload, dict):
            payload = payload.get("types", payload.get("data", []))
        return list(payload)


def type_name(v: Any) -> str:
    return type(v).__name__


def _what(req: _Req) -> str:
    return f"{req.method} /{req.path.lstrip('/')}"


class _closing:
    """Close a plan when its driver stops early (runs its ``finally``: progress bars)."""

    def __init__(self, plan: Generator[Any, Any, Any]) -> None:
        self.plan = plan

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        self.plan.close()


def _check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
    return concurrency


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
        return self._client._run(self._get(params))

    def _get(self, params: dict[str, Any]) -> _Plan[list[dict[str, Any]]]:
        clean: dict[str, Any] = {}
        for k, v in params.items():
            if v is None:
                continue
            if k == "SortOrder" and v not in ("Ascending", "Descending"):
                raise ValueError("SortOrder must be 'Ascending' or 'Descending'")
            clean[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v
        payload = yield from _one(_Req("GET", f"api/{self.name}", params=clean))
        if isinstance(payload, dict) and not isinstance(payload.get("data"), list):
            for v in payload.values():  # v4's "...Result" wrapper
                if isinstance(v, list):
                    return v
        records, _ = _records(payload)
        return records

    def __repr__(self) -> str:
        return f"<petro.Collection {self.name}>"


PetroAI._data_class = DataAPI
PetroAI._collection_class = Collection


class AsyncPetroAI(PetroAI):
    """``PetroAI`` for asyncio: the same client, with awaitable methods.

    Takes the same arguments and credentials as ``petro.PetroAI``; ``client.data``'s
    methods are coroutines and ``client.data.aiter(...)`` is an async iterator. Every
    call runs the same code as the sync client (same checks, paging and errors).

    Example:
        >>> async with petro.AsyncPetroAI() as client:
        ...     wells = await client.data.query("Well", {"basinName": "Permian"})
        ...     async for rec in client.data.aiter("MonthlyProduction"):
        ...         handle(rec)
    """

    _session_class = AsyncSession
    data: AsyncDataAPI  # type: ignore[assignment]

    async def _asend(self, reqs: list[_Req]) -> list[Any]:
        session: Any = self._session
        if len(reqs) == 1:
            try:
                resp = await session.request(**self._call(reqs[0]))
                return [self._parse(resp, _what(reqs[0]))]
            except RequestException as e:
                return [e]
        calls = [self._call(r) for r in reqs]
        responses = await session.request_many(
            calls, concurrency=len(calls), return_exceptions=True
        )
        return [self._parse_or_error(r, req) for r, req in zip(responses, reqs, strict=True)]

    async def _arun(self, plan: _Plan[_T]) -> _T:
        reply: list[Any] | None = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as stop:
                return stop.value
            reply = await self._asend(step) if isinstance(step, list) else None

    async def _aiterate(self, plan: _Plan[Any]) -> AsyncIterator[dict[str, Any]]:
        reply: list[Any] | None = None
        with _closing(plan):
            while True:
                try:
                    step = plan.send(reply)
                except StopIteration:
                    return
                if isinstance(step, _Emit):
                    reply = None
                    for rec in step.records:
                        yield rec
                else:
                    reply = await self._asend(step)

    def _request(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("AsyncPetroAI's calls are coroutines: use its async methods")

    async def __aenter__(self) -> AsyncPetroAI:
        return self

    async def __aexit__(self, *a: Any) -> None:
        self.close()

    async def aclose(self) -> None:
        """Close the client's connections."""
        self.close()

    def __repr__(self) -> str:
        return f"<petro.AsyncPetroAI {self.base_url} auth={self.credential_source!r}>"


class AsyncDataAPI(DataAPI):
    """``client.data`` of an ``AsyncPetroAI``: the ``DataAPI`` methods, awaitable.

    Every method takes the same arguments as on ``petro.PetroAI().data``.
    """

    _client: AsyncPetroAI

    def aiter(
        self, type: str, query: dict[str, Any] | None = None, **options: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Matching records as an async iterator (``DataAPI.iter``'s options and paging).

        Args:
            type: the record type. query: a filter.
            **options: ``fields``, ``sort``, ``limit``, ``skip``, ``page_size``, ``progress``,
                ``concurrency``, as for ``PetroAI.data.iter``.

        Returns:
            An async iterator of record dicts, in the service's order.

        Raises:
            HTTPError, ConnectionError, Timeout: with ``.next_skip`` to resume from.

        Example:
            >>> async for well in client.data.aiter("Well", page_size=500):
            ...     handle(well)
        """
        return self._client._aiterate(self._scan(type, query, **_scan_options(options)))

    iter = aiter  # type: ignore[assignment]

    async def query(  # type: ignore[override]
        self, type: str, query: dict[str, Any] | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """All matching records as a list (``PetroAI.data.query``, awaitable)."""
        return [rec async for rec in self.aiter(type, query, **options)]

    async def query_df(self, type: str, query: dict[str, Any] | None = None, **options: Any) -> Any:  # type: ignore[override]
        """Like ``query`` but returns a pandas DataFrame."""
        from ._frames import to_pandas

        return to_pandas(await self.query(type, query, **options))

    async def query_pl(self, type: str, query: dict[str, Any] | None = None, **options: Any) -> Any:  # type: ignore[override]
        """Like ``query`` but returns a polars DataFrame."""
        from ._frames import to_polars

        return to_polars(await self.query(type, query, **options))

    to_polars = query_pl  # type: ignore[assignment]

    async def query_dask(  # type: ignore[override]
        self,
        type: str,
        query: dict[str, Any] | None = None,
        *,
        npartitions: int | None = None,
        partition_size: int | None = None,
        fields: list[str] | None = None,
        sort: dict[str, int] | None = None,
    ) -> Any:
        """The query as a lazy dask DataFrame (``PetroAI.data.query_dask``, awaitable)."""
        total = await self.count(type, query)
        sample = await self.query(type, query, fields=fields, sort=sort, limit=100, progress=False)
        return self._dask_frame(
            type, query, total, sample, npartitions, partition_size, fields, sort
        )

    async def count(self, type: str, query: dict[str, Any] | None = None) -> int:  # type: ignore[override]
        """How many records match (``PetroAI.data.count``, awaitable)."""
        return await self._client._arun(self._count(type, query))

    async def create(  # type: ignore[override]
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Insert records and return their new ids (``PetroAI.data.create``, awaitable)."""
        return await self._client._arun(self._write("POST", type, records, chunk_size))

    async def replace(  # type: ignore[override]
        self, type: str, records: Iterable[dict[str, Any]], *, chunk_size: int = 500
    ) -> list[Any]:
        """Replace records by ``id`` (``PetroAI.data.replace``, awaitable)."""
        return await self._client._arun(self._write("PUT", type, records, chunk_size))

    async def update(self, type: str, query: dict[str, Any], set: dict[str, Any]) -> int:  # type: ignore[override]
        """Set fields on matching records (``PetroAI.data.update``, awaitable)."""
        return await self._client._arun(self._update(type, query, set))

    async def delete(self, type: str, query: dict[str, Any]) -> int:  # type: ignore[override]
        """Delete matching records (``PetroAI.data.delete``, awaitable)."""
        return await self._client._arun(self._delete(type, query))

    async def schema(self, type: str) -> dict[str, Any]:  # type: ignore[override]
        """An example record of ``type`` (``PetroAI.data.schema``, awaitable)."""
        return await self._client._arun(self._schema(type))

    async def types(self) -> list[str]:  # type: ignore[override]
        """The organisation's record types (``PetroAI.data.types``, awaitable)."""
        return await self._client._arun(self._types())


class AsyncCollection(Collection):
    """A legacy v4 collection endpoint of an ``AsyncPetroAI`` (``await coll.get(...)``)."""

    _client: AsyncPetroAI

    async def get(self, **params: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        """Records of the collection (``Collection.get``, awaitable)."""
        return await self._client._arun(self._get(params))


AsyncPetroAI._data_class = AsyncDataAPI
AsyncPetroAI._collection_class = AsyncCollection

_SCAN_OPTIONS = ("fields", "sort", "limit", "skip", "page_size", "progress", "concurrency")


def _scan_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - set(_SCAN_OPTIONS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}; allowed: {', '.join(_SCAN_OPTIONS)}")
    out: dict[str, Any] = dict.fromkeys(_SCAN_OPTIONS)
    out["skip"] = 0
    out.update(options)
    return out
