"""``Response`` and ``PreparedRequest``: the objects requests users already know."""

from __future__ import annotations

import codecs
import datetime
import json as _json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from . import _core
from .exceptions import (
    ChunkedEncodingError,
    HTTPError,
    JSONDecodeError,
    StreamConsumedError,
    http_error_class,
)
from .structures import CaseInsensitiveDict

__all__ = ["PreparedRequest", "Response"]

_REDIRECT_STATI = (301, 302, 303, 307, 308)
_UTF8 = frozenset({"utf-8", "utf8", "utf_8", "u8"})
_NOT_READ: Any = object()


_USERINFO_PASSWORD = re.compile(r"(//[^/?#@:]*:)[^/?#@]*@")


def _redact_url(url: str) -> str:
    """The URL with any ``user:password@`` password masked (never raises)."""
    return _USERINFO_PASSWORD.sub(r"\1***@", url)


class PreparedRequest:
    """The request as sent: ``method``, ``url``, ``headers`` and ``body``.

    Auth callables receive one and may change its headers, URL or body, as in
    requests. Credential headers are masked in ``repr`` and pickles.
    """

    def __init__(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: CaseInsensitiveDict | None = None,
        body: bytes | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers if headers is not None else CaseInsensitiveDict()
        self.body = body
        self.hooks: dict[str, list[Any]] = {"response": []}

    @property
    def path_url(self) -> str:
        """The path and query of the URL (``/api/data?x=1``)."""
        parts = urlsplit(self.url or "")
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path

    def copy(self) -> PreparedRequest:
        p = PreparedRequest(self.method, self.url, self.headers.copy(), self.body)
        p.hooks = {k: list(v) for k, v in self.hooks.items()}
        return p

    def __repr__(self) -> str:
        return f"<PreparedRequest [{self.method}]>"

    def __getstate__(self) -> dict[str, Any]:
        # Pickles carry no credentials: URL passwords masked, credential headers masked.
        return {
            "method": self.method,
            "url": _redact_url(self.url) if self.url else self.url,
            "headers": self.headers,
            "body": self.body,
            "hooks": {"response": []},
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class Response:
    """An HTTP response, with the attributes and methods of ``requests.Response``.

    The body is read by the Rust core before the call returns (unless
    ``stream=True``); ``json()`` parses it straight from that buffer into
    Python objects.

    Example:
        >>> r = petro.get(url)
        >>> r.status_code, r.headers["content-type"]
        (200, 'application/json')
        >>> r.json()
        {'data': [...]}
    """

    __attrs__ = [
        "_content",
        "status_code",
        "headers",
        "url",
        "history",
        "encoding",
        "reason",
        "elapsed",
        "request",
    ]

    def __init__(self) -> None:
        self._raw: Any = None
        self._content: Any = _NOT_READ
        self._content_consumed = False
        self._headers: CaseInsensitiveDict | None = CaseInsensitiveDict()
        self._encoding: Any = _NOT_READ
        self._history: Any = []
        self._request: Any = None
        self.status_code: int | None = None
        self.url: str | None = None
        self.reason: str | None = None
        self._elapsed: datetime.timedelta | None = datetime.timedelta(0)
        self.raw: Any = None
        self.connection: Any = None

    # What a response from the core starts with; `__init__` sets its own. Class
    # attributes, so that `_from_raw` (once per reply of a batch) sets only what
    # differs: a write makes the instance's own.
    _content: Any = _NOT_READ
    _content_consumed = False
    _headers: CaseInsensitiveDict | None = None
    _encoding: Any = _NOT_READ
    _history: Any = None
    _elapsed: datetime.timedelta | None = None
    raw: Any = None
    connection: Any = None
    # The body's value, parsed while its request_many batch went on; the first
    # `.json()` that would parse the body as it is takes it.
    _parsed: Any = None

    @classmethod
    def _from_raw(
        cls, raw: Any, request: PreparedRequest | None = None, parsed: Any = None
    ) -> Response:
        self = cls.__new__(cls)
        self._raw = raw
        self._request = request
        self.status_code = raw.status
        self.url = raw.url
        self.reason = raw.reason
        if parsed is not None:
            self._parsed = parsed
        return self

    # -- head ---------------------------------------------------------------
    @property
    def headers(self) -> CaseInsensitiveDict:
        """Response headers (case-insensitive); repeated headers are joined with ``", "``."""
        if self._headers is None:
            h = CaseInsensitiveDict()
            # The core sends lower-case names, one per header, repeats already joined.
            h._store = {k: (k, v) for k, v in self._raw.headers()}
            self._headers = h
        return self._headers

    @headers.setter
    def headers(self, value: Any) -> None:
        self._headers = CaseInsensitiveDict(value)

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request to the arrival of the response headers."""
        if self._elapsed is None:
            self._elapsed = datetime.timedelta(seconds=self._raw.elapsed if self._raw else 0)
        return self._elapsed

    @elapsed.setter
    def elapsed(self, value: datetime.timedelta) -> None:
        self._elapsed = value

    @property
    def history(self) -> list[Response]:
        """The redirect responses that led here, oldest first."""
        if self._history is None:
            self._history = [Response._from_raw(h) for h in self._raw.history] if self._raw else []
        return self._history

    @history.setter
    def history(self, value: list[Response]) -> None:
        self._history = value

    @property
    def request(self) -> PreparedRequest | None:
        """The request as finally sent (method, URL, headers)."""
        if self._request is None and self._raw is not None:
            method, url, headers = self._raw.request_info()
            self._request = PreparedRequest(method, url, CaseInsensitiveDict(headers))
        elif self._request is not None and self._raw is not None and self._request.url != self.url:
            # Redirected: describe the last hop.
            method, url, headers = self._raw.request_info()
            self._request = PreparedRequest(method, url, CaseInsensitiveDict(headers))
        return self._request

    @request.setter
    def request(self, value: PreparedRequest | None) -> None:
        self._request = value

    @property
    def ok(self) -> bool:
        """True unless the status is 400 or more."""
        try:
            self.raise_for_status()
        except HTTPError:
            return False
        return True

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    @property
    def is_redirect(self) -> bool:
        """True for a redirect that could have been followed."""
        return "location" in self.headers and self.status_code in _REDIRECT_STATI

    @property
    def is_permanent_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in (301, 308)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The parsed ``Link`` header, keyed by ``rel`` (or URL)."""
        header = self.headers.get("link")
        result: dict[str, dict[str, str]] = {}
        if not header:
            return result
        for link in _parse_links(header):
            key = link.get("rel") or link.get("url") or ""
            result[key] = link
        return result

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies this response set (name to value)."""
        from http.cookies import SimpleCookie

        jar: dict[str, str] = {}
        if self._raw is None:
            return jar
        for k, v in self._raw.headers():
            if k.lower() == "set-cookie":
                c: SimpleCookie = SimpleCookie()
                try:
                    c.load(v)
                except Exception:
                    continue
                for name, morsel in c.items():
                    jar[name] = morsel.value
        return jar

    # -- body ---------------------------------------------------------------
    @property
    def content(self) -> bytes:
        """The body as bytes (read now if the response was streamed)."""
        if self._content is _NOT_READ:
            if self._content_consumed:
                raise StreamConsumedError("The content for this response was already consumed")
            self._content = self._raw.content() if self._raw is not None else b""
        return self._content

    @property
    def encoding(self) -> str | None:
        """The text encoding from ``Content-Type`` (settable, as in requests)."""
        if self._encoding is _NOT_READ:
            self._encoding = _encoding_from_ctype(self._content_type())
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    @property
    def apparent_encoding(self) -> str:
        """A guess at the encoding from the bytes (UTF-8 when they decode as UTF-8)."""
        try:
            self.content.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            import charset_normalizer

            best = charset_normalizer.from_bytes(self.content).best()
            if best is not None:
                return best.encoding
        except ImportError:
            pass
        return "windows-1252"

    @property
    def text(self) -> str:
        """The body decoded with ``encoding`` (or the apparent encoding)."""
        content = self.content
        if not content:
            return ""
        encoding = self.encoding or self.apparent_encoding
        try:
            return str(content, encoding, errors="replace")
        except (LookupError, TypeError):
            return str(content, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """Parse the body as JSON into dicts, lists, str, int, float, bool and None.

        orjson parses bodies up to 8 MiB. The Rust core (jiter, straight from the
        body bytes, one str per repeated value) parses larger ones, bodies with a
        run of 19+ digits (ints that may lie beyond 64 bits, which orjson would
        make floats) and anything orjson refuses (``NaN``). With keyword
        arguments (``object_hook``, ``parse_float``...), or a non-UTF-8 charset,
        the standard library's ``json.loads`` is used instead.

        Raises:
            JSONDecodeError: the body is not valid JSON (also a ``json.JSONDecodeError``).
        """
        if (
            self._parsed is not None
            and not kwargs
            and self._encoding is _NOT_READ
            and self._content is _NOT_READ
        ):
            # Handed over once (later calls parse again). Two threads calling .json()
            # at once never share the value: only the one whose `del` succeeds
            # returns it. (Not `__dict__.pop`: touching `__dict__` makes every
            # Response of a batch build a dict of its attributes, ~0.2 us each.)
            parsed = self._parsed
            try:
                del self._parsed
            except AttributeError:
                pass  # another thread took it
            else:
                return parsed
        raw = self._raw
        # The common case was decided in Rust on arrival, without .encoding or the header dict.
        fast = not kwargs and self._encoding is _NOT_READ and raw is not None and raw.utf8_json
        enc = None if fast else self.encoding
        if fast or (not kwargs and (enc is None or enc.lower() in _UTF8 or self._default_latin1())):
            if self._content is _NOT_READ and raw is not None and not self._content_consumed:
                return raw.json()
            return _core.loads(self.content)
        try:
            content = self.content
            guessed = _guess_json_utf(content) if not enc and len(content) > 3 else None
            text = content.decode(guessed) if guessed else self.text
            return _json.loads(text, **kwargs)
        except _json.JSONDecodeError as e:
            raise JSONDecodeError(e.msg, e.doc, e.pos, response=self) from None

    def _content_type(self) -> str | None:
        if self._headers is None and self._raw is not None:
            return self._raw.content_type  # no header dict needed
        return self.headers.get("content-type")

    def _default_latin1(self) -> bool:
        # requests' ISO-8859-1 default for text/* without a charset: JSON is UTF-8.
        ctype = self._content_type() or ""
        return self._encoding == "ISO-8859-1" and "charset" not in ctype.lower()

    def iter_content(
        self, chunk_size: int | None = 1, decode_unicode: bool = False
    ) -> Iterator[Any]:
        """Iterate over the body in pieces of ``chunk_size`` bytes (None: as they arrive).

        With ``stream=True`` the body is read from the network as you iterate.
        """
        if chunk_size is not None and not isinstance(chunk_size, int):
            raise TypeError(f"chunk_size must be an int, it is instead a {type(chunk_size)}.")

        def raw_chunks() -> Iterator[bytes]:
            if self._content is not _NOT_READ or self._raw is None or self._raw.is_read:
                content = self.content
                if chunk_size is None:
                    if content:
                        yield content
                    return
                for i in range(0, len(content), chunk_size):
                    yield content[i : i + chunk_size]
                return
            if self._content_consumed:
                raise StreamConsumedError("The content for this response was already consumed")
            self._content_consumed = True
            pieces = _Rechunker(chunk_size)
            while True:
                piece = self._raw.read_chunk()
                if piece is None:
                    break
                yield from pieces.feed(piece)
            if pieces.rest:
                yield pieces.rest

        chunks = raw_chunks()
        if decode_unicode:
            return _decode_stream(chunks, self.encoding or "utf-8")
        return chunks

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Iterate over the body asynchronously, as it arrives (``AsyncSession``, ``stream=True``).

        Args:
            chunk_size: pieces of this many bytes (the last may be shorter); None (the
                default) yields the pieces as they arrive from the network.

        Returns:
            An async iterator of ``bytes``.

        Raises:
            StreamConsumedError: the body was already read by another iteration.
            ChunkedEncodingError, ConnectionError, ReadTimeout: the connection failed mid-body.

        Example:
            >>> async with petro.AsyncSession() as s:
            ...     r = await s.get(url, stream=True)
            ...     async for chunk in r.aiter_bytes():
            ...         out.write(chunk)
        """
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive int or None, not {chunk_size!r}")
        if self._content is not _NOT_READ or self._raw is None or self._raw.is_read:
            for piece in self.iter_content(chunk_size):
                yield piece
            return
        if self._content_consumed:
            raise StreamConsumedError("The content for this response was already consumed")
        self._content_consumed = True
        raw = self._raw
        pieces = _Rechunker(chunk_size)
        while True:
            piece = await _run_native(raw.read_chunk_async)
            if piece is None:
                break
            for out in pieces.feed(piece):
                yield out
        if pieces.rest:
            yield pieces.rest

    async def aread(self) -> bytes:
        """Read the whole body without blocking the event loop, and return it.

        After this, ``content``, ``text`` and ``json()`` use the body in memory.

        Returns:
            The body as bytes.

        Raises:
            StreamConsumedError: the body was already iterated over.

        Example:
            >>> r = await s.get(url, stream=True)
            >>> data = await r.aread()
        """
        if self._content is _NOT_READ:
            if self._raw is None or self._raw.is_read:
                return self.content
            self._content = b"".join([piece async for piece in self.aiter_bytes()])
        return self._content

    async def aclose(self) -> None:
        """Release the connection of an unread streamed body (``close()`` for async code)."""
        self.close()

    def iter_lines(
        self,
        chunk_size: int = 512,
        decode_unicode: bool = False,
        delimiter: str | bytes | None = None,
    ) -> Iterator[Any]:
        """Iterate over the body line by line (without line endings)."""
        pending = None
        for chunk in self.iter_content(chunk_size=chunk_size, decode_unicode=decode_unicode):
            if pending is not None:
                chunk = pending + chunk
            lines = chunk.split(delimiter) if delimiter else chunk.splitlines()
            if lines and lines[-1] and chunk and lines[-1][-1] == chunk[-1]:
                pending = lines.pop()
            else:
                pending = None
            yield from lines
        if pending is not None:
            yield pending

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_content(128)

    def raise_for_status(self) -> None:
        """Raise the matching ``HTTPError`` subclass for a 4xx or 5xx status.

        ``BadRequestError`` (400/422), ``AuthenticationError`` (401),
        ``PermissionDeniedError`` (403), ``NotFoundError`` (404),
        ``ConflictError`` (409), ``RateLimitError`` (429), ``ServerError`` (5xx),
        all subclasses of ``petro.exceptions.HTTPError``.
        """
        status = self.status_code or 0
        if 400 <= status < 500:
            kind = "Client Error"
        elif 500 <= status < 600:
            kind = "Server Error"
        else:
            return
        reason = self.reason or ""
        msg = f"{status} {kind}: {reason} for url: {_redact_url(self.url or '')}"
        raise http_error_class(status)(msg, response=self)

    def close(self) -> None:
        """Release the connection of an unread streamed body."""
        if self._raw is not None and self._content is _NOT_READ:
            self._raw.close()

    # -- pickling -----------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        if self._content is _NOT_READ and not self._content_consumed:
            try:
                self.content  # noqa: B018 - read it so it pickles
            except ChunkedEncodingError:
                self._content = b""
        return {
            "_content": self._content if self._content is not _NOT_READ else b"",
            "status_code": self.status_code,
            "headers": self.headers,
            "url": _redact_url(self.url) if self.url else self.url,
            "history": self.history,
            "encoding": self.encoding,
            "reason": self.reason,
            "elapsed": self.elapsed,
            "request": self.request,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self._content = state["_content"]
        self._content_consumed = True
        self.status_code = state["status_code"]
        self._headers = state["headers"]
        self.url = state["url"]
        self._history = state["history"]
        self._encoding = state["encoding"]
        self.reason = state["reason"]
        self.elapsed = state["elapsed"]
        self._request = state["request"]


class _Rechunker:
    """Cut a stream of network pieces into ``size``-byte chunks (None: pass them through).

    Linear in the bytes seen: each piece is sliced once, never re-copied per chunk.
    """

    __slots__ = ("rest", "size")

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.rest = b""

    def feed(self, piece: bytes) -> Iterator[bytes]:
        if self.size is None:
            if piece:
                yield piece
            return
        data = self.rest + piece if self.rest else piece
        n = self.size
        end = len(data) - len(data) % n
        for i in range(0, end, n):
            yield data[i : i + n]
        self.rest = data[end:]


async def _run_native(start: Any) -> Any:
    # The asyncio bridge is imported on first async use: `import petro` stays free of asyncio.
    from ._bridge import run_native

    return await run_native(start)


def _decode_stream(chunks: Iterator[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        out = decoder.decode(chunk)
        if out:
            yield out
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _encoding_from_ctype(ctype: str | None) -> str | None:
    if not ctype:
        return None
    main, *params = [p.strip() for p in ctype.split(";")]
    for p in params:
        key, _, value = p.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("'\"")
    if "text" in main.lower():
        return "ISO-8859-1"
    if "application/json" in main.lower():
        return "utf-8"
    return None


def _guess_json_utf(data: bytes) -> str | None:
    sample = data[:4]
    if sample in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return "utf-32"
    if sample[:3] == codecs.BOM_UTF8:
        return "utf-8-sig"
    if sample[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    nullcount = sample.count(b"\x00")
    if nullcount == 0:
        return "utf-8"
    if nullcount == 2:
        if sample[::2] == b"\x00\x00":
            return "utf-16-be"
        if sample[1::2] == b"\x00\x00":
            return "utf-16-le"
    if nullcount == 3:
        if sample[:3] == b"\x00\x00\x00":
            return "utf-32-be"
        if sample[1:] == b"\x00\x00\x00":
            return "utf-32-le"
    return None


def _parse_links(value: str) -> list[dict[str, str]]:
    links = []
    replace_chars = " '\""
    value = value.strip(replace_chars)
    if not value:
        return links
    for val in value.split(", <") if ", <" in value else value.split(","):
        try:
            url, params = val.split(";", 1)
        except ValueError:
            url, params = val, ""
        link = {"url": url.strip("<> '\"")}
        for param in params.split(";"):
            try:
                key, v = param.split("=")
            except ValueError:
                break
            link[key.strip(replace_chars)] = v.strip(replace_chars)
        links.append(link)
    return links
