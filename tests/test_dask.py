"""PetroAI.data.query_dask on a real multi-process dask cluster against the emulator."""

import os
import pickle

import pytest

import petro
from petro.emulator import Emulator

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")


@pytest.fixture(scope="module")
def emu():
    with Emulator(host="127.0.0.1", sample_wells=150, sample_months=12) as e:
        yield e


@pytest.fixture(scope="module")
def cluster(emu):
    # Workers inherit the environment: that is how they get credentials.
    saved = {k: os.environ.get(k) for k in emu.env()}
    os.environ.update(emu.env())
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
            ) as c,
            distributed.Client(c) as client,
        ):
            yield client
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def client(emu):
    with petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False) as c:
        yield c


def test_partitions_cover_the_query_exactly_once(cluster, client, emu):
    want = client.data.query_df("MonthlyProduction", {"wellId": {"exists": True}})
    ddf = client.data.query_dask("MonthlyProduction", {"wellId": {"exists": True}}, npartitions=5)
    assert ddf.npartitions == 5
    got = ddf.compute()
    assert len(got) == len(want) == emu_count(client)
    assert list(got.index) == list(range(len(want)))
    assert got["id"].is_unique
    assert sorted(got["id"]) == sorted(want["id"])
    assert list(got.columns) == list(want.columns)
    merged = got.reset_index(drop=True)
    assert (merged["id"] == want["id"]).all()  # same order as query_df
    assert merged["oilVol_bbl"].sum() == pytest.approx(want["oilVol_bbl"].sum())


def same_frame(got, want):
    # dask stores text as its own string dtype and ints as nullable Int64: compare values.
    import pandas as pd

    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def emu_count(client):
    return client.data.count("MonthlyProduction", {"wellId": {"exists": True}})


def test_partition_size_and_filters(cluster, client):
    want = client.data.query_df("Well", {"basinName": "Permian"}, fields=["wellId", "basinName"])
    ddf = client.data.query_dask(
        "Well", {"basinName": "Permian"}, partition_size=7, fields=["wellId", "basinName"]
    )
    assert ddf.npartitions == -(-len(want) // 7)
    got = ddf.compute().reset_index(drop=True)
    same_frame(got, want)


def test_the_graph_carries_no_secret(client, emu):
    ddf = client.data.query_dask("Well", npartitions=3)
    blob = cloudpickle.dumps(ddf.__dask_graph__())
    assert emu.secret_key.encode() not in blob
    assert emu.app_id.encode() not in blob
    assert pickle.loads(blob)  # plain data: it unpickles anywhere


def test_empty_result_and_bad_arguments(cluster, client):
    ddf = client.data.query_dask("Well", {"basinName": "Nowhere"})
    assert len(ddf.compute()) == 0
    with pytest.raises(ValueError, match="not both"):
        client.data.query_dask("Well", npartitions=2, partition_size=5)
    with pytest.raises(ValueError, match="npartitions"):
        client.data.query_dask("Well", npartitions=0)


def test_worker_without_credentials_fails_clearly(client, monkeypatch, tmp_path):
    from petro import _dask

    for k in ("PETRO_APP_ID", "PETRO_SECRET_KEY", "PETRO_TOKEN", "PETRO_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PETRO_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setattr(_dask, "_clients", {})
    ddf = client.data.query_dask("Well", npartitions=2)
    with pytest.raises(petro.ConfigError, match=r"worker on .* has no Petro.ai credentials"):
        ddf.compute(scheduler="synchronous")


@pytest.mark.asyncio
async def test_async_client_builds_the_same_frame(cluster, client, emu):
    async with petro.AsyncPetroAI(
        emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False
    ) as c:
        ddf = await c.data.query_dask("Well", npartitions=2)
    got = ddf.compute().reset_index(drop=True)
    same_frame(got, client.data.query_df("Well"))
