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

# Everything is loaded on first use (the scientific-Python "lazy loader" pattern):
# `import petro` costs almost nothing, and `petro.get(...)` pulls in what it needs.
# Type checkers and editors read the imports below, which never run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import exceptions
    from ._config import (
        ConfigError,
    )
    from .api import (
        delete,
        get,
        head,
        options,
        patch,
        post,
        put,
        request,
    )
    from .async_sessions import (
        AsyncSession,
    )
    from .auth import (
        AuthBase,
        BearerAuth,
        HTTPBasicAuth,
        HTTPProxyAuth,
    )
    from .emulator import (
        Emulator,
    )
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
    from .models import (
        PreparedRequest,
        Response,
    )
    from .petra import (
        AsyncPetraSecurity,
        PetraSecurity,
    )
    from .petroai import (
        AsyncPetroAI,
        PetroAI,
        QueryInterrupted,
        TokenExpiredError,
        TokenExpiryWarning,
    )
    from .retry import (
        Retry,
    )
    from .sessions import (
        DEFAULT_TIMEOUT,
        Session,
        session,
    )
    from .status_codes import (
        codes,
    )
    from .structures import (
        CaseInsensitiveDict,
    )

del TYPE_CHECKING

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

_LAZY = {
    "AsyncPetraSecurity": ".petra",
    "AsyncPetroAI": ".petroai",
    "AsyncSession": ".async_sessions",
    "AuthBase": ".auth",
    "AuthenticationError": ".exceptions",
    "BadRequestError": ".exceptions",
    "BatchError": ".exceptions",
    "BearerAuth": ".auth",
    "CaseInsensitiveDict": ".structures",
    "ChunkedEncodingError": ".exceptions",
    "ConfigError": "._config",
    "ConflictError": ".exceptions",
    "ConnectTimeout": ".exceptions",
    "ConnectionError": ".exceptions",
    "ContentDecodingError": ".exceptions",
    "DEFAULT_TIMEOUT": ".sessions",
    "Emulator": ".emulator",
    "HTTPBasicAuth": ".auth",
    "HTTPError": ".exceptions",
    "HTTPProxyAuth": ".auth",
    "InvalidHeader": ".exceptions",
    "InvalidJSONError": ".exceptions",
    "InvalidSchema": ".exceptions",
    "InvalidURL": ".exceptions",
    "JSONDecodeError": ".exceptions",
    "MissingSchema": ".exceptions",
    "NotFoundError": ".exceptions",
    "PermissionDeniedError": ".exceptions",
    "PetraSecurity": ".petra",
    "PetroAI": ".petroai",
    "PreparedRequest": ".models",
    "ProxyError": ".exceptions",
    "QueryInterrupted": ".petroai",
    "RateLimitError": ".exceptions",
    "ReadTimeout": ".exceptions",
    "RequestException": ".exceptions",
    "Response": ".models",
    "Retry": ".retry",
    "RetryError": ".exceptions",
    "SSLError": ".exceptions",
    "ServerError": ".exceptions",
    "Session": ".sessions",
    "StreamConsumedError": ".exceptions",
    "Timeout": ".exceptions",
    "TokenExpiredError": ".petroai",
    "TokenExpiryWarning": ".petroai",
    "TooManyRedirects": ".exceptions",
    "codes": ".status_codes",
    "delete": ".api",
    "get": ".api",
    "head": ".api",
    "options": ".api",
    "patch": ".api",
    "post": ".api",
    "put": ".api",
    "request": ".api",
    "session": ".sessions",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        from ._core import __version__

        value: object = __version__
    elif name == "exceptions":
        import importlib

        value = importlib.import_module(".exceptions", __name__)
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'petro' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
