"""TLS verification options and proxy selection against real local servers."""

import http.server
import json
import ssl
import threading

import pytest

import petro

trustme = pytest.importorskip("trustme")


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        peer = self.connection.getpeercert()
        body = json.dumps({"tls": True, "client_cert": bool(peer)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def https_server(ca, tmp_path_factory):
    """An HTTPS server on 127.0.0.1 whose certificate is signed by a test CA."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    ca.configure_trust(ctx)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # accept client certificates when offered
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    d = tmp_path_factory.mktemp("tls")
    ca_pem = d / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    yield f"https://localhost:{httpd.server_address[1]}/", str(ca_pem), d
    httpd.shutdown()
    httpd.server_close()


def test_untrusted_certificate_raises_ssl_error(https_server):
    url, _, _ = https_server
    with pytest.raises(petro.SSLError) as e:
        petro.get(url)
    assert "verify=" in str(e.value)  # says what to do


def test_verify_with_ca_bundle(https_server):
    url, ca_pem, _ = https_server
    assert petro.get(url, verify=ca_pem).json()["tls"] is True


def test_verify_false(https_server):
    url, _, _ = https_server
    assert petro.get(url, verify=False).ok


@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_from_environment(https_server, monkeypatch, var):
    url, ca_pem, _ = https_server
    monkeypatch.setenv(var, ca_pem)
    with petro.Session() as s:
        assert s.get(url).ok


def _serve(cert, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_wrong_hostname_fails(ca, https_server):
    _, ca_pem, _ = https_server
    httpd = _serve(ca.issue_cert("other.example"), ca)
    try:
        with pytest.raises(petro.SSLError):
            petro.get(f"https://127.0.0.1:{httpd.server_address[1]}/", verify=ca_pem)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_expired_certificate_fails(ca, https_server):
    import datetime

    _, ca_pem, _ = https_server
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    httpd = _serve(
        ca.issue_cert("127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past),
        ca,
    )
    try:
        with pytest.raises(petro.SSLError) as e:
            petro.get(f"https://127.0.0.1:{httpd.server_address[1]}/", verify=ca_pem)
        assert "xpired" in str(e.value)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_client_certificate(https_server, ca):
    url, ca_pem, d = https_server
    client = ca.issue_cert("client@example.com")
    cert_path, key_path = d / "client.pem", d / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert_path))
    client.private_key_pem.write_to_path(str(key_path))
    r = petro.get(url, verify=ca_pem, cert=(str(cert_path), str(key_path)))
    assert r.json()["client_cert"] is True
    assert petro.get(url, verify=ca_pem).json()["client_cert"] is False


def test_explicit_proxy(server, other_server):
    target = other_server.url("/echo")
    got = petro.get(target, proxies={"http": server.url()}).json()
    assert got["proxied"] == target


def test_proxy_from_environment_and_no_proxy(server, other_server, monkeypatch):
    target = other_server.url("/echo")
    monkeypatch.setenv("HTTP_PROXY", server.url())
    assert petro.get(target).json()["proxied"] == target
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert "proxied" not in petro.get(target).json()


def test_explicit_proxy_merges_with_environment(server, other_server, monkeypatch):
    # reqwest alone would drop the environment once any proxy is explicit.
    target = other_server.url("/echo")
    monkeypatch.setenv("HTTP_PROXY", server.url())
    got = petro.get(target, proxies={"https": "http://127.0.0.1:9"}).json()
    assert got["proxied"] == target
    with petro.Session() as s:
        s.trust_env = False
        assert "proxied" not in s.get(target, proxies={"https": "http://127.0.0.1:9"}).json()


def test_request_many_reads_the_proxy_environment_at_each_call(server, other_server, monkeypatch):
    # A batch reads the proxy variables once, when it is sent: a change between
    # two batches applies to the second, and NO_PROXY applies per URL.
    target = other_server.url("/echo")
    direct = f"http://localhost:{server.port}/echo"
    with petro.Session() as s:
        batch = [("GET", target), ("GET", direct), ("GET", target)]
        assert all("proxied" not in r.json() for r in s.request_many(batch))
        monkeypatch.setenv("HTTP_PROXY", server.url())
        monkeypatch.setenv("NO_PROXY", "localhost")
        got = [r.json() for r in s.request_many(batch)]
        assert [g.get("proxied") for g in got] == [target, None, target]
        monkeypatch.delenv("HTTP_PROXY")
        assert all("proxied" not in r.json() for r in s.request_many(batch))
