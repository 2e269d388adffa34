"""``Session``: connection pooling, defaults and cookies, in requests' shape."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from . import __version__, _core
from ._encode import encode_files, encode_params, iter_bytes
from ._log import debug, debug_enabled, log_attempts
from .auth import BearerAuth, HTTPBasicAuth, basic_auth_header
from .cookies import SessionCookies
from .exceptions import BatchError, RequestException
from .models import PreparedRequest, Response, _redact_url
from .retry import Retry
from .structures import CaseInsensitiveDict

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT", "Session", "default_headers"]

#: petro's default timeout: 10 s to connect, 300 s between reads. Pass
#: ``timeout=None`` to wait forever (requests' default).
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 300.0)

#: How many requests ``request_many`` keeps in flight unless told otherwise.
DEFAULT_CONCURRENCY = 16

#: The keyword arguments a ``request_many`` item may carry (those of ``request``).
_REQUEST_KEYS = frozenset(
    {
        "params",
        "data",
        "headers",
        "cookies",
        "files",
        "auth",
        "timeout",
        "allow_redirects",
        "proxies",
        "hooks",
        "stream",
        "verify",
        "cert",
        "json",
        "retries",
        "idempotent",
    }
)


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<default>"


_UNSET: Any = _Unset()


def default_headers() -> CaseInsensitiveDict:
    """The headers every session starts with."""
    return CaseInsensitiveDict(
        {
            "User-Agent": f"petro/{__version__}",
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Accept": "*/*",
            "Connection": "keep-alive",
        }
    )


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if timeout is None:
        return None, None
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError(
                f"Invalid timeout {timeout!r}. "
                "Pass a (connect, read) timeout tuple, or a single float."
            )
        connect, read = timeout
        return (
            None if connect is None else float(connect),
            None if read is None else float(read),
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(
            f"Timeout value must be an int, float or None, not {type(timeout).__name__}"
        )
    return float(timeout), float(timeout)


def _auth_header(auth: Any) -> str | None:
    """The Authorization value for tuple / petro auth objects; None for other callables."""
    if isinstance(auth, (HTTPBasicAuth, BearerAuth)) and type(auth).__call__ in (
        HTTPBasicAuth.__call__,
        BearerAuth.__call__,
    ):
        return auth.header_value()
    if isinstance(auth, (tuple, list)):
        if len(auth) != 2:
            raise ValueError("auth must be a (user, password) pair or an auth callable")
        try:
            return _basic_header(auth[0], auth[1])
        except TypeError:  # unhashable parts: still answered, just not cached
            return basic_auth_header(auth[0], auth[1])
    return None


@functools.lru_cache(maxsize=32)
def _basic_header(user: Any, password: Any) -> str:
    # Notebooks send the same (app_id, secret) pair on every call: encode it once.
    return basic_auth_header(user, password)


_netrc_cache: dict[str, Any] = {}


def _netrc_auth(url: str) -> tuple[str, str] | None:
    """Credentials for the URL's host from ~/.netrc (or $NETRC), as requests reads them."""
    paths = [os.environ["NETRC"]] if os.environ.get("NETRC") else ["~/.netrc", "~/_netrc"]
    for p in paths:
        path = os.path.expanduser(p)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        import netrc

        cached = _netrc_cache.get(path)
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, netrc.netrc(path))
            except (netrc.NetrcParseError, OSError):
                return None
            _netrc_cache[path] = cached
        host = urlsplit(url).hostname or ""
        found = cached[1].authenticators(host)
        if found:
            login = found[0] or found[1] or ""
            return login, found[2] or ""
        return None
    return None


def _merge_cookies(cookies: Any) -> list[tuple[str, str]] | None:
    if not cookies:
        return None
    if isinstance(cookies, Mapping):
        return [(str(k), str(v)) for k, v in cookies.items()]
    out = []
    for c in cookies:  # a CookieJar of http.cookiejar.Cookie
        name = getattr(c, "name", None)
        if name is None:
            name, value = c
        else:
            value = c.value
        out.append((str(name), str(value)))
    return out


