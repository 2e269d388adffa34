"""Property-based tests: random input gets documented exceptions only, never a crash or a hang."""

import json
import math
import os

import pytest

import petro
from petro import _core

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DOCUMENTED = (petro.RequestException, ValueError, TypeError)
# The long run: PETRO_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py
FAST = settings(
    max_examples=int(os.environ.get("PETRO_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FAST
@given(st.binary(max_size=256))
def test_decoder_random_bytes(data):
    try:
        want = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        want = None
        with pytest.raises(petro.JSONDecodeError):
            _core.loads(data)
    else:
        got = _core.loads(data)
        assert json.dumps(got, sort_keys=False) == json.dumps(want, sort_keys=False) or (
            isinstance(want, float) and math.isnan(want)
        )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(json_values)
def test_dumps_agrees_with_json_dumps(value):
    assert _core.dumps(value) == json.dumps(value).encode()
    assert _core.loads(_core.dumps(value)) == json.loads(json.dumps(value))


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.tuples(st.text(max_size=5), st.text(max_size=5)),
    st.just(object()),
)


@FAST
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "bad method", ""]),
    path=st.text(max_size=30),
    headers=st.dictionaries(st.text(max_size=12), junk, max_size=3) | junk,
    params=junk,
    timeout=junk,
    data=junk,
    auth=junk,
)
def test_random_arguments_raise_only_documented_errors(
    server, method, path, headers, params, timeout, data, auth
):
    try:
        petro.request(
            method,
            server.url("/echo") + path,
            headers=headers,
            params=params,
            timeout=timeout,
            data=data,
            auth=auth,
        )
    except DOCUMENTED:
        pass


@FAST
@given(url=st.text(max_size=40))
def test_random_urls(url):
    try:
        petro.get(url, timeout=1)
    except DOCUMENTED:
        pass
