"""petro.AsyncSession: every verb, streaming, errors, cancellation, scale, notebooks, fork."""

import asyncio
import base64
import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

import petro
from petro.emulator import Emulator

HANG = 60  # generous bound for hang detection only


class HoldServer:
    """Accepts requests and never answers; records when a client closes its connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Semaphore(0)
        self.closed = threading.Semaphore(0)
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path="/hold"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        conn.settimeout(HANG)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                piece = conn.recv(4096)
                if not piece:
                    return
                buf += piece
            self.accepted.release()
            while conn.recv(4096):  # until the client hangs up
                pass
            self.closed.release()
        except OSError:
            self.closed.release()
        finally:
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def hold():
    s = HoldServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=1000, sample_months=1) as e:
        yield e


def echo(r):
    return r.json()


# -- the verbs ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_verb_matches_the_sync_session(server):
    async with petro.AsyncSession() as a:
        with petro.Session() as s:
            for name in ("get", "options", "delete"):
                got = echo(await getattr(a, name)(server.url("/echo?x=1"), headers={"X-A": "1"}))
                want = echo(getattr(s, name)(server.url("/echo?x=1"), headers={"X-A": "1"}))
                assert got == want and got["method"] == name.upper()
            for name in ("post", "put", "patch"):
                got = echo(await getattr(a, name)(server.url("/echo"), data={"k": "v"}))
                want = echo(getattr(s, name)(server.url("/echo"), data={"k": "v"}))
                assert got == want and base64.b64decode(got["body"]) == b"k=v"
            r = await a.post(server.url("/echo"), json={"a": [1, 2]}, params={"q": "z"})
            assert base64.b64decode(r.json()["body"]) == b'{"a": [1, 2]}'
            assert r.json()["path"] == "/echo?q=z"
            head = await a.head(server.url("/echo"))
            assert head.status_code == 200 and head.content == b""
            r = await a.request("GET", server.url("/echo"), auth=("u", "p"))
            assert ["Authorization", "Basic dTpw"] in r.json()["headers"]
            assert isinstance(r, petro.Response) and r.request.method == "GET"


@pytest.mark.asyncio
async def test_session_defaults_cookies_and_hooks(server):
    seen = []
    async with petro.AsyncSession() as a:
        a.headers["X-Default"] = "d"
        a.hooks["response"].append(lambda r: seen.append(r.status_code))
        await a.get(server.url("/cookies/set?flavour=oat"))
        assert a.cookies.get("flavour") == "oat"
        got = echo(await a.get(server.url("/echo")))
        headers = dict((k.lower(), v) for k, v in got["headers"])
        assert headers["x-default"] == "d" and "flavour=oat" in headers["cookie"]
        assert seen == [200, 200]
        assert "AsyncSession" in repr(a)
    await a.aclose()


@pytest.mark.asyncio
async def test_redirects_and_status_errors(server):
    async with petro.AsyncSession() as a:
        r = await a.get(server.url("/redirect?to=/echo"))
        assert r.status_code == 200 and [h.status_code for h in r.history] == [302]
        r = await a.get(server.url("/status?code=503"))
        with pytest.raises(petro.exceptions.ServerError):
            r.raise_for_status()
        with pytest.raises(petro.TooManyRedirects):
            await a.get(server.url("/loop"))


@pytest.mark.asyncio
async def test_connection_errors_and_timeouts_raise_typed(server, closed_port):
    async with petro.AsyncSession() as a:
        with pytest.raises(petro.ConnectionError) as info:
            await a.get(f"http://127.0.0.1:{closed_port}/x", timeout=5)
        assert info.value.request is not None and info.value.request.method == "GET"
        with pytest.raises(petro.ReadTimeout):
            await a.get(server.url("/slow?delay=3"), timeout=(5, 0.3))
        with pytest.raises(petro.MissingSchema):
            await a.get("example.invalid/path")
        with pytest.raises(petro.InvalidHeader):
            await a.get(server.url("/echo"), headers={"X": 1})
        assert (await a.get(server.url("/echo"))).ok


@pytest.mark.asyncio
async def test_retries_apply(server):
    async with petro.AsyncSession(retries=petro.Retry(3, backoff_factor=0.01)) as a:
        r = await a.get(server.url("/flaky?key=async-retry&fails=2"))
        assert r.json() == {"ok": True, "attempts": 3}


# -- streaming ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_streaming_aiter_bytes_and_aread(server):
    async with petro.AsyncSession() as a:
        r = await a.get(server.url("/slowbody?delay=0.2"), stream=True)
        chunks = [c async for c in r.aiter_bytes()]
        assert b"".join(chunks) == b"1234567890"
        with pytest.raises(petro.StreamConsumedError):
            [c async for c in r.aiter_bytes()]

        r = await a.get(server.url("/lines"), stream=True)
        assert [c async for c in r.aiter_bytes(4)] == [
            b"one\n",
            b"two\r",
            b"\nthr",
            b"ee\n\n",
            b"five",
        ]

        r = await a.get(server.url("/encoded/gzip"), stream=True)
        assert (await r.aread())[:1] == b"{" and r.json()["encoding"] == "gzip"

        r = await a.get(server.url("/lines"))  # not streamed: from memory
        assert b"".join([c async for c in r.aiter_bytes()]) == r.content

        r = await a.get(server.url("/slowbody?delay=5"), stream=True)
        await r.aclose()
        with pytest.raises(ValueError):
            [c async for c in r.aiter_bytes(0)]


# -- cancellation ------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_for_cancels_and_closes_the_connection(hold, server):
    async with petro.AsyncSession() as a:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(a.get(hold.url(), timeout=None), 0.3)
        assert hold.accepted.acquire(timeout=HANG)
        # The server sees the connection closed: the Rust future was dropped.
        assert await asyncio.to_thread(hold.closed.acquire, True, HANG)
        assert (await a.get(server.url("/echo"))).ok  # the session still works


@pytest.mark.asyncio
async def test_task_cancel_closes_the_connection_and_streams_too(hold, server):
    async with petro.AsyncSession() as a:
        task = asyncio.ensure_future(a.get(hold.url(), timeout=None))
        assert await asyncio.to_thread(hold.accepted.acquire, True, HANG)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(hold.closed.acquire, True, HANG)

        r = await a.get(server.url("/slowbody?delay=30"), stream=True)

        async def drain():
            return [c async for c in r.aiter_bytes()]

        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(drain(), 0.3)
        assert (await a.get(server.url("/echo"))).ok


@pytest.mark.asyncio
async def test_request_many_async_cancel(hold, server):
    async with petro.AsyncSession() as a:
        batch = [("GET", hold.url(f"/hold?{i}")) for i in range(3)]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(a.request_many(batch, concurrency=3), 0.5)
        for _ in range(3):
            assert await asyncio.to_thread(hold.closed.acquire, True, HANG)
        assert (await a.get(server.url("/echo"))).ok


# -- scale -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_thousand_concurrent_requests_on_one_session(emu):
    with petro.Session() as s:
        s.auth = emu.auth
        body = {"type": "Well", "options": {"limit": 1000}}
        wells = s.post(emu.url + "/api/data/query", json=body).json()
    assert len(wells) == 1000

    async with petro.AsyncSession() as a:
        a.auth = emu.auth

        async def one(i):
            body = {"type": "Well", "options": {"skip": i, "limit": 1}}
            r = await a.post(emu.url + "/api/data/query", json=body)
            r.raise_for_status()
            return r.json()[0]

        got = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), HANG)
    assert [w["id"] for w in got] == [w["id"] for w in wells]


# -- running loops, notebooks, fork -----------------------------------------


@pytest.mark.asyncio
async def test_sync_and_async_api_inside_a_running_loop(server):
    # A notebook cell that is not async still runs inside the kernel's loop.
    assert asyncio.get_running_loop().is_running()
    assert petro.get(server.url("/echo?sync=1")).json()["path"] == "/echo?sync=1"
    with petro.Session() as s:
        assert s.request_many([("GET", server.url("/echo"))] * 3)[2].ok
    async with petro.AsyncSession() as a:
        r = await a.get(server.url("/echo?async=1"))
        assert r.json()["path"] == "/echo?async=1"


def test_jupyter_top_level_await(emu):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import asyncio, petro",
        f"s = petro.AsyncSession(); s.auth = ({emu.app_id!r}, {emu.secret_key!r})",
        f"r = await s.post({emu.url + '/api/data/query'!r}, json={{'type': 'Well', "
        "'options': {'limit': 3}}); assert len(r.json()) == 3",
        f"assert petro.get({emu.url + '/api/data/types'!r}, auth=s.auth).ok  # sync in the loop",
        f"rs = await s.request_many([('GET', {emu.url + '/api/data/types'!r})] * 5)\n"
        "assert all(x.ok for x in rs)",
        f"try:\n    await asyncio.wait_for(s.get({emu.url + '/api/data/types'!r}), 1e-4)\n"
        "except asyncio.TimeoutError:\n    pass\n"
        f"assert (await s.get({emu.url + '/api/data/types'!r})).ok",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=HANG, kernel_name="python3").execute()
    assert not [
        o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_gets_its_own_dispatcher(server):
    script = textwrap.dedent(f"""
        import asyncio, os, petro
        url = {server.url("/echo")!r}
        async def use(tag):
            async with petro.AsyncSession() as a:
                rs = await asyncio.gather(*(a.get(url + "?" + tag + str(i)) for i in range(20)))
                return all(r.json()["path"] == "/echo?" + tag + str(i) for i, r in enumerate(rs))
        assert asyncio.run(use("parent"))  # dispatcher + runtime exist before the fork
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if asyncio.run(asyncio.wait_for(use("child"), 30)) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
        assert asyncio.run(use("again"))
        print("ok")
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_exit_right_after_asyncio_requests_does_not_crash(server):
    # The dispatcher thread used to be mid-delivery (its call_soon_threadsafe
    # releases the GIL) while the interpreter finalized: the thread was stopped
    # in the middle of a call and the process died (SIGSEGV / SIGABRT) after
    # printing its output. It is now stopped and joined at exit. The race hit
    # about one run in five, so several runs.
    script = textwrap.dedent(f"""
        import asyncio, petro
        url = {server.url("/echo")!r}
        async def main():
            async with petro.AsyncSession() as a:
                rs = await asyncio.gather(*(a.get(url) for i in range(20)))
            return all(r.status_code == 200 for r in rs)
        assert asyncio.run(main())
        print("ok")
    """)
    for _ in range(8):
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG
        )
        assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr[-2000:]


