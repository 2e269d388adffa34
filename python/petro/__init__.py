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
from ._config import ConfigError
from ._core import __version__
from .api import delete, get, head, options, patch, post, put, request
from .async_sessions import AsyncSession
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
from .petra import AsyncPetraSecurity, PetraSecurity
from .petroai import AsyncPetroAI, PetroAI, QueryInterrupted, TokenExpiredError, TokenExpiryWarning
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


def __getattr__(name: str) -> object:
    # The emulator is loaded on first use, keeping `import petro` light.
    if name == "Emulator":
        from .emulator import Emulator

        return Emulator
    raise AttributeError(f"module 'petro' has no attribute {name!r}")
