"""Session.request_many / AsyncSession.request_many: order, bounded concurrency, failures."""

import asyncio
import base64
import json
import pickle
import sys
import threading
import time

import pytest

import petro
import servers
from petro import _core
from petro.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=200, sample_months=1) as e:
        yield e


def query(emu, i, **extra):
    body = {"type": "Well", "options": {"skip": i, "limit": 1}}
    return {"method": "POST", "url": emu.url + "/api/data/query", "json": body, **extra}


@pytest.fixture(scope="module")
def wells(emu):
    with petro.Session() as s:
        s.auth = emu.auth
        body = {"type": "Well", "options": {"limit": 200}}
        return s.post(emu.url + "/api/data/query", json=body).json()


def test_results_come_back_in_input_order(server):
    with petro.Session() as s:
        s.headers["X-Default"] = "yes"
        batch = [("GET", server.url(f"/echo?i={i}")) for i in range(50)]
        batch.append({"method": "POST", "url": server.url("/echo"), "json": {"n": 1}})
        batch.append({"method": "GET", "url": server.url("/echo"), "params": {"p": "q"}})
        out = s.request_many(batch, concurrency=7)
    assert [r.json()["path"] for r in out[:50]] == [f"/echo?i={i}" for i in range(50)]
    assert out[50].request.method == "POST" and out[50].json()["method"] == "POST"
    assert out[51].json()["path"] == "/echo?p=q"
    assert all(["X-Default", "yes"] in r.json()["headers"] for r in out)
    assert all(isinstance(r, petro.Response) for r in out)


def test_items_sharing_the_session_headers_each_send_them(server):
    # Simple items share one header list (converted once); an item with its own
    # headers in between has its own, and the ones after it share again.
    with petro.Session() as s:
        s.headers["X-Default"] = "yes"
        s.auth = ("app", "secret")
        simple = [
            {"method": "POST", "url": server.url("/echo"), "json": {"i": i}} for i in range(6)
        ]
        own = {"method": "GET", "url": server.url("/echo"), "headers": {"X-Default": "mine"}}
        out = s.request_many([*simple[:3], own, *simple[3:]], concurrency=3)
    sent = [dict(r.json()["headers"]) for r in out]
    assert [h["X-Default"] for h in sent] == ["yes"] * 3 + ["mine"] + ["yes"] * 3
    assert all(h["Authorization"] == "Basic YXBwOnNlY3JldA==" for h in sent)
    assert [h.get("Content-Type") for h in sent] == ["application/json"] * 3 + [None] + [
        "application/json"
    ] * 3
    bodies = [json.loads(base64.b64decode(r.json()["body"])) for i, r in enumerate(out) if i != 3]
    assert bodies == [{"i": i} for i in range(6)]


def test_a_slow_reply_does_not_hold_back_the_requests_after_it():
    # The first reply waits until all 8 requests have reached the server; with 2 in
    # flight, the 6 after it can only go out if each finished one frees its slot
    # (an ordered buffer would count them as in flight until the first returns).
    with servers.TestServer() as srv, petro.Session() as s:
        batch = [("GET", srv.url("/gate?n=8"))] + [
            ("GET", srv.url(f"/echo?i={i}")) for i in range(7)
        ]
        out = s.request_many(batch, concurrency=2)
    assert out[0].json() == {"others_came": True}
    assert [r.json()["path"] for r in out[1:]] == [f"/echo?i={i}" for i in range(7)]


@pytest.mark.parametrize(
    "setup",
    [
        lambda s: setattr(s, "auth", ("app", "secret")),
        lambda s: setattr(s, "auth", petro.BearerAuth("tok")),
        lambda s: s.headers.update({"Content-Type": "text/x-mine", "X-A": "1"}),
        lambda s: setattr(s, "params", {"sp": "1"}),  # URL-dependent: prepared in full
        lambda s: setattr(s, "trust_env", False),
        lambda s: None,  # netrc may apply per URL: prepared in full
    ],
)
def test_batch_items_go_out_as_request_sends_them(server, setup):
    # Simple items share one prepared template; it must match a full prepare.
    def shape(r):
        echo = r.json()
        headers = sorted((k.lower(), v) for k, v in echo["headers"] if k.lower() != "host")
        return echo["method"], echo["path"], headers, echo["body"]

    with petro.Session() as s:
        setup(s)
        items = [
            {"method": "POST", "url": server.url("/echo?a=1"), "json": {"n": 1}},
            {"method": "GET", "url": server.url("/echo")},
            {"method": "PUT", "url": server.url("/echo"), "json": None},
            {"method": "DELETE", "url": server.url("/echo"), "json": [1, "é"]},
        ]
        batch = s.request_many(items)
        single = [s.request(**item) for item in items]
    assert [shape(r) for r in batch] == [shape(r) for r in single]
    assert [r.request.method for r in batch] == ["POST", "GET", "PUT", "DELETE"]


