"""The emulator's Petra Security API over real HTTP: every endpoint under /beta and /v1,
key kinds, error cases, rate limits and the usage workbook."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from petro.emulator import Emulator

PREFIXES = ["/beta", "/v1"]


def get(emu: Emulator, path: str, key: str | None = None, **params) -> requests.Response:
    key = emu.petra_api_key if key is None else key
    return requests.get(
        emu.petra_url + path,
        headers={"Authorization": "Bearer " + key},
        params=params,
        timeout=30,
    )


@pytest.fixture(scope="module")
def emu() -> Emulator:
    with Emulator(sample_data=False) as e:
        yield e


@pytest.mark.parametrize("prefix", PREFIXES)
def test_usage(emu: Emulator, prefix: str) -> None:
    r = get(emu, prefix + "/usage", asOf="2025-03-15")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == [
        "asOf",
        "reportGeneratedAt",
        "organizationName",
        "totalTenants",
        "tenants",
    ]
    assert body["asOf"] == "2025-03-15"
    assert body["totalTenants"] == len(body["tenants"]) >= 5
    t = body["tenants"][0]
    assert list(t) == [
        "petraTenantId",
        "microsoftTenantId",
        "onboardingDate",
        "displayName",
        "service",
        "isPaused",
        "firstBillableDate",
        "billableStatus",
        "totalLicensedUsers",
        "billableUsersThisMonth",
        "proratingPercentageThisMonth",
    ]
    assert all(x["onboardingDate"] <= "2025-03-15" for x in body["tenants"])
    early = get(emu, prefix + "/usage", asOf="2023-01-01").json()
    assert early["totalTenants"] < body["totalTenants"]
    today = get(emu, prefix + "/usage").json()
    assert len(today["asOf"]) == 10
    bad = get(emu, prefix + "/usage", asOf="2025-02-30")
    assert bad.status_code == 400 and "asOf" in bad.json()["message"]
    assert bad.json()["error"] == "bad_request"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_tenants_sorted(emu: Emulator, prefix: str) -> None:
    body = get(emu, prefix + "/tenants").json()
    names = [t["name"] for t in body["tenants"]]
    assert names == sorted(names, key=str.lower)
    assert body["totalTenants"] == len(names)
    assert list(body["tenants"][0]) == [
        "petraTenantId",
        "name",
        "microsoftTenantId",
        "isPaused",
        "onboardingDate",
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_billable_users(emu: Emulator, prefix: str) -> None:
    tenant = get(emu, prefix + "/tenants").json()["tenants"][0]
    r = get(emu, prefix + "/billable-users", tenantId=tenant["petraTenantId"])
    assert r.status_code == 200
    body = r.json()
    assert body["tenantId"] == tenant["petraTenantId"]
    assert body["tenantDisplayName"] == tenant["name"]
    assert body["totalBillableUsers"] == len(body["users"])
    assert ("projectedBillableUnitsThisMonth" in body) == (prefix == "/v1")
    for u in body["users"]:
        assert u["assignedLicenseSkuIds"]
        assert set(u) == {
            "id",
            "displayName",
            "userPrincipalName",
            "mail",
            "accountEnabled",
            "assignedLicenseSkuIds",
        }
    missing = get(emu, prefix + "/billable-users")
    assert missing.status_code == 400 and "tenantId" in missing.json()["message"]
    unknown = get(emu, prefix + "/billable-users", tenantId="ten_nope")
    assert unknown.status_code == 404


def test_other_orgs_tenant_is_404(emu: Emulator) -> None:
    other_key = emu.create_petra_key(org="org_northwind")
    theirs = get(emu, "/v1/tenants", key=other_key).json()["tenants"]
    ours = get(emu, "/v1/tenants").json()["tenants"]
    assert theirs and not {t["petraTenantId"] for t in theirs} & {t["petraTenantId"] for t in ours}
    r = get(emu, "/v1/billable-users", tenantId=theirs[0]["petraTenantId"])
    assert r.status_code == 404
    r = get(emu, "/v1/incidents", tenantId=theirs[0]["microsoftTenantId"])
    assert r.status_code == 404


@pytest.mark.parametrize("prefix", PREFIXES)
def test_incidents(emu: Emulator, prefix: str) -> None:
    body = get(emu, prefix + "/incidents").json()
    inc = body["incidents"]
    assert 0 < len(inc) <= 100
    created = [i["createdAt"] for i in inc]
    assert created == sorted(created, reverse=True)
    first = inc[0]
    assert set(first) == {
        "id",
        "url",
        "createdAt",
        "occurredAt",
        "remediationStatus",
        "isLive",
        "dwellTimeMinutes",
        "tenant",
        "user",
    }
    assert set(first["user"]) == {
        "id",
        "userPrincipalName",
        "mail",
        "displayName",
        "accountEnabled",
        "lastPasswordChangeDateTime",
    }
    tenant = first["tenant"]
    by_petra = get(emu, prefix + "/incidents", tenantId=tenant["petraTenantId"]).json()
    by_ms = get(emu, prefix + "/incidents", tenantId=tenant["microsoftTenantId"]).json()
    assert by_petra == by_ms and by_petra["incidents"]
    assert all(
        i["tenant"]["petraTenantId"] == tenant["petraTenantId"] for i in by_petra["incidents"]
    )
    assert len(get(emu, prefix + "/incidents", limit=3).json()["incidents"]) == 3
    assert len(get(emu, prefix + "/incidents", limit=500).json()["incidents"]) > 100
    since = get(emu, prefix + "/incidents", startDate="2025-10-01").json()["incidents"]
    assert since and all(i["createdAt"] >= "2025-10-01" for i in since)
    since_dt = get(emu, prefix + "/incidents", startDate="2025-10-01T12:00:00Z").json()
    assert all(i["createdAt"] >= "2025-10-01T12:00:00Z" for i in since_dt["incidents"])
    for bad in ("0", "501", "ten"):
        r = get(emu, prefix + "/incidents", limit=bad)
        assert r.status_code == 400 and "limit" in r.json()["message"]
    r = get(emu, prefix + "/incidents", startDate="yesterday")
    assert r.status_code == 400 and "startDate" in r.json()["message"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_usage_xlsx(emu: Emulator, prefix: str) -> None:
    r = get(emu, prefix + "/usage-xlsx", key=emu.petra_var_api_key, asOf="2025-03-15")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.content[:2] == b"PK"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "xl/workbook.xml" in names
    try:
        import openpyxl
    except ImportError:
        openpyxl = None
    if openpyxl is not None:
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        assert wb.active["A4"].value == "petraTenantId"
    org = get(emu, prefix + "/usage-xlsx", asOf="2025-03-15")
    assert org.status_code == 403 and org.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer ", "Bearer petra_0000", "Basic cGV0cmE6eA==", "PLAIN"],
)
def test_unauthorized(emu: Emulator, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    if header == "PLAIN":
        headers = {"Authorization": emu.petra_api_key}  # no Bearer prefix
    r = requests.get(emu.petra_url + "/v1/usage", headers=headers, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert emu.petra_api_key not in r.text


def test_deleted_key_is_refused_at_once(emu: Emulator) -> None:
    key = emu.create_petra_key()
    assert key.startswith("petra_") and not key.startswith("petra_var_")
    assert get(emu, "/v1/tenants", key=key).status_code == 200
    emu.delete_petra_key(key)
    assert get(emu, "/v1/tenants", key=key).status_code == 401
    with pytest.raises(KeyError):
        emu.delete_petra_key(key)


def test_rate_limit_with_retry_after() -> None:
    with Emulator(sample_data=False) as emu:
        for _ in range(15):
            assert get(emu, "/v1/tenants").status_code == 200  # off by default
        emu.set_rate_limit(3, per_seconds=60)
        codes = [get(emu, "/v1/tenants").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = get(emu, "/v1/tenants")
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # Per route and per key.
        assert get(emu, "/v1/usage").status_code == 200
        assert get(emu, "/v1/tenants", key=emu.petra_var_api_key).status_code == 200
        # Petro.ai routes are limited too.
        for _ in range(3):
            assert requests.get(emu.url + "/api/data/types", auth=emu.auth).status_code == 200
        assert requests.get(emu.url + "/api/data/types", auth=emu.auth).status_code == 429
        emu.advance_clock(61)
        assert get(emu, "/v1/tenants").status_code == 200
        emu.set_rate_limit(None)
        for _ in range(5):
            assert get(emu, "/v1/tenants").status_code == 200


def test_rate_limit_default_and_per_route() -> None:
    with Emulator(sample_data=False, rate_limit=10) as emu:
        codes = [get(emu, "/beta/usage").status_code for _ in range(11)]
        assert codes == [200] * 10 + [429]
        emu.set_rate_limit(1, route="/beta/tenants")
        assert [get(emu, "/beta/tenants").status_code for _ in range(2)] == [200, 429]
