"""petro's logger: ``logging.getLogger("petro")``.

One DEBUG line per attempt (method, URL without credentials, status, time,
retry number). petro never calls ``basicConfig``; ``PETRO_LOG=debug`` attaches a
stderr handler to the "petro" logger for people who do not configure logging.

The ``logging`` module is imported only when something else has imported it
(nobody could have configured a handler otherwise) or ``PETRO_LOG`` is set, so
``import petro`` stays light.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_logger: Any = None


def get_logger() -> Any:
    """The "petro" logger (imports ``logging``)."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("petro")
    return _logger


def debug_enabled() -> bool:
    """True when a DEBUG record from petro would go somewhere."""
    if _logger is None and "logging" not in sys.modules:
        return False
    return bool(get_logger().isEnabledFor(10))


def debug(msg: str, *args: Any) -> None:
    """Log at DEBUG if anyone listens."""
    if debug_enabled():
        get_logger().debug(msg, *args)


def _configure_from_env() -> None:
    level = os.environ.get("PETRO_LOG", "").strip().upper()
    if not level:
        return
    import logging

    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        return
    logger = get_logger()
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
    logger = get_logger()
    for n, (status, error, took, wait) in enumerate(attempts):
        outcome = status if status is not None else f"error: {error}"
        extra = f", retrying in {wait:.2f}s" if wait else ""
        logger.debug(
            "%s %s -> %s in %.1f ms (retry %d)%s", method, shown, outcome, took * 1000, n, extra
        )


_configure_from_env()
