"""A local Petro.ai + Petra Security server for examples, tests and offline notebooks.

The emulator is real HTTP on loopback (a Rust/axum server inside this process, backed by
SQLite), so any client (petro, requests, curl) talks to it as it would to the services.

Example:
    >>> from petro.emulator import Emulator
    >>> with Emulator(sample_wells=100) as emu:
    ...     import requests
    ...     r = requests.post(emu.url + "/api/data/query", auth=emu.auth,
    ...                       json={"type": "Well", "query": {"basinName": "Permian"},
    ...                             "options": {"limit": 5}})
    ...     r.status_code
    200

Services served from the one base URL ``emu.url`` (``emu.petra_url`` is the same):

- Petro.ai: ``POST /api/data`` (insert), ``PUT /api/data`` (replace by id, else insert),
  ``PATCH /api/data`` (``{"type", "query", "body"}``), ``DELETE /api/data`` (JSON body,
  empty query refused), ``POST /api/data/query`` (operators ``eq ne gt gte lt lte in nin
  exists regex``, arrays as any-of, dotted paths; options ``limit skip sort fields``),
  ``GET /api/data/schema?type=T``, ``GET /api/data/types`` and the legacy
  ``GET /api/<Collection>?Ids=&Limit=&SortBy=&SortOrder=``. A collection name matches a
  type case-insensitively, with or without a plural ``s``/``es`` (``/api/Wells`` is
  ``Well``). Auth: HTTP Basic (App ID, Secret Key) or ``Authorization: Bearer <jwt>``.
- Petra Security, under ``/beta/`` and ``/v1/``: ``usage``, ``billable-users``,
  ``incidents``, ``tenants``, ``usage-xlsx`` with ``Authorization: Bearer petra_...``.

Sample data (seeded, deterministic) has types ``Well``, ``MonthlyProduction`` and
``petron``; Petra's tenants, users and incidents are always present.

Faults (``inject_fault``) are small dicts; ``route`` is an exact path, a prefix ending in
``*``, or ``*``; ``times`` (default 1, -1 = until cleared) and ``method`` are optional:

=============  ==========================================  =================================
kind           fields                                      effect
=============  ==========================================  =================================
delay          delay_ms                                    wait before the headers
slow_body      chunk_bytes (16), chunk_delay_ms (50)       the real body, trickled
drop           after_bytes (half)                          connection dropped mid-body
status         status, retry_after, body                   that status (500/502/503/429...)
truncate                                                   the real body cut in half
malformed                                                  200 with a body that is not JSON
body_size      size                                        200 with a JSON body of that size
redirect       location, status (302)                      redirect to another URL or host
=============  ==========================================  =================================

Example: ``emu.inject_fault(route="/api/data/query", kind="status", status=503, times=2,
retry_after=1)``.

The same controls are served over HTTP under ``/_admin/`` (loopback only, header
``X-Petro-Admin-Token: <emu.admin_token>``): ``POST /_admin/api-keys``,
``POST /_admin/api-keys/{app_id}/disable|enable``, ``DELETE /_admin/api-keys/{app_id}``,
``POST /_admin/petra-keys`` ``{"kind": "org"|"var"}``, ``POST /_admin/petra-keys/delete``
``{"api_key"}``, ``POST /_admin/jwt`` ``{"expires_in"}``, ``POST /_admin/clock/advance``
``{"seconds"}``, ``POST /_admin/rate-limit`` ``{"limit", "per_seconds", "route"}``,
``POST /_admin/faults`` (a fault spec), ``DELETE /_admin/faults``.
"""

from __future__ import annotations

import atexit
import json
import os
import weakref
from typing import Any

from petro import _core

__all__ = ["Emulator", "main"]

_LIVE: weakref.WeakSet[Emulator] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for emu in list(_LIVE):
        emu.stop()


