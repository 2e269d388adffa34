"""Faults from the emulator and a streaming server: the right error, never a partial result."""

import http.server
import resource
import threading
import time
import uuid

import pytest

import petro
from petro.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=60, sample_months=1) as e:
        yield e


@pytest.fixture
def client(emu):
    c = petro.PetroAI(
        emu.url,
        app_id=emu.app_id,
        secret_key=emu.secret_key,
        progress=False,
        retries=petro.Retry(2, backoff_factor=0.01),
        timeout=(5, 1.0),
    )
    yield c
    emu.clear_faults()
    c.close()


def query_url(emu):
    return emu.url + "/api/data/query"


BODY = {"type": "Well", "query": {}, "options": {"limit": 50}}


def test_dropped_connection_mid_body(emu):
    emu.inject_fault(route="/api/data/query", kind="drop")
    with pytest.raises(petro.ChunkedEncodingError):
        petro.post(query_url(emu), auth=emu.auth, json=BODY)


def test_slow_headers_hit_the_read_timeout(emu):
    emu.inject_fault(route="/api/data/query", kind="delay", delay_ms=3000)
    start = time.monotonic()
    with pytest.raises(petro.ReadTimeout):
        petro.post(query_url(emu), auth=emu.auth, json=BODY, timeout=(5, 0.5))
    assert time.monotonic() - start < 2.5  # within its bound, not the server's delay


def test_slow_body_within_and_beyond_the_read_timeout(emu):
    emu.inject_fault(route="/api/data/query", kind="slow_body", chunk_bytes=4096, chunk_delay_ms=20)
    r = petro.post(query_url(emu), auth=emu.auth, json=BODY, timeout=(5, 1))
    assert len(r.json()) == 50  # slow but steady: each read is within the timeout
    emu.inject_fault(route="/api/data/query", kind="slow_body", chunk_bytes=64, chunk_delay_ms=1500)
    with pytest.raises((petro.ReadTimeout, petro.ChunkedEncodingError)):
        petro.post(query_url(emu), auth=emu.auth, json=BODY, timeout=(5, 0.5))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bursts_are_retried_as_the_policy_says(client, emu, status):
    emu.inject_fault(route="/api/data/query", kind="status", status=status, times=2)
    if status == 500:  # not in the retry list: fails at once
        with pytest.raises(petro.ServerError):
            client.data.query("Well", limit=5)
        emu.clear_faults()
    else:
        assert len(client.data.query("Well", limit=5)) == 5
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=3)
    with pytest.raises(petro.ServerError) as e:
        client.data.query("Well", limit=5)  # 1 try + 2 retries, all 503
    assert e.value.status_code == 503


@pytest.mark.parametrize("retry_after", [None, 1])
def test_429_with_and_without_retry_after(client, emu, retry_after):
    fault = {"route": "/api/data/query", "kind": "status", "status": 429, "times": 1}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    emu.inject_fault(fault)
    assert len(client.data.query("Well", limit=5)) == 5
    emu.inject_fault({**fault, "times": 5})
    with pytest.raises(petro.RateLimitError) as e:
        client.data.query("Well", limit=5)
    assert (e.value.retry_after is not None) == (retry_after is not None)


@pytest.mark.parametrize("kind", ["truncate", "malformed"])
def test_broken_json_is_an_error_never_a_partial_result(client, emu, kind):
    emu.inject_fault(route="/api/data/query", kind=kind)
    r = petro.post(query_url(emu), auth=emu.auth, json=BODY)
    with pytest.raises(petro.JSONDecodeError):
        r.json()
    emu.inject_fault(route="/api/data/query", kind=kind)
    with pytest.raises(petro.JSONDecodeError):
        client.data.query("Well", limit=5)


def test_redirect_loop_and_cross_host_redirect(emu, server):
    emu.inject_fault(
        route="/api/data/types", kind="redirect", location=emu.url + "/api/data/types", times=-1
    )
    with pytest.raises(petro.TooManyRedirects):
        petro.get(emu.url + "/api/data/types", auth=emu.auth)
    emu.clear_faults()
    emu.inject_fault(route="/api/data/types", kind="redirect", location=server.url("/echo"))
    r = petro.get(emu.url + "/api/data/types", auth=emu.auth, headers={"Cookie": "session=abc"})
    headers = dict(r.json()["headers"])
    assert "Authorization" not in headers and "Cookie" not in headers


def test_pagination_with_faults_either_complete_or_says_where(emu):
    c = petro.PetroAI(
        emu.url,
        app_id=emu.app_id,
        secret_key=emu.secret_key,
        progress=False,
        retries=petro.Retry(3, backoff_factor=0.01),
    )
    # Transient faults during the scan: retried, every record exactly once.
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=2)
    emu.inject_fault(route="/api/data/query", kind="drop", times=1)
    ids = [w["wellId"] for w in c.data.query("Well", page_size=7)]
    emu.clear_faults()
    assert len(ids) == len(set(ids)) == 60


class _Huge(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    SIZE = 2 * 1024**3  # 2 GiB, generated on the fly

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(self.SIZE))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        sent = 0
        try:
            while sent < self.SIZE:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass


def test_two_gigabyte_body_streams_in_bounded_memory():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{uuid.uuid4().hex}"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        total = 0
        with petro.get(url, stream=True) as r:
            for chunk in r.iter_content(chunk_size=None):
                total += len(chunk)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert total == _Huge.SIZE
        assert grown_mb < 200, grown_mb  # streaming never holds the body
    finally:
        httpd.shutdown()
        httpd.server_close()
