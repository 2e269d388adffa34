"""Worker processes (fork and spawn) build clients from the environment; errors pickle back."""

import concurrent.futures
import multiprocessing as mp
import os

import pytest

import petro
from petro.emulator import Emulator


@pytest.fixture(scope="module")
def emu_env():
    with Emulator(sample_wells=40, sample_months=1) as emu:
        saved = {k: os.environ.get(k) for k in emu.env()}
        os.environ.update(emu.env())
        try:
            yield emu
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def count_wells(basin):
    # Runs in a worker: credentials come from the inherited environment.
    with petro.PetroAI(progress=False) as c:
        return len(c.data.query("Well", {"basinName": basin}))


def bad_query(_):
    with petro.PetroAI(progress=False, retries=0) as c:
        c.data.query("Well", {"x": {"bogus": 1}})


BASINS = ["Permian", "Delaware", "Eagle Ford", "Bakken", "Anadarko"]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pools(emu_env, method):
    with petro.PetroAI(progress=False) as c:
        want = [len(c.data.query("Well", {"basinName": b})) for b in BASINS]
    assert sum(want) > 0
    with mp.get_context(method).Pool(2) as pool:
        assert pool.map(count_wells, BASINS) == want


def test_process_pool_executor_and_errors_pickle_back(emu_env):
    ctx = mp.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        assert sum(ex.map(count_wells, BASINS)) > 0
        fut = ex.submit(bad_query, 0)
        with pytest.raises(petro.BadRequestError) as e:
            fut.result(timeout=120)
    assert e.value.status_code == 400
    assert "bogus" in str(e.value.body)
    assert e.value.response.json()["error"]
