"""The emulator's Petro.ai API over real HTTP: auth, data endpoints, query language,
response shapes, v4 quirk mode and the legacy collection endpoint."""

from __future__ import annotations

import subprocess

import pytest
import requests

from petro.emulator import Emulator


def query(emu: Emulator, body: dict, **kw) -> requests.Response:
    return requests.post(emu.url + "/api/data/query", auth=emu.auth, json=body, timeout=30, **kw)


def names(resp: requests.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [r["name"] for r in resp.json()]


@pytest.fixture
def things(petro_emulator_empty: Emulator) -> Emulator:
    emu = petro_emulator_empty
    r = requests.post(
        emu.url + "/api/data",
        auth=emu.auth,
        json={
            "type": "Thing",
            "data": [
                {"name": "a", "n": 1, "tag": "x", "loc": {"lat": 31.5}, "ok": True},
                {"name": "b", "n": 5, "tag": "y", "loc": {"lat": 40.1}},
                {"name": "c", "n": 10, "tag": "x", "ok": False},
                {"name": "d", "n": 2.5, "tag": None},
            ],
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 4
    assert all(len(rec["id"]) == 24 for rec in body["data"])
    return emu


# ----- auth -----


def test_basic_auth_good_bad_missing(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    ok = query(emu, {"type": "petron"})
    assert ok.status_code == 200 and len(ok.json()) == 5
    bad = requests.post(
        emu.url + "/api/data/query", auth=(emu.app_id, "0" * 32), json={"type": "petron"}
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "unauthorized"
    assert emu.secret_key not in bad.text
    missing = requests.post(emu.url + "/api/data/query", json={"type": "petron"})
    assert missing.status_code == 401
    assert "missing" in missing.json()["message"]


def test_key_disable_enable_delete(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    app_id, secret = emu.create_api_key()
    assert len(app_id) == 32 and len(secret) == 32
    assert all(c in "0123456789abcdef" for c in app_id + secret)

    def status() -> int:
        return requests.post(
            emu.url + "/api/data/query", auth=(app_id, secret), json={"type": "petron"}
        ).status_code

    assert status() == 200
    emu.disable_api_key(app_id)
    assert status() == 401
    emu.enable_api_key(app_id)
    assert status() == 200
    emu.delete_api_key(app_id)
    assert status() == 401
    with pytest.raises(KeyError):
        emu.delete_api_key(app_id)


def test_jwt_valid_expired_tampered(petro_emulator_empty: Emulator) -> None:
    emu = petro_emulator_empty
    token = emu.issue_jwt()
    assert token.count(".") == 2

    def status(tok: str) -> int:
        return requests.post(
            emu.url + "/api/data",
            headers={"Authorization": "Bearer " + tok},
            json={"type": "t", "data": [{"a": 1}]},
        ).status_code

    assert status(token) == 200
    head, payload, sig = token.split(".")
    tampered = f"{head}.{payload}.{sig[:-2]}{'AA' if not sig.endswith('AA') else 'BB'}"
    assert status(tampered) == 401
    assert status("not-a-jwt") == 401
    emu.advance_clock(4 * 3600 - 60)
    assert status(token) == 200
    emu.advance_clock(120)
    r = requests.post(
        emu.url + "/api/data/query", headers={"Authorization": "Bearer " + token}, json={}
    )
    assert r.status_code == 401
    assert "expired" in r.json()["message"]
    assert status(emu.issue_jwt()) == 200  # a fresh token works on the moved clock
    assert status(emu.issue_jwt(expires_in=-1)) == 401


def test_repr_hides_secrets(petro_emulator: Emulator) -> None:
    text = repr(petro_emulator)
    assert petro_emulator.url in text
    for secret in (
        petro_emulator.secret_key,
        petro_emulator.petra_api_key,
        petro_emulator.petra_var_api_key,
        petro_emulator.admin_token,
    ):
        assert secret not in text


# ----- writes -----


def test_insert_keeps_key_order_and_ids(petro_emulator_empty: Emulator) -> None:
    emu = petro_emulator_empty
    r = requests.post(
        emu.url + "/api/data",
        auth=emu.auth,
        json={"type": "Petron", "data": [{"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}}]},
    )
    assert r.status_code == 200
    rec = r.json()["data"][0]
    assert list(rec) == ["id", "zeta", "alpha", "mid"]
    got = query(emu, {"type": "petron", "query": {"id": rec["id"]}}).json()
    assert got == [rec]
    assert list(got[0]["mid"]) == ["b", "a"]
    # Insert with a known id is a conflict; PUT replaces it.
    dup = requests.post(
        emu.url + "/api/data", auth=emu.auth, json={"type": "petron", "data": [rec]}
    )
    assert dup.status_code == 409


def test_put_replaces_or_inserts(things: Emulator) -> None:
    emu = things
    a = query(emu, {"type": "thing", "query": {"name": "a"}}).json()[0]
    r = requests.put(
        emu.url + "/api/data",
        auth=emu.auth,
        json={"type": "thing", "data": [{"id": a["id"], "name": "a2"}, {"name": "e"}]},
    )
    assert r.status_code == 200 and r.json()["count"] == 2
    got = query(emu, {"type": "thing", "query": {"id": a["id"]}}).json()
    assert got == [{"id": a["id"], "name": "a2"}]
    assert len(query(emu, {"type": "thing"}).json()) == 5


def test_patch_sets_fields(things: Emulator) -> None:
    emu = things
    r = requests.patch(
        emu.url + "/api/data",
        auth=emu.auth,
        json={"type": "thing", "query": {"tag": "x"}, "body": {"tag": "z", "loc.lon": -101.5}},
    )
    assert r.status_code == 200 and r.json()["count"] == 2
    got = query(emu, {"type": "thing", "query": {"loc.lon": -101.5}})
    assert names(got) == ["a", "c"]
    assert got.json()[0]["loc"] == {"lat": 31.5, "lon": -101.5}


def test_delete_needs_a_query(things: Emulator) -> None:
    emu = things
    for q in ({}, None):
        body = {"type": "thing"} if q is None else {"type": "thing", "query": q}
        r = requests.delete(emu.url + "/api/data", auth=emu.auth, json=body)
        assert r.status_code == 400
        assert "empty query" in r.json()["message"]
    assert len(query(emu, {"type": "thing"}).json()) == 4
    r = requests.delete(
        emu.url + "/api/data", auth=emu.auth, json={"type": "thing", "query": {"tag": "x"}}
    )
    assert r.status_code == 200 and r.json()["count"] == 2
    assert names(query(emu, {"type": "thing"})) == ["b", "d"]


# ----- queries -----


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ({}, ["a", "b", "c", "d"]),
        ({"tag": "x"}, ["a", "c"]),
        ({"tag": {"eq": "x"}}, ["a", "c"]),
        ({"tag": {"ne": "x"}}, ["b", "d"]),
        ({"n": {"gt": 2.5}}, ["b", "c"]),
        ({"n": {"gte": 2.5}}, ["b", "c", "d"]),
        ({"n": {"lt": 5}}, ["a", "d"]),
        ({"n": {"lte": 5}}, ["a", "b", "d"]),
        ({"n": {"gt": 1, "lt": 10}}, ["b", "d"]),
        ({"name": {"in": ["a", "c", "zz"]}}, ["a", "c"]),
        ({"name": {"nin": ["a", "c"]}}, ["b", "d"]),
        ({"name": ["b", "d"]}, ["b", "d"]),
        ({"loc": {"exists": True}}, ["a", "b"]),
        ({"ok": {"exists": False}}, ["b", "d"]),
        ({"name": {"regex": "^[bc]"}}, ["b", "c"]),
        ({"loc.lat": {"gt": 35}}, ["b"]),
        ({"ok": True}, ["a"]),
        ({"tag": None}, ["d"]),
        ({"tag": "x", "n": {"gt": 1}}, ["c"]),
    ],
)
def test_query_operators(things: Emulator, q: dict, expected: list[str]) -> None:
    assert names(query(things, {"type": "thing", "query": q})) == expected


def test_query_options(things: Emulator) -> None:
    emu = things
    r = query(emu, {"type": "THING", "options": {"sort": {"n": -1}, "limit": 2, "skip": 1}})
    assert names(r) == ["b", "d"]
    r = query(emu, {"type": "thing", "query": {"name": "b"}, "options": {"fields": ["n"]}})
    assert r.status_code == 200
    assert list(r.json()[0]) == ["id", "n"]
    # Paging with skip until a short page.
    seen: list[str] = []
    skip = 0
    while True:
        page = names(query(emu, {"type": "thing", "options": {"limit": 3, "skip": skip}}))
        seen += page
        skip += 3
        if len(page) < 3:
            break
    assert seen == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"type": "thing", "query": {"n": {"between": [1, 2]}}}, "'between'"),
        ({"type": "thing", "query": {"n": {"$gt": 1}}}, "without '$'"),
        ({"type": "thing", "query": {"$or": []}}, "'$or'"),
        ({"type": "thing", "query": {"n": {"in": 3}}}, "'in'"),
        ({"type": "thing", "query": {"n": {"regex": "("}}}, "regex"),
        ({"type": "thing", "query": "name=a"}, "'query'"),
        ({"type": "thing", "options": {"limit": -1}}, "options.limit"),
        ({"type": "thing", "options": {"sort": {"n": 2}}}, "options.sort"),
        ({"type": "thing", "options": {"bogus": 1}}, "'bogus'"),
        ({"query": {}}, "'type'"),
        ({"type": "NoSuchType"}, "'NoSuchType'"),
        ({"type": "thing", "query": {"x'; DROP TABLE records; --": 1}}, "invalid field"),
    ],
)
def test_query_errors_name_the_problem(things: Emulator, body: dict, needle: str) -> None:
    r = query(things, body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert len(query(things, {"type": "thing"}).json()) == 4  # nothing damaged


def test_malformed_and_oversized_bodies() -> None:
    with Emulator(sample_data=False, max_body_bytes=1000) as emu:
        r = requests.post(
            emu.url + "/api/data/query",
            auth=emu.auth,
            data=b'{"type": "x", ',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
        r = requests.post(emu.url + "/api/data", auth=emu.auth, data=b"")
        assert r.status_code == 400
        big = {"type": "t", "data": [{"pad": "x" * 2000}]}
        r = requests.post(emu.url + "/api/data", auth=emu.auth, json=big)
        assert r.status_code == 413
        assert r.json()["error"] == "payload_too_large"

        def chunks():
            yield b'{"type": "t", "data": [{"pad": "'
            yield b"x" * 5000
            yield b'"}]}'

        r = requests.post(emu.url + "/api/data", auth=emu.auth, data=chunks())
        assert r.status_code == 413
        r = requests.get(emu.url + "/api/data/types", auth=emu.auth)
        assert r.json() == []


def test_injection_attempts_are_data(things: Emulator) -> None:
    emu = things
    evil = "x'); DROP TABLE records; --"
    r = requests.post(
        emu.url + "/api/data", auth=emu.auth, json={"type": "thing", "data": [{"name": evil}]}
    )
    assert r.status_code == 200
    assert names(query(emu, {"type": "thing", "query": {"name": evil}})) == [evil]
    assert len(query(emu, {"type": "thing"}).json()) == 5


# ----- sample data, schema, types, legacy -----


def test_sample_data_wells_and_production(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    types = requests.get(emu.url + "/api/data/types", auth=emu.auth).json()
    assert {"Well", "MonthlyProduction", "petron"} <= set(types)
    wells = query(emu, {"type": "Well", "query": {"basinName": ["Permian", "Delaware"]}}).json()
    assert len(wells) > 50
    w = wells[0]
    for field in (
        "wellId api10 api14 operatorName basinName stateName countyName formationName "
        "spudDate completionDate firstProductionDate surfaceLoc_lat surfaceLoc_lon "
        "measuredDepth_ft tvd_ft lateralLength_ft fracStages totalProppant_lb "
        "totalFluidPumped_bbl"
    ).split():
        assert field in w, field
    assert len(w["api14"]) == 14 and w["api14"].startswith(w["api10"])
    assert w["spudDate"] < w["completionDate"] < w["firstProductionDate"]
    prod = query(
        emu,
        {
            "type": "monthlyproduction",
            "query": {"wellId": w["wellId"]},
            "options": {"sort": {"prodDate": 1}},
        },
    ).json()
    assert len(prod) >= 2
    assert [p["prodDate"] for p in prod] == sorted(p["prodDate"] for p in prod)
    cums = [p["oilCum_bbl"] for p in prod]
    assert cums == sorted(cums)
    if len(prod) > 6:
        assert prod[-1]["oilRate_bblPerDay"] < prod[1]["oilRate_bblPerDay"]


def test_sample_data_is_deterministic() -> None:
    with (
        Emulator(sample_wells=20, sample_months=3) as a,
        Emulator(sample_wells=20, sample_months=3) as b,
    ):
        qa = query(a, {"type": "Well"}).json()
        qb = query(b, {"type": "Well"}).json()
        assert len(qa) == 20
        assert qa == qb


def test_schema_and_types(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    r = requests.get(emu.url + "/api/data/schema", params={"type": "well"}, auth=emu.auth)
    assert r.status_code == 200
    assert "wellId" in r.json()
    r = requests.get(emu.url + "/api/data/schema", params={"type": "nope"}, auth=emu.auth)
    assert r.status_code == 400 and "'nope'" in r.json()["message"]
    r = requests.get(emu.url + "/api/data/schema", auth=emu.auth)
    assert r.status_code == 400 and "'type'" in r.json()["message"]


def test_legacy_collection(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    r = requests.get(
        emu.url + "/api/Wells",
        params={"Limit": 3, "SortBy": "spudDate", "SortOrder": "Descending"},
        auth=emu.auth,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and len(body["data"]) == 3
    dates = [w["spudDate"] for w in body["data"]]
    assert dates == sorted(dates, reverse=True)
    ids = ",".join(w["id"] for w in body["data"][:2])
    r = requests.get(emu.url + "/api/wells", params={"Ids": ids}, auth=emu.auth)
    assert {w["id"] for w in r.json()["data"]} == set(ids.split(","))
    assert requests.get(emu.url + "/api/Wells", auth=emu.auth).json()["count"] == 300
    assert requests.get(emu.url + "/api/Wells").status_code == 401
    r = requests.get(emu.url + "/api/Unicorns", auth=emu.auth)
    assert r.status_code == 404
    r = requests.get(emu.url + "/api/Wells", params={"SortOrder": "Up"}, auth=emu.auth)
    assert r.status_code == 400 and "SortOrder" in r.json()["message"]


def test_unknown_route_and_method(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    r = requests.get(emu.url + "/nowhere", auth=emu.auth)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = requests.get(emu.url + "/api/data/query", auth=emu.auth)
    assert r.status_code == 405


# ----- shapes and modes -----


def test_envelope_shape() -> None:
    with Emulator(sample_wells=10, sample_months=1, response_shape="envelope") as emu:
        body = query(emu, {"type": "Well", "options": {"limit": 4}}).json()
        assert body["count"] == 4 and len(body["data"]) == 4


def test_v4_quirk_mode() -> None:
    with Emulator(sample_data=False, errors="v4") as emu:
        r = requests.post(emu.url + "/api/data/query", json={"type": "x"})
        assert r.status_code == 200
        assert set(r.json()) == {"message"}
        r = requests.delete(emu.url + "/api/data", auth=emu.auth, json={"type": "x"})
        assert r.status_code == 200 and "message" in r.json()
        ok = requests.post(
            emu.url + "/api/data", auth=emu.auth, json={"type": "x", "data": [{"a": 1}]}
        )
        assert ok.status_code == 200 and ok.json()["count"] == 1
        bad = query(emu, {"type": "x", "query": {"a": {"zz": 1}}})
        assert bad.status_code == 200 and "'zz'" in bad.json()["message"]


def test_bad_options_rejected() -> None:
    with pytest.raises(ValueError):
        Emulator(response_shape="xml")
    with pytest.raises(ValueError):
        Emulator(errors="lenient")


# ----- curl -----


def test_curl_basic_auth(petro_emulator: Emulator) -> None:
    emu = petro_emulator
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-u",
            f"{emu.app_id}:{emu.secret_key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"type": "Well", "query": {"basinName": "Bakken"}, "options": {"limit": 2}}',
            "-w",
            "\n%{http_code}",
            emu.url + "/api/data/query",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, code = out.stdout.rsplit("\n", 1)
    assert code == "200"
    import json

    wells = json.loads(body)
    assert len(wells) == 2 and all(w["basinName"] == "Bakken" for w in wells)


def test_oversized_upload_is_a_clean_413_for_petro_and_requests():
    import requests

    import petro
    from petro.emulator import Emulator

    with Emulator(sample_data=False, max_body_bytes=1 << 20) as e:
        body = b'{"type": "x", "data": ["' + b"a" * (8 << 20) + b'"]}'
        for send in (petro.post, requests.post):
            r = send(
                e.url + "/api/data",
                auth=e.auth,
                data=body,
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code == 413
            assert "1048576" in r.json()["message"]
