"""query_df's columnar path (Rust parses pages straight into columns): the same
DataFrame as ``to_pandas(query(...))`` on awkward data, over real HTTP to the emulator."""

from __future__ import annotations

import pytest

import petro
from petro import _core

pd = pytest.importorskip("pandas")
from petro import _frames  # noqa: E402
from petro._frames import to_pandas  # noqa: E402

EDGE = [
    {"id": "r1", "n": 1, "x": 1.5, "flag": True, "name": "alpha", "when": "2021-03-04",
     "at": "2021-03-04T05:06:07Z", "tags": ["a", "b"], "meta": {"k": 1}, "big": 2**70,
     "s": "caf\u00e9 \u2603", "mixed": 1},
    {"id": "r2", "n": None, "x": 2, "flag": False, "name": None, "when": "2021-03-05",
     "at": "2021-03-05T00:00:00.123456Z", "tags": [], "meta": None, "big": 1,
     "s": "line\nbreak \"quoted\"", "mixed": "one"},
    {"id": "r3", "x": None, "flag": None, "name": "alpha", "when": None, "extra": 7,
     "s": "", "mixed": None},
]  # fmt: skip


@pytest.fixture(params=["arrow", "str"])
def client(request, petro_emulator_empty, monkeypatch):
    # Text columns as Arrow buffers (pandas with pyarrow) and as lists of str.
    if request.param == "arrow":
        pytest.importorskip("pyarrow")
    monkeypatch.setattr(_frames, "arrow_text", lambda: request.param == "arrow")
    emu = petro_emulator_empty
    with petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key) as c:
        yield c


def same(client, type_, **kw):
    want = to_pandas(client.data.query(type_, **kw))
    got = client.data.query_df(type_, **kw)
    pd.testing.assert_frame_equal(got, want)
    return got


def test_awkward_records_give_the_same_frame_as_the_dict_path(client):
    client.data.create("Edge", EDGE)
    df = same(client, "Edge")
    assert list(df.columns)[:3] == ["id", "n", "x"]
    assert str(df["n"].dtype) == "Int64"
    assert df["at"].dt.tz is not None
    assert df.loc[0, "tags"] == ["a", "b"] and df.loc[0, "big"] == 2**70
    assert df["extra"].isna().sum() == 2


def test_many_pages_concurrently_keep_order(client):
    recs = [{"id": f"w{i:05d}", "i": i, "day": f"2020-01-{1 + i % 28:02d}"} for i in range(2500)]
    client.data.create("Paged", recs)
    df = same(client, "Paged", page_size=100, concurrency=4)
    assert df["i"].tolist() == list(range(2500))
    df = same(client, "Paged", page_size=333, limit=1000, skip=17)
    assert df["i"].tolist() == list(range(17, 1017))
    assert len(client.data.query_df("Paged", {"i": -1})) == 0


def test_pages_parsed_on_arrival_line_up_ragged_columns_and_escapes(client):
    # Pages fetched together are parsed as they arrive (request_many); text cells
    # point into each page's body, escaped text into a side buffer.
    recs = []
    for i in range(1200):
        r: dict = {"id": f"e{i:05d}", "i": i}
        if i % 7 == 0:
            r["note"] = f'say "hi" \\ tab\t {i} caf\u00e9'
        if i >= 900:
            r["late"] = f"only in later pages {i % 3}"
        recs.append(r)
    client.data.create("Ragged", recs)
    df = same(client, "Ragged", page_size=100, concurrency=5)
    assert df["i"].tolist() == list(range(1200))
    assert df.loc[7, "note"] == 'say "hi" \\ tab\t 7 caf\u00e9'
    assert df["late"].isna().sum() == 900


