"""Threads, fork and Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
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
