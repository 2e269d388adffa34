"""What arrives at the server is what requests sends for the same call."""

import base64
import io
import json
import re

import pytest
import requests

import petro

# Headers that differ by design: the client's name and its decoders.
IGNORED = {"user-agent", "accept-encoding"}


def sent(client, server, method, **kwargs):
    resp = client.request(method, server.url("/echo"), **kwargs)
    assert resp.status_code == 200
    got = resp.json()
    headers = {k.lower(): v for k, v in got["headers"] if k.lower() not in IGNORED}
    body = base64.b64decode(got["body"])
    ctype = headers.get("content-type", "")
    m = re.search(r"boundary=([0-9a-f]+)", ctype)
    if m:  # random multipart boundaries: normalise
        body = body.replace(m.group(1).encode(), b"BOUNDARY")
        headers["content-type"] = ctype.replace(m.group(1), "BOUNDARY")
        headers["content-length"] = str(len(body))
    return {"method": got["method"], "path": got["path"], "headers": headers, "body": body}


CASES = {
    "plain get": ("GET", {}),
    "params dict": ("GET", {"params": {"a": "1", "b": ["x", "y z"], "c": None, "é": "ü"}}),
    "params pairs": ("GET", {"params": [("a", "1"), ("a", "2")]}),
    "params str": ("GET", {"params": "raw=1&x=%20"}),
    "json body": ("POST", {"json": {"type": "petron", "query": {}, "options": {"limit": 10}}}),
    "json unicode floats": (
        "POST",
        {"json": {"name": "Ünïcode ☃ 😀", "v": [0.1, 1e-7, 1e22, 3, -0.0, True, None]}},
    ),
    "form dict": ("POST", {"data": {"a": "1", "b": ["2", "3"]}}),
    "form pairs": ("POST", {"data": [("a", "1"), ("a", "2")]}),
    "raw str": ("POST", {"data": "raw text body"}),
    "raw bytes": ("PUT", {"data": b"\x00\x01binary"}),
    "file-like": ("POST", {"data": io.BytesIO(b"from a file")}),
    "empty post": ("POST", {}),
    "patch json": ("PATCH", {"json": {"type": "petron", "query": {"id": "1"}, "body": {"x": 1}}}),
    "delete json": ("DELETE", {"json": {"type": "petron", "query": {"id": "1"}}}),
    "basic auth": (
        "POST",
        {"auth": ("7d54ac3f46493ff662f224e1ab2f1642", "b082c84e856987a9cb7ac9500ac54fc9")},
    ),
    "basic auth latin1": ("GET", {"auth": ("üser", "pässwörd")}),
    "bearer header": (
        "POST",
        {"headers": {"Authorization": "Bearer abc.def.ghi"}, "json": {"type": "petron"}},
    ),
    "custom headers": ("GET", {"headers": {"X-Trace": "1", "Accept": "application/json"}}),
    "content-type override": (
        "POST",
        {"headers": {"Content-Type": "application/vnd+json"}, "json": [1]},
    ),
    "cookies": ("GET", {"cookies": {"a": "1", "b": "2"}}),
    "files": (
        "POST",
        {
            "files": {"upload": ("wells.csv", io.BytesIO(b"id,name\n1,x\n"), "text/csv")},
            "data": {"k": "v"},
        },
    ),
    "head": ("HEAD", {}),
    "options": ("OPTIONS", {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_request_as_requests(server, name):
    method, kwargs = CASES[name]
    if method == "HEAD":
        # HEAD has no body to echo: compare what the server logged.
        requests.head(server.url("/echo"))
        want = server.requests[-1]
        petro.head(server.url("/echo"))
        got = server.requests[-1]
        assert got["method"] == want["method"] == "HEAD"
        assert got["path"] == want["path"]
        return

    def fresh():
        return {
            k: (io.BytesIO(v.getvalue()) if isinstance(v, io.BytesIO) else v)
            for k, v in kwargs.items()
        }

    def fresh_files(kw):
        if "files" in kw:
            kw["files"] = {
                k: (a, io.BytesIO(b.getvalue()), c) for k, (a, b, c) in kw["files"].items()
            }
        return kw

    with requests.Session() as rs:
        want = sent(rs, server, method, **fresh_files(fresh()))
    with petro.Session() as ps:
        got = sent(ps, server, method, **fresh_files(fresh()))
    assert got == want


def test_module_level_functions_send_the_same(server):
    for fn in ("get", "post", "put", "patch", "delete", "options"):
        r1 = getattr(requests, fn)(server.url("/echo"), params={"x": 1}).json()
        r2 = getattr(petro, fn)(server.url("/echo"), params={"x": 1}).json()
        assert r1["method"] == r2["method"]
        assert r1["path"] == r2["path"]


def test_json_body_matches_json_dumps_exactly():
    payload = {
        "a": [1, 2.5, "x\u2028y", {"n": None, "t": True}],
        "big": 10**40,
        3: "int key",
        1.5: "f",
        None: 0,
    }
    assert petro._core.dumps(payload) == json.dumps(payload).encode()


def test_session_defaults_merge(server):
    with petro.Session() as s:
        s.headers["X-Session"] = "yes"
        s.params = {"from": "session"}
        s.auth = ("app", "secret")
        got = s.get(
            server.url("/echo"), headers={"X-Call": "1", "X-Session": None}, params={"x": "1"}
        ).json()
    headers = {k.lower(): v for k, v in got["headers"]}
    assert "x-session" not in headers
    assert headers["x-call"] == "1"
    assert headers["authorization"] == "Basic YXBwOnNlY3JldA=="
    assert "from=session" in got["path"] and "x=1" in got["path"]


def test_auth_objects_and_callables(server):
    got = petro.get(server.url("/echo"), auth=petro.BearerAuth("tok")).json()
    assert ["Authorization", "Bearer tok"] in got["headers"]
    got = petro.get(server.url("/echo"), auth=petro.HTTPBasicAuth("a", "b")).json()
    assert ["Authorization", "Basic YWI6Yg=="] not in got["headers"]
    assert ["Authorization", "Basic " + base64.b64encode(b"a:b").decode()] in got["headers"]

    def sign(r):
        r.headers["X-Signature"] = f"{r.method} {r.path_url}"
        return r

    got = petro.post(server.url("/echo?q=1"), auth=sign, json={"a": 1}).json()
    assert ["X-Signature", "POST /echo?q=1"] in got["headers"]
    assert base64.b64decode(got["body"]) == b'{"a": 1}'


def test_explicit_authorization_beats_netrc(server, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netuser password netpass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    got = petro.get(server.url("/echo")).json()
    assert ["Authorization", "Basic " + base64.b64encode(b"netuser:netpass").decode()] in got[
        "headers"
    ]
    got = petro.get(server.url("/echo"), headers={"Authorization": "Bearer mine"}).json()
    assert ["Authorization", "Bearer mine"] in got["headers"]


def test_bad_headers_raise_invalid_header(server):
    with pytest.raises(petro.InvalidHeader) as e:
        petro.get(server.url("/echo"), headers={"X-Bad": "a\r\nInjected: yes"})
    assert "X-Bad" in str(e.value) and "Injected" not in str(e.value)
    with pytest.raises(petro.InvalidHeader):
        petro.get(server.url("/echo"), headers={"X-Num": 5})
    with pytest.raises(ValueError):  # InvalidHeader is a ValueError too
        petro.get(server.url("/echo"), headers={"Bad Name": "x"})


def test_each_call_sends_its_own_headers_when_they_change_call_to_call(server):
    # The core reuses the header map of the thread's last call when the pairs are the
    # same text; any difference (value, name, case, count, str vs bytes) must show.
    s = petro.Session()
    url = server.url("/echo")

    def got(**headers):
        pairs = s.get(url, headers=headers).json()["headers"]
        return {k: v for k, v in pairs if k.startswith("X-")}

    assert got(**{"X-A": "1"}) == {"X-A": "1"}
    assert got(**{"X-A": "1"}) == {"X-A": "1"}
    assert got(**{"X-A": "2"}) == {"X-A": "2"}
    assert got(**{"X-B": "2"}) == {"X-B": "2"}
    assert got(**{"X-B": "2", "X-C": "3"}) == {"X-B": "2", "X-C": "3"}
    assert got(**{"X-B": "2"}) == {"X-B": "2"}
    assert got(**{"X-B": "caf\u00e9"}) == {"X-B": "caf\u00e9"}  # Latin-1, as requests sends it
    assert got(**{"X-B": "caf\u00e8"}) == {"X-B": "caf\u00e8"}
    assert got(**{"X-B": b"raw"}) == {"X-B": "raw"}
    assert got(**{"X-B": b"raw2"}) == {"X-B": "raw2"}
    s.headers["X-S"] = "session"
    assert got() == {"X-S": "session"}
    s.headers["X-S"] = "changed"
    assert got() == {"X-S": "changed"}
    # A bad value after a good one with the same name still raises.
    with pytest.raises(petro.InvalidHeader):
        s.get(url, headers={"X-S": "a\r\nInjected: yes"})
    assert got() == {"X-S": "changed"}
