"""A real forward proxy (tinyproxy, from Debian) in front of the test server."""

import os
import shutil
import socket
import subprocess
import time

import pytest

import petro

TINYPROXY = shutil.which("tinyproxy") or (
    "/usr/bin/tinyproxy" if os.path.exists("/usr/bin/tinyproxy") else None
)
pytestmark = pytest.mark.skipif(
    TINYPROXY is None and not os.environ.get("CI"),
    reason="tinyproxy is not installed (CI installs it)",
)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory):
    assert TINYPROXY, "tinyproxy must be installed in CI"
    d = tmp_path_factory.mktemp("tinyproxy")
    port = _free_port()
    log = d / "tinyproxy.log"
    conf = d / "tinyproxy.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\n"
        f'LogFile "{log}"\nLogLevel Connect\nAllow 127.0.0.1\n'
        "DisableViaHeader No\n"
    )
    proc = subprocess.Popen(
        [TINYPROXY, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", log
    proc.terminate()
    proc.wait(timeout=10)


def proxied(resp):
    """tinyproxy adds a Via header on the way to the server."""
    headers = {k.lower(): v for k, v in resp.json()["headers"]}
    return "tinyproxy" in headers.get("via", "")


def test_through_http_proxy_env(server, tinyproxy, monkeypatch):
    url, _ = tinyproxy
    monkeypatch.setenv("HTTP_PROXY", url)
    assert proxied(petro.get(server.url("/echo")))


def test_through_proxies_argument(server, tinyproxy):
    url, _ = tinyproxy
    assert proxied(petro.get(server.url("/echo"), proxies={"http": url}))
    assert not proxied(petro.get(server.url("/echo")))


def test_env_and_argument_merged(server, tinyproxy, monkeypatch):
    url, _ = tinyproxy
    monkeypatch.setenv("HTTP_PROXY", url)
    # An explicit https proxy must not make petro forget the environment's http proxy.
    assert proxied(petro.get(server.url("/echo"), proxies={"https": "http://127.0.0.1:9"}))


def test_no_proxy_bypasses(server, tinyproxy, monkeypatch):
    url, _ = tinyproxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert not proxied(petro.get(server.url("/echo")))


def test_proxy_down_is_a_proxy_error(server, closed_port):
    with pytest.raises(petro.ProxyError):
        petro.get(
            server.url("/echo"), proxies={"http": f"http://127.0.0.1:{closed_port}"}, timeout=5
        )


def test_https_through_the_proxy_with_connect(tinyproxy, monkeypatch, tmp_path):
    """HTTPS_PROXY: a CONNECT tunnel through tinyproxy to a local TLS server."""
    trustme = pytest.importorskip("trustme")
    import http.server
    import ssl
    import threading

    class Hello(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    url, log = tinyproxy
    try:
        monkeypatch.setenv("HTTPS_PROXY", url)
        r = petro.get(f"https://127.0.0.1:{httpd.server_address[1]}/", verify=str(ca_pem))
        assert r.text == "hello"
        assert "CONNECT" in log.read_text()  # it really went through the tunnel
    finally:
        httpd.shutdown()
        httpd.server_close()