class _Call:
    """One prepared request: the native call's arguments and what errors need.

    ``args`` starts with ``(method, url, header pairs, body)``; ``prepared`` is the
    ``PreparedRequest`` an auth callable saw, if any.
    """

    __slots__ = ("args", "prepared")

    def __init__(self, args: tuple, prepared: Any = None) -> None:
        self.args = args
        self.prepared = prepared

    @property
    def method(self) -> str:
        return self.args[0]

    @property
    def url(self) -> str:
        return self.args[1]

    def failed(self, e: RequestException) -> RequestException:
        """Attach the request to a core error and log it."""
        method, url, pairs, body = self.args[:4]
        debug("%s %s -> %s: %s", method, _redact_url(url), type(e).__name__, e)
        if e.request is None:
            e.request = self.prepared or PreparedRequest(
                method.upper(), url, CaseInsensitiveDict(pairs), body
            )
        return e


#: A ``request_many`` item with only these keys may use the batch's template.
_SIMPLE_KEYS = frozenset({"method", "url", "json"})
#: The URL a batch's template is prepared for (see ``Session._batch_template``).
_TEMPLATE_URL = "http://template.invalid/"


def _template_call(item: dict[str, Any], template: tuple[tuple, tuple]) -> _Call:
    """A simple ``request_many`` item's call: the batch's template arguments (without or
    with a body, ``Session._batch_template``) with the item's method, URL and JSON body."""
    body = item.get("json")
    args = template[body is not None]
    return _Call((item["method"], item["url"], *args[2:4], body, *args[5:]))


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")


