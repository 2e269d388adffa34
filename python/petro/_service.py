"""What the two service clients share: credential display, typed errors with
advice, progress bars, JWT reading, and the v4 "errors as 200" quirk."""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
from typing import Any

from .exceptions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    http_error_class,
)
from .models import Response

__all__ = ["jwt_expiry", "mask", "progress_bar", "raise_for_response", "v4_quirk_status"]


def mask(value: str | None) -> str:
    """Show an identifier as ``7d54…1642``; secrets are never passed here."""
    if not value:
        return "(none)"
    if len(value) <= 10:
        return value[:2] + "…"
    return f"{value[:4]}…{value[-4:]}"


def _server_message(resp: Response) -> str:
    try:
        body = resp.json()
    except Exception:
        text = (resp.text or "").strip()
        return text[:300]
    if isinstance(body, dict):
        for key in ("message", "error_description", "detail", "error", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    return ""


def raise_for_response(
    resp: Response,
    *,
    service: str,
    what: str,
    auth_help: str,
    status: int | None = None,
    message: str | None = None,
) -> None:
    """Raise the typed ``HTTPError`` for an error response, with advice a person can act on.

    Args:
        resp: the response.
        service: "Petro.ai" or "Petra Security".
        what: the operation, e.g. ``"POST /api/data/query"``.
        auth_help: the causes and fixes to list for a 401, and where the credentials came from.
        status: overrides ``resp.status_code`` (v4 quirk: errors sent as 200).
        message: overrides the server's message.
    """
    code = status if status is not None else resp.status_code or 0
    if code < 400:
        return
    server_msg = message if message is not None else _server_message(resp)
    head = f"{code} {resp.reason or ''} from {service} ({what})".replace("  ", " ")
    if server_msg:
        head += f": {server_msg}"
    cls = http_error_class(code)
    advice = ""
    if cls is AuthenticationError:
        advice = "\n" + auth_help
    elif cls is RateLimitError:
        after = resp.headers.get("retry-after")
        advice = (
            f"\nThe service allows a limited number of requests per minute; "
            f"{'it asked to wait ' + after + ' s. ' if after else ''}"
            "petro retries 429s by default; lower the request rate (pace=) or raise retries=."
        )
    elif cls is NotFoundError:
        advice = (
            "\nCheck the base URL, the path, and that the resource belongs to your organisation."
        )
    elif cls is BadRequestError:
        advice = "\nThe service rejected the request's parameters or body (see the message above)."
    elif code >= 500:
        advice = (
            "\nThe service failed; this is usually temporary. petro retried if retries were on."
        )
    raise cls(head + advice, response=resp)


_V4_STATUS_WORDS = (
    (401, ("unauthor", "credential", "api key", "apikey", "token", "expired", "authenticat")),
    (403, ("forbidden", "permission", "not allowed")),
    (404, ("not found", "unknown route", "no such")),
    (429, ("rate limit", "too many")),
)


def v4_quirk_status(body: Any) -> int | None:
    """For v4's "errors as 200 with {message}" bodies: the status it stands for, else None."""
    if not isinstance(body, dict) or "message" not in body or "data" in body:
        return None
    if set(body) - {"message", "error", "code", "status"}:
        return None
    text = str(body.get("message", "")).lower() + " " + str(body.get("error", "")).lower()
    for status, words in _V4_STATUS_WORDS:
        if any(w in text for w in words):
            return status
    return 400


def jwt_expiry(token: str) -> datetime.datetime | None:
    """The ``exp`` of a JWT as an aware UTC datetime, read locally (no signature check)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if exp is None:
            return None
        return datetime.datetime.fromtimestamp(float(exp), tz=datetime.timezone.utc)
    except (ValueError, TypeError, OverflowError):
        return None


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(progress: bool | None, desc: str, total: int | None = None) -> Any:
    """A tqdm bar (notebook-aware) when asked for or interactive; a no-op otherwise."""
    if progress is False or os.environ.get("PETRO_PROGRESS", "").lower() in ("0", "false", "off"):
        return _NoBar()
    if progress is None and not _interactive():
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    # One update per page: pages are far enough apart that every update can be drawn.
    return tqdm(total=total, desc=desc, unit=" rec", leave=False, mininterval=0, miniters=1)


def with_progress_note(exc: BaseException, note: str) -> None:
    """Attach a note to an exception (``add_note`` where available)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
