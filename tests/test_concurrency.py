"""Threads, fork and Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import petro


def test_threads_share_one_session(server):
    threads, per_thread = 32, 200
    errors = []
    with petro.Session() as s:

        def work(t):
            for i in range(per_thread):
                r = s.post(server.url(f"/echo?t={t}&i={i}"), json={"t": t, "i": i})
                got = r.json()
                if got["path"] != f"/echo?t={t}&i={i}" or got["body"] == "":
                    errors.append((t, i, got["path"]))
            return per_thread

        with ThreadPoolExecutor(threads) as pool:
            done = sum(pool.map(work, range(threads)))
    assert errors == []
    assert done == threads * per_thread


def _in_daemon(fn):
    """Run ``fn`` in a daemon thread; (thread, box) where box gets its result."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_a_streamed_body_is_read_where_its_connection_lives(server):
    # A thread that waits while others wait too runs on the multi-thread runtime; the
    # main thread (or a thread waiting alone) drives the current-thread one, whose
    # connections move only while some thread waits on it. A streamed body must be
    # read on the runtime that fetched it, whichever thread reads it.
    with petro.Session() as s:
        # Fetched on the main thread; read by a worker while another worker waits on the
        # multi-thread runtime (it started while a third waited), so that no thread
        # but the reader can drive the current-thread runtime.
        r = s.get(server.url("/slowbody?delay=0.3"), stream=True)
        first, first_box = _in_daemon(lambda: s.get(server.url("/slow?delay=0.5")).text)
        time.sleep(0.15)
        busy, busy_box = _in_daemon(lambda: s.get(server.url("/slow?delay=3")).text)
        first.join(20)
        assert first_box.get("value") == "slow", first_box
        reader, box = _in_daemon(lambda: r.content)
        reader.join(10)
        assert not reader.is_alive(), "the body's connection was never driven"
        assert box.get("value") == b"1234567890", box
        busy.join(20)
        assert busy_box.get("value") == "slow", busy_box

        # Fetched by a worker while another waits; read by the main thread.
        busy, busy_box = _in_daemon(lambda: s.get(server.url("/slow?delay=1.5")).text)
        time.sleep(0.2)
        fetcher, got = _in_daemon(lambda: s.get(server.url("/slowbody?delay=0.3"), stream=True))
        fetcher.join(20)
        assert b"".join(got["value"].iter_content(None)) == b"1234567890"
        busy.join(20)
        assert busy_box.get("value") == "slow", busy_box


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_can_use_petro(server):
    # Parent uses petro first, so the runtime and pool exist before the fork.
    with petro.Session() as s:
        assert s.get(server.url("/echo")).ok
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                ok1 = s.get(server.url("/echo?child=1"), timeout=10).ok
                ok2 = petro.get(server.url("/echo?child=2"), timeout=10).ok
                code = 0 if ok1 and ok2 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        assert s.get(server.url("/echo")).ok  # parent still fine


def test_multiprocessing_fork_pool(server):
    script = textwrap.dedent(f"""
        import multiprocessing as mp, petro
        petro.get({server.url("/echo")!r})
        def job(i):
            return petro.get({server.url("/echo")!r} + '?i=%d' % i, timeout=10).json()['path']
        if __name__ == '__main__':
            with mp.get_context('fork').Pool(2) as pool:
                out = pool.map(job, range(6))
            assert out == ['/echo?i=%d' % i for i in range(6)], out
            print('ok')
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_ctrl_c_interrupts_request_and_session_survives(server):
    script = textwrap.dedent(f"""
        import sys, time, petro
        s = petro.Session()
        print('ready', flush=True)
        start = time.monotonic()
        try:
            s.get({server.url("/hang?max=20")!r}, timeout=None)
            print('finished?!', flush=True)
        except KeyboardInterrupt:
            print('interrupted %.2f' % (time.monotonic() - start), flush=True)
        r = s.get({server.url("/echo")!r}, timeout=10)
        print('after', r.status_code, flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    timer = threading.Timer(0.7, lambda: proc.send_signal(signal.SIGINT))
    timer.start()
    out, err = proc.communicate(timeout=30)
    lines = out.strip().splitlines()
    assert lines[0].startswith("interrupted"), (out, err)
    waited = float(lines[0].split()[1])
    assert waited < 0.7 + 1.0, waited  # interrupted within 1 s of the signal
    assert lines[1] == "after 200"


def test_blocking_call_inside_event_loop_thread_works(server):
    import asyncio

    async def main():
        # A notebook cell that is not async: the sync API inside a running loop.
        return petro.get(server.url("/echo")).status_code

    assert asyncio.run(main()) == 200


class _ClosesIdleConnections:
    """Answers one request per connection with keep-alive promised, then
    closes the connection once it has been idle for `idle` seconds, the way
    servers with a short keepalive_timeout do."""

    def __init__(self, idle=0.1):
        import socket

        self.idle = idle
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        import time

        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            body = b'{"ok": true}'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            time.sleep(self.idle)
        # Closed here: the client's pooled connection is now dead.

    def close(self):
        self.sock.close()


def test_pooled_connection_closed_by_the_server_while_idle_is_not_reused():
    # The blocking API drives its connections only while a call is running, so
    # the pool must still notice a connection the server closed in between
    # (the next request goes out on a fresh one instead of failing).
    import time

    srv = _ClosesIdleConnections(idle=0.05)
    try:
        url = f"http://127.0.0.1:{srv.port}/"
        with petro.Session() as s:
            for _ in range(5):
                assert s.get(url).json() == {"ok": True}
                time.sleep(0.3)
        assert petro.get(url).json() == {"ok": True}
        time.sleep(0.3)
        assert petro.get(url).json() == {"ok": True}
        assert srv.connections >= 7
    finally:
        srv.close()


def test_streamed_response_from_the_blocking_api_can_be_read_with_aiter_bytes(server):
    import asyncio

    with petro.Session() as s:
        r = s.get(server.url("/slowbody?delay=0.2"), stream=True)

        async def read():
            return b"".join([c async for c in r.aiter_bytes()])

        body = asyncio.run(asyncio.wait_for(read(), 10))
    assert body == b"1234567890"
