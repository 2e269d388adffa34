"""Data structures shared by the public API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["CaseInsensitiveDict"]

#: Header names whose values are credentials: masked in every repr.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)


class CaseInsensitiveDict(MutableMapping[str, Any]):
    """A dict with case-insensitive string keys that remembers the case last set.

    Used for headers, as in requests: ``resp.headers["content-type"]`` and
    ``resp.headers["Content-Type"]`` are the same entry. Values of credential
    headers (``Authorization``, ``Cookie``...) are masked in ``repr``.

    Example:
        >>> h = CaseInsensitiveDict({"Accept": "application/json"})
        >>> h["accept"]
        'application/json'
    """

    __slots__ = ("_store",)

    def __init__(
        self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None, **kwargs: Any
    ):
        self._store: dict[str, tuple[str, Any]] = {}
        if data is None:
            data = {}
        self.update(data, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> Any:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (cased for cased, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def pairs(self) -> list[tuple[str, Any]]:
        """(key as last set, value) pairs, as a new list (fast: no per-key lookups)."""
        return list(self._store.values())

    def lower_items(self) -> Iterator[tuple[str, Any]]:
        """Items with lower-cased keys."""
        return ((lower, kv[1]) for lower, kv in self._store.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            other = CaseInsensitiveDict(other)
        else:
            return NotImplemented
        return dict(self.lower_items()) == dict(other.lower_items())

    def copy(self) -> CaseInsensitiveDict:
        new = CaseInsensitiveDict()
        new._store = self._store.copy()
        return new

    def __repr__(self) -> str:
        shown = {
            k: ("***" if k.lower() in SENSITIVE_HEADERS else v) for k, v in self._store.values()
        }
        return str(shown)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "_store": {
                lower: (k, "***" if lower in SENSITIVE_HEADERS else v)
                for lower, (k, v) in self._store.items()
            }
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store = state["_store"]
