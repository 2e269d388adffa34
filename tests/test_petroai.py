"""petro.PetroAI against the emulator: credentials, JWTs, data API, errors, retries."""

import datetime
import pickle
import warnings

import pytest

import petro
from petro.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=120, sample_months=12) as e:
        yield e


@pytest.fixture
def client(emu):
    with petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False) as c:
        yield c


@pytest.fixture
def scratch(client):
    """A type name of its own for write tests."""
    import uuid

    return "scratch" + uuid.uuid4().hex[:8]


# -- credentials -------------------------------------------------------------


def test_credentials_from_environment(emu, monkeypatch):
    for k, v in emu.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PETRO_CONFIG", "/nonexistent/config.toml")
    with petro.PetroAI(progress=False) as c:
        assert "environment (PETRO_APP_ID)" in c.credential_source
        assert emu.secret_key not in repr(c) and emu.secret_key not in c.credential_source
        assert c.data.query("petron", limit=1)


def test_credentials_from_profile(emu, monkeypatch, tmp_path):
    for var in (
        "PETRO_BASE_URL",
        "PETRO_APP_ID",
        "PETRO_SECRET_KEY",
        "PETRO_TOKEN",
        "PETRO_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[default]\nbase_url = "http://nowhere.invalid"\n\n'
        f'[emu]\nbase_url = "{emu.url}"\napp_id = "{emu.app_id}"\nsecret_key = "{emu.secret_key}"\n'
    )
    monkeypatch.setenv("PETRO_CONFIG", str(cfg))
    with petro.PetroAI(profile="emu", progress=False) as c:
        assert "profile 'emu'" in c.credential_source
        assert c.data.types()
    monkeypatch.setenv("PETRO_PROFILE", "emu")
    with petro.PetroAI(progress=False) as c:
        assert c.base_url == emu.url
    with pytest.raises(petro.ConfigError, match=r"No profile 'nope'.*emu"):
        petro.PetroAI(profile="nope")


def test_missing_credentials_say_where_petro_looked(monkeypatch):
    for var in (
        "PETRO_BASE_URL",
        "PETRO_APP_ID",
        "PETRO_SECRET_KEY",
        "PETRO_TOKEN",
        "PETRO_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PETRO_CONFIG", "/nonexistent/config.toml")
    with pytest.raises(petro.ConfigError) as e:
        petro.PetroAI("https://acme.petro.ai")
    msg = str(e.value)
    assert "PETRO_APP_ID" in msg and "PETRO_TOKEN" in msg and "/nonexistent/config.toml" in msg


def test_jwt_expiry(emu):
    token = emu.issue_jwt()
    c = petro.PetroAI(emu.url, token=token, progress=False)
    assert c.token_expires_at is not None
    left = c.token_expires_at - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=3, minutes=50) < left <= datetime.timedelta(hours=4, minutes=1)
    assert c.data.query("petron", limit=2)
    with pytest.warns(petro.TokenExpiryWarning, match="expires in"):
        petro.PetroAI(emu.url, token=emu.issue_jwt(expires_in=300), progress=False)
    with pytest.raises(petro.TokenExpiredError, match="petroai-token") as e:
        petro.PetroAI(emu.url, token=emu.issue_jwt(expires_in=-10), progress=False)
    assert isinstance(e.value, petro.AuthenticationError)
    # Swap the token on a live client.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", petro.TokenExpiryWarning)
        c.set_token(emu.issue_jwt(expires_in=1200))
    assert c.data.query("petron", limit=1)
    assert token not in repr(c)


def test_token_rejected_by_server_when_clock_moves(emu):
    c = petro.PetroAI(emu.url, token=emu.issue_jwt(expires_in=3600), progress=False)
    # The server's clock moves on; the token expires there (our local check still passes).
    emu.advance_clock(7200)
    try:
        with pytest.raises(petro.AuthenticationError) as e:
            c.data.query("petron", limit=1)
        assert "JWT" in str(e.value) and "expired" in str(e.value)
    finally:
        emu.advance_clock(-7200)


def test_deleted_and_disabled_keys(emu):
    app_id, secret = emu.create_api_key()
    c = petro.PetroAI(emu.url, app_id=app_id, secret_key=secret, progress=False)
    assert c.data.types()
    emu.disable_api_key(app_id)
    with pytest.raises(petro.AuthenticationError) as e:
        c.data.types()
    msg = str(e.value)
    assert "disabled or deleted" in msg and "Settings > API Keys" in msg
    assert secret not in msg and app_id not in msg  # the App ID is shown masked
    emu.enable_api_key(app_id)
    assert c.data.types()
    emu.delete_api_key(app_id)
    with pytest.raises(petro.AuthenticationError):
        c.data.types()


