"""JSON in and out agrees with the standard library."""

import datetime
import enum
import gc
import json
import math

import pytest

import petro
from petro import _core


@pytest.mark.parametrize(
    "text",
    [
        b'{"b": 1, "a": 2, "c": {"z": 1, "y": 2}}',
        b"[1, -0, 1.5, 1e400, -1e400, 123456789012345678901234567890, -98765432109876543210]",
        b'{"a": 1, "a": 2}',
        b'"\\u00e9\\ud83d\\ude00 \\n"',
        b"  [true, false, null]  ",
        b'{"nested": [[[[{"deep": [1]}]]]]}',
        '{"unicode": "Ünïcode ☃"}'.encode(),
        b"1.7976931348623157e308",
        b"0.1",
    ],
)
def test_loads_agrees_with_json_module(text):
    assert _core.loads(text) == json.loads(text)
    assert list(_core.loads(text)) == list(json.loads(text)) if text.startswith(b"{") else True


def test_large_bodies_share_repeated_strings():
    # Up to 8 MiB, orjson parses (when installed); above, jiter, which gives each
    # repeated string one object (memory for large record lists).
    body = json.dumps([{"basin": "Permian", "i": i} for i in range(300_000)]).encode()
    assert len(body) > 8 << 20
    out = _core.loads(body)
    assert out == json.loads(body)
    assert out[0]["basin"] is out[-1]["basin"]