def test_empty_batch_and_bad_items():
    with petro.Session() as s:
        assert s.request_many([]) == []
        with pytest.raises(TypeError, match="needs a 'url' key"):
            s.request_many([{"method": "GET"}])
        with pytest.raises(TypeError, match="unknown keys"):
            s.request_many([{"method": "GET", "url": "http://x", "jsn": 1}])
        with pytest.raises(TypeError, match="requests\\[0\\] must be a dict"):
            s.request_many(["http://x"])
        with pytest.raises(TypeError, match="takes a list"):
            s.request_many({"method": "GET", "url": "http://x"})
        with pytest.raises(ValueError, match="concurrency"):
            s.request_many([], concurrency=0)


def test_concurrency_is_bounded(server):
    with petro.Session() as s:
        start = time.monotonic()
        out = s.request_many(
            [("GET", server.url(f"/slow?delay=0.2&i={i}")) for i in range(8)], concurrency=4
        )
        took = time.monotonic() - start
    assert [r.text for r in out] == ["slow"] * 8
    # 8 requests of 0.2 s, at most 4 at a time, cannot end in under two rounds.
    assert took >= 0.4


def check_down_and_not_a_url(e):
    """The BatchError of a batch of 5 whose 2nd item's server is down and whose 5th
    URL is not one (the 3rd answers 500, a response)."""
    assert [i for i, _ in e.errors] == [1, 4]
    assert isinstance(e.errors[0][1], petro.ConnectionError)
    assert isinstance(e.errors[1][1], petro.MissingSchema)
    assert e.errors[0][1].request.url.endswith("/down")
    assert [None if r is None else r.status_code for r in e.responses] == [
        200,
        None,
        500,
        200,
        None,
    ]


def test_failures_are_collected_after_everything_ends(server, closed_port):
    with petro.Session() as s:
        batch = [
            ("GET", server.url("/echo?i=0")),
            ("GET", f"http://127.0.0.1:{closed_port}/down"),
            ("GET", server.url("/status?code=500")),  # a status is a response, not a failure
            ("GET", server.url("/slow?delay=0.3")),
            ("GET", "nota-url"),
        ]
        with pytest.raises(petro.BatchError) as info:
            s.request_many(batch)
        e = info.value
        assert isinstance(e, petro.RequestException)
        check_down_and_not_a_url(e)
        assert "2 of 5 requests failed" in str(e)
        assert e.responses[3].text == "slow"  # the slow one finished before raising

        out = s.request_many(batch, return_exceptions=True)
        assert isinstance(out[1], petro.ConnectionError) and out[3].text == "slow"
        copy = pickle.loads(pickle.dumps(e))
        assert [i for i, _ in copy.errors] == [1, 4]


def test_ordered_under_injected_faults_with_retries(emu, wells):
    emu.clear_faults()
    route = "/api/data/query"
    emu.inject_fault(route=route, kind="status", status=503, times=5)
    emu.inject_fault(route=route, kind="delay", delay_ms=200, times=5)
    with petro.Session(retries=petro.Retry(6, backoff_factor=0.01)) as s:
        s.auth = emu.auth
        out = s.request_many([query(emu, i, idempotent=True) for i in range(60)], concurrency=8)
    emu.clear_faults()
    assert [r.status_code for r in out] == [200] * 60
    assert [r.json()[0]["id"] for r in out] == [w["id"] for w in wells[:60]]


