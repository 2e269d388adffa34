"""Starting and stopping the emulator: restarts, persistence, concurrency, the CLI, the
pytest fixtures, and the service docs' snippets run unchanged with requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from petro.emulator import Emulator

SNIPPETS = Path("/work/shared/api/snippets.py")
if not SNIPPETS.exists():  # CI: shared/ sits beside the clone
    SNIPPETS = Path(__file__).resolve().parents[2] / "shared" / "api" / "snippets.py"


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def count(emu: Emulator, type_: str) -> int:
    r = requests.post(emu.url + "/api/data/query", auth=emu.auth, json={"type": type_}, timeout=30)
    assert r.status_code == 200, r.text
    return len(r.json())


def test_stop_frees_port_and_restart_in_process() -> None:
    emu = Emulator(sample_data=False)
    for _ in range(3):
        emu.start()
        port = emu.port
        assert requests.get(emu.url + "/api/data/types", auth=emu.auth).status_code == 200
        emu.stop()
        assert not emu.running
        assert port_is_free(port)
        emu.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = emu.url


def test_same_port_after_restart() -> None:
    with Emulator(sample_data=False) as first:
        port = first.port
        # Keep a connection alive across the stop.
        s = requests.Session()
        assert s.get(first.url + "/api/data/types", auth=first.auth).status_code == 200
    with Emulator(sample_data=False, port=port) as second:
        assert second.port == port
        assert requests.get(second.url + "/api/data/types", auth=second.auth).status_code == 200
    s.close()


def test_bind_error_is_oserror() -> None:
    with Emulator(sample_data=False) as emu, pytest.raises(OSError):
        Emulator(sample_data=False, port=emu.port).start()


def test_data_dir_survives_restart(tmp_path: Path) -> None:
    with Emulator(data_dir=tmp_path, sample_wells=10, sample_months=2) as emu:
        wells = count(emu, "Well")
        assert wells == 10
        r = requests.post(
            emu.url + "/api/data",
            auth=emu.auth,
            json={"type": "Note", "data": [{"text": "kept"}]},
        )
        assert r.status_code == 200
    with Emulator(data_dir=tmp_path, sample_wells=10, sample_months=2) as emu:
        assert count(emu, "Well") == 10  # sample data not loaded twice
        r = requests.post(
            emu.url + "/api/data/query", auth=emu.auth, json={"type": "note"}, timeout=30
        )
        assert [n["text"] for n in r.json()] == ["kept"]
    assert (tmp_path / "petro-emulator.sqlite3").exists()


def test_concurrent_writers_lose_nothing(petro_emulator_empty: Emulator) -> None:
    emu = petro_emulator_empty
    n_threads, per_thread = 8, 25
    errors: list[str] = []

    def writer(t: int) -> None:
        with requests.Session() as s:
            for i in range(per_thread):
                r = s.post(
                    emu.url + "/api/data",
                    auth=emu.auth,
                    json={"type": "Hit", "data": [{"t": t, "i": i}, {"t": t, "i": -(i + 1)}]},
                    timeout=30,
                )
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    assert count(emu, "Hit") == n_threads * per_thread * 2
    r = requests.post(
        emu.url + "/api/data/query",
        auth=emu.auth,
        json={"type": "Hit", "query": {"t": 3, "i": {"gte": 0}}},
        timeout=30,
    )
    assert sorted(x["i"] for x in r.json()) == list(range(per_thread))


def test_snippets_run_unchanged_with_requests(petro_emulator_empty: Emulator) -> None:
    if not SNIPPETS.exists():
        pytest.skip("shared/api/snippets.py not found")
    emu = petro_emulator_empty
    env = {**os.environ, **emu.env()}
    out = subprocess.run(
        [sys.executable, str(SNIPPETS)], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "My Petron!" in out.stdout
    assert "\n200\n" in out.stdout
    assert "organizationName" in out.stdout
    assert count(emu, "petron") == 1


def test_pytest_fixtures(petro_env: Emulator) -> None:
    assert os.environ["PETRO_BASE_URL"] == petro_env.url
    assert os.environ["PETRO_APP_ID"] == petro_env.app_id
    assert os.environ["PETRA_API_KEY"] == petro_env.petra_api_key
    assert os.environ["PETRA_BASE_URL"] == petro_env.petra_url
    r = requests.get(
        os.environ["PETRO_BASE_URL"] + "/api/data/types",
        headers={"Authorization": "Bearer " + os.environ["PETRO_TOKEN"]},
        timeout=30,
    )
    assert "Well" in r.json()


def test_stops_at_interpreter_exit() -> None:
    code = (
        "from petro.emulator import Emulator\n"
        "e = Emulator(sample_data=False).start()\n"
        "print(e.port, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert port_is_free(int(out.stdout.strip()))


@pytest.mark.parametrize(
    "argv0", [["-m", "petro.emulator"], ["-c", "from petro.emulator import main; main()"]]
)
def test_cli(argv0: list[str]) -> None:
    with subprocess.Popen(
        [sys.executable, *argv0, "--no-sample-data", "--response-shape", "envelope"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            exports: dict[str, str] = {}
            for line in proc.stdout:
                if line.startswith("export "):
                    name, _, value = line[len("export ") :].strip().partition("=")
                    exports[name] = value
                if "PETRO_EMULATOR_ADMIN_TOKEN" in exports:
                    break
            assert {"PETRO_BASE_URL", "PETRO_APP_ID", "PETRO_SECRET_KEY", "PETRA_API_KEY"} <= (
                set(exports)
            )
            r = requests.post(
                exports["PETRO_BASE_URL"] + "/api/data/query",
                auth=(exports["PETRO_APP_ID"], exports["PETRO_SECRET_KEY"]),
                json={"type": "x"},
                timeout=30,
            )
            assert r.status_code == 400  # empty store: unknown type
            port = int(exports["PETRO_BASE_URL"].rsplit(":", 1)[1])
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert port_is_free(port)


def test_stop_does_not_hang_on_a_slow_response() -> None:
    emu = Emulator(sample_wells=20, sample_months=1).start()
    emu.inject_fault(route="/api/data/query", kind="slow_body", chunk_bytes=1, chunk_delay_ms=200)
    errors: list[BaseException] = []

    def slow_client() -> None:
        try:
            r = requests.post(
                emu.url + "/api/data/query", auth=emu.auth, json={"type": "Well"}, timeout=60
            )
            r.json()
        except requests.RequestException as e:  # cut by the stop: expected
            errors.append(e)

    th = threading.Thread(target=slow_client)
    th.start()
    port = emu.port
    import time

    time.sleep(0.3)
    t = time.monotonic()
    emu.stop()
    assert time.monotonic() - t < 10  # grace period is 3 s
    th.join(timeout=30)
    assert not th.is_alive()
    assert errors  # the response could not finish in time
    assert port_is_free(port)
