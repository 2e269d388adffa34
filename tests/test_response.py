"""Response attributes and body handling."""

import datetime
import json
import pickle

import pytest

import petro


def test_response_attributes(server):
    r = petro.get(server.url("/status?code=200"))
    assert repr(r) == "<Response [200]>"
    assert r.status_code == 200 and r.ok and bool(r)
    assert r.reason == "OK"
    assert r.headers["content-type"] == r.headers["Content-Type"] == "application/json"
    assert r.url == server.url("/status?code=200")
    assert r.encoding == "utf-8"
    assert isinstance(r.elapsed, datetime.timedelta) and r.elapsed.total_seconds() > 0
    assert r.history == []
    assert r.request.method == "GET" and r.request.url == r.url
    assert r.json() == {"error": "x", "message": "status"}
    assert r.text == r.content.decode()
    assert r.apparent_encoding == "utf-8"


def test_error_status_is_falsy_and_raises_typed_errors(server):
    for code, cls in [
        (400, petro.BadRequestError),
        (401, petro.AuthenticationError),
        (403, petro.PermissionDeniedError),
        (404, petro.NotFoundError),
        (409, petro.ConflictError),
        (422, petro.BadRequestError),
        (429, petro.RateLimitError),
        (500, petro.ServerError),
        (503, petro.ServerError),
        (418, petro.HTTPError),
    ]:
        r = petro.get(server.url(f"/status?code={code}"))
        assert not r.ok and not r
        with pytest.raises(cls) as e:
            r.raise_for_status()
        assert isinstance(e.value, petro.exceptions.HTTPError)
        assert e.value.response is r and e.value.status_code == code
        assert e.value.request_id == "req-123"
        assert e.value.body == {"error": "x", "message": "status"}
        assert str(code) in str(e.value)


def test_links_and_lines(server):
    r = petro.get(server.url("/links"))
    assert r.links["next"]["url"] == "https://x/?page=2"
    assert r.links["last"]["rel"] == "last"
    r = petro.get(server.url("/lines"))
    assert list(r.iter_lines()) == [b"one", b"two", b"three", b"", b"five"]
    assert list(r.iter_lines(decode_unicode=True)) == ["one", "two", "three", "", "five"]


def test_streaming(server):
    r = petro.get(server.url("/lines"), stream=True)
    chunks = list(r.iter_content(4))
    assert b"".join(chunks) == b"one\ntwo\r\nthree\n\nfive"
    assert all(len(c) == 4 for c in chunks[:-1])
    with pytest.raises(petro.StreamConsumedError):
        r.content  # noqa: B018
    r = petro.get(server.url("/lines"), stream=True)
    assert r.content == b"one\ntwo\r\nthree\n\nfive"
    assert list(r.iter_content(None)) == [r.content]


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_compressed_bodies_are_decoded(server, enc):
    r = petro.get(server.url(f"/encoded/{enc}"))
    assert r.json() == {"encoding": enc, "data": list(range(100))}


def test_broken_compression_raises(server):
    with pytest.raises(petro.exceptions.ContentDecodingError):
        petro.get(server.url("/encoded/broken"))


def test_text_encodings(server):
    r = petro.get(server.url("/bytes?hex=e9&ctype=text/plain"))
    assert r.encoding == "ISO-8859-1" and r.text == "é"
    r = petro.get(server.url("/bytes?hex=c3a9&ctype=text/plain;%20charset=utf-8"))
    assert r.text == "é"
    r.encoding = "latin-1"
    assert r.text == "Ã©"


@pytest.mark.parametrize(
    "ctype",
    ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF8",
     'application/json; charset="utf-8"', "text/plain", "text/plain; charset=latin-1",
     "application/json; charset=ISO-8859-1", "text/plain; xcharset=utf-8", "application/octet-stream",
     "application/json; foo=bar; charset = 'u8'"],
)  # fmt: skip
def test_json_charset_rule_matches_encoding(server, ctype):
    # .json() decides "UTF-8 straight away" in Rust; it must agree with .encoding's rules.
    from urllib.parse import quote

    from petro.models import _UTF8, _encoding_from_ctype

    body = '["é"]'.encode().hex()
    r = petro.get(server.url(f"/bytes?hex={body}&ctype={quote(ctype)}"))
    enc = _encoding_from_ctype(ctype)
    utf8 = enc is None or enc.lower() in _UTF8 or (enc == "ISO-8859-1" and "charset" not in ctype)
    assert r._raw.utf8_json is utf8
    assert r.json() == (["é"] if utf8 else json.loads(r.content.decode(enc)))
    r.encoding = "latin-1"  # set by the user: the Python rules apply
    assert r.json() == ["Ã©"]