def test_dropped_connections_are_collected_in_place(emu, wells):
    emu.clear_faults()
    emu.inject_fault(route="/api/data/query", kind="drop", times=3, after_bytes=5)
    emu.inject_fault(route="/api/data/query", kind="status", status=502, times=2)
    with petro.Session() as s:  # no retries: each fault shows
        s.auth = emu.auth
        out = s.request_many([query(emu, i) for i in range(40)], return_exceptions=True)
        with pytest.raises(petro.BatchError) as info:
            emu.inject_fault(route="/api/data/query", kind="drop", times=1, after_bytes=5)
            s.request_many([query(emu, i) for i in range(10)], concurrency=1)
    emu.clear_faults()
    failed = [i for i, r in enumerate(out) if isinstance(r, Exception)]
    bad_status = [i for i, r in enumerate(out) if not isinstance(r, Exception) and not r.ok]
    assert len(failed) == 3 and len(bad_status) == 2
    assert all(
        isinstance(out[i], (petro.ChunkedEncodingError, petro.ConnectionError)) for i in failed
    )
    for i, r in enumerate(out):
        if i not in failed and i not in bad_status:
            assert r.json()[0]["id"] == wells[i]["id"]  # order holds around the failures
    assert [i for i, _ in info.value.errors] == [0]
    assert [r is None for r in info.value.responses] == [True] + [False] * 9


def test_hooks_and_auth_per_item(server):
    seen = []
    with petro.Session() as s:
        out = s.request_many(
            [
                {"method": "GET", "url": server.url("/echo"), "auth": ("a", "b")},
                {
                    "method": "GET",
                    "url": server.url("/echo"),
                    "hooks": {"response": [lambda r: seen.append(r.url)]},
                },
            ]
        )
    assert ["Authorization", "Basic YTpi"] in out[0].json()["headers"]
    assert seen == [server.url("/echo")]


@pytest.mark.asyncio
async def test_async_request_many(emu, wells):
    async with petro.AsyncSession() as a:
        a.auth = emu.auth
        out = await a.request_many([query(emu, i) for i in range(100)], concurrency=10)
        assert [r.json()[0]["id"] for r in out] == [w["id"] for w in wells[:100]]
        emu.inject_fault(route="/api/data/query", kind="status", status=503, times=1)
        emu.inject_fault(route="/api/data/query", kind="drop", times=1, after_bytes=5)
        out = await a.request_many(
            [query(emu, i) for i in range(5)], concurrency=1, return_exceptions=True
        )
        emu.clear_faults()
        assert out[0].status_code == 503
        assert isinstance(out[1], petro.RequestException)
        assert [r.json()[0]["id"] for r in out[2:]] == [w["id"] for w in wells[2:5]]
        with pytest.raises(petro.BatchError):
            await a.request_many([("GET", "nota-url")])
        # Many batches at once on one loop.
        many = await asyncio.gather(
            *(a.request_many([query(emu, i)], concurrency=1) for i in range(20))
        )
        assert [m[0].json()[0]["id"] for m in many] == [w["id"] for w in wells[:20]]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_pages_past_a_short_page_are_not_sent(server, concurrency):
    # query_df's paging: a page with fewer records than asked for is the end of the
    # data, so no request after it is sent (None in its place); at most the ones
    # already in flight (concurrency - 1) were.
    s = petro.Session()
    before = len(server.requests)
    rows = [3, 3, 1, 3, 3, 3, 3, 3, 3, 3]
    calls = [{"method": "GET", "url": server.url(f"/records?n={n}&at={i}")}
             for i, n in enumerate(rows)]  # fmt: skip
    out = s._request_many(calls, concurrency, False, parse_records=True, page_rows=[3] * 10)
    assert [len(_core.parse_records(r._raw)) for r in out[:3]] == [3, 3, 1]
    sent = [r is not None for r in out]
    assert sent[:3] == [True] * 3 and sent.count(True) <= 3 + concurrency - 1
    assert len(server.requests) - before == sent.count(True)
    # Without page_rows every request is sent.
    out = s._request_many(calls, concurrency, False, parse_records=True)
    assert None not in out and len(server.requests) - before == sent.count(True) + 10


def ahead(r):
    """True while a reply's body value, parsed in its batch, waits for ``.json()``
    (kept by the Response when the batch made it one, else by its RawResponse)."""
    return r._parsed is not None or r._raw.parsed_ahead


