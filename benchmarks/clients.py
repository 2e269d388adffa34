"""One adapter per client and workload shape, each written the way that client's docs show.

Every library is imported inside its own adapter, so a child process that measures
one client (memory, import time) loads only that client.

Shapes:

- ``seq(url, body, auth) -> (run(n) -> list, close)``: n sequential POSTs on one session,
  each reply parsed to a dict (W1).
- ``get(url) -> (fetch() -> obj, close)``: one GET of a large JSON array parsed to a list (W2, W4).
- ``parse(url) -> (download() -> resp, parse(resp) -> obj, close)``: W2's parse step alone.
- ``threaded(url, body, auth, conns) -> (call() -> dict, close)``: one session shared by threads (W3).
- ``aio(url, body, auth, conns)``: an async factory ``-> (call() coroutine, aclose())`` (W3).

A client missing from a shape's table cannot do that workload; the report says n/a.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

Auth = tuple[str, str]


def basic(auth: Auth) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def _check(status: int, what: str) -> None:
    if status != 200:
        raise AssertionError(f"{what}: HTTP {status}")


# --------------------------------------------------------------------------- sessions
def _requests(auth: Auth | None, conns: int = 10) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    s = requests.Session()
    s.auth = auth
    a = HTTPAdapter(pool_connections=1, pool_maxsize=conns)
    s.mount("http://", a)
    return s


def _niquests(auth: Auth | None, conns: int = 10) -> Any:
    import niquests

    s = niquests.Session(pool_maxsize=conns)
    s.auth = auth
    return s


def _httpx(auth: Auth | None, conns: int = 10) -> Any:
    import httpx

    return httpx.Client(
        auth=auth,
        limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns),
        timeout=60,
    )


def _urllib3(conns: int = 10) -> Any:
    import urllib3

    return urllib3.PoolManager(maxsize=conns)


def _petro(auth: Auth | None) -> Any:
    import petro

    s = petro.Session()
    s.auth = auth
    return s


def _primp(auth: Auth | None) -> Any:
    import primp

    return primp.Client(auth=auth, timeout=60)


def _pyreqwest() -> Any:
    from pyreqwest.client import SyncClientBuilder

    return SyncClientBuilder().build()


def _rnet() -> Any:
    from rnet.blocking import BlockingClient

    return BlockingClient()


def _loads(name: str) -> Callable[[bytes], Any]:
    if name.endswith("+orjson"):
        import orjson

        return orjson.loads
    return json.loads


# --------------------------------------------------------------------------- W1: sequential
def seq_requests_like(make: Callable[..., Any], parse_orjson: bool) -> Callable[..., Any]:
    def factory(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
        s = make(auth)
        if parse_orjson:
            import orjson

            loads = orjson.loads

            def run(n: int) -> list:
                out = []
                for _ in range(n):
                    r = s.post(url, json=body)
                    out.append((r.status_code, loads(r.content)))
                return out
        else:

            def run(n: int) -> list:
                out = []
                for _ in range(n):
                    r = s.post(url, json=body)
                    out.append((r.status_code, r.json()))
                return out

        return run, s.close

    return factory


def seq_urllib3(orj: bool) -> Callable[..., Any]:
    def factory(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
        pm = _urllib3()
        headers = {"Authorization": basic(auth), "Content-Type": "application/json"}
        loads = _loads("+orjson" if orj else "")

        def run(n: int) -> list:
            out = []
            for _ in range(n):
                r = pm.request("POST", url, body=json.dumps(body).encode(), headers=headers)
                out.append((r.status, loads(r.data)))
            return out

        return run, pm.clear

    return factory


def seq_primp(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
    c = _primp(auth)

    def run(n: int) -> list:
        out = []
        for _ in range(n):
            r = c.post(url, json=body)
            out.append((r.status_code, r.json()))
        return out

    return run, lambda: None


def seq_pyreqwest(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
    c = _pyreqwest()
    u, p = auth

    def run(n: int) -> list:
        out = []
        for _ in range(n):
            r = c.post(url).basic_auth(u, p).body_json(body).build().send()
            out.append((r.status, r.json()))
        return out

    return run, c.close


def seq_rnet(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
    c = _rnet()

    def run(n: int) -> list:
        out = []
        for _ in range(n):
            r = c.post(url, basic_auth=auth, json=body)
            out.append((r.status, r.json()))
        return out

    return run, lambda: None


def seq_aiohttp(url: str, body: dict, auth: Auth) -> tuple[Callable[[int], list], Callable]:
    import aiohttp

    loop = asyncio.new_event_loop()

    async def mk() -> Any:
        return aiohttp.ClientSession(auth=aiohttp.BasicAuth(*auth))

    s = loop.run_until_complete(mk())

    async def go(n: int) -> list:
        out = []
        for _ in range(n):
            async with s.post(url, json=body) as r:
                out.append((r.status, await r.json()))
        return out

    def close() -> None:
        loop.run_until_complete(s.close())
        loop.close()

    return (lambda n: loop.run_until_complete(go(n))), close


SEQ: dict[str, Callable[..., Any]] = {
    "petro": seq_requests_like(_petro, False),
    "requests": seq_requests_like(_requests, False),
    "requests+orjson": seq_requests_like(_requests, True),
    "httpx": seq_requests_like(_httpx, False),
    "httpx+orjson": seq_requests_like(_httpx, True),
    "niquests": seq_requests_like(_niquests, False),
    "urllib3": seq_urllib3(False),
    "urllib3+orjson": seq_urllib3(True),
    "aiohttp": seq_aiohttp,
    "pyreqwest": seq_pyreqwest,
    "primp": seq_primp,
    "rnet": seq_rnet,
}


# --------------------------------------------------------------------------- W2/W4: big GET
def get_requests_like(make: Callable[..., Any], orj: bool) -> Callable[..., Any]:
    def factory(url: str) -> tuple[Callable[[], Any], Callable]:
        s = make(None)
        if orj:
            import orjson

            def fetch() -> Any:
                r = s.get(url)
                _check(r.status_code, url)
                return orjson.loads(r.content)
        else:

            def fetch() -> Any:
                r = s.get(url)
                _check(r.status_code, url)
                return r.json()

        return fetch, s.close

    return factory


def get_urllib3(orj: bool) -> Callable[..., Any]:
    def factory(url: str) -> tuple[Callable[[], Any], Callable]:
        pm = _urllib3()
        loads = _loads("+orjson" if orj else "")

        def fetch() -> Any:
            r = pm.request("GET", url)
            _check(r.status, url)
            return loads(r.data)

        return fetch, pm.clear

    return factory


def get_primp(url: str) -> tuple[Callable[[], Any], Callable]:
    c = _primp(None)

    def fetch() -> Any:
        r = c.get(url)
        _check(r.status_code, url)
        return r.json()

    return fetch, lambda: None


def get_pyreqwest(url: str) -> tuple[Callable[[], Any], Callable]:
    c = _pyreqwest()

    def fetch() -> Any:
        r = c.get(url).build().send()
        _check(r.status, url)
        return r.json()

    return fetch, c.close


def get_rnet(url: str) -> tuple[Callable[[], Any], Callable]:
    c = _rnet()

    def fetch() -> Any:
        r = c.get(url)
        _check(r.status, url)
        return r.json()

    return fetch, lambda: None


def get_aiohttp(url: str) -> tuple[Callable[[], Any], Callable]:
    import aiohttp

    loop = asyncio.new_event_loop()

    async def mk() -> Any:
        return aiohttp.ClientSession()

    s = loop.run_until_complete(mk())

    async def go() -> Any:
        async with s.get(url) as r:
            _check(r.status, url)
            return await r.json()

    def close() -> None:
        loop.run_until_complete(s.close())
        loop.close()

    return (lambda: loop.run_until_complete(go())), close


GET: dict[str, Callable[..., Any]] = {
    "petro": get_requests_like(_petro, False),
    "requests": get_requests_like(_requests, False),
    "requests+orjson": get_requests_like(_requests, True),
    "httpx": get_requests_like(_httpx, False),
    "httpx+orjson": get_requests_like(_httpx, True),
    "niquests": get_requests_like(_niquests, False),
    "urllib3": get_urllib3(False),
    "urllib3+orjson": get_urllib3(True),
    "aiohttp": get_aiohttp,
    "pyreqwest": get_pyreqwest,
    "primp": get_primp,
    "rnet": get_rnet,
}


# W2's parse step alone, on a body already downloaded: (download, parse).
def parse_table(url: str) -> dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]]:
    import orjson

    out: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {}
    p = _petro(None)
    out["petro .json()"] = (lambda: p.get(url), lambda r: r.json())
    rq = _requests(None)
    out["requests .json()"] = (lambda: rq.get(url), lambda r: r.json())
    out["orjson.loads(bytes)"] = (lambda: rq.get(url).content, orjson.loads)
    out["json.loads(bytes)"] = (lambda: rq.get(url).content, json.loads)
    pc = _primp(None)
    out["primp .json()"] = (lambda: pc.get(url), lambda r: r.json())
    pr = _pyreqwest()
    out["pyreqwest .json()"] = (lambda: pr.get(url).build().send(), lambda r: r.json())
    return out


# --------------------------------------------------------------------------- W3: threads
def thr_requests_like(make: Callable[..., Any]) -> Callable[..., Any]:
    def factory(url: str, body: dict, auth: Auth, conns: int) -> tuple[Callable[[], Any], Callable]:
        s = make(auth, conns) if make is not _petro else make(auth)

        def call() -> Any:
            r = s.post(url, json=body)
            return r.status_code, r.json()

        return call, s.close

    return factory


def thr_urllib3(url: str, body: dict, auth: Auth, conns: int) -> tuple[Callable[[], Any], Callable]:
    pm = _urllib3(conns)
    headers = {"Authorization": basic(auth), "Content-Type": "application/json"}

    def call() -> Any:
        r = pm.request("POST", url, body=json.dumps(body).encode(), headers=headers)
        return r.status, json.loads(r.data)

    return call, pm.clear


def thr_primp(url: str, body: dict, auth: Auth, conns: int) -> tuple[Callable[[], Any], Callable]:
    c = _primp(auth)

    def call() -> Any:
        r = c.post(url, json=body)
        return r.status_code, r.json()

    return call, lambda: None


def thr_pyreqwest(
    url: str, body: dict, auth: Auth, conns: int
) -> tuple[Callable[[], Any], Callable]:
    c = _pyreqwest()
    u, p = auth

    def call() -> Any:
        r = c.post(url).basic_auth(u, p).body_json(body).build().send()
        return r.status, r.json()

    return call, c.close


def thr_rnet(url: str, body: dict, auth: Auth, conns: int) -> tuple[Callable[[], Any], Callable]:
    c = _rnet()

    def call() -> Any:
        r = c.post(url, basic_auth=auth, json=body)
        return r.status, r.json()

    return call, lambda: None


THREADED: dict[str, Callable[..., Any]] = {
    "petro": thr_requests_like(_petro),
    "requests": thr_requests_like(_requests),
    "httpx": thr_requests_like(_httpx),
    "niquests": thr_requests_like(_niquests),
    "urllib3": thr_urllib3,
    "pyreqwest": thr_pyreqwest,
    "primp": thr_primp,
    "rnet": thr_rnet,
}


# --------------------------------------------------------------------------- W3: asyncio
async def aio_petro(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import petro

    if not hasattr(petro, "AsyncSession"):
        raise NotImplementedError("n/a (not in this build)")
    s = petro.AsyncSession()
    s.auth = auth

    async def call() -> Any:
        r = await s.post(url, json=body)
        return r.status_code, r.json()

    async def aclose() -> None:
        res = s.close()
        if asyncio.iscoroutine(res):
            await res

    return call, aclose


async def aio_httpx(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import httpx

    c = httpx.AsyncClient(
        auth=auth,
        limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns),
        timeout=60,
    )

    async def call() -> Any:
        r = await c.post(url, json=body)
        return r.status_code, r.json()

    return call, c.aclose


async def aio_niquests(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import niquests

    s = niquests.AsyncSession(pool_maxsize=conns)
    s.auth = auth

    async def call() -> Any:
        r = await s.post(url, json=body)
        return r.status_code, r.json()

    return call, s.close


async def aio_aiohttp(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import aiohttp

    s = aiohttp.ClientSession(
        auth=aiohttp.BasicAuth(*auth), connector=aiohttp.TCPConnector(limit=conns)
    )

    async def call() -> Any:
        async with s.post(url, json=body) as r:
            return r.status, await r.json()

    return call, s.close


async def aio_pyreqwest(url: str, body: dict, auth: Auth, conns: int) -> Any:
    from pyreqwest.client import ClientBuilder

    c = ClientBuilder().build()
    u, p = auth

    async def call() -> Any:
        r = await c.post(url).basic_auth(u, p).body_json(body).build().send()
        return r.status, await r.json()

    return call, c.close


async def aio_primp(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import primp

    c = primp.AsyncClient(auth=auth, timeout=60)

    async def call() -> Any:
        r = await c.post(url, json=body)
        return r.status_code, r.json()

    async def aclose() -> None:
        pass

    return call, aclose


async def aio_rnet(url: str, body: dict, auth: Auth, conns: int) -> Any:
    import rnet

    c = rnet.Client()

    async def call() -> Any:
        r = await c.post(url, basic_auth=auth, json=body)
        return r.status, await r.json()

    async def aclose() -> None:
        pass

    return call, aclose


ASYNC: dict[str, Callable[..., Any]] = {
    "petro AsyncSession": aio_petro,
    "httpx": aio_httpx,
    "niquests": aio_niquests,
    "aiohttp": aio_aiohttp,
    "pyreqwest": aio_pyreqwest,
    "primp": aio_primp,
    "rnet": aio_rnet,
}


# --------------------------------------------------------------------------- W3: batch
def batch_petro(url: str, body: dict, auth: Auth, conns: int) -> tuple[Callable[[int], list], Any]:
    """``Session.request_many``: n POSTs handed over at once, run ``conns`` at a time in Rust."""
    import inspect

    import petro

    s = petro.Session()
    s.auth = auth
    if not hasattr(s, "request_many"):
        raise NotImplementedError("n/a (not in this build)")
    params = inspect.signature(s.request_many).parameters
    kw = {}
    for name in ("concurrency", "max_concurrency", "workers"):
        if name in params:
            kw[name] = conns
            break

    def run(n: int) -> list:
        reqs = [{"method": "POST", "url": url, "json": body} for _ in range(n)]
        return [(r.status_code, r.json()) for r in s.request_many(reqs, **kw)]

    return run, s.close


VERSIONED = {
    "petro": "petro",
    "requests": "requests",
    "httpx": "httpx",
    "niquests": "niquests",
    "urllib3": "urllib3",
    "aiohttp": "aiohttp",
    "pyreqwest": "pyreqwest",
    "primp": "primp",
    "rnet": "rnet",
    "orjson": "orjson",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name, dist in VERSIONED.items():
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
