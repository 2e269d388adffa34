"""The session cookie jar, a dict-like view of the Rust core's jar."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

__all__ = ["SessionCookies"]


class SessionCookies(MutableMapping[str, str]):
    """Cookies kept by a ``Session``, by name (like requests' ``RequestsCookieJar``).

    Cookies set by servers are kept per domain and path and sent back where they
    apply; ``jar["name"] = "value"`` sets a cookie sent to every host, as in requests.

    Example:
        >>> s = petro.Session()
        >>> s.cookies["session"] = "abc"
        >>> s.cookies.get_dict()
        {'session': 'abc'}
    """

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native

    def _all(self) -> list[tuple[str, str, str, str]]:
        return self._native.cookies()

    def __getitem__(self, name: str) -> str:
        for n, v, _d, _p in self._all():
            if n == name:
                return v
        raise KeyError(name)

    def get(
        self, name: str, default: Any = None, domain: str | None = None, path: str | None = None
    ) -> Any:  # type: ignore[override]
        """The value of cookie ``name`` (optionally for one domain/path), or ``default``."""
        for n, v, d, p in self._all():
            if (
                n == name
                and (domain is None or d == domain.lstrip("."))
                and (path is None or p == path)
            ):
                return v
        return default

    def set(self, name: str, value: str | None, domain: str = "", path: str = "/") -> None:
        """Set a cookie (``domain=""`` sends it to every host); ``None`` removes it."""
        if value is None:
            self._native.remove_cookie(name, domain or None)
            return
        self._native.set_cookie(str(name), str(value), domain, path)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._native.remove_cookie(name, None)

    def __contains__(self, name: object) -> bool:
        return any(n == name for n, _v, _d, _p in self._all())

    def __iter__(self) -> Iterator[str]:
        return iter([n for n, _v, _d, _p in self._all()])

    def __len__(self) -> int:
        return len(self._all())

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:  # type: ignore[override]
        """Remove all cookies (or those named ``name``)."""
        if name is not None:
            self._native.remove_cookie(name, domain)
        else:
            self._native.clear_cookies()

    def get_dict(self, domain: str | None = None, path: str | None = None) -> dict[str, str]:
        """Cookies as a plain dict of name to value."""
        return {
            n: v
            for n, v, d, p in self._all()
            if (domain is None or d == domain.lstrip(".")) and (path is None or p == path)
        }

    def list_domains(self) -> list[str]:
        return sorted({d for _n, _v, d, _p in self._all()})

    def __repr__(self) -> str:
        return f"<SessionCookies {sorted(self.get_dict())}>"
