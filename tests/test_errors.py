"""Failures map to requests' exception classes, with useful messages."""

import json
import pickle
import time

import pytest

import petro
from petro import exceptions as exc


def test_exception_tree_matches_requests():
    assert issubclass(exc.RequestException, IOError)
    assert issubclass(exc.ConnectTimeout, exc.ConnectionError)
    assert issubclass(exc.ConnectTimeout, exc.Timeout)
    assert issubclass(exc.ReadTimeout, exc.Timeout)
    assert issubclass(exc.SSLError, exc.ConnectionError)
    assert issubclass(exc.ProxyError, exc.ConnectionError)
    assert issubclass(exc.JSONDecodeError, json.JSONDecodeError)
    assert issubclass(exc.JSONDecodeError, exc.RequestException)
    for cls in (exc.InvalidURL, exc.MissingSchema, exc.InvalidSchema, exc.InvalidHeader):
        assert issubclass(cls, ValueError) and issubclass(cls, exc.RequestException)
    for cls in (exc.BadRequestError, exc.AuthenticationError, exc.RateLimitError, exc.ServerError):
        assert issubclass(cls, exc.HTTPError)
    assert petro.HTTPError is exc.HTTPError


@pytest.mark.parametrize(
    "url,cls",
    [
        ("acme.petro.ai/api/data", exc.MissingSchema),
        ("ftp://acme.petro.ai/", exc.InvalidSchema),
        ("http://", exc.InvalidURL),
        ("http://[::1", exc.InvalidURL),
    ],
)
def test_bad_urls(url, cls):
    with pytest.raises(cls):
        petro.get(url)


def test_connection_refused(closed_port):
    with pytest.raises(exc.ConnectionError) as e:
        petro.get(f"http://127.0.0.1:{closed_port}/x", timeout=5)
    assert not isinstance(e.value, exc.Timeout)
    assert e.value.request is not None and e.value.request.method == "GET"


def test_read_timeout(server):
    start = time.monotonic()
    with pytest.raises(exc.ReadTimeout):
        petro.get(server.url("/slow?delay=3"), timeout=0.3)
    assert time.monotonic() - start < 2.5  # generous: proves the timeout fired, not the server


def test_read_timeout_between_body_reads(server):
    with pytest.raises((exc.ReadTimeout, exc.ChunkedEncodingError)):
        petro.get(server.url("/slowbody?delay=3"), timeout=(5, 0.5))


@pytest.fixture
def full_backlog():
    """A loopback listener whose accept queue is full: new connects hang in SYN."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(listener.getsockname())
        fillers.append(c)
    time.sleep(0.1)
    yield listener.getsockname()[1]
    for c in fillers:
        c.close()
    listener.close()


def test_connect_timeout(full_backlog):
    start = time.monotonic()
    with pytest.raises(exc.ConnectTimeout) as e:
        petro.get(f"http://127.0.0.1:{full_backlog}/", timeout=(0.5, 5))
    assert isinstance(e.value, exc.ConnectionError) and isinstance(e.value, exc.Timeout)
    assert time.monotonic() - start < 4


def test_timeout_validation(server):
    with pytest.raises(ValueError):
        petro.get(server.url("/echo"), timeout=(1, 2, 3))
    with pytest.raises(ValueError):
        petro.get(server.url("/echo"), timeout="5")
    with pytest.raises(ValueError):
        petro.get(server.url("/echo"), timeout=-1)
    assert petro.get(server.url("/echo"), timeout=None).ok
    assert petro.get(server.url("/echo"), timeout=(None, 5)).ok


def test_truncated_body(server):
    with pytest.raises(exc.ChunkedEncodingError):
        petro.get(server.url("/truncated"))


def test_non_json_body(server):
    r = petro.get(server.url("/lines"))
    with pytest.raises(exc.JSONDecodeError) as e:
        r.json()
    assert isinstance(e.value, json.JSONDecodeError)
    assert e.value.pos == 0 and e.value.lineno == 1
    clone = pickle.loads(pickle.dumps(e.value))
    assert clone.pos == 0 and type(clone) is exc.JSONDecodeError


def test_exceptions_pickle_with_response(server):
    r = petro.get(server.url("/status?code=503"))
    with pytest.raises(exc.ServerError) as info:
        r.raise_for_status()
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is exc.ServerError
    assert clone.status_code == 503 and clone.response.json()["message"] == "status"
    assert str(clone) == str(info.value)


def test_invalid_ca_bundle_is_clear(server):
    with pytest.raises(exc.InvalidFileError) as e:
        petro.get("https://127.0.0.1:1/", verify="/nonexistent/ca.pem")
    assert "/nonexistent/ca.pem" in str(e.value)
    # As in requests, TLS options do not apply to plain HTTP (whose client is built
    # without the trust store): the same bundle does not stop an http:// request.
    with petro.Session() as s:
        assert s.get(server.url("/status?code=200"), verify="/nonexistent/ca.pem").ok
