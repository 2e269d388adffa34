"""petro.PetraSecurity against the emulator."""

import datetime
import time

import pytest

import petro
from petro.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=10, sample_months=1) as e:
        yield e


@pytest.fixture
def petra(emu):
    with petro.PetraSecurity(
        emu.petra_api_key, base_url=emu.petra_url, var_api_key=emu.petra_var_api_key
    ) as p:
        yield p


def test_usage_tenants_billable_users_incidents(petra):
    usage = petra.usage()
    assert usage["totalTenants"] == len(usage["tenants"]) > 0
    assert petra.usage(as_of=datetime.date(2026, 1, 31))["asOf"] == "2026-01-31"
    tenants = petra.tenants()
    names = [t["name"] for t in tenants]
    assert names == sorted(names)
    tid = tenants[0]["petraTenantId"]
    users = petra.billable_users(tid)
    assert users["tenantId"] == tid
    assert users["totalBillableUsers"] == sum(
        1 for u in users["users"] if u["assignedLicenseSkuIds"]
    )
    incidents = petra.incidents(limit=5)
    assert 0 < len(incidents) <= 5
    created = [i["createdAt"] for i in incidents]
    assert created == sorted(created, reverse=True)
    by_ms = petra.incidents(tenant_id=tenants[0]["microsoftTenantId"], limit=500)
    assert all(i["tenant"]["petraTenantId"] == tid for i in by_ms)
    since = petra.incidents(start_date=datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc))
    assert all(i["createdAt"] >= "2026-06-01" for i in since)


def test_beta_prefix(emu):
    p = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, version="beta")
    assert p.usage()["tenants"]


def test_arguments_checked_before_sending(petra):
    for bad in (0, 501, "10", True):
        with pytest.raises(ValueError, match="1 to 500"):
            petra.incidents(limit=bad)
    with pytest.raises(ValueError, match="date"):
        petra.usage(as_of="31/01/2026")
    with pytest.raises(ValueError):
        petra.billable_users("")
    with pytest.raises(ValueError):
        petro.PetraSecurity("petra_x", base_url="http://x", version="v2")


def test_other_organisations_tenant_is_not_found(petra):
    with pytest.raises(petro.NotFoundError):
        petra.billable_users("ten_doesnotexist")


def test_bad_and_deleted_keys(emu):
    key = emu.create_petra_key()
    p = petro.PetraSecurity(key, base_url=emu.petra_url)
    assert p.tenants()
    emu.delete_petra_key(key)
    with pytest.raises(petro.AuthenticationError) as e:
        p.tenants()
    msg = str(e.value)
    assert "deleted" in msg and "Bearer" in msg and "another organisation" in msg
    assert key not in msg and key not in repr(p)


def test_usage_xlsx_needs_multi_msp_key(petra, emu):
    data = petra.usage_xlsx()
    assert data[:2] == b"PK"
    df = petra.usage_xlsx_df()
    assert len(df) > 0
    org_only = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, var_api_key=None)
    import os

    if not os.environ.get("PETRA_VAR_API_KEY"):
        with pytest.raises(petro.ConfigError, match="Multi-MSP"):
            org_only.usage_xlsx()
    wrong = petro.PetraSecurity(
        emu.petra_api_key, base_url=emu.petra_url, var_api_key=emu.petra_api_key
    )
    with pytest.raises(petro.PermissionDeniedError):
        wrong.usage_xlsx()


def test_rate_limit_retried_with_retry_after():
    with Emulator(sample_wells=5, sample_months=1, rate_limit=2, rate_limit_per=1.0) as emu:
        p = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url)
        for _ in range(5):  # beyond the limit: 429 + Retry-After, retried
            assert p.tenants()
        no_retry = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, retries=0)
        with pytest.raises(petro.RateLimitError) as e:
            for _ in range(5):
                no_retry.tenants()
        assert e.value.retry_after is not None


def test_429_without_retry_after_uses_backoff(petra, emu):
    emu.inject_fault(route="/v1/tenants", kind="status", status=429, times=2)
    try:
        assert petra.tenants()
    finally:
        emu.clear_faults()


def test_pacer_keeps_under_the_limit():
    # Server: 2 requests per 0.5 s per route; client: no retries, a pacer of the same rate.
    with Emulator(sample_wells=5, sample_months=1, rate_limit=2, rate_limit_per=0.5) as emu:
        p = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, retries=0, pace=2)
        p._pacer = petro.petra._Pacer(2, window=0.6)  # the test's short window
        start = time.monotonic()
        for _ in range(6):
            assert p.tenants()  # a 429 would raise: retries are off
        assert time.monotonic() - start >= 1.1  # it waited for the window twice
        unpaced = petro.PetraSecurity(emu.petra_api_key, base_url=emu.petra_url, retries=0)
        with pytest.raises(petro.RateLimitError):
            for _ in range(6):
                unpaced.tenants()