class Emulator:
    """A local Petro.ai + Petra Security server on loopback.

    Args:
        host: Address to bind. Defaults to ``127.0.0.1``.
        port: Port to bind; 0 (default) picks a free one.
        data_dir: Directory for the SQLite file; data then survives a restart. ``None``
            (default) keeps data in memory.
        sample_data: Load the seeded sample wells, production and petrons into an empty
            store (default True). False gives an empty Petro.ai store.
        sample_wells: Number of sample wells (default 2000).
        sample_months: Most months of production per sample well (default 36).
        seed: Seed for the sample data.
        response_shape: ``"list"`` (default): ``/api/data/query`` answers a bare JSON list;
            ``"envelope"``: ``{"data": [...], "count": n}``.
        errors: ``"strict"`` (default): real status codes with ``{"error", "message"}``;
            ``"v4"``: Petro.ai failures answer 200 with ``{"message"}``, like the v4 API.
        rate_limit: Requests allowed per route and credential per ``rate_limit_per``
            seconds; ``None`` (default) = no limit.
        rate_limit_per: Window of ``rate_limit`` in seconds (default 60).
        max_body_bytes: Largest request body accepted (default 64 MiB); larger gets 413.

    Raises:
        OSError: The address cannot be bound (from ``start``).
        ValueError: An option has a bad value (from ``start``).

    Example:
        >>> with Emulator(sample_data=False) as emu:
        ...     print(emu.url)  # doctest: +ELLIPSIS
        http://127.0.0.1:...
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        sample_data: bool = True,
        sample_wells: int = 2000,
        sample_months: int = 36,
        seed: int = 42,
        response_shape: str = "list",
        errors: str = "strict",
        rate_limit: int | None = None,
        rate_limit_per: float = 60.0,
        max_body_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        if response_shape not in ("list", "envelope"):
            raise ValueError(f"response_shape must be 'list' or 'envelope', not {response_shape!r}")
        if errors not in ("strict", "v4"):
            raise ValueError(f"errors must be 'strict' or 'v4', not {errors!r}")
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "data_dir": os.fspath(data_dir) if data_dir is not None else None,
            "sample_data": sample_data,
            "sample_wells": sample_wells,
            "sample_months": sample_months,
            "seed": seed,
            "response_shape": response_shape,
            "errors": errors,
            "rate_limit": rate_limit,
            "rate_limit_per": rate_limit_per,
            "max_body_bytes": max_body_bytes,
        }
        self._core: Any = None
        self._creds: tuple[str, str, str, str, str] | None = None

    # ----- lifecycle -----

    def start(self) -> Emulator:
        """Start serving (no-op if already running).

        Returns:
            The emulator itself, so ``emu = Emulator().start()`` works.

        Raises:
            OSError: The address cannot be bound.
        """
        if self._core is None or not self._core.running:
            self._core = _core._Emulator(**self._options)
            self._creds = self._core.credentials()
            _LIVE.add(self)
        return self

    def stop(self) -> None:
        """Stop serving and free the port (idempotent; ``start()`` may be called again)."""
        core, self._core = self._core, None
        if core is not None:
            core.stop()
        _LIVE.discard(self)

    @property
    def running(self) -> bool:
        """True while the server is serving."""
        return self._core is not None and bool(self._core.running)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if not self.running:
            return "<petro.Emulator (stopped)>"
        return f"<petro.Emulator {self.url} app_id={self.app_id}>"

    def _need(self) -> Any:
        if self._core is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return self._core

    # ----- addresses and credentials -----

    @property
    def url(self) -> str:
        """Base URL of the Petro.ai API, e.g. ``http://127.0.0.1:54321``."""
        return str(self._need().url)

    @property
    def petra_url(self) -> str:
        """Base URL of the Petra Security API (the same server as ``url``)."""
        return self.url

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._need().port)

    def _cred(self, i: int) -> str:
        self._need()
        assert self._creds is not None
        return self._creds[i]

    @property
    def app_id(self) -> str:
        """The App ID of the emulator's starting Petro.ai API key."""
        return self._cred(0)

    @property
    def secret_key(self) -> str:
        """The Secret Key paired with ``app_id``."""
        return self._cred(1)

    @property
    def auth(self) -> tuple[str, str]:
        """``(app_id, secret_key)``, ready for ``requests``' ``auth=``."""
        return (self.app_id, self.secret_key)

    @property
    def petra_api_key(self) -> str:
        """A Petra organisation key (``petra_...``)."""
        return self._cred(2)

    @property
    def petra_var_api_key(self) -> str:
        """A Petra Multi-MSP key (``petra_var_...``), needed for ``usage-xlsx``."""
        return self._cred(3)

    @property
    def admin_token(self) -> str:
        """Token for the ``/_admin`` surface (header ``X-Petro-Admin-Token``)."""
        return self._cred(4)

    def env(self) -> dict[str, str]:
        """Environment variables pointing a client at this emulator.

        Returns:
            ``PETRO_BASE_URL``, ``PETRO_APP_ID``, ``PETRO_SECRET_KEY``, ``PETRO_TOKEN`` (a
            fresh JWT), ``PETRA_BASE_URL``, ``PETRA_API_KEY`` and ``PETRA_VAR_API_KEY``.
        """
        return {
            "PETRO_BASE_URL": self.url,
            "PETRO_APP_ID": self.app_id,
            "PETRO_SECRET_KEY": self.secret_key,
            "PETRO_TOKEN": self.issue_jwt(),
            "PETRA_BASE_URL": self.petra_url,
            "PETRA_API_KEY": self.petra_api_key,
            "PETRA_VAR_API_KEY": self.petra_var_api_key,
        }

    # ----- controls -----

    def issue_jwt(self, expires_in: float | None = None) -> str:
        """Issue a user JWT (HS256) as the Petro.ai web app would.

        Args:
            expires_in: Lifetime in seconds (default four hours), on the emulator clock.

        Returns:
            The token, for ``Authorization: Bearer <token>``.
        """
        return str(self._need().issue_jwt(expires_in))

    def create_api_key(self) -> tuple[str, str]:
        """Create an enabled Petro.ai API key.

        Returns:
            ``(app_id, secret_key)``.
        """
        app_id, secret = self._need().create_api_key()
        return str(app_id), str(secret)

    def _key_op(self, app_id: str, op: str) -> None:
        core = self._need()
        done = (
            core.delete_api_key(app_id)
            if op == "delete"
            else core.set_api_key_enabled(app_id, op == "enable")
        )
        if not done:
            raise KeyError(f"no API key with App ID {app_id!r}")

    def disable_api_key(self, app_id: str) -> None:
        """Disable a key: its requests get 401 until enabled again.

        Raises:
            KeyError: No such App ID.
        """
        self._key_op(app_id, "disable")

    def enable_api_key(self, app_id: str) -> None:
        """Enable a disabled key.

        Raises:
            KeyError: No such App ID.
        """
        self._key_op(app_id, "enable")

    def delete_api_key(self, app_id: str) -> None:
        """Delete a key; its requests get 401 at once.

        Raises:
            KeyError: No such App ID.
        """
        self._key_op(app_id, "delete")

    def create_petra_key(self, *, multi_msp: bool = False, org: str | None = None) -> str:
        """Create a Petra key.

        Args:
            multi_msp: Make a ``petra_var_`` (Multi-MSP) key instead of an organisation key.
            org: Organisation id (default: the emulator's MSP; ``"org_northwind"`` is a
                second organisation whose tenants the default keys cannot see).

        Returns:
            The key.
        """
        return str(self._need().create_petra_key(multi_msp, org))

    def delete_petra_key(self, key: str) -> None:
        """Delete a Petra key; it gets 401 at once.

        Raises:
            KeyError: No such key (the key is not shown in the message).
        """
        if not self._need().delete_petra_key(key):
            raise KeyError("no such Petra API key")

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (JWT expiry, rate-limit windows, "today").

        Args:
            seconds: How far; negative moves it back.
        """
        self._need().advance_clock(float(seconds))

    def set_rate_limit(
        self, limit: int | None = 10, per_seconds: float = 60.0, route: str | None = None
    ) -> None:
        """Limit requests per route and credential; the excess gets 429 with Retry-After.

        Args:
            limit: Requests allowed per window; ``None`` or 0 removes the limit (for
                ``route``, or every limit when ``route`` is None).
            per_seconds: Window length in seconds (default 60).
            route: Exact path (``"/v1/usage"``) or prefix ending in ``*``; None = all routes.

        Raises:
            ValueError: ``per_seconds`` is not positive.
        """
        self._need().set_rate_limit(int(limit or 0), float(per_seconds), route)

    def inject_fault(self, spec: dict[str, Any] | None = None, /, **fields: Any) -> int:
        """Make upcoming responses misbehave (see the module docstring for the kinds).

        Args:
            spec: The fault as a dict, e.g. ``{"route": "/api/data/query", "kind":
                "status", "status": 503, "times": 2, "retry_after": 1}``.
            **fields: The same fields as keywords (merged over ``spec``).

        Returns:
            The fault's id.

        Raises:
            ValueError: The spec is invalid (unknown kind or field, bad status...).
        """
        merged = {**(spec or {}), **fields}
        return int(self._need().inject_fault(json.dumps(merged)))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._need().clear_faults()


def main(argv: list[str] | None = None) -> int:
    """Run the emulator from the command line until Ctrl-C (``petro-emulator``)."""
    from petro.emulator.__main__ import run

    return run(argv)
