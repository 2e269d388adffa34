"""``petro.Retry``: when and how petro tries a request again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Retry"]

RETRY_STATUSES = (408, 429, 502, 503, 504)


class Retry:
    """A retry policy, run inside the Rust core (the GIL is free while it waits).

    Retried: connection failures (the request never reached the server, or the
    connection broke while the body was read) and the
    statuses in ``status_forcelist``, only for requests safe to repeat (GET, HEAD,
    OPTIONS, PUT, DELETE, or a request sent with ``idempotent=True``). The wait is
    the server's ``Retry-After`` (up to ``retry_after_max``), else exponential
    backoff with full jitter: attempt n waits up to ``backoff_factor * 2**(n-1)``
    seconds, at most ``backoff_max``. ``deadline`` bounds the total time. When
    retries run out, the last response is returned (``raise_for_status()`` then
    raises the typed error) or the last connection error is raised.

    Args:
        total: retries after the first attempt (0 turns retrying off).
        backoff_factor: the first backoff step, in seconds.
        backoff_max: the longest backoff step.
        status_forcelist: statuses worth another try.
        retry_after_max: the longest ``Retry-After`` honoured; longer is not retried.
        deadline: the total time budget in seconds across attempts, or None.

    Example:
        >>> s = petro.Session(retries=petro.Retry(total=5, deadline=60))
        >>> petro.get(url, retries=3)
    """

    __slots__ = (
        "backoff_factor",
        "backoff_max",
        "deadline",
        "retry_after_max",
        "status_forcelist",
        "total",
    )

    def __init__(
        self,
        total: int = 3,
        *,
        backoff_factor: float = 0.5,
        backoff_max: float = 30.0,
        status_forcelist: Iterable[int] = RETRY_STATUSES,
        retry_after_max: float = 120.0,
        deadline: float | None = None,
    ) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"Retry total must be a non-negative int, not {total!r}")
        for name, value in (
            ("backoff_factor", backoff_factor),
            ("backoff_max", backoff_max),
            ("retry_after_max", retry_after_max),
        ):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Retry {name} must be a non-negative number, not {value!r}")
        if deadline is not None and (not isinstance(deadline, (int, float)) or deadline <= 0):
            raise ValueError(f"Retry deadline must be a positive number or None, not {deadline!r}")
        self.total = total
        self.backoff_factor = float(backoff_factor)
        self.backoff_max = float(backoff_max)
        self.status_forcelist = tuple(int(s) for s in status_forcelist)
        self.retry_after_max = float(retry_after_max)
        self.deadline = None if deadline is None else float(deadline)

    @classmethod
    def coerce(cls, value: Any) -> Retry | None:
        """Accept None / False (off), an int (that many retries), or a ``Retry``."""
        if value is None or value is False:
            return None
        if isinstance(value, Retry):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(total=value)
        raise TypeError(
            f"retries must be an int, a petro.Retry or None, not {type(value).__name__}"
        )

    def _native(self) -> tuple[int, float, float, float, list[int], float | None]:
        return (
            self.total,
            self.backoff_factor,
            self.backoff_max,
            self.retry_after_max,
            list(self.status_forcelist),
            self.deadline,
        )

    def __repr__(self) -> str:
        return (
            f"Retry(total={self.total}, backoff_factor={self.backoff_factor}, "
            f"backoff_max={self.backoff_max}, status_forcelist={self.status_forcelist}, "
            f"retry_after_max={self.retry_after_max}, deadline={self.deadline})"
        )
