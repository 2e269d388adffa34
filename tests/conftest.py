import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from servers import ProcessServer, TestServer


@pytest.fixture(scope="session")
def server():
    with TestServer() as s:
        yield s


@pytest.fixture(scope="session")
def process_server():
    """A TestServer in its own process: it never holds this process's GIL."""
    with ProcessServer() as s:
        yield s


@pytest.fixture(scope="session")
def other_server():
    """A second server: another port, for cross-origin redirects."""
    with TestServer() as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NETRC",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