def tricky_records(n):
    """Records whose text holds what the cutter of large arrays looks for (a `}`,
    then `,` and `{`) inside strings and nested values, so cuts land there too."""
    notes = ["a}, {b", 'x},{"y": 1}, {', "}\n,\n{", 'plain \\ "q"', "ünï ☃"]
    return [
        {
            "i": i,
            "name": f"w{i:06d}",
            "note": notes[i % 5] if i % 3 else "",
            "vals": [{"k": i}, {"k": -i, "s": "}, {"}] if i % 4 == 0 else [],
            "f": i / 7,
            "ok": i % 2 == 0,
            "none": None,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("indent, separators", [(None, None), (None, (",", ":")), (2, None)])
def test_large_arrays_parse_in_pieces_exactly(indent, separators):
    # Arrays from 2 MiB go to orjson in pieces cut between records; a cut that
    # lands in a string or a nested value fails to parse and the rest goes whole.
    body = json.dumps(tricky_records(25_000), indent=indent, separators=separators).encode()
    assert 2 << 20 < len(body) < 8 << 20
    want = json.loads(body)
    got = _core.loads(body)
    assert len(got) == len(want) and got == want
    assert [list(r) for r in got] == [list(r) for r in want]
    body = b"\xef\xbb\xbf \n" + body + b"\n "  # a BOM and whitespace around it
    assert _core.loads(body) == want


def test_large_array_whose_first_cut_lands_in_a_string():
    body = json.dumps([{"s": "}, {" * 100_000}, *tricky_records(20_000)]).encode()
    assert len(body) > 2 << 20 and _core.loads(body) == json.loads(body)


def test_large_array_that_orjson_refuses_or_that_is_bad():
    records = tricky_records(25_000)
    records[20_000]["f"] = math.nan  # orjson refuses NaN: jiter parses it all
    body = json.dumps(records).encode()
    got = _core.loads(body)
    assert math.isnan(got[20_000].pop("f")) and records[20_000].pop("f") is not None
    assert got == records
    at = body.index(b'"w020000"')
    bad = body[:at] + b"?" + body[at + 1 :]
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(bad)
    with pytest.raises(petro.JSONDecodeError) as e:
        _core.loads(bad)
    assert e.value.pos == want.value.pos == at


@pytest.mark.parametrize(
    "text",
    [b"[18446744073709551616]", b"[123456789012345678901234567890]",
     b'{"id": -98765432109876543210}', b"[9223372036854775807, -9223372036854775808]",
     b"[-9223372036854775809]", b'{"v": -9999999999999999999, "w": 9999999999999999999}'],
)  # fmt: skip
def test_ints_beyond_64_bits_stay_exact(text):
    # orjson (small bodies) turns them into floats: such bodies go to jiter.
    assert _core.loads(text) == json.loads(text)


@pytest.mark.parametrize("pad", [0, 1, 7, 19, 20, 21, 33])
def test_big_int_is_found_at_any_offset_of_a_large_body(pad):
    # The scan for 19+ digit runs tests aligned 8-byte blocks: a run must not slip between
    # (the filler's 18-digit ints are not one).
    body = b"[" + b'"x", 123456789012345678, ' * 20_000 + b" " * pad + b"12345678901234567890]"
    assert _core.loads(body)[-1] == 12345678901234567890


def test_large_parse_leaves_the_gc_as_it_found_it():
    # Large bodies are parsed with the cyclic GC paused; it must come back as it was.
    body = json.dumps([{"i": i, "s": str(i)} for i in range(30_000)]).encode()
    assert len(body) > 256 << 10 and gc.isenabled()
    assert _core.loads(body)[-1] == {"i": 29_999, "s": "29999"}
    assert gc.isenabled()
    with pytest.raises(petro.exceptions.JSONDecodeError):
        _core.loads(body[:-1])
    assert gc.isenabled()
    gc.disable()
    try:
        _core.loads(body)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_key_order_and_duplicates():
    data = _core.loads(b'{"z": 1, "a": 2, "m": 3, "a": 4}')
    assert list(data) == ["z", "a", "m"] and data["a"] == 4


def test_nan_and_infinity_accepted():
    out = _core.loads(b"[NaN, Infinity, -Infinity]")
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


@pytest.mark.parametrize(
    "bad", [b'{"a": 1} trailing', b"[1, 2", b"\xff\xfe", b'"\xc3\x28"', b"", b'{"a" 1}']
)
def test_invalid_json_rejected(bad):
    with pytest.raises(ValueError):  # JSONDecodeError, or UnicodeDecodeError for bad UTF-8
        json.loads(bad)
    with pytest.raises(petro.JSONDecodeError):
        _core.loads(bad)


class _Level(enum.IntEnum):
    HIGH = 7


def test_dumps_matches_json_dumps():
    values = [
        {"type": "petron", "query": {}, "options": {"limit": 10}},
        [0.1, 1e16, 1e-5, 123.456, -2.5e-300, 10**30, -(10**30), True, False, None],
        {"k": 'tab\tquote"backslash\\ctrl\x01 uni é 😀 \u2028'},
        {1: "a", 2.5: "b", False: "c", None: "d"},
        # Either side of the i64 range, as values and as keys; IntEnum as its int.
        {10**20: 1, "d": 2**63, "e": -(2**63), "f": -(2**63) - 1, _Level.HIGH: _Level.HIGH},
        (1, (2, 3)),
        "",
    ]
    for v in values:
        assert _core.dumps(v) == json.dumps(v).encode(), v


def test_dumps_errors_name_the_type_and_place():
    with pytest.raises(TypeError, match=r"datetime.*\$\.data\[0\]\.when"):
        _core.dumps({"data": [{"when": datetime.datetime(2024, 1, 1)}]})
    with pytest.raises(TypeError, match="set"):
        _core.dumps({"ids": {1, 2}})
    with pytest.raises(ValueError, match=r"nan.*\$\.x"):
        _core.dumps({"x": float("nan")})
    with pytest.raises(petro.exceptions.InvalidJSONError):
        _core.dumps([float("inf")])
    with pytest.raises(TypeError, match="keys must be"):
        _core.dumps({(1, 2): 3})
    circular = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        _core.dumps(circular)


def test_bad_json_argument_raises_before_sending(server):
    before = len(server.requests)
    with pytest.raises(TypeError, match="type date is not JSON serializable"):
        petro.post(server.url("/echo"), json={"when": datetime.date.today()})
    assert len(server.requests) == before