def test_kinds_that_change_from_page_to_page(client):
    # Each page is typed on its own (pages of 3 here); the columns must still come
    # out as if every record had been seen at once.
    pages = [
        [{"v": 1, "k": 1, "b": True, "d": None, "t": "2021-01-01", "m": 1, "n": 1,
          "x": "a", "y": "2020-01-01", "z": "2020-01-01T00:00:00", "f": 1} for _ in range(3)],
        [{"v": 1.5, "k": "s", "b": None, "d": "2021-02-03", "t": "2021-01-02T00:00:00-05:00",
          "m": 2.5, "e": "late", "x": "2021-01-01", "y": "nope", "r": [1, {"a": None}],
          "z": "2020-01-01T00:00:00Z", "f": 0.5},
         {"v": None, "k": 2, "b": False, "d": "2021-02-04", "t": "2021-01-03", "m": 3,
          "e": None, "x": None, "y": None, "z": None, "f": None},
         {"v": 2, "k": None, "b": True, "d": None, "t": None, "m": None, "e": "more",
          "x": "b", "y": "2020-01-02", "z": "2020-01-03T04:05:06Z", "f": 1.25}],
        [{"v": 3, "k": 1.5, "b": True, "m": 4, "n": None, "y": "2020-01-03"} for _ in range(2)],
    ]  # fmt: skip
    recs = [dict(r, id=f"p{i}") for i, r in enumerate(r for p in pages for r in p)]
    client.data.create("Kinds", recs)
    df = same(client, "Kinds", page_size=3, concurrency=2)
    assert str(df["v"].dtype) == "float64" and str(df["n"].dtype) == "Int64"
    assert df["k"].dtype == object and df["b"].dtype == object
    # "nope" among the first 20 values: text; an offset without a UTC marker: text.
    assert not str(df["y"].dtype).startswith("datetime") and df.loc[3, "y"] == "nope"
    assert not str(df["t"].dtype).startswith("datetime")
    assert str(df["d"].dtype).startswith("datetime64") and df["z"].dt.tz is not None
    assert df.loc[3, "r"] == [1, {"a": None}]
    assert df["f"].isna().tolist() == [False] * 4 + [True, False, True, True]


def test_text_made_on_arrival_keeps_what_date_reading_needs(client):
    # Pages of 3: the first 21 values are dates, so the column reads as dates, and
    # UTC because of a "Z" in value 23, on a page whose first value is not a date.
    # Without pyarrow each page makes its str as it arrives and lets go of its text
    # only when no value is date-like; that page must keep its text.
    days = [f"2021-01-{d:02d}" for d in range(1, 22)]
    values = [*days, "n/a", "2021-02-05T00:00:00Z", "x", "a", "b", "c"]
    client.data.create("Late", [{"id": f"l{i}", "at": v} for i, v in enumerate(values)])
    df = same(client, "Late", page_size=3, concurrency=3)
    assert df["at"].dt.tz is not None and df["at"].isna().sum() == 5


def test_repeated_text_is_one_str_per_value(petro_emulator_empty):
    # 6,000 records in pages of 500: "kind" has 3 values, "name" 2,500 (most of its
    # first 4,096 values are repeats), "id" is unique. Whether the str objects are
    # made as the pages arrive or in finish, equal text is one str object, except
    # in a column of ids (where sharing would not pay).
    emu = petro_emulator_empty
    recs = [{"id": f"id{i:05d}", "kind": "abc"[i % 3], "name": f"n{(i * 7919) % 2500}"}
            for i in range(6000)]  # fmt: skip
    with petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key) as c:
        c.data.create("Rep", recs)
    s = petro.Session()
    s.auth = (emu.app_id, emu.secret_key)
    calls = [{"method": "POST", "url": emu.url + "/api/data/query",
              "json": {"type": "Rep", "query": {}, "options": {"limit": 500, "skip": k}}}
             for k in range(0, 6000, 500)]  # fmt: skip
    for on_arrival in (True, False):
        b = _core.FrameBuilder(text_objects=on_arrival)
        frames = b if on_arrival else None
        for r in s._request_many(calls, 3, False, parse_records=True, frames=frames):
            b.append(_core.parse_records(r._raw))
        cols = {name: data for name, _, data, _, _ in b.finish()}
        assert cols["name"].tolist() == [r["name"] for r in recs]
        assert len({id(v) for v in cols["kind"]}) == 3
        assert len({id(v) for v in cols["name"]}) == 2500
        assert len({id(v) for v in cols["id"]}) == 6000


def test_negative_offsets_are_left_to_pandas(client):
    client.data.create("Tz", [{"id": f"t{i}", "at": f"2021-01-0{i + 1}T00:00:00-05:00"}
                              for i in range(3)])  # fmt: skip
    same(client, "Tz")


