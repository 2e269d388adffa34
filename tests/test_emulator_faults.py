"""Injected faults over real HTTP, through the Python API and the /_admin surface."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
import requests

from petro.emulator import Emulator


@pytest.fixture
def emu() -> Emulator:
    with Emulator(sample_wells=30, sample_months=2) as e:
        yield e


def query(emu: Emulator, timeout: float = 30) -> requests.Response:
    return requests.post(
        emu.url + "/api/data/query",
        auth=emu.auth,
        json={"type": "Well", "options": {"limit": 20}},
        timeout=timeout,
    )


def test_status_times_and_retry_after(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=2, retry_after=1)
    r1, r2, r3 = query(emu), query(emu), query(emu)
    assert (r1.status_code, r2.status_code, r3.status_code) == (503, 503, 200)
    assert r1.headers["Retry-After"] == "1"
    assert len(r3.json()) == 20
    emu.inject_fault({"route": "*", "kind": "status", "status": 429})
    r = requests.get(emu.url + "/v1/tenants", timeout=30)  # before auth: no key needed
    assert r.status_code == 429 and "Retry-After" not in r.headers
    emu.inject_fault(route="/api/*", method="GET", kind="status", status=502, times=-1)
    assert query(emu).status_code == 200  # POST is not affected
    for _ in range(3):
        assert requests.get(emu.url + "/api/data/types", auth=emu.auth).status_code == 502
    emu.clear_faults()
    assert requests.get(emu.url + "/api/data/types", auth=emu.auth).status_code == 200


def test_delay_before_headers(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/query", kind="delay", delay_ms=400)
    with pytest.raises(requests.exceptions.ReadTimeout):
        query(emu, timeout=0.1)
    t = time.monotonic()
    emu.inject_fault(route="/api/data/query", kind="delay", delay_ms=300)
    assert query(emu).status_code == 200
    assert time.monotonic() - t >= 0.3


def test_slow_body_is_trickled_but_whole(emu: Emulator) -> None:
    expected = query(emu).content
    emu.inject_fault(route="/api/data/query", kind="slow_body", chunk_bytes=1024, chunk_delay_ms=20)
    n_chunks = -(-len(expected) // 1024)
    assert n_chunks >= 5
    t = time.monotonic()
    r = requests.post(
        emu.url + "/api/data/query",
        auth=emu.auth,
        json={"type": "Well", "options": {"limit": 20}},
        stream=True,
        timeout=30,
    )
    body = b"".join(r.iter_content(chunk_size=256))
    assert body == expected
    assert time.monotonic() - t >= n_chunks * 0.02 * 0.9


def test_drop_mid_body(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/query", kind="drop")
    with pytest.raises(requests.exceptions.RequestException):
        r = query(emu)
        r.json()
    assert query(emu).status_code == 200


def test_drop_mid_body_raw(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/types", kind="drop", after_bytes=3)
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    token = emu.issue_jwt()
    conn.request("GET", "/api/data/types", headers={"Authorization": "Bearer " + token})
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


def test_truncated_and_malformed_json(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/query", kind="truncate")
    r = query(emu)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    emu.inject_fault(route="/api/data/query", kind="malformed")
    r = query(emu)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.content)


def test_body_of_chosen_size(emu: Emulator) -> None:
    emu.inject_fault(route="/api/data/query", kind="body_size", size=3_000_000)
    r = query(emu)
    assert len(r.content) == 3_000_000
    assert len(r.json()["data"]) == 3_000_000 - 11


def test_redirect_to_other_host(emu: Emulator) -> None:
    emu.inject_fault(
        route="/v1/usage", kind="redirect", location="http://other.invalid/v1/usage", status=307
    )
    r = requests.get(
        emu.url + "/v1/usage",
        headers={"Authorization": "Bearer " + emu.petra_api_key},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 307
    assert r.headers["Location"] == "http://other.invalid/v1/usage"


@pytest.mark.parametrize(
    "spec",
    [
        {"route": "*", "kind": "explode"},
        {"route": "*", "kind": "status", "status": 42},
        {"route": "*", "kind": "delay"},
        {"route": "*", "kind": "delay", "delay_ms": 1, "typo": 1},
        {"route": "*", "kind": "redirect", "location": "x", "status": 200},
        {"route": "*", "kind": "status", "status": 500, "times": 0},
    ],
)
def test_bad_fault_specs(emu: Emulator, spec: dict) -> None:
    with pytest.raises(ValueError):
        emu.inject_fault(spec)


# ----- the admin surface over HTTP -----


def admin(emu: Emulator, method: str, path: str, token: str | None = None, **kw):
    token = emu.admin_token if token is None else token
    return requests.request(
        method,
        emu.url + "/_admin" + path,
        headers={"X-Petro-Admin-Token": token},
        timeout=30,
        **kw,
    )


def test_admin_needs_token(emu: Emulator) -> None:
    assert admin(emu, "GET", "/health").json() == {"ok": True}
    assert admin(emu, "GET", "/health", token="wrong").status_code == 401
    assert requests.get(emu.url + "/_admin/health", timeout=30).status_code == 401
    assert admin(emu, "POST", "/api-keys", token="").status_code == 401


def test_admin_controls(emu: Emulator) -> None:
    keys = admin(emu, "POST", "/api-keys").json()
    auth = (keys["app_id"], keys["secret_key"])
    url = emu.url + "/api/data/types"
    assert requests.get(url, auth=auth, timeout=30).status_code == 200
    assert admin(emu, "POST", f"/api-keys/{keys['app_id']}/disable").status_code == 200
    assert requests.get(url, auth=auth, timeout=30).status_code == 401
    assert admin(emu, "POST", f"/api-keys/{keys['app_id']}/enable").status_code == 200
    assert requests.get(url, auth=auth, timeout=30).status_code == 200
    assert admin(emu, "DELETE", f"/api-keys/{keys['app_id']}").status_code == 200
    assert requests.get(url, auth=auth, timeout=30).status_code == 401
    assert admin(emu, "DELETE", f"/api-keys/{keys['app_id']}").status_code == 404

    var = admin(emu, "POST", "/petra-keys", json={"kind": "var"}).json()["api_key"]
    assert var.startswith("petra_var_")
    token = admin(emu, "POST", "/jwt", json={"expires_in": 30}).json()["token"]
    bearer = {"Authorization": "Bearer " + token}
    assert requests.get(url, headers=bearer, timeout=30).status_code == 200
    assert admin(emu, "POST", "/clock/advance", json={"seconds": 31}).status_code == 200
    assert requests.get(url, headers=bearer, timeout=30).status_code == 401
    assert admin(emu, "POST", "/petra-keys/delete", json={"api_key": var}).status_code == 200

    spec = {"route": "/api/data/types", "kind": "status", "status": 500}
    assert admin(emu, "POST", "/faults", json=spec).json()["id"] >= 1
    assert requests.get(url, auth=emu.auth, timeout=30).status_code == 500
    assert admin(emu, "POST", "/faults", json={"kind": "nope"}).status_code == 400
    assert admin(emu, "POST", "/rate-limit", json={"limit": 1}).status_code == 200
    assert requests.get(url, auth=emu.auth, timeout=30).status_code == 200
    assert requests.get(url, auth=emu.auth, timeout=30).status_code == 429
    assert admin(emu, "POST", "/rate-limit", json={"limit": None}).status_code == 200
    assert requests.get(url, auth=emu.auth, timeout=30).status_code == 200
    assert admin(emu, "DELETE", "/faults").status_code == 200


def test_admin_refuses_non_loopback() -> None:
    # Bind on every interface and reach the server through a non-loopback address, if
    # this machine has one.
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        ip = s.getsockname()[0]
        s.close()
    except OSError:
        pytest.skip("no non-loopback IPv4 address")
    if ip.startswith("127."):
        pytest.skip("no non-loopback IPv4 address")
    with Emulator(host="0.0.0.0", sample_data=False) as emu:
        r = requests.get(
            f"http://{ip}:{emu.port}/_admin/health",
            headers={"X-Petro-Admin-Token": emu.admin_token},
            timeout=30,
        )
        assert r.status_code == 403
        assert admin(emu, "GET", "/health").status_code == 200
