"""Request body and query string encoding, as requests does it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = ["encode_files", "encode_params", "to_pairs"]


def to_pairs(value: Any) -> list[tuple[Any, Any]]:
    """A dict, list of pairs, or tuple of pairs as a list of pairs."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, bool, int)):
        raise ValueError("cannot encode objects that are not 2-tuples")
    if isinstance(value, Mapping):
        return list(value.items())
    return list(value)


def encode_params(data: Any) -> str | bytes:
    """Encode params or form data: str/bytes pass through, mappings and pairs are url-encoded."""
    if isinstance(data, (str, bytes)):
        return data
    if hasattr(data, "read"):
        return data
    if hasattr(data, "__iter__"):
        result = []
        for k, vs in to_pairs(data):
            if isinstance(vs, (str, bytes)) or not hasattr(vs, "__iter__"):
                vs = [vs]
            for v in vs:
                if v is not None:
                    result.append(
                        (
                            k.encode("utf-8") if isinstance(k, str) else k,
                            v.encode("utf-8") if isinstance(v, str) else v,
                        )
                    )
        return urlencode(result, doseq=True)
    return data


def _guess_filename(obj: Any) -> str | None:
    name = getattr(obj, "name", None)
    if (
        name
        and isinstance(name, (str, bytes))
        and name[0] not in ("<", b"<")
        and name[-1] not in (">", b">")
    ):
        name = os.path.basename(name)
        return name.decode() if isinstance(name, bytes) else name
    return None


def _read(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if hasattr(value, "read"):
        data = value.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return str(value).encode("utf-8")


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_files(files: Any, data: Any, boundary: str | None = None) -> tuple[bytes, str]:
    """Build a multipart/form-data body from ``files`` and form ``data``.

    Returns:
        (body, content_type)
    """
    if not files:
        raise ValueError("Files must be provided.")
    if isinstance(data, (str, bytes)):
        raise ValueError("Data must not be a string when files are given.")
    boundary = boundary or os.urandom(16).hex()
    parts: list[bytes] = []

    def part(
        name: str,
        payload: bytes,
        filename: str | None,
        ctype: str | None,
        extra: Mapping[str, str] | None,
    ) -> None:
        lines = [f"--{boundary}"]
        disposition = f'Content-Disposition: form-data; name="{_quote(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote(filename)}"'
        lines.append(disposition)
        if ctype:
            lines.append(f"Content-Type: {ctype}")
        for hk, hv in (extra or {}).items():
            lines.append(f"{hk}: {hv}")
        parts.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + payload + b"\r\n")

    for field, val in to_pairs(data or {}):
        if isinstance(val, (str, bytes)) or not hasattr(val, "__iter__"):
            val = [val]
        for v in val:
            if v is None:
                continue
            name = field.decode("utf-8") if isinstance(field, bytes) else str(field)
            part(name, _read(v), None, None, None)

    for k, v in to_pairs(files):
        ft = fh = None
        if isinstance(v, (tuple, list)):
            if len(v) == 2:
                fn, fp = v
            elif len(v) == 3:
                fn, fp, ft = v
            else:
                fn, fp, ft, fh = v
        else:
            fn = _guess_filename(v) or k
            fp = v
        if fp is None:
            continue
        part(str(k), _read(fp), fn, ft, fh)

    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def iter_bytes(data: Iterable[Any]) -> bytes:
    """Join a generator or iterable body into bytes (petro sends it with a length)."""
    return b"".join(x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in data)