def test_parse_records_shapes():
    page = _core.parse_records(b'{"count": 10, "data": [{"a": 1}, {"a": 2}]}')
    assert page is not None and len(page) == 2 and page.count == 10
    assert _core.parse_records(b'[{"a": 1}]').count is None
    # Not a list of records, or not JSON: None, so the caller's .json() reports it.
    for body in (b"[1, 2]", b'{"status": 401, "message": "no"}', b"[{", b"", b"null"):
        assert _core.parse_records(body) is None
    b = _core.FrameBuilder()
    b.append(page)
    with pytest.raises(ValueError, match="already appended"):
        b.append(page)
    assert len(b) == 2
    with pytest.raises(ValueError, match="text_objects"):
        _core.FrameBuilder(text_objects=True).finish(arrow_text=True)
    ((name, kind, data, missing, utc),) = b.finish()
    assert (name, kind, missing, utc) == ("a", "int", None, False)
    assert data.dtype == "int64" and data.tolist() == [1, 2]


def test_query_df_errors_like_query(client):
    with pytest.raises(petro.exceptions.HTTPError):
        client.data.query_df("NeverCreated")


def test_text_columns_as_arrow_buffers():
    page = _core.parse_records(
        b'[{"s": "a\\u00e9", "t": "x"}, {"s": null, "t": "y"}, {"t": "z"}, {"s": ""}]'
    )
    b = _core.FrameBuilder()
    b.append(page)
    cols = {name: (kind, data, missing) for name, kind, data, missing, _ in b.finish(True)}
    kind, (offsets, chars), valid = cols["s"]
    assert kind == "arrow_str"
    assert offsets.dtype == "int64" and offsets.tolist() == [0, 3, 3, 3, 3]
    assert bytes(chars) == "a\u00e9".encode() and bytes(valid) == bytes([0b1001])
    kind, (offsets, chars), valid = cols["t"]
    assert bytes(chars) == b"xyz" and bytes(valid) == bytes([0b0111])
    if _frames.arrow_text():
        df = _frames.from_columns([(n, k, d, m, False) for n, (k, d, m) in cols.items()])
        assert df["s"].tolist()[0::3] == ["a\u00e9", ""] and df["s"].isna().tolist() == [
            False, True, True, False
        ]  # fmt: skip


@pytest.mark.parametrize("total", [0, 250, 1000, 2050])
def test_query_df_sends_no_page_past_the_end_but_in_flight_ones(server, total):
    # query_df asks for many pages per step (up to 8 windows) with `concurrency` in
    # flight; once a page comes back short, no request after it is sent.
    server.httpd.total_records = total
    before = len(server.requests)
    with petro.PetroAI(server.url(), app_id="a", secret_key="s", progress=False) as c:
        df = c.data.query_df("T", page_size=50, concurrency=4)
    assert df["i"].tolist() == list(range(total)) if total else len(df) == 0
    pages = [r for r in server.requests[before:] if r["path"] == "/api/data/query"]
    needed = total // 50 + 1  # the last one short (or empty)
    assert needed <= len(pages) <= needed + 3


def test_columns_of_nulls(client, monkeypatch):
    # Only None: kind "null", an object column of None without pandas' inference.
    # None and missing mixed: inferred as before (NaN floats, as the dict path gives).
    recs = [{"id": f"n{i}", "none": None, **({"gap": None} if i % 2 else {})} for i in range(10)]
    client.data.create("Nulls", recs)
    kinds = {}
    real = _frames.from_columns

    def spy(columns):
        kinds.update({name: kind for name, kind, *_ in columns})
        return real(columns)

    monkeypatch.setattr(_frames, "from_columns", spy)
    df = same(client, "Nulls", page_size=3, concurrency=2)
    assert kinds["none"] == "null" and kinds["gap"] == "object"
    assert df["none"].dtype == object and df["none"].tolist() == [None] * 10


def test_text_columns_not_starting_with_a_date_are_left_as_text(client):
    recs = [{"id": f"t{i}", "when": "2021-01-01" if i else "soon", "day": "2021-01-02"}
            for i in range(30)]  # fmt: skip
    client.data.create("Texts", recs)
    df = same(client, "Texts")
    assert df.loc[1, "when"] == "2021-01-01" and str(df["day"].dtype).startswith("datetime64")
