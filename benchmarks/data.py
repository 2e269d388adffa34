"""The benchmark's data: well-like records (~15 fields), request bodies, and their checks.

Everything is generated from a fixed seed, so each run serves the same bytes and
each response can be validated against a digest computed here, outside the timed
region.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

BASINS = ["Permian", "Delaware", "Midland", "Eagle Ford", "Bakken", "DJ", "Anadarko", "Haynesville"]
OPERATORS = ["Acme Energy", "Bluestem Oil", "Cimarron E&P", "Dakota Resources", "Eagle Rock"]
STATES = ["TX", "NM", "ND", "CO", "OK", "LA"]
STATUSES = ["producing", "shut-in", "drilling", "completed", "plugged"]


def well(i: int, rng: random.Random) -> dict[str, Any]:
    """One well-like record (~540 bytes of JSON): strings, ints, floats, dates, a bool, a null."""
    year = 2010 + rng.randrange(14)
    return {
        "wellId": f"W{i:07d}",
        "api14": f"42{rng.randrange(10**11, 10**12):012d}",
        "name": f"{rng.choice(['Smith', 'Jones', 'Hill', 'Reed'])} Unit {rng.randrange(1, 99)}-{rng.randrange(1, 36)}H",
        "leaseName": f"{rng.choice(['North', 'South', 'East', 'West'])} {rng.choice(['Ranch', 'Mesa', 'Draw', 'Creek'])} State Lease {rng.randrange(1000, 9999)}",
        "operatorId": "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}".format(
            *tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
        ),
        "operator": rng.choice(OPERATORS),
        "basinName": rng.choice(BASINS),
        "state": rng.choice(STATES),
        "county": f"County {rng.randrange(1, 250)}",
        "latitude": round(rng.uniform(28.0, 48.0), 6),
        "longitude": round(rng.uniform(-106.0, -96.0), 6),
        "spudDate": f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "firstProdDate": f"{year + 1}-{rng.randrange(1, 13):02d}-01T00:00:00Z",
        "formation": rng.choice(
            ["Wolfcamp A", "Wolfcamp B", "Spraberry", "Bone Spring", "Niobrara"]
        ),
        "tvd_ft": rng.randrange(4000, 13000),
        "lateralLength_ft": rng.randrange(3000, 15000),
        "cumOil_bbl": round(rng.uniform(0, 900000), 2),
        "status": rng.choice(STATUSES),
        "isHorizontal": rng.random() < 0.8,
        "comment": None,
    }


def wells(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` deterministic well records."""
    rng = random.Random(seed)
    return [well(i, rng) for i in range(n)]


def digest(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What a correct parse of ``records`` must show: count, sums and two whole records."""
    return {
        "count": len(records),
        "tvd_sum": sum(r["tvd_ft"] for r in records),
        "first": records[0],
        "last": records[-1],
        "ids": hashlib.sha256("".join(r["wellId"] for r in records).encode()).hexdigest(),
    }


def check_records(obj: Any, want: dict[str, Any], what: str) -> None:
    """Raise unless ``obj`` is the parsed list of records ``want`` describes."""
    if not isinstance(obj, list) or len(obj) != want["count"]:
        n = len(obj) if isinstance(obj, list) else type(obj).__name__
        raise AssertionError(f"{what}: expected {want['count']} records, got {n}")
    if obj[0] != want["first"] or obj[-1] != want["last"]:
        raise AssertionError(f"{what}: first/last record differs")
    if sum(r["tvd_ft"] for r in obj) != want["tvd_sum"]:
        raise AssertionError(f"{what}: tvd_ft checksum differs")
    ids = hashlib.sha256("".join(r["wellId"] for r in obj).encode()).hexdigest()
    if ids != want["ids"]:
        raise AssertionError(f"{what}: wellId checksum differs")


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as an API server sends them."""
    return json.dumps(obj, separators=(",", ":")).encode()


#: W1's request body: a typical ~200-byte data-API query.
QUERY_BODY: dict[str, Any] = {
    "type": "Well",
    "query": {"basinName": "Permian", "tvd_ft": {"gt": 9000}, "status": ["producing", "shut-in"]},
    "options": {"limit": 100, "skip": 0, "sort": {"spudDate": -1}, "fields": ["wellId", "name"]},
    "requestId": "bench-0000000000000001",
}

#: The small JSON reply nginx serves to W1/W3's POSTs.
REPLY: dict[str, Any] = {
    "ok": True,
    "count": 3,
    "data": [
        {"wellId": "W0000001", "name": "Smith 12-3H", "tvd_ft": 10450},
        {"wellId": "W0000002", "name": "Jones 4-10H", "tvd_ft": 9876},
        {"wellId": "W0000003", "name": "Hill 7-21H", "tvd_ft": 11020},
    ],
    "requestId": "bench-reply",
}


def check_reply(obj: Any, what: str) -> None:
    """Raise unless ``obj`` is the parsed ``REPLY``."""
    if obj != REPLY:
        raise AssertionError(f"{what}: wrong reply {str(obj)[:80]!r}")