class Session:
    """A requests-compatible session: keep-alive connections, defaults and cookies.

    Safe to share across threads. Use it as a context manager, or call
    ``close()`` when done.

    Attributes:
        headers: default headers for every request (case-insensitive dict).
        auth: default auth, e.g. ``(app_id, secret_key)`` or ``petro.BearerAuth(token)``.
        params: default query parameters.
        proxies: default proxies, merged with ``HTTP(S)_PROXY`` / ``NO_PROXY``.
        verify: True, False, or a CA bundle path.
        cert: a client certificate path or (cert, key) pair.
        timeout: default timeout, ``(10, 300)`` unless changed; None waits forever.
        max_redirects: most redirects to follow (30).
        trust_env: read proxies, CA bundles and netrc from the environment.
        credential_headers: extra header names dropped on redirects to another host.
        retries: a ``petro.Retry``, an int, or None (the default: no retries, as in requests).

    Example:
        >>> with petro.Session() as s:
        ...     s.auth = (app_id, secret_key)
        ...     rows = s.post(base + "/api/data/query", json={"type": "petron"}).json()
    """

    __attrs__ = [
        "headers",
        "cookies",
        "auth",
        "proxies",
        "hooks",
        "params",
        "verify",
        "cert",
        "stream",
        "trust_env",
        "max_redirects",
        "timeout",
        "retries",
    ]

    def __init__(
        self, *, timeout: Any = DEFAULT_TIMEOUT, retries: Any = None, _shared_pool: bool = False
    ) -> None:
        self.headers: CaseInsensitiveDict = default_headers()
        self.auth: Any = None
        self.proxies: dict[str, str] = {}
        self.hooks: dict[str, list[Any]] = {"response": []}
        self.params: Any = {}
        self.stream = False
        self.verify: bool | str = True
        self.cert: Any = None
        self.max_redirects = 30
        self.trust_env = True
        self.timeout: Any = timeout
        self.credential_headers: set[str] = set()
        self.retries: Retry | None = Retry.coerce(retries)
        self._native = _core.Session(_shared_pool)
        self.cookies = SessionCookies(self._native)

    # -- context management --------------------------------------------------
    def __enter__(self) -> Session:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's idle connections."""
        self._native.close()

    def __repr__(self) -> str:
        return f"<petro.Session headers={len(self.headers)} auth={'set' if self.auth else 'none'}>"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("petro.Session cannot be pickled (it holds connections and credentials)")

    # -- the verbs ----------------------------------------------------------------
    def request(
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
        """Send a request and return its ``Response`` (requests' ``Session.request``).

        Args:
            method: ``"GET"``, ``"POST"``, ...
            url: the absolute URL.
            params: query parameters (dict, list of pairs, or str).
            data: form fields (dict / pairs), or a raw body (str, bytes, file).
            headers: extra headers; a ``None`` value removes a session header.
            cookies: cookies for this request only.
            files: multipart upload: ``{"name": fileobj}`` or ``(filename, fileobj, type)``.
            auth: ``(user, password)`` for Basic, ``petro.BearerAuth(token)``, or a callable.
            timeout: seconds, or ``(connect, read)``; None waits forever. Default (10, 300).
            allow_redirects: follow redirects (credentials dropped on a change of host).
            proxies: ``{"https": "http://proxy:3128"}``, merged with the environment.
            stream: leave the body unread until ``iter_content()`` / ``content``.
            verify: True, False, or a CA bundle path.
            cert: client certificate path or ``(cert, key)``.
            json: a JSON-serialisable body (sent as ``application/json``).
            retries: petro only: a ``petro.Retry`` or an int for this call (default: the
                session's, which is off).
            idempotent: petro only: mark a POST as safe to retry (e.g. a read-only query).

        Returns:
            The ``Response``.

        Raises:
            ConnectionError, Timeout, TooManyRedirects, InvalidURL, ...: see ``petro.exceptions``.
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
        try:
            raw = self._native.request(*call.args)
        except RequestException as e:
            call.failed(e)
            raise
        return self._finish(raw, call, hooks)

    def _prepare(
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
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
        retries: Any = _UNSET,
        idempotent: bool | None = None,
    ) -> _Call:
        """Resolve every option of one request into the native call's arguments."""
        if not isinstance(method, str):
            raise TypeError(f"method must be a str, not {type(method).__name__}")
        if not isinstance(url, str):
            if isinstance(url, bytes):
                url = url.decode("utf-8")
            else:
                url = str(url)

        # Headers: session defaults, then this call's (None removes).
        merged = self.headers
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError(f"headers must be a dict of str to str, not {type(headers).__name__}")
        if headers:
            merged = merged.copy()
            for k, v in headers.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
        if isinstance(merged, CaseInsensitiveDict):
            pairs = merged.pairs()
            lower_names: Any = merged._store  # lower-case name -> (name, value)
        else:
            pairs = list(merged.items())
            lower_names = {str(k).lower() for k in merged}
        has_ctype = "content-type" in lower_names

        # Query string.
        if self.params:
            if params is None:
                params = self.params
            elif isinstance(params, Mapping) and isinstance(self.params, Mapping):
                both = {**self.params, **params}
                params = {k: v for k, v in both.items() if v is not None}
        if params:
            enc = encode_params(params)
            if isinstance(enc, bytes):
                enc = enc.decode("utf-8")
            if enc:
                base, hash_, frag = url.partition("#")
                url = f"{base}&{enc}" if "?" in base else f"{base}?{enc}"
                if hash_:
                    url = f"{url}#{frag}"

        # Body.
        body: Any = None
        if files:
            body, ctype = encode_files(files, data)
            if not has_ctype:
                pairs.append(("Content-Type", ctype))
        elif data is not None and data != {} and data != []:
            if isinstance(data, (str, bytes)):
                body = data
            elif hasattr(data, "read"):
                body = data.read()
            elif isinstance(data, (Mapping, list, tuple)):
                body = encode_params(data)
                if not has_ctype:
                    pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
            elif hasattr(data, "__iter__"):
                body = iter_bytes(data)
            else:
                body = str(data)
        elif json is not None and not has_ctype:
            pairs.append(("Content-Type", "application/json"))
        if json is not None and body is not None:
            json = None  # requests: data/files win over json

        # Auth: this call's, else the session's, else netrc (never over an explicit header).
        auth = auth if auth is not None else self.auth
        prepared: PreparedRequest | None = None
        trust_env = self.trust_env
        if auth is not None:
            value = _auth_header(auth)
            if value is not None:
                if "authorization" in lower_names:
                    pairs = [(k, v) for k, v in pairs if k.lower() != "authorization"]
                pairs.append(("Authorization", value))
            elif callable(auth):
                prepared = PreparedRequest(method.upper(), url, CaseInsensitiveDict(pairs), body)
                if json is not None:
                    prepared.body = _core.dumps(json)
                    json = None
                prepared = auth(prepared) or prepared
                url = prepared.url or url
                body = prepared.body
                pairs = list(prepared.headers.items())
            else:
                raise TypeError("auth must be a (user, password) pair or a callable")
        elif trust_env and "authorization" not in lower_names:
            found = _netrc_auth(url)
            if found is not None:
                pairs.append(("Authorization", HTTPBasicAuth(*found).header_value()))

        connect, read = _timeouts(self.timeout if timeout is _UNSET else timeout)
        if proxies is not None or self.proxies:
            merged_proxies = dict(self.proxies)
            merged_proxies.update(proxies or {})
            proxy_pairs = [(str(k), str(v)) for k, v in merged_proxies.items() if v is not None]
        else:
            proxy_pairs = None
        stream = self.stream if stream is None else stream
        verify = self.verify if verify is None else verify
        if verify is not True and verify is not False and isinstance(verify, os.PathLike):
            verify = os.fspath(verify)
        policy = self.retries if retries is _UNSET else Retry.coerce(retries)

        args = (
            method,
            url,
            pairs,
            body,
            json,
            connect,
            read,
            allow_redirects,
            self.max_redirects,
            verify,
            self.cert if cert is None else cert,
            proxy_pairs,
            trust_env,
            stream,
            _merge_cookies(cookies) if cookies else None,
            list(self.credential_headers) if self.credential_headers else None,
            policy._native() if policy is not None else None,
            idempotent,
        )
        return _Call(args, prepared)

    def _finish(self, raw: Any, call: _Call, hooks: Any) -> Response:
        """Wrap the native response, log its attempts, run response hooks."""
        resp = Response._from_raw(raw, call.prepared)
        if debug_enabled():
            log_attempts(call.method, call.url, raw.attempts)
        if hooks or self.hooks.get("response"):
            for hook in (hooks or {}).get("response", []) + self.hooks.get("response", []):
                out = hook(resp)
                if out is not None:
                    resp = out
        return resp

    def request_many(
        self,
        requests: Iterable[Mapping[str, Any] | Sequence[Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Send many requests concurrently (in Rust, GIL released) and return them in order.

        Each item is either a dict of ``request``'s arguments, ``{"method": "POST",
        "url": ..., "json": ...}`` (any keyword ``request`` takes), or a ``(method, url)``
        tuple. Each is prepared exactly as ``request`` would prepare it (session headers,
        auth, cookies, retries...). At most ``concurrency`` are in flight at once; Ctrl-C
        cancels them all. An error status (4xx/5xx) is a response, not a failure: call
        ``raise_for_status()`` on the ones you care about.

        Each reply becomes a ``Response`` while the others are still on their way, and a
        small JSON body (a JSON Content-Type, UTF-8, up to 256 KiB; 8 MiB per batch) is
        parsed then, so its first ``.json()`` returns at once (later calls parse again).
        This needs the GIL during the batch; if another thread keeps it waiting, the rest
        is done after the last reply instead.

        Args:
            requests: the requests, as dicts or ``(method, url)`` tuples.
            concurrency: most requests in flight at once (default 16).
            return_exceptions: put each failure's exception in its place in the result
                instead of raising ``BatchError``.

        Returns:
            One ``Response`` per request, in input order (or the exception, with
            ``return_exceptions=True``).

        Raises:
            BatchError: after every request has ended, when any failed; ``.errors`` lists
                ``(index, exception)`` and ``.responses`` the responses (None where failed).
            TypeError, ValueError: an item is malformed (raised before anything is sent).

        Example:
            >>> with petro.Session() as s:
            ...     rs = s.request_many([{"method": "GET", "url": f"{base}/items/{i}"}
            ...                          for i in range(100)], concurrency=8)
            >>> [r.status_code for r in rs][:3]
            [200, 200, 200]
        """
        return self._request_many(requests, concurrency, return_exceptions)

    def _request_many(
        self,
        requests: Iterable[Mapping[str, Any] | Sequence[Any]],
        concurrency: int,
        return_exceptions: bool,
        parse_records: bool = False,
        page_rows: list[int] | None = None,
        frames: Any = None,
    ) -> list[Any]:
        """``request_many``; ``parse_records``: each 2xx body is also parsed into a page of
        records as it arrives (``_core.parse_records(resp._raw)`` hands it over);
        ``page_rows``: the records each page should hold; the requests after a page with
        fewer (the end of the data) are not sent, and None stands in their place;
        ``frames``: the ``_core.FrameBuilder`` the pages are for (it may make their str
        objects as they arrive)."""
        if not parse_records and type(requests) is list:
            done = self._request_many_simple(requests, concurrency, return_exceptions)
            if done is not None:
                return done
        calls, hooks = self._prepare_many(requests, concurrency)
        # Nothing to log or call per response: the core may make each reply a
        # Response as it arrives, while the others are on their way.
        plain = not parse_records and self._plain(hooks)
        wrap = (Response._from_raw, [c.prepared for c in calls]) if plain else None
        results = self._native.request_many(
            [c.args for c in calls], concurrency, parse_records, page_rows, frames, wrap
        )
        return self._collect_many(results, calls, hooks, return_exceptions)

    def _request_many_simple(
        self, requests: list[Any], concurrency: int, return_exceptions: bool
    ) -> list[Any] | None:
        """``_request_many`` for a list of simple items (dicts with only a str method and
        URL and maybe a JSON body) on a session with a batch template: the core reads
        the items itself, without a call tuple per item made here. None, with nothing
        sent, when the batch is not one of those."""
        _check_concurrency(concurrency)
        template = self._batch_template()
        if template is None:
            return None
        plain = self._plain()
        results = self._native.request_many_simple(
            requests, template, concurrency, Response._from_raw if plain else None
        )
        if results is None:
            return None
        if plain:
            for r in results:
                if type(r) is not Response:
                    break
            else:
                return results  # every reply made a Response in the batch
        calls = [_template_call(item, template) for item in requests]
        return self._collect_many(results, calls, [None] * len(calls), return_exceptions)

    def _prepare_many(
        self, requests: Iterable[Mapping[str, Any] | Sequence[Any]], concurrency: int
    ) -> tuple[list[_Call], list[Any]]:
        """Prepare every item of a batch (errors in the arguments raise before any I/O)."""
        _check_concurrency(concurrency)
        if isinstance(requests, (Mapping, str, bytes)):
            raise TypeError("request_many() takes a list of requests (dicts or (method, url))")
        calls: list[_Call] = []
        hooks: list[Any] = []
        template = self._batch_template()
        for i, item in enumerate(requests):
            if (
                template is not None
                and type(item) is dict
                and item.keys() <= _SIMPLE_KEYS
                and type(item.get("method")) is str
                and type(item.get("url")) is str
            ):
                # Everything but method, URL and JSON body is the session's: reuse it.
                calls.append(_template_call(item, template))
                hooks.append(None)
                continue
            if isinstance(item, Mapping):
                opts = dict(item)
                try:
                    method, url = opts.pop("method"), opts.pop("url")
                except KeyError as e:
                    raise TypeError(f"requests[{i}] needs a {e.args[0]!r} key") from None
                unknown = set(opts) - _REQUEST_KEYS
                if unknown:
                    raise TypeError(
                        f"requests[{i}] has unknown keys {sorted(unknown)}; "
                        f"allowed: method, url, {', '.join(sorted(_REQUEST_KEYS))}"
                    )
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                (method, url), opts = item, {}
            else:
                raise TypeError(
                    f"requests[{i}] must be a dict such as {{'method': 'GET', 'url': ...}} "
                    f"or a (method, url) tuple, not {item!r:.80}"
                )
            hooks.append(opts.pop("hooks", None))
            calls.append(self._prepare(method, url, **opts))
        return calls, hooks

    def _batch_template(self) -> tuple[tuple, tuple] | None:
        """For ``request_many``: the call arguments ``_prepare`` gives a request with only
        a method, a URL and maybe a JSON body, without and with the body (see
        ``_template_call``). None when they would depend on the URL (session params,
        netrc lookups, auth callables): each item is then prepared in full."""
        if self.params:
            return None
        if self.auth is not None:
            if _auth_header(self.auth) is None:
                return None
        elif self.trust_env and "authorization" not in self.headers:
            return None
        bare, with_body = (self._prepare("GET", _TEMPLATE_URL, json=b).args for b in (None, 0))
        return bare, with_body

    def _plain(self, hooks: Sequence[Any] = ()) -> bool:
        """Nothing to log or call per response of a batch (its items' ``hooks`` too)."""
        return not (debug_enabled() or self.hooks.get("response") or any(hooks))

    def _collect_many(
        self, results: list[Any], calls: list[_Call], hooks: list[Any], return_exceptions: bool
    ) -> list[Any]:
        """Wrap a batch's native results in order; raise one ``BatchError`` for its failures.
        A request that was not sent (``page_rows``) stays None."""
        if self._plain(hooks):
            # Nothing to log or call per response: wrap them in one pass
            # (replies made Responses in the batch already are passed on).
            raw_type, from_raw = _core.RawResponse, Response._from_raw
            fast = [
                from_raw(raw, call.prepared) if type(raw) is raw_type else raw
                for raw, call in zip(results, calls, strict=True)
            ]
            if not any(isinstance(r, BaseException) for r in fast):
                return fast
        out: list[Any] = []
        errors: list[tuple[int, BaseException]] = []
        for i, (raw, call) in enumerate(zip(results, calls, strict=True)):
            if raw is None or type(raw) is Response:
                # Not sent, or made a Response in the batch (see `_request_many`).
                out.append(raw)
                continue
            try:
                if isinstance(raw, BaseException):
                    raise call.failed(raw) if isinstance(raw, RequestException) else raw
                out.append(self._finish(raw, call, hooks[i]))
            except Exception as e:
                errors.append((i, e))
                out.append(e)
        if errors and not return_exceptions:
            shown = "; ".join(f"[{i}] {type(e).__name__}: {e}" for i, e in errors[:3])
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise BatchError(
                f"{len(errors)} of {len(calls)} requests failed: {shown}{more}",
                errors=errors,
                responses=[None if isinstance(r, BaseException) else r for r in out],
            )
        return out

    def get(self, url: str, params: Any = None, **kwargs: Any) -> Response:
        """Send a GET request. See ``request`` for the keyword arguments."""
        return self.request("GET", url, params=params, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Response:
        """Send an OPTIONS request."""
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        """Send a HEAD request (redirects are not followed unless asked)."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
        """Send a POST request with form ``data`` or a ``json`` body."""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Response:
        """Send a PUT request."""
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> Response:
        """Send a PATCH request."""
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        """Send a DELETE request (a ``json=`` body is allowed, as Petro.ai needs)."""
        return self.request("DELETE", url, **kwargs)


def session() -> Session:
    """A new ``Session`` (requests' old spelling)."""
    return Session()