def test_client_does_not_pickle(client):
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(client)


# -- data API -----------------------------------------------------------------


def test_query_pages_until_short_page(client):
    everything = client.data.query("Well", page_size=25)
    assert len(everything) == 120
    assert len({w["wellId"] for w in everything}) == 120
    some = client.data.query("Well", {"basinName": "Permian"}, page_size=7)
    assert some and all(w["basinName"] == "Permian" for w in some)
    assert len(client.data.query("Well", limit=30, page_size=7)) == 30
    tail = client.data.query("Well", skip=110, page_size=4)
    assert [w["wellId"] for w in tail] == [w["wellId"] for w in everything[110:]]


def test_query_options(client):
    rows = client.data.query("Well", fields=["wellId", "tvd_ft"], sort={"tvd_ft": -1}, limit=10)
    assert all(set(r) <= {"wellId", "tvd_ft", "id"} for r in rows)
    depths = [r["tvd_ft"] for r in rows]
    assert depths == sorted(depths, reverse=True)
    deep = client.data.query("Well", {"tvd_ft": {"gt": 9000}})
    assert all(r["tvd_ft"] > 9000 for r in deep)


def test_iter_is_lazy(client, emu):
    it = client.data.iter("Well", page_size=10)
    first = next(it)
    assert "wellId" in first
    it.close()


def test_count(client):
    assert client.data.count("Well") == 120
    assert client.data.count("Well", {"basinName": "Permian"}) == len(
        client.data.query("Well", {"basinName": "Permian"})
    )


def test_write_cycle(client, scratch):
    ids = client.data.create(scratch, [{"name": f"r{i}", "n": i} for i in range(7)], chunk_size=3)
    assert len(ids) == 7 and len(set(ids)) == 7
    assert client.data.count(scratch) == 7
    assert client.data.update(scratch, {"n": {"lt": 3}}, {"flag": True}) == 3
    flagged = client.data.query(scratch, {"flag": True})
    assert sorted(r["n"] for r in flagged) == [0, 1, 2]
    replaced = client.data.replace(scratch, [{"id": ids[0], "name": "new", "n": 100}])
    assert replaced == [ids[0]]
    assert client.data.query(scratch, {"id": ids[0]})[0]["name"] == "new"
    assert client.data.delete(scratch, {"n": {"gte": 5}}) == 3  # 5, 6 and the replaced 100
    assert client.data.count(scratch) == 4


def test_empty_delete_refused_before_sending(client, scratch):
    for bad in ({}, None):
        with pytest.raises(ValueError, match="every record"):
            client.data.delete(scratch, bad)


def test_schema_types_and_collections(client):
    assert "Well" in client.data.types() or "well" in [t.lower() for t in client.data.types()]
    schema = client.data.schema("Well")
    assert "wellId" in schema or "wellId" in str(schema)
    wells = client.collection("Wells").get(Limit=5, SortBy="wellId", SortOrder="Descending")
    assert len(wells) == 5
    ids = [w["wellId"] for w in wells]
    assert ids == sorted(ids, reverse=True)
    with pytest.raises(ValueError):
        client.collection("Wells").get(SortOrder="Up")


def test_bad_arguments_are_clear(client):
    with pytest.raises(ValueError, match="type"):
        client.data.query("")
    with pytest.raises(TypeError, match="query must be a dict"):
        client.data.query("Well", "basinName=Permian")
    with pytest.raises(ValueError, match="limit"):
        client.data.query("Well", limit=-1)
    with pytest.raises(TypeError, match=r"records\[1\]"):
        client.data.create("petron", [{"a": 1}, "oops"])


def test_unknown_operator_is_a_bad_request(client):
    with pytest.raises(petro.BadRequestError) as e:
        client.data.query("Well", {"tvd_ft": {"$gt": 5}})
    assert "$gt" in str(e.value)
    assert e.value.status_code == 400


def test_dataframes(client):
    pd = pytest.importorskip("pandas")
    df = client.data.query_df("Well", {"basinName": "Permian"})
    assert len(df) == client.data.count("Well", {"basinName": "Permian"})
    assert pd.api.types.is_datetime64_any_dtype(df["spudDate"])
    prod = client.data.query_df("MonthlyProduction", limit=50)
    assert len(prod) == 50


def test_polars(client):
    pl = pytest.importorskip("polars")
    df = client.data.query_pl("Well", limit=20)
    assert df.height == 20
    assert df["spudDate"].dtype == pl.Date


