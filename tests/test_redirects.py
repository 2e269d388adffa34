"""Redirects: requests' method rules, history, limits and credential stripping."""

from urllib.parse import quote

import pytest

import petro


def test_follow_and_history(server):
    r = petro.get(server.url("/redirect?to=/echo"))
    assert r.status_code == 200 and r.url == server.url("/echo")
    assert [h.status_code for h in r.history] == [302]
    assert r.history[0].headers["location"] == "/echo"
    assert r.history[0].content == b"moved"


@pytest.mark.parametrize(
    "status,method,expected",
    [
        (301, "POST", "GET"),
        (302, "POST", "GET"),
        (303, "PUT", "GET"),
        (307, "POST", "POST"),
        (308, "PUT", "PUT"),
        (301, "PUT", "PUT"),
    ],
)
def test_method_rules(server, status, method, expected):
    r = petro.request(method, server.url(f"/redirect?status={status}&to=/echo"), json={"a": 1})
    got = r.json()
    assert got["method"] == expected
    if status in (307, 308):
        assert got["body"] != ""
    else:  # requests drops the body on 301/302/303 whatever the method
        assert got["body"] == ""
        assert "Content-Type" not in dict(got["headers"])


def test_no_follow(server):
    r = petro.get(server.url("/redirect?to=/echo"), allow_redirects=False)
    assert r.status_code == 302 and r.is_redirect and r.history == []


def test_too_many_redirects(server):
    with pytest.raises(petro.TooManyRedirects):
        petro.get(server.url("/loop"))
    with petro.Session() as s:
        s.max_redirects = 3
        with pytest.raises(petro.TooManyRedirects, match="3"):
            s.get(server.url("/loop"))


def test_credentials_dropped_on_another_host(server, other_server):
    target = quote(other_server.url("/echo"), safe="")
    with petro.Session() as s:
        s.credential_headers.add("X-Api-Key")
        s.cookies.set("c", "1", domain="127.0.0.1")
        r = s.get(
            server.url(f"/redirect?to={target}"),
            auth=("app", "secret"),
            headers={"X-Api-Key": "k", "X-Keep": "ok", "Proxy-Authorization": "Basic eDp5"},
            cookies={"percall": "1"},
        )
    headers = dict(r.json()["headers"])
    assert r.url == other_server.url("/echo")
    for gone in ("Authorization", "X-Api-Key", "Proxy-Authorization"):
        assert gone not in headers
    assert "percall" not in headers.get("Cookie", "")
    assert headers["X-Keep"] == "ok"


def test_credentials_kept_on_same_host(server):
    r = petro.get(server.url("/redirect?to=/echo"), auth=("app", "secret"))
    assert "Authorization" in dict(r.json()["headers"])
