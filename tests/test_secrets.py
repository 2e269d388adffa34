"""Known secret values never show up: reprs, str, logs, exception messages, tracebacks, pickles."""

import io
import logging
import pickle
import traceback

import pytest

import petro
from petro.emulator import Emulator

APP_ID = "7d54ac3f46493ff662f224e1ab2f1642"
SECRET = "b082c84e856987a9cb7ac9500ac54fc9"
PETRA = "petra_SECRETabc123def456ghi789"
PETRA_VAR = "petra_var_SECRETzyx987wvu654"


@pytest.fixture(scope="module")
def emu():
    with Emulator(sample_wells=5, sample_months=1) as e:
        yield e


def secrets_of(jwt):
    import base64

    values = [SECRET, PETRA, PETRA_VAR, jwt, jwt.split(".")[-1]]
    values.append(base64.b64encode(f"{APP_ID}:{SECRET}".encode()).decode())
    return values


def check(text, secrets):
    for s in secrets:
        assert s not in text, f"secret leaked: {s[:6]}… in {text[:200]!r}"


def test_every_public_path_keeps_secrets(emu, caplog, monkeypatch):
    jwt = emu.issue_jwt()
    secrets = secrets_of(jwt)
    monkeypatch.setenv("PETRO_LOG", "debug")
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="petro"):
        # requests-style calls, good and bad credentials, redirects, errors
        objs = []
        objs.append(petro.HTTPBasicAuth(APP_ID, SECRET))
        objs.append(petro.BearerAuth(jwt))
        s = petro.Session()
        s.auth = (APP_ID, SECRET)
        s.headers["X-Api-Key"] = PETRA
        objs += [s, s.headers]
        r = s.post(emu.url + "/api/data/query", json={"type": "petron"})
        objs += [r, r.request, r.request.headers, r.headers]
        bad = petro.post(
            emu.url + "/api/data/query", auth=(APP_ID, SECRET), json={"type": "petron"}
        )
        objs.append(bad)
        errors = []
        for call in (
            lambda: bad.raise_for_status(),
            lambda: petro.get(f"http://user:{SECRET}@127.0.0.1:1/x", timeout=2),
            lambda: petro.get(
                "http://127.0.0.1:1/", headers={"Authorization": "Bearer " + jwt + "\n"}
            ),
            lambda: petro.PetroAI(
                emu.url, app_id=APP_ID, secret_key=SECRET, progress=False
            ).data.types(),
            lambda: petro.PetroAI(emu.url, token=jwt + "x", progress=False).data.types(),
            lambda: petro.PetraSecurity(PETRA, base_url=emu.petra_url).tenants(),
            lambda: petro.PetraSecurity(
                PETRA, base_url=emu.petra_url, var_api_key=PETRA_VAR
            ).usage_xlsx(),
        ):
            try:
                call()
            except Exception as e:  # every failure is examined below
                errors.append(e)
        assert len(errors) == 7
        objs += [
            petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False),
            petro.PetroAI(emu.url, token=jwt, progress=False),
            petro.PetraSecurity(PETRA, base_url=emu.petra_url, var_api_key=PETRA_VAR),
        ]
    for o in objs:
        seen += [repr(o), str(o)]
        try:
            seen.append(pickle.dumps(o).decode("latin-1"))
        except (TypeError, pickle.PicklingError):
            pass  # objects holding secrets refuse to pickle
    for e in errors:
        seen += [str(e), repr(e), "".join(traceback.format_exception(e))]
        seen.append(pickle.dumps(e).decode("latin-1"))
    seen += [rec.getMessage() for rec in caplog.records]
    assert any("petro" in rec.name for rec in caplog.records)
    for text in seen:
        check(text, secrets)


def test_log_handler_from_env_writes_no_secret(emu, monkeypatch):
    from petro import _log

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = _log.get_logger()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        petro.get(emu.url + "/api/data/types", auth=(APP_ID, SECRET), retries=1)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    text = stream.getvalue()
    assert "GET" in text and "/api/data/types" in text
    check(text, [SECRET])