def test_envelope_shape_and_v4_quirk():
    with Emulator(sample_wells=30, sample_months=2, response_shape="envelope") as emu:
        c = petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False)
        assert len(c.data.query("Well", page_size=7)) == 30
        assert c.data.count("Well") == 30
    with Emulator(sample_wells=30, sample_months=2, errors="v4") as emu:
        c = petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False)
        assert len(c.data.query("Well")) == 30
        bad = petro.PetroAI(emu.url, app_id=emu.app_id, secret_key="0" * 32, progress=False)
        with pytest.raises(petro.AuthenticationError):
            bad.data.query("Well")
        with pytest.raises(petro.BadRequestError):
            c.data.query("Well", {"x": {"bogus": 1}})


def test_retries_on_503_and_429(client, emu):
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=2)
    assert len(client.data.query("Well", limit=5)) == 5
    emu.inject_fault(route="/api/data/query", kind="status", status=429, times=1, retry_after=1)
    assert len(client.data.query("Well", limit=5)) == 5
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=10)
    try:
        with pytest.raises(petro.ServerError):
            petro.PetroAI(
                emu.url,
                app_id=emu.app_id,
                secret_key=emu.secret_key,
                progress=False,
                retries=petro.Retry(2, backoff_factor=0.01),
            ).data.query("Well", limit=5)
    finally:
        emu.clear_faults()


def test_creates_are_not_retried(client, emu, scratch):
    client.data.create(scratch, [{"a": 0}])
    emu.inject_fault(route="/api/data", method="POST", kind="status", status=503, times=1)
    try:
        with pytest.raises(petro.ServerError):
            client.data.create(scratch, [{"a": 1}])
    finally:
        emu.clear_faults()
    assert client.data.count(scratch) == 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_fault_mid_pagination_says_how_far_it_got(emu, concurrency):
    c = petro.PetroAI(
        emu.url,
        app_id=emu.app_id,
        secret_key=emu.secret_key,
        progress=False,
        retries=petro.Retry(1, backoff_factor=0.01),
        concurrency=concurrency,
    )
    it = c.data.iter("Well", page_size=20)
    got = [next(it) for _ in range(20)]
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=5)
    try:
        with pytest.raises(petro.ServerError) as e:
            got.extend(it)
    finally:
        emu.clear_faults()
    # Concurrent pages may fail at a later page; the resume point is what was delivered.
    assert e.value.next_skip == len(got)
    if concurrency == 1:
        assert e.value.next_skip == 20
    rest = c.data.query("Well", skip=e.value.next_skip, page_size=20)
    ids = [w["wellId"] for w in got + rest]
    assert len(ids) == len(set(ids)) == 120  # resumed: each record exactly once


def test_deadline_bounds_a_call(emu):
    c = petro.PetroAI(
        emu.url,
        app_id=emu.app_id,
        secret_key=emu.secret_key,
        progress=False,
        retries=petro.Retry(50, backoff_factor=0.2, backoff_max=0.2),
        deadline=1.0,
    )
    emu.inject_fault(route="/api/data/query", kind="status", status=503, times=-1)
    try:
        with pytest.raises((petro.ServerError, petro.Timeout)):
            c.data.query("Well")
    finally:
        emu.clear_faults()


def test_ctrl_c_keeps_what_was_fetched():
    import signal
    import subprocess
    import sys
    import textwrap
    import threading

    script = textwrap.dedent("""
        import petro
        with petro.Emulator(sample_wells=200, sample_months=1) as emu:
            c = petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False)
            emu.inject_fault(route="/api/data/query", kind="delay", delay_ms=250, times=-1)
            print("ready", flush=True)
            try:
                c.data.query("Well", page_size=10)
                print("finished?!")
            except petro.QueryInterrupted as e:
                ids = [r["wellId"] for r in e.records]
                assert len(ids) == len(set(ids)) == e.next_skip
                rest = c.data.query("Well", skip=e.next_skip, page_size=50)
                print("interrupted", len(e.records), len(e.records) + len(rest), flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    threading.Timer(1.2, lambda: proc.send_signal(signal.SIGINT)).start()
    out, err = proc.communicate(timeout=60)
    words = out.split()
    assert words[0] == "interrupted", (out, err)
    fetched, total = int(words[1]), int(words[2])
    assert 0 < fetched < 200 and total == 200


def test_progress_bar(client, capsys):
    pytest.importorskip("tqdm")
    rows = client.data.query("Well", page_size=40, progress=True, concurrency=1)
    assert len(rows) == 120
    err = capsys.readouterr().err
    assert "Well" in err and "120" in err and "rec" in err
    client.data.query("Well", page_size=40, progress=False)
    assert capsys.readouterr().err == ""
