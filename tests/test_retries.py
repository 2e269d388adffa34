"""Retries in the core: off by default, on with retries=, for safe requests only."""

import logging
import uuid

import pytest

import petro


def key():
    return uuid.uuid4().hex


def test_off_by_default(server):
    r = petro.get(server.url(f"/flaky?key={key()}&fails=1"))
    assert r.status_code == 503


def test_retries_then_succeeds(server):
    r = petro.get(
        server.url(f"/flaky?key={key()}&fails=2"), retries=petro.Retry(3, backoff_factor=0.01)
    )
    assert r.status_code == 200 and r.json()["attempts"] == 3


def test_gives_up_with_last_response(server):
    r = petro.get(
        server.url(f"/flaky?key={key()}&fails=10"), retries=petro.Retry(2, backoff_factor=0.01)
    )
    assert r.status_code == 503 and r.json()["attempt"] == 3
    with pytest.raises(petro.ServerError):
        r.raise_for_status()


def test_retry_after_is_honoured_and_capped(server):
    k = key()
    r = petro.get(server.url(f"/flaky?key={k}&fails=1&code=429&retry_after=0.2"), retries=2)
    assert r.status_code == 200
    assert r.elapsed.total_seconds() < 5
    # A Retry-After beyond the cap is not waited for: the 429 comes back at once.
    r = petro.get(
        server.url(f"/flaky?key={key()}&fails=1&code=429&retry_after=3600"),
        retries=petro.Retry(3, retry_after_max=10),
    )
    assert r.status_code == 429
    with pytest.raises(petro.RateLimitError) as e:
        r.raise_for_status()
    assert e.value.retry_after == 3600


def test_post_is_not_retried_unless_idempotent(server):
    k = key()
    r = petro.post(server.url(f"/flaky?key={k}&fails=1"), json={}, retries=3)
    assert r.status_code == 503
    k = key()
    r = petro.post(server.url(f"/flaky?key={k}&fails=1"), json={}, retries=3, idempotent=True)
    assert r.status_code == 200


def test_deadline_bounds_total_time(server):
    r = petro.get(
        server.url(f"/flaky?key={key()}&fails=100"),
        retries=petro.Retry(100, backoff_factor=0.2, backoff_max=0.2, deadline=0.5),
    )
    assert r.status_code == 503


def test_connection_errors_are_retried_and_reported(closed_port):
    with pytest.raises(petro.ConnectionError, match="after 3 attempts"):
        petro.get(f"http://127.0.0.1:{closed_port}/", retries=petro.Retry(2, backoff_factor=0.01))


def test_session_retries_and_bad_values(server):
    with petro.Session(retries=2) as s:
        assert s.get(server.url(f"/flaky?key={key()}&fails=2")).status_code == 200
        assert s.get(server.url(f"/flaky?key={key()}&fails=2"), retries=None).status_code == 503
    with pytest.raises(ValueError):
        petro.Retry(-1)
    with pytest.raises(TypeError):
        petro.get(server.url("/echo"), retries="3")


def test_debug_log_one_line_per_attempt_without_secrets(server, caplog):
    secret = "s3cr3t-" + key()
    with caplog.at_level(logging.DEBUG, logger="petro"):
        petro.get(
            server.url(f"/flaky?key={key()}&fails=1").replace("http://", f"http://user:{secret}@"),
            retries=petro.Retry(2, backoff_factor=0.01),
            auth=("app", secret),
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "petro"]
    assert len(lines) == 2, lines
    assert (
        "503" in lines[0] and "retry 0" in lines[0] and "200" in lines[1] and "retry 1" in lines[1]
    )
    assert all(secret not in line for line in lines)