def test_small_json_replies_are_parsed_as_the_batch_goes_on(process_server):
    # The first .json() hands over the value parsed in the batch; later calls parse
    # again: a fresh object each time, as requests gives.
    with petro.Session() as s:
        out = s.request_many(
            [("GET", process_server.url(f"/echo?i={i}")) for i in range(20)], concurrency=4
        )
    assert all(ahead(r) for r in out)
    first = out[0].json()
    assert not ahead(out[0])
    again = out[0].json()
    assert first == again and first is not again
    first["path"] = "changed"
    assert out[0].json()["path"] == "/echo?i=0"
    # A caller who set the encoding or read the body gets the body parsed as usual.
    out[1].encoding = "utf-8"
    assert out[1].json()["path"] == "/echo?i=1" and ahead(out[1])
    assert out[2].content and out[2].json()["path"] == "/echo?i=2" and ahead(out[2])
    assert [r.json()["path"] for r in out] == [f"/echo?i={i}" for i in range(20)]


def test_a_value_parsed_ahead_goes_to_one_caller_only(process_server):
    # Threads calling .json() on one Response at once: at most one gets the value
    # parsed in the batch, the others a fresh parse (never a shared object).
    with petro.Session() as s:
        out = s.request_many([("GET", process_server.url(f"/echo?i={i}")) for i in range(30)])
    assert all(ahead(r) for r in out)
    for r in out:
        start = threading.Barrier(6)
        got = []

        def call(r=r, start=start, got=got):
            start.wait()
            got.append(r.json())

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 6 and all(v == got[0] for v in got)
        assert len({id(v) for v in got}) == 6
        assert not ahead(r)


def test_only_small_json_replies_are_parsed_ahead(process_server):
    def body(data, ctype):
        return ("GET", process_server.url(f"/bytes?hex={data.hex()}&ctype={ctype}"))

    batch = [
        body(b'{"a": 1}', "text/plain"),  # JSON text, not a JSON type
        ("GET", process_server.url("/records?n=40000")),  # over 256 KiB
        body(b"{nope", "application/json"),  # not JSON: left for .json() to report
        body(b'{"b": 2}', "application/vnd.api%2Bjson"),
        body(b'{"c": 3}', "application/json;%20charset=latin-1"),  # not UTF-8
    ]
    with petro.Session() as s:
        out = s.request_many(batch)
    assert [ahead(r) for r in out] == [False, False, False, True, False]
    assert out[0].json() == {"a": 1}
    assert len(out[1].json()) == 40000
    with pytest.raises(petro.exceptions.JSONDecodeError):
        out[2].json()
    assert out[3].json() == {"b": 2}
    assert out[4].json() == {"c": 3}


def test_parsing_ahead_stops_at_its_budget(process_server):
    # At most 8 MiB of a batch's bodies are parsed before .json() asks for them.
    n = 18_000
    size = len(json.dumps([{"i": i} for i in range(n)]))
    assert size <= 256 << 10
    fits = (8 << 20) // size
    with petro.Session() as s:
        out = s.request_many(
            [("GET", process_server.url(f"/records?n={n}"))] * (fits + 8), concurrency=4
        )
    assert sum(ahead(r) for r in out) == fits
    assert all(len(r.json()) == n for r in out)


def test_a_batch_kept_waiting_for_the_gil_stops_parsing_ahead(process_server):
    # The main thread stays busy in Python: the batch's first turn with the GIL
    # waits a switch interval for it, and the rest of its replies become Python
    # objects after the batch (not one GIL wait per reply).
    done = {}

    def batch():
        with petro.Session() as s:
            reqs = [("GET", process_server.url(f"/echo?i={i}")) for i in range(30)]
            done["out"] = s.request_many(reqs, concurrency=1)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.02)
    try:
        t = threading.Thread(target=batch)
        t.start()
        while t.is_alive():
            pass
        t.join()
    finally:
        sys.setswitchinterval(interval)
    out = done["out"]
    kept = [ahead(r) for r in out]
    assert kept.count(True) <= 1, kept
    assert [r.json()["path"] for r in out] == [f"/echo?i={i}" for i in range(30)]


