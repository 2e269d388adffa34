"""Where credentials come from: explicit arguments, the environment, then a config file.

The config file is TOML (``~/.config/petro/config.toml``, or ``$PETRO_CONFIG``),
one table per profile; ``PETRO_PROFILE`` or ``profile=`` picks one, else
``[default]``::

    [default]
    base_url = "https://acme.petro.ai"
    app_id = "7d54ac3f46493ff662f224e1ab2f1642"
    secret_key = "..."
    petra_api_key = "petra_..."

    [staging]
    base_url = "https://acme-staging.petro.ai"
    token = "eyJ..."
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import RequestException

__all__ = ["ConfigError", "Credentials", "config_path", "load_profile"]


class ConfigError(RequestException, ValueError):
    """No usable credentials were found, or the config file is invalid."""


def config_path() -> Path:
    """The config file petro reads: ``$PETRO_CONFIG`` or ``~/.config/petro/config.toml``."""
    env = os.environ.get("PETRO_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "petro" / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError as e:
            raise ConfigError(
                f"Reading {path} needs Python 3.11+ or the 'tomli' package (pip install tomli)"
            ) from e
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"Cannot read the petro config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"The petro config file {path} is not valid TOML: {e}") from None


def load_profile(profile: str | None) -> tuple[dict[str, Any], str]:
    """The settings of one profile and a description of where they came from.

    Returns ``({}, "")`` when there is no config file and no profile was asked for.
    """
    path = config_path()
    name = profile or os.environ.get("PETRO_PROFILE") or None
    if not path.exists():
        if name:
            raise ConfigError(
                f"Profile {name!r} was asked for, but the config file {path} does not exist"
            )
        return {}, ""
    data = _read_toml(path)
    profiles = data.get("profiles", data)
    chosen = name or "default"
    table = profiles.get(chosen)
    if table is None:
        if name:
            known = (
                ", ".join(sorted(k for k, v in profiles.items() if isinstance(v, dict))) or "none"
            )
            raise ConfigError(f"No profile {name!r} in {path} (profiles there: {known})")
        return {}, ""
    if not isinstance(table, dict):
        raise ConfigError(f"Profile {chosen!r} in {path} must be a table")
    return table, f"profile {chosen!r} in {path}"


@dataclass
class Credentials:
    """Resolved settings for a service client, with where each came from (never the values)."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    looked: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def source(self, key: str) -> str:
        return self.sources.get(key, "nowhere")


def resolve(
    spec: dict[str, tuple[Any, str]],
    profile: str | None,
) -> Credentials:
    """Resolve each setting: explicit value, else environment variable, else profile key.

    Args:
        spec: ``{key: (explicit_value, ENV_VAR)}``; the profile key is ``key``.
        profile: the profile name, or None for ``$PETRO_PROFILE`` / ``default``.
    """
    creds = Credentials()
    table, where = load_profile(profile)
    for key, (explicit, env) in spec.items():
        if explicit is not None:
            creds.values[key] = explicit
            creds.sources[key] = "an explicit argument"
            continue
        value = os.environ.get(env)
        if value:
            creds.values[key] = value
            creds.sources[key] = f"the environment ({env})"
            continue
        if key in table and table[key] not in (None, ""):
            creds.values[key] = table[key]
            creds.sources[key] = where
    creds.looked = [
        "arguments to the constructor",
        "environment variables " + ", ".join(env for _, env in spec.values()),
        f"the config file {config_path()}"
        + (f" ({where})" if where else " (no such file or no matching profile)"),
    ]
    return creds
