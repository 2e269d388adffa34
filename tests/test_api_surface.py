"""The public surface: __all__, stubs, docstrings, secrets in reprs."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import petro


def test_all_is_sorted_and_complete():
    def kind(name):  # ruff's RUF022 order: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert petro.__all__ == sorted(petro.__all__, key=kind)
    public = {
        n for n in dir(petro) if not n.startswith("_") and not inspect.ismodule(getattr(petro, n))
    }
    public |= {"exceptions", "__version__"}
    missing = public - set(petro.__all__)
    assert missing == set(), missing
    for name in petro.__all__:
        assert hasattr(petro, name), name


def test_requests_names_exist():
    import requests

    for name in (
        "request",
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "Session",
        "Response",
        "PreparedRequest",
        "codes",
        "exceptions",
    ):
        assert hasattr(petro, name), name
    for name in dir(requests.exceptions):
        obj = getattr(requests.exceptions, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, Exception)
            and obj.__module__ == "requests.exceptions"
        ):
            if name in (
                "RequestsWarning",
                "FileModeWarning",
                "RequestsDependencyWarning",
                "BaseHTTPError",
                "InvalidURL",
                "UnrewindableBodyError",
            ):
                continue
            assert hasattr(petro.exceptions, name), name
    assert (
        petro.codes.ok == 200
        and petro.codes.not_found == 404
        and petro.codes["too_many_requests"] == 429
    )


def test_public_functions_have_docstrings():
    for name in petro.__all__:
        obj = getattr(petro, name)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__ and len(obj.__doc__.strip()) > 10, name
    for meth in ("request", "get", "post", "put", "patch", "delete", "head", "options"):
        assert getattr(petro.Session, meth).__doc__


def test_secrets_never_in_repr():
    secret = "b082c84e856987a9cb7ac9500ac54fc9"
    objs = [petro.HTTPBasicAuth("app", secret), petro.BearerAuth(secret)]
    s = petro.Session()
    s.auth = ("app", secret)
    s.headers["Authorization"] = "Bearer " + secret
    objs += [s, s.headers]
    for o in objs:
        assert secret not in repr(o) and secret not in str(o)
    import pickle

    for o in objs[:2]:
        with pytest.raises(TypeError):
            pickle.dumps(o)
    assert secret.encode() not in pickle.dumps(s.headers)


def test_stubs_match_runtime():
    pytest.importorskip("mypy")
    env = dict(os.environ)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "petro._core",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_is_light():
    code = (
        "import sys, petro; "
        "heavy = [m for m in ('pandas', 'polars', 'tqdm', 'numpy', 'logging', 'asyncio', 'dataclasses') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_petro_log_env_turns_on_debug_lines(tmp_path):
    code = "import petro; petro.get('http://127.0.0.1:1/', timeout=1)"
    out = subprocess.run(
        [sys.executable, "-c", f"import contextlib\nwith contextlib.suppress(Exception): {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PETRO_LOG": "debug"},
    )
    assert "petro DEBUG GET http://127.0.0.1:1/ -> ConnectionError" in out.stderr, out.stderr


def test_lazy_names_match_the_static_imports():
    """The TYPE_CHECKING imports (what editors see) name exactly what __getattr__ serves."""
    import ast

    tree = ast.parse(Path(petro.__file__).read_text())
    static = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                for alias in imp.names:
                    static[alias.name] = "." + (imp.module or "") if imp.module else None
    static.pop("exceptions")
    assert static == petro._LAZY
    assert set(petro.__all__) == set(petro._LAZY) | {"exceptions", "__version__"}