def test_replies_are_wrapped_in_the_batch_each_with_its_own_value(process_server):
    with petro.Session() as s:
        calls, _ = s._prepare_many(
            [("GET", process_server.url(f"/echo?i={i}")) for i in range(12)], 3
        )
        args = [c.args for c in calls]
        out = s._native.request_many(
            args, 3, wrap=(lambda raw, x, parsed: (x, raw.status, parsed), list(range(12)))
        )
        assert [o[:2] for o in out] == [(i, 200) for i in range(12)]
        # Each reply's value, parsed in the batch, is handed to the wrapper.
        assert [o[2]["path"] for o in out] == [f"/echo?i={i}" for i in range(12)]

        def refuse(raw, x, parsed):
            raise RuntimeError("no")

        out = s._native.request_many(args, 3, wrap=(refuse, [None] * 12))
        assert all(type(r) is _core.RawResponse for r in out)  # left for Python to wrap
        with pytest.raises(ValueError, match="one value per call"):
            s._native.request_many(args, 3, wrap=(refuse, [None]))
        # Through the public call: Responses that know their request.
        out = s.request_many([("GET", process_server.url(f"/echo?i={i}")) for i in range(12)])
    assert all(type(r) is petro.Response and r.status_code == 200 for r in out)
    assert [r.request.url for r in out] == [process_server.url(f"/echo?i={i}") for i in range(12)]
    assert all(r.request.method == "GET" and r.reason == "OK" for r in out)
    assert all(r.headers["Content-Type"] == "application/json" for r in out)


def test_simple_items_fail_and_succeed_in_place(server, closed_port):
    # Dicts with only method, url and json go through the core's reader of simple
    # items; failures come back as with any other batch, each knowing its request.
    def item(url, **extra):
        return {"method": "POST", "url": url, "json": {"k": 1}, **extra}

    batch = [
        item(server.url("/echo?i=0")),
        item(f"http://127.0.0.1:{closed_port}/down"),
        {"method": "GET", "url": server.url("/status?code=500")},
        {"method": "get", "url": server.url("/echo?i=3"), "json": None},
        item("nota-url"),
    ]
    with petro.Session() as s:
        s.auth = ("app", "secret")
        with pytest.raises(petro.BatchError) as info:
            s.request_many(batch)
        out = s.request_many(batch, return_exceptions=True)
    e = info.value
    check_down_and_not_a_url(e)
    assert e.errors[0][1].request.method == "POST"
    first = e.responses[0].json()
    assert first["method"] == "POST" and json.loads(base64.b64decode(first["body"])) == {"k": 1}
    assert ["Authorization", "Basic " + base64.b64encode(b"app:secret").decode()] in first[
        "headers"
    ]
    assert e.responses[3].json()["method"] == "GET" and e.responses[3].request.method == "GET"
    assert isinstance(out[1], petro.ConnectionError) and out[0].status_code == 200


def test_a_batch_that_is_not_all_simple_items_is_sent_once(server):
    # The reader of simple items gives up on the tuple at the end before sending
    # anything; the general path then sends each request once.
    with petro.Session() as s:
        before = len(server.requests)
        batch = [
            {"method": "POST", "url": server.url(f"/echo?once={i}"), "json": {}} for i in range(5)
        ]
        out = s.request_many([*batch, ("GET", server.url("/echo?once=5"))])
    assert [r.json()["path"] for r in out] == [f"/echo?once={i}" for i in range(6)]
    paths = [r["path"] for r in server.requests[before:] if "once=" in r["path"]]
    assert len(paths) == 6, paths


def test_a_simple_item_that_cannot_be_sent_raises_before_any_is_sent(server):
    with petro.Session() as s:
        before = len(server.requests)
        batch = [{"method": "POST", "url": server.url("/echo"), "json": {}} for _ in range(3)]
        batch.append({"method": "POST", "url": server.url("/echo"), "json": {"x": object()}})
        with pytest.raises(TypeError):
            s.request_many(batch)
        with pytest.raises(ValueError, match="method"):
            s.request_many([{"method": "NOT A METHOD", "url": server.url("/echo")}])
    assert len(server.requests) == before


def test_session_hooks_see_every_reply_of_a_simple_batch(server):
    seen = []
    with petro.Session() as s:
        s.hooks["response"].append(lambda r, *a, **k: seen.append(r.url))
        out = s.request_many(
            [{"method": "GET", "url": server.url(f"/echo?h={i}")} for i in range(4)]
        )
    assert [r.json()["path"] for r in out] == [f"/echo?h={i}" for i in range(4)]
    assert sorted(seen) == sorted(server.url(f"/echo?h={i}") for i in range(4))
