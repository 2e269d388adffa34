"""Soak test: many requests over many threads on one petro.Session, with RSS sampled.

Long form (not run in CI; about an hour on two cores):

    python tools/soak.py --requests 1000000 --threads 32

CI runs a short form through tests/test_soak.py. The server is nginx when it is
installed (Debian's nginx-light; started here on a free loopback port), else a
small threaded Python server. Reports RSS growth after warm-up (target: < 5 %)
and errors (target: none). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import petro

BODY = json.dumps({"wells": [{"wellId": f"{i:014d}", "oil": i * 1.5} for i in range(20)]}).encode()


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """nginx when available, else a Python server; `url` accepts POST and answers JSON."""

    def __init__(self, use_nginx: bool = True) -> None:
        self.proc = None
        self.httpd = None
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
        )
        if use_nginx and nginx:
            self.dir = tempfile.mkdtemp(prefix="petro-soak-")
            port = _free_port()
            with open(os.path.join(self.dir, "data.json"), "wb") as f:
                f.write(BODY)
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(
                    f"worker_processes 1; daemon off; pid {self.dir}/nginx.pid; error_log {self.dir}/error.log;\n"
                    "events { worker_connections 1024; }\n"
                    f"http {{ access_log off; keepalive_requests 1000000; keepalive_timeout 60;\n"
                    f"  client_body_temp_path {self.dir}; proxy_temp_path {self.dir};\n"
                    f"  fastcgi_temp_path {self.dir}; uwsgi_temp_path {self.dir}; scgi_temp_path {self.dir};\n"
                    f"  server {{ listen 127.0.0.1:{port}; root {self.dir}; default_type application/json;\n"
                    "    error_page 405 =200 $uri; } }\n"
                )
            self.proc = subprocess.Popen(
                [nginx, "-c", conf, "-p", self.dir], stderr=subprocess.DEVNULL
            )
            self.url = f"http://127.0.0.1:{port}/data.json"
            self.kind = "nginx"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
        else:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            self.httpd.daemon_threads = True
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
            self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data.json"
            self.kind = "python"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


def soak(requests: int, threads: int, use_nginx: bool = True, samples: int = 20) -> dict:
    server = Server(use_nginx)
    errors: list[str] = []
    done = 0
    lock = threading.Lock()
    rss: list[tuple[int, int]] = []
    payload = {"type": "Well", "query": {"basinName": "Permian"}, "options": {"limit": 20}}
    try:
        with petro.Session() as s:
            s.auth = ("app", "secret")
            per_thread = requests // threads

            def work() -> None:
                nonlocal done
                for _ in range(per_thread):
                    try:
                        r = s.post(server.url, json=payload)
                        if r.status_code != 200 or len(r.json()["wells"]) != 20:
                            errors.append(f"bad response {r.status_code}")
                    except Exception as e:  # a soak records every failure
                        errors.append(repr(e))
                    with lock:
                        done += 1

            pool = [threading.Thread(target=work) for _ in range(threads)]
            start = time.monotonic()
            for t in pool:
                t.start()
            total = per_thread * threads
            step = max(total // samples, 1)
            next_mark = 0
            while any(t.is_alive() for t in pool):
                if done >= next_mark:
                    rss.append((done, rss_kb()))
                    next_mark += step
                time.sleep(0.05)
            for t in pool:
                t.join()
            rss.append((done, rss_kb()))
            elapsed = time.monotonic() - start
    finally:
        server.stop()
    warm = [kb for n, kb in rss if n >= total * 0.2] or [rss[-1][1]]
    growth = (rss[-1][1] - warm[0]) / warm[0] * 100 if warm[0] else 0.0
    return {
        "server": server.kind,
        "requests": done,
        "threads": threads,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(done / elapsed, 1) if elapsed else None,
        "rss_after_warmup_kb": warm[0],
        "rss_end_kb": rss[-1][1],
        "rss_growth_percent": round(growth, 2),
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--python-server", action="store_true", help="do not use nginx")
    args = ap.parse_args(argv)
    report = soak(args.requests, args.threads, use_nginx=not args.python_server)
    print(json.dumps(report, indent=2))
    ok = report["errors"] == 0 and report["rss_growth_percent"] < 5.0
    print("PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
