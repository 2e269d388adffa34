"""``petro.codes``: status codes by name, as ``requests.codes`` (``codes.ok == 200``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["codes"]


class _Codes:
    """Look up a status code by name: ``codes.not_found``, ``codes["too_many_requests"]``."""

    def __init__(self) -> None:
        for status in HTTPStatus:
            name = status.name.lower()
            setattr(self, name, status.value)
            setattr(self, name.upper(), status.value)
        for alias, value in {
            "ok": 200,
            "okay": 200,
            "all_ok": 200,
            "moved": 301,
            "found": 302,
            "teapot": 418,
            "too_many": 429,
            "server_error": 500,
            "unavailable": 503,
        }.items():
            setattr(self, alias, value)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name, None)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)

    def __repr__(self) -> str:
        return "<lookup 'status_codes'>"


codes = _Codes()
