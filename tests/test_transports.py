"""Plain HTTP goes straight to hyper (src/http/direct.rs); PETRO_TRANSPORT=reqwest sends it
through reqwest, as before session 10. Both must behave the same to a user."""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys, petro
base = sys.argv[1]
out = {}
with petro.Session() as s:
    r = s.post(base + "/echo?x=1", json={"a": 1}, headers={"X-Trace": "t1", "Accept": None})
    echo = r.json()
    heads = {k.lower(): v for k, v in echo["headers"]}
    out["accept"] = heads.pop("accept", None)
    heads.pop("host")
    out["echo"] = [r.status_code, r.reason, echo["method"], echo["path"], echo["body"], heads]
    out["decoded"] = [s.get(base + "/encoded/" + e).json() for e in ("gzip", "deflate", "br", "zstd")]
    r = s.post(base + "/redirect?status=303&to=/echo", data=b"x")
    out["redirect"] = [r.status_code, r.json()["method"], [h.status_code for h in r.history]]
    r = s.get(base + "/chunked", stream=True)
    out["chunked"] = b"".join(r.iter_content(None)).decode("latin-1")
    errors = []
    for path, timeout in (("/slow?delay=2", (5, 0.2)), ("/truncated", 5), ("/encoded/broken", 5)):
        try:
            s.get(base + path, timeout=timeout).content
            errors.append(None)
        except petro.exceptions.RequestException as e:
            errors.append(type(e).__name__)
    out["errors"] = errors
print(json.dumps(out))
"""


def _run(transport, base):
    env = dict(os.environ, PETRO_TRANSPORT=transport)
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, base], env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_both_transports_behave_alike(server):
    base = server.url("").rstrip("/")
    direct, via_reqwest = _run("direct", base), _run("reqwest", base)
    # The one difference: reqwest puts back an `Accept: */*` a caller removed (requests
    # sends none then, as the direct transport does). It also shows the variable is read.
    assert direct.pop("accept") is None
    assert via_reqwest.pop("accept") == "*/*"
    assert direct == via_reqwest
    assert direct["errors"] == ["ReadTimeout", "ChunkedEncodingError", "ContentDecodingError"]
    assert direct["redirect"] == [200, "GET", [303]]
    assert [d["encoding"] for d in direct["decoded"]] == ["gzip", "deflate", "br", "zstd"]