# -- service clients ---------------------------------------------------------


@pytest.fixture(scope="module")
def small_emu():
    with Emulator(sample_wells=120, sample_months=12) as e:
        yield e


def creds(emu):
    return {"app_id": emu.app_id, "secret_key": emu.secret_key, "progress": False}


@pytest.mark.parametrize("concurrency", [1, 2, 4, 7])
@pytest.mark.parametrize(
    ("page_size", "limit", "skip"), [(50, None, 0), (100, 333, 10), (120, None, 0), (7, 40, 1430)]
)
def test_concurrent_paging_is_identical_to_a_sequential_scan(
    small_emu, concurrency, page_size, limit, skip
):
    with petro.PetroAI(small_emu.url, page_size=page_size, concurrency=1, **creds(small_emu)) as c:
        want = c.data.query("MonthlyProduction", limit=limit, skip=skip)
        got = c.data.query("MonthlyProduction", limit=limit, skip=skip, concurrency=concurrency)
        it = list(c.data.iter("MonthlyProduction", limit=limit, skip=skip, concurrency=concurrency))
    assert got == want == it
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids))


def test_concurrent_paging_with_the_envelope_count():
    with Emulator(sample_wells=30, sample_months=2, response_shape="envelope") as emu:
        with petro.PetroAI(emu.url, page_size=7, concurrency=1, **creds(emu)) as c:
            want = c.data.query("MonthlyProduction")
            assert c.data.query("MonthlyProduction", concurrency=5) == want
            assert c.data.count("MonthlyProduction") == len(want)


