"""The servers the benchmark talks to: nginx (static files, Basic-auth JSON) and wrk.

nginx from Debian serves every HTTP workload except the paginated one, so the
server's cost is small, constant and not petro's. It runs with one worker pinned
to ``SERVER_CPU``; the client process pins itself to ``CLIENT_CPU``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from data import REPLY, dumps, wells

USER, PASSWORD = "bench-app-id", "bench-secret-key"


def cpus() -> tuple[int | None, int | None]:
    """(server CPU, client CPU): the first and last CPU we may run on; None on one CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[-1]


SERVER_CPU, CLIENT_CPU = cpus()


def taskset(cmd: list[str], cpu: int | None) -> list[str]:
    """``cmd`` pinned to ``cpu`` (unchanged when pinning is not possible)."""
    if cpu is None or not shutil.which("taskset"):
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ application/json json; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;
        location /api/ {{
            auth_basic "bench";
            auth_basic_user_file {root}/htpasswd;
            # A POST to a static file is a 405; answer it with the file instead.
            error_page 405 =200 $uri;
        }}
    }}
}}
"""


class Nginx:
    """nginx on a free loopback port, serving the benchmark's files.

    Files: ``/api/reply.json`` (Basic auth; GET or POST), and those given to
    ``write_files`` (the suite's: ``/wells-10k.json``, ~5 MB; ``/wells-100k.json``, ~54 MB).
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="petro-bench-nginx-"))
        self.root.chmod(0o755)  # nginx's worker runs as an unprivileged user
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.files: dict[str, bytes] = {}

    def write_files(self, sizes: dict[str, int]) -> dict[str, list]:
        """Write the JSON files; returns the records of each, for validation."""
        www = self.root / "www"
        (www / "api").mkdir(parents=True)
        (www / "api" / "reply.json").write_bytes(dumps(REPLY))
        out = {}
        for name, n in sizes.items():
            recs = wells(n)
            body = dumps(recs)
            (www / name).write_bytes(body)
            self.files[name] = body
            out[name] = recs
        # nginx's Basic-auth file with a plain-text password (a test-only server).
        (self.root / "htpasswd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        return out

    def start(self) -> Nginx:
        if self.proc is not None:
            return self
        conf = self.root / "nginx.conf"
        conf.write_text(CONF.format(root=self.root, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise RuntimeError("nginx not found: apt-get install -y nginx-light")
        cmd = taskset([nginx, "-c", str(conf), "-p", str(self.root)], SERVER_CPU)
        self.proc = subprocess.Popen(cmd, stderr=open(self.root / "stderr.log", "wb"))
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "nginx did not start: " + (self.root / "stderr.log").read_text()
                    ) from None
                time.sleep(0.05)
        # Sanity: auth is enforced and the POST trick answers the file.
        req = urllib.request.Request(self.url + "/api/reply.json", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req)
            raise RuntimeError("nginx answered without auth")
        except urllib.error.HTTPError as e:
            if e.code != 401:
                raise
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *a: object) -> None:
        self.stop()


WRK_LUA = """\
wrk.method = "POST"
wrk.body = {body!r}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
"""


def wrk_limit(url: str, body: bytes, auth_header: str, conns: int, seconds: float) -> float | None:
    """Requests/s wrk gets from ``url`` (POST, keep-alive, ``conns`` connections); None without wrk."""
    wrk = shutil.which("wrk")
    if not wrk:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        # repr() of ASCII JSON is a single-quoted string Lua reads the same way.
        f.write(WRK_LUA.format(body=body.decode(), auth=auth_header))
        script = f.name
    try:
        cmd = taskset(
            [wrk, "-t1", f"-c{conns}", f"-d{seconds}s", "-s", script, url],
            CLIENT_CPU,
        )
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(script)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or "Non-2xx" in out:
        raise RuntimeError("wrk failed: " + out)
    return float(m.group(1))
