"""petro: reach the Petro.ai and Petra Security data APIs from Python, fast.

A drop-in for ``requests`` (``import petro as r``: same calls, same ``Response``,
same exception names) on a Rust core (reqwest + tokio) that does connection
pooling, TLS, redirects and JSON with the GIL released.

Example:
    >>> import petro as r
    >>> resp = r.post(url, auth=(app_id, secret_key),
    ...               json={"type": "petron", "query": {}, "options": {"limit": 10}})
    >>> rows = resp.json()
"""

from . import exceptions
from ._core import __version__
from .api import delete, get, head, options, patch, post, put, request
from .auth import AuthBase, BearerAuth, HTTPBasicAuth, HTTPProxyAuth
from .exceptions import (
    AuthenticationError,
    BadRequestError,
    BatchError,
    ChunkedEncodingError,
    ConflictError,
    ConnectionError,
    ConnectTimeout,
    ContentDecodingError,
    HTTPError,
    InvalidHeader,
    InvalidJSONError,
    InvalidSchema,
    InvalidURL,
    JSONDecodeError,
    MissingSchema,
    NotFoundError,
    PermissionDeniedError,
    ProxyError,
    RateLimitError,
    ReadTimeout,
    RequestException,
    RetryError,
    ServerError,
    SSLError,
    StreamConsumedError,
    Timeout,
    TooManyRedirects,
)
from .models import PreparedRequest, Response
from .retry import Retry
from .sessions import DEFAULT_TIMEOUT, Session, session
from .status_codes import codes
from .structures import CaseInsensitiveDict

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncPetraSecurity",
    "AsyncPetroAI",
    "AsyncSession",
    "AuthBase",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BearerAuth",
    "CaseInsensitiveDict",
    "ChunkedEncodingError",
    "ConfigError",
    "ConflictError",
    "ConnectTimeout",
    "ConnectionError",
    "ContentDecodingError",
    "Emulator",
    "HTTPBasicAuth",
    "HTTPError",
    "HTTPProxyAuth",
    "InvalidHeader",
    "InvalidJSONError",
    "InvalidSchema",
    "InvalidURL",
    "JSONDecodeError",
    "MissingSchema",
    "NotFoundError",
    "PermissionDeniedError",
    "PetraSecurity",
    "PetroAI",
    "PreparedRequest",
    "ProxyError",
    "QueryInterrupted",
    "RateLimitError",
    "ReadTimeout",
    "RequestException",
    "Response",
    "Retry",
    "RetryError",
    "SSLError",
    "ServerError",
    "Session",
    "StreamConsumedError",
    "Timeout",
    "TokenExpiredError",
    "TokenExpiryWarning",
    "TooManyRedirects",
    "__version__",
    "codes",
    "delete",
    "exceptions",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "session",
]


# Loaded on first use, keeping `import petro` light (the service clients pull in
# config-file and date handling; the emulator its own module).
_LAZY = {
    "AsyncSession": ".async_sessions",
    "ConfigError": "._config",
    "Emulator": ".emulator",
    "AsyncPetraSecurity": ".petra",
    "AsyncPetroAI": ".petroai",
    "PetraSecurity": ".petra",
    "PetroAI": ".petroai",
    "QueryInterrupted": ".petroai",
    "TokenExpiredError": ".petroai",
    "TokenExpiryWarning": ".petroai",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'petro' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