@pytest.mark.asyncio
async def test_async_petroai_mirrors_the_sync_client(small_emu):
    with petro.PetroAI(small_emu.url, page_size=50, **creds(small_emu)) as sync:
        want = sync.data.query("MonthlyProduction", {"wellId": {"exists": True}})
        wells_df = sync.data.query_df("Well", limit=10)
    async with petro.AsyncPetroAI(small_emu.url, page_size=50, **creds(small_emu)) as c:
        assert "AsyncPetroAI" in repr(c)
        got = await c.data.query("MonthlyProduction", {"wellId": {"exists": True}})
        assert got == want
        streamed = [
            r async for r in c.data.aiter("MonthlyProduction", {"wellId": {"exists": True}})
        ]
        assert streamed == want
        assert [r async for r in c.data.iter("Well", limit=3)] == (await c.data.query("Well"))[:3]
        assert await c.data.count("MonthlyProduction") == len(want)
        assert set(await c.data.types()) >= {"Well", "MonthlyProduction"}
        assert "wellId" in await c.data.schema("Well")
        assert len(await c.collection("Wells").get(Limit=5)) == 5
        assert (await c.data.query_df("Well", limit=10)).equals(wells_df)
        assert len(await c.data.query_pl("Well", limit=4)) == 4

        scratch = "asyncscratch"
        ids = await c.data.create(scratch, [{"n": i} for i in range(5)])
        assert len(ids) == 5
        assert await c.data.replace(scratch, [{"id": ids[0], "n": 100}]) == [ids[0]]
        assert await c.data.update(scratch, {"n": {"gte": 3}}, {"big": True}) == 3
        assert await c.data.delete(scratch, {"n": {"gte": 0}}) == 5

        with pytest.raises(ValueError, match="refusing"):
            await c.data.delete(scratch, {})
        with pytest.raises(TypeError, match="unknown options"):
            await c.data.query("Well", colour="red")
        with pytest.raises(TypeError, match="coroutines"):
            c._request("GET", "api/data/types")
        small_emu.inject_fault(route="/api/data/query", kind="status", status=404, times=1)
        with pytest.raises(petro.NotFoundError):
            await c.data.query("Well")
        small_emu.clear_faults()


