"""A small real HTTP server for tests that need odd behaviour (slow, hanging,
redirecting, compressed); runs in a thread on 127.0.0.1 and a free port."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=None, reason=None):
        self.send_response(status, reason)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            if isinstance(v, list):
                for item in v:
                    self.send_header(k, item)
            else:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self._body()
        server = self.server
        server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": list(self.headers.items()),
                "body": body,
            }
        )
        p = url.path
        if self.path.startswith(("http://", "https://")):
            # Used as a forward proxy: say so, and what was asked for.
            out = {"proxied": self.path, "headers": [[k, v] for k, v in self.headers.items()]}
            self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
            return
        if p == "/echo":
            out = {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": base64.b64encode(body).decode(),
            }
            self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
        elif p == "/gate":
            # Answer only once `n` requests in all have reached the server (or
            # after 10 s): says whether the others came while this one waited.
            n = int(q.get("n", "2"))
            deadline = time.monotonic() + 10
            while len(server.requests) < n and time.monotonic() < deadline:
                time.sleep(0.005)
            out = {"others_came": len(server.requests) >= n}
            self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
        elif p == "/slow":
            time.sleep(float(q.get("delay", "1")))
            self._send(200, b"slow", {"Content-Type": "text/plain"})
        elif p == "/hang":
            server.hang.wait(float(q.get("max", "30")))
            try:
                self._send(200, b"late")
            except OSError:
                pass
        elif p == "/slowbody":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"12345")
            self.wfile.flush()
            time.sleep(float(q.get("delay", "2")))
            try:
                self.wfile.write(b"67890")
            except OSError:
                pass
        elif p == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"a": 1')
            self.wfile.flush()
            self.close_connection = True
        elif p == "/redirect":
            status = int(q.get("status", "302"))
            self._send(status, b"moved", {"Location": q.get("to", "/echo")})
        elif p == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif p == "/flaky":
            # Fails `fails` times per key with `code`, then succeeds.
            key = q.get("key", "default")
            seen = server.counters.get(key, 0)
            server.counters[key] = seen + 1
            if seen < int(q.get("fails", "2")):
                headers = {"Content-Type": "application/json"}
                if "retry_after" in q:
                    headers["Retry-After"] = q["retry_after"]
                body = json.dumps({"error": "busy", "attempt": seen + 1}).encode()
                self._send(int(q.get("code", "503")), body, headers)
            else:
                body = json.dumps({"ok": True, "attempts": seen + 1}).encode()
                self._send(200, body, {"Content-Type": "application/json"})
        elif p == "/status":
            code = int(q.get("code", "200"))
            self._send(
                code,
                json.dumps({"error": "x", "message": "status"}).encode(),
                {"Content-Type": "application/json", "X-Request-Id": "req-123"},
            )
        elif p == "/cookies/set":
            self._send(200, b"ok", {"Set-Cookie": [f"{k}={v}; Path=/" for k, v in q.items()]})
        elif p == "/reflect":
            # The request's body, sent back as JSON.
            self._send(200, body, {"Content-Type": "application/json"})
        elif p == "/bytes":
            data = bytes.fromhex(q.get("hex", ""))
            self._send(200, data, {"Content-Type": q.get("ctype", "application/octet-stream")})
        elif p == "/api/data/query":
            # Petro.ai paging over `server.total_records` records {"i": n}.
            opts = json.loads(body or b"{}").get("options", {})
            lo = opts.get("skip", 0)
            hi = min(lo + opts.get("limit", 100), getattr(server, "total_records", 0))
            out = [{"i": i} for i in range(lo, hi)]
            self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
        elif p == "/records":
            # A page of `n` records.
            out = [{"i": i} for i in range(int(q.get("n", "0")))]
            self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
        elif p == "/chunked":
            # The body in chunks cut at `cuts`, each written (and flushed) apart.
            data = bytes.fromhex(q.get("hex", ""))
            cuts = [0, *(int(c) for c in q.get("cuts", "").split(",") if c), len(data)]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for a, b in itertools.pairwise(cuts):
                if b > a:
                    self.wfile.write(b"%x\r\n%s\r\n" % (b - a, data[a:b]))
                    self.wfile.flush()
                    time.sleep(0.02)
            self.wfile.write(b"0\r\n\r\n")
        elif p.startswith("/encoded/"):
            enc = p.rsplit("/", 1)[1]
            raw = json.dumps({"encoding": enc, "data": list(range(100))}).encode()
            if enc == "gzip":
                data = gzip.compress(raw)
            elif enc == "deflate":
                data = zlib.compress(raw)
            elif enc == "br":
                import brotli

                data = brotli.compress(raw)
            elif enc == "zstd":
                import zstandard

                data = zstandard.ZstdCompressor().compress(raw)
            else:
                data = b"\x00garbage"
                enc = "gzip"
            self._send(200, data, {"Content-Type": "application/json", "Content-Encoding": enc})
        elif p == "/lines":
            self._send(200, b"one\ntwo\r\nthree\n\nfive", {"Content-Type": "text/plain"})
        elif p == "/links":
            self._send(
                200,
                b"",
                {"Link": '<https://x/?page=2>; rel="next", <https://x/?page=9>; rel="last"'},
            )
        else:
            self._send(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class TestServer:
    """``with TestServer() as s: s.url("/echo")``."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.httpd.hang = threading.Event()
        self.httpd.counters = {}
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self):
        return self.httpd.requests

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        # From here on, a handler's error is a kept-alive connection dropped as the
        # tests end (its thread outlives the server): not worth a traceback.
        self.httpd.handle_error = lambda request, client_address: None
        self.httpd.hang.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class ProcessServer:
    """A TestServer in a process of its own, for tests where the server must not
    take this process's GIL (``with ProcessServer() as s: s.url("/echo")``)."""

    def __enter__(self):
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        return self

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def __exit__(self, *a):
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the child stops at the end of its stdin
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            raise
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


if __name__ == "__main__":
    import sys

    with TestServer() as s:
        # Quiet about connections the tests' clients drop (idle keep-alive ones are
        # reset when the test process exits): its tests check what the client sees.
        s.httpd.handle_error = lambda request, client_address: None
        print(s.port, flush=True)
        sys.stdin.read()