def test_body_becomes_bytes_once(server):
    # Bodies up to 8 MiB are made a bytes object on arrival: .content and .json()
    # (orjson) use that one object, with no copy per access.
    r = petro.get(server.url("/bytes?hex=5b312c325d&ctype=application/json"))
    assert r._raw.content() is r._raw.content()
    assert r.content is r._raw.content() and r.json() == [1, 2]
    with petro.Session() as s:
        (b,) = s.request_many([("GET", server.url("/bytes?hex=5b335d"))])
    assert b._raw.content() is b._raw.content() and b.json() == [3]


def test_large_json_array_in_a_response_reads_exactly(server):
    # Arrays from 2 MiB are parsed in pieces (see test_json.py), from a response too.
    from test_json import tricky_records

    body = json.dumps(tricky_records(25_000), separators=(",", ":")).encode()
    want = json.loads(body)
    assert petro.post(server.url("/reflect"), data=body).json() == want
    with petro.Session() as s:
        (r,) = s.request_many([{"method": "POST", "url": server.url("/reflect"), "data": body}])
    assert r.json() == want


def test_big_ints_in_a_response_stay_exact(server):
    # Whether orjson may parse a body is decided as it arrives; 20+ digits go to jiter.
    body = b'{"id": 123456789012345678901234567890, "n": 1}'
    url = server.url(f"/bytes?hex={body.hex()}&ctype=application/json")
    assert petro.get(url).json()["id"] == 123456789012345678901234567890
    with petro.Session() as s:
        (r,) = s.request_many([("GET", url)])
    assert r.json()["id"] == 123456789012345678901234567890


@pytest.mark.parametrize(
    "body, cuts",
    [
        # A 24-digit int cut in two, and cut in three (one chunk all digits).
        (b'{"id": 123456789012345678901234, "n": 1}', [15]),
        (b'{"id": 123456789012345678901234, "n": 1}', [10, 20]),
        # A BOM cut apart, then a 19-digit int (fits in 64 bits) cut apart.
        (b'\xef\xbb\xbf{"id": 1234567890123456789}', [1, 14]),
    ],
)
def test_body_in_chunks_reads_exactly(server, body, cuts):
    # A body arriving in several chunks is copied once into the bytes object;
    # whether orjson may parse it is decided chunk by chunk, runs across chunks added up.
    url = server.url(f"/chunked?hex={body.hex()}&cuts={','.join(map(str, cuts))}")
    want = json.loads(body.decode("utf-8-sig"))
    r = petro.get(url)
    got = r.json()  # first: before .content, as the body arrived
    assert got == want and type(got["id"]) is int
    assert r.content == body
    with petro.Session() as s:
        (r,) = s.request_many([("GET", url)])
    got = r.json()
    assert got == want and type(got["id"]) is int
    assert r.content == body


def test_response_pickles(server):
    r = petro.get(server.url("/status?code=404"), auth=("user", "topsecretpassword"))
    clone = pickle.loads(pickle.dumps(r))
    assert clone.status_code == 404 and clone.json() == r.json()
    assert clone.headers == r.headers
    assert b"topsecretpassword" not in pickle.dumps(r)
    assert b"dXNlcjp0b3BzZWNyZXRwYXNzd29yZA" not in pickle.dumps(r)


def test_cookies_persist_in_session(server):
    with petro.Session() as s:
        r = s.get(server.url("/cookies/set?flavour=oat"))
        assert r.cookies == {"flavour": "oat"}
        assert s.cookies["flavour"] == "oat"
        got = s.get(server.url("/echo")).json()
        assert ["Cookie", "flavour=oat"] in got["headers"]
        s.cookies["extra"] = "1"
        got = s.get(server.url("/echo"), cookies={"per": "call"}).json()
        cookie = dict(got["headers"])["Cookie"]
        assert set(cookie.split("; ")) == {"flavour=oat", "extra=1", "per=call"}
        del s.cookies["flavour"]
        assert "flavour" not in s.cookies
    # module-level calls do not keep cookies
    petro.get(server.url("/cookies/set?leak=1"))
    got = petro.get(server.url("/echo")).json()
    assert "Cookie" not in dict(got["headers"])


def test_rechunking_of_network_pieces():
    from petro.models import _Rechunker

    r = _Rechunker(4)
    out = [c for p in (b"abc", b"defgh", b"", b"ijklmnopq", b"r") for c in r.feed(p)]
    assert out == [b"abcd", b"efgh", b"ijkl", b"mnop"] and r.rest == b"qr"
    r = _Rechunker(None)
    assert [c for p in (b"ab", b"", b"c") for c in r.feed(p)] == [b"ab", b"c"] and r.rest == b""
