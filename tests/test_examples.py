"""Every example runs: the scripts as a user would run them, the notebook with nbclient."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHARED_SNIPPETS = Path(__file__).resolve().parent.parent.parent / "shared" / "api" / "snippets.py"


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("PETRO_", "PETRA_")):
            del env[k]
    return env


def test_quickstart_runs_against_the_emulator():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert out.returncode == 0, out.stderr
    assert "built-in emulator" in out.stdout
    assert "My Petron!" in out.stdout and "tenants" in out.stdout
    assert "\n200\n" in out.stdout


def test_decline_curve_script(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "dc.png"
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "decline_curve.py"), str(png)],
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
    )
    assert out.returncode == 0, out.stderr
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "Arps" not in out.stderr and "qi=" in out.stdout


def test_decline_curve_notebook(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    png = tmp_path / "nb.png"
    for k in [k for k in os.environ if k.startswith(("PETRO_", "PETRA_"))]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("DECLINE_FIGURE", str(png))
    nb = nbformat.read(EXAMPLES / "decline_curve.ipynb", as_version=4)
    nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert png.read_bytes()[:4] == b"\x89PNG"
    outputs = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "qi=" in outputs


@pytest.mark.skipif(not SHARED_SNIPPETS.exists(), reason="shared/ is not beside this checkout")
@pytest.mark.parametrize("client", ["petro"])
def test_service_docs_snippets_run_unchanged(tmp_path, client):
    """The docs' snippets, with only the import changed, against the emulator."""
    from petro.emulator import Emulator

    source = SHARED_SNIPPETS.read_text()
    if client == "petro":
        assert "import requests as r" in source
        source = source.replace("import requests as r", "import petro as r")
    script = tmp_path / "snippets.py"
    script.write_text(source)
    with Emulator(sample_wells=10, sample_months=1) as emu:
        env = {**clean_env(), **emu.env()}
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
        )
    assert out.returncode == 0, out.stderr
    assert "My Petron!" in out.stdout and "200" in out.stdout
