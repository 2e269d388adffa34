"""petro's logger: ``logging.getLogger("petro")``.

One DEBUG line per attempt (method, URL without credentials, status, time,
retry number). petro never calls ``basicConfig``; ``PETRO_LOG=debug`` attaches a
stderr handler to the "petro" logger for people who do not configure logging.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger("petro")


def _configure_from_env() -> None:
    level = os.environ.get("PETRO_LOG", "").strip().upper()
    if not level:
        return
    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        return
    if not any(getattr(h, "_petro", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s petro %(levelname)s %(message)s"))
        handler._petro = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(numeric)


def log_attempts(method: str, url: str, attempts: list[tuple[Any, Any, float, float]]) -> None:
    """Log each attempt of one request at DEBUG."""
    from .models import _redact_url

    shown = _redact_url(url)
    for n, (status, error, took, wait) in enumerate(attempts):
        outcome = status if status is not None else f"error: {error}"
        extra = f", retrying in {wait:.2f}s" if wait else ""
        logger.debug(
            "%s %s -> %s in %.1f ms (retry %d)%s", method, shown, outcome, took * 1000, n, extra
        )


_configure_from_env()