@pytest.mark.asyncio
async def test_async_petroai_bad_credentials(small_emu):
    async with petro.AsyncPetroAI(
        small_emu.url, app_id="nope", secret_key="wrong", progress=False
    ) as c:
        with pytest.raises(petro.AuthenticationError, match="refused the credentials"):
            await c.data.types()


def test_billable_users_all_paces_and_matches_one_by_one():
    with Emulator(sample_wells=1, sample_months=1) as emu:
        with petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, pace=1000) as p:
            tenants = p.tenants()
            one_by_one = {t["petraTenantId"]: p.billable_users(t["petraTenantId"]) for t in tenants}
            assert p.billable_users_all() == one_by_one
            assert list(p.billable_users_all(concurrency=1)) == [
                t["petraTenantId"] for t in tenants
            ]
            with pytest.raises(ValueError):
                p.billable_users_all(concurrency=0)
        # The pacer is asked before every request of the fan-out.
        with petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, pace=3) as p:
            p._pacer.window = 0.2  # a short window keeps the test quick
            assert len(p.billable_users_all()) == len(tenants)
            assert len(p._pacer._sent["billable-users"]) <= 3


def _stable(report):
    """A Petra report without its generation time (which ticks between two calls)."""
    if isinstance(report, dict):
        return {k: _stable(v) for k, v in report.items() if k != "reportGeneratedAt"}
    return report


@pytest.mark.asyncio
async def test_async_petra_security():
    with Emulator(sample_wells=1, sample_months=1) as emu:
        with petro.PetraSecurity(
            emu.petra_api_key, base_url=emu.petra_url, var_api_key=emu.petra_var_api_key
        ) as sync:
            want_usage = sync.usage(as_of="2026-01-31")
            want_all = sync.billable_users_all()
            want_incidents = sync.incidents(limit=5)
        async with petro.AsyncPetraSecurity(
            emu.petra_api_key,
            base_url=emu.petra_url,
            var_api_key=emu.petra_var_api_key,
            pace=100,
        ) as p:
            assert "AsyncPetraSecurity" in repr(p)
            assert _stable(await p.usage(as_of="2026-01-31")) == _stable(want_usage)
            assert len(await p.usage_df()) == len(want_usage["tenants"])
            tenants = await p.tenants()
            assert _stable(await p.billable_users(tenants[0]["petraTenantId"])) == _stable(
                want_all[tenants[0]["petraTenantId"]]
            )
            assert _stable(await p.billable_users_all(concurrency=2)) == _stable(want_all)
            assert await p.incidents(limit=5) == want_incidents
            assert (await p.usage_xlsx())[:2] == b"PK"
            assert len(await p.usage_xlsx_df()) > 0
            with pytest.raises(ValueError):
                await p.incidents(limit=0)
        async with petro.AsyncPetraSecurity("petra_wrong", base_url=emu.petra_url) as bad:
            with pytest.raises(petro.AuthenticationError):
                await bad.tenants()
