"""pytest plugin for petro: fixtures that start the local emulator.

Installed with petro (entry point ``pytest11``), so the fixtures are available in any
test suite without imports:

- ``petro_emulator`` (session): an emulator with the seeded sample data (small size, fast
  to start). Tests that write to it should use their own types or clean up.
- ``petro_emulator_empty`` (function): a fresh emulator with an empty Petro.ai store.
- ``petro_env`` (function): sets ``PETRO_BASE_URL``, ``PETRO_APP_ID``,
  ``PETRO_SECRET_KEY``, ``PETRO_TOKEN``, ``PETRA_BASE_URL``, ``PETRA_API_KEY`` (and
  ``PETRA_VAR_API_KEY``) to the session emulator via ``monkeypatch``; returns the emulator.

Example:
    >>> def test_wells(petro_emulator):  # doctest: +SKIP
    ...     r = requests.post(petro_emulator.url + "/api/data/query",
    ...                       auth=petro_emulator.auth, json={"type": "Well"})
    ...     assert r.status_code == 200
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from petro.emulator import Emulator

#: Sample size used by the session fixture: enough to look real, quick to build.
SESSION_SAMPLE_WELLS = 300


@pytest.fixture(scope="session")
def petro_emulator() -> Iterator[Emulator]:
    """A running emulator with sample data, shared by the whole test session."""
    from petro.emulator import Emulator

    with Emulator(sample_wells=SESSION_SAMPLE_WELLS, sample_months=24) as emu:
        yield emu


@pytest.fixture
def petro_emulator_empty() -> Iterator[Emulator]:
    """A fresh emulator with an empty Petro.ai store, stopped after the test."""
    from petro.emulator import Emulator

    with Emulator(sample_data=False) as emu:
        yield emu


@pytest.fixture
def petro_env(petro_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point ``PETRO_*`` / ``PETRA_*`` environment variables at the session emulator."""
    for name, value in petro_emulator.env().items():
        monkeypatch.setenv(name, value)
    return petro_emulator
