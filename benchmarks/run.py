"""petro against its peers, side by side, in one run: ``python benchmarks/run.py [--quick] [--only W1,W2]``.

Clients are interleaved round by round (shuffled with a fixed seed) in one process
per workload, pinned to one CPU while the server runs pinned to the other; a workload
whose process dies is retried once. Every response is
validated outside the timed region. Results (markdown + raw JSON) go to
``benchmarks/results/``; targets print PASS/FAIL and only ``--strict`` turns a FAIL
into a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
import server  # noqa: E402
from data import QUERY_BODY, check_records, check_reply, digest, dumps  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "w1_n": 2000, "w1_rounds": 7, "w2_rounds": 9, "w3_n": 1000, "w3_rounds": 9,
        "wrk_s": 2, "w4_rounds": 3, "w5_runs": 20, "w6_records": 100_000, "w6_rounds": 7,
        "idx_records": 1_000_000, "idx_queries": 50,
    },
    "quick": {
        "w1_n": 500, "w1_rounds": 3, "w2_rounds": 3, "w3_n": 1000, "w3_rounds": 2,
        "wrk_s": 2, "w4_rounds": 1, "w5_runs": 10, "w6_records": 20_000, "w6_rounds": 1,
        "idx_records": 100_000, "idx_queries": 20,
    },
}  # fmt: skip
CONNS = 32
RNG = random.Random(20240607)


# --------------------------------------------------------------------------- statistics
def stats(samples: list[float]) -> dict[str, float]:
    med = statistics.median(samples)
    return {
        "median": med,
        "best": min(samples),
        "worst": max(samples),
        "spread": (max(samples) - min(samples)) / med if med else 0.0,
        "n": len(samples),
    }


def interleave(
    samplers: dict[str, Callable[[], float]], rounds: int, label: str
) -> dict[str, dict[str, Any]]:
    """Run each sampler ``rounds`` times, shuffled each round; failures are recorded, not fatal."""
    out: dict[str, dict[str, Any]] = {n: {"samples": []} for n in samplers}
    for r in range(rounds):
        order = list(samplers)
        RNG.shuffle(order)
        for name in order:
            if "error" in out[name]:
                continue
            try:
                out[name]["samples"].append(samplers[name]())
            except Exception as e:
                out[name]["error"] = f"{type(e).__name__}: {e}"[:300]
                print(f"  {label} {name}: FAILED {out[name]['error']}", flush=True)
        print(f"  {label}: round {r + 1}/{rounds} done", flush=True)
    for v in out.values():
        if v["samples"] and "error" not in v:
            v.update(stats(v["samples"]))
    return out


def setup_all(factories: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    made, na = {}, {}
    for name, f in factories.items():
        try:
            made[name] = f()
        except NotImplementedError as e:
            na[name] = str(e)
        except Exception as e:
            na[name] = f"n/a (setup failed: {type(e).__name__}: {e})"[:300]
    return made, na


# --------------------------------------------------------------------------- W1
def w1(ng: server.Nginx, p: dict[str, Any]) -> dict[str, Any]:
    url = ng.url + "/api/reply.json"
    auth = (server.USER, server.PASSWORD)
    n = p["w1_n"]
    made, na = setup_all(
        {k: (lambda f=f: f(url, QUERY_BODY, auth)) for k, f in clients.SEQ.items()}
    )
    samplers = {}
    for name, (run, _close) in made.items():

        def sample(run: Callable[[int], list] = run, name: str = name) -> float:
            gc.collect()
            t0 = time.perf_counter()
            out = run(n)
            dt = time.perf_counter() - t0
            if len(out) != n:
                raise AssertionError(f"{name}: {len(out)} replies")
            for status, obj in out:
                if status != 200:
                    raise AssertionError(f"{name}: HTTP {status}")
                check_reply(obj, name)
            return dt

        try:
            run(20)  # warm the connection and caches
        except Exception as e:
            na[name] = f"n/a (failed: {type(e).__name__}: {e})"[:300]
            continue
        samplers[name] = sample
    res = interleave(samplers, p["w1_rounds"], "W1")
    for _run, close in made.values():
        close()
    return {"requests_per_sample": n, "results": res, "na": na, "unit": "s"}


# --------------------------------------------------------------------------- W2
def w2(ng: server.Nginx, p: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    url = ng.url + "/wells-10k.json"
    made, na = setup_all({k: (lambda f=f: f(url)) for k, f in clients.GET.items()})
    samplers = {}
    for name, (fetch, _close) in made.items():

        def sample(fetch: Callable[[], Any] = fetch, name: str = name) -> float:
            gc.collect()
            t0 = time.perf_counter()
            obj = fetch()
            dt = time.perf_counter() - t0
            check_records(obj, want, name)
            return dt

        try:
            fetch()
        except Exception as e:
            na[name] = f"n/a (failed: {type(e).__name__}: {e})"[:300]
            continue
        samplers[name] = sample
    full = interleave(samplers, p["w2_rounds"], "W2 GET+parse")
    for _f, close in made.values():
        close()

    parsers = clients.parse_table(url)
    psamplers = {}
    for name, (download, parse) in parsers.items():

        def psample(
            download: Callable[[], Any] = download, parse: Callable = parse, name: str = name
        ) -> float:
            resp = download()
            gc.collect()
            t0 = time.perf_counter()
            obj = parse(resp)
            dt = time.perf_counter() - t0
            check_records(obj, want, name)
            return dt

        psamplers[name] = psample
    parse_only = interleave(psamplers, p["w2_rounds"], "W2 parse only")
    return {
        "bytes": len(ng.files["wells-10k.json"]),
        "results": full,
        "parse_only": parse_only,
        "na": na,
        "unit": "s",
    }


# --------------------------------------------------------------------------- W3
#: The server-limit sampler interleaved with the request_many rounds.
WRK = "wrk (server limit)"


def w3(ng: server.Nginx, p: dict[str, Any]) -> dict[str, Any]:
    url = ng.url + "/api/reply.json"
    auth = (server.USER, server.PASSWORD)
    n = p["w3_n"]

    def check(out: list, name: str) -> None:
        if len(out) != n:
            raise AssertionError(f"{name}: {len(out)} replies")
        for status, obj in out:
            if status != 200:
                raise AssertionError(f"{name}: HTTP {status}")
            check_reply(obj, name)

    # Threads: one session shared by CONNS threads.
    made, na_thr = setup_all(
        {k: (lambda f=f: f(url, QUERY_BODY, auth, CONNS)) for k, f in clients.THREADED.items()}
    )
    pool = ThreadPoolExecutor(CONNS)
    samplers: dict[str, Callable[[], float]] = {}
    for name, (call, _close) in made.items():

        def tsample(call: Callable[[], Any] = call, name: str = name) -> float:
            gc.collect()
            t0 = time.perf_counter()
            out = list(pool.map(lambda _: call(), range(n)))
            dt = time.perf_counter() - t0
            check(out, name)
            return dt

        list(pool.map(lambda _, call=call: call(), range(4 * CONNS)))
        samplers[name] = tsample
    threaded = interleave(samplers, p["w3_rounds"], "W3 threads")
    for _c, close in made.values():
        close()
    pool.shutdown()

    # asyncio: CONNS workers gathered on one client, each loop its own.
    loops: dict[str, Any] = {}
    na_aio: dict[str, str] = {}
    for name, factory in clients.ASYNC.items():
        loop = asyncio.new_event_loop()
        try:
            call, aclose = loop.run_until_complete(factory(url, QUERY_BODY, auth, CONNS))
            loops[name] = (loop, call, aclose)
        except NotImplementedError as e:
            na_aio[name] = str(e)
            loop.close()
        except Exception as e:
            na_aio[name] = f"n/a (setup failed: {type(e).__name__}: {e})"[:300]
            loop.close()

    async def gathered(call: Callable[[], Any], count: int) -> list:
        it = iter(range(count))
        out: list = []

        async def worker() -> None:
            for _ in it:
                out.append(await call())

        await asyncio.gather(*(worker() for _ in range(CONNS)))
        return out

    asamplers = {}
    for name, (loop, call, _aclose) in loops.items():

        def asample(loop: Any = loop, call: Any = call, name: str = name) -> float:
            gc.collect()
            t0 = time.perf_counter()
            out = loop.run_until_complete(gathered(call, n))
            dt = time.perf_counter() - t0
            check(out, name)
            return dt

        try:
            loop.run_until_complete(gathered(call, 4 * CONNS))
            asamplers[name] = asample
        except Exception as e:
            na_aio[name] = f"n/a (failed: {type(e).__name__}: {e})"[:300]
    aio = interleave(asamplers, p["w3_rounds"], "W3 asyncio")
    for loop, _call, aclose in loops.values():
        try:
            loop.run_until_complete(aclose())
        except Exception:
            pass
        loop.close()

    # Batch: Session.request_many.
    batch_made, na_batch = setup_all(
        {
            # (Until session 12 also "replies not parsed": `.json()` after the clock
            # stopped. A batch now parses small JSON replies as they arrive, so
            # that row no longer showed the transport alone, and was dropped.)
            "petro request_many": lambda: clients.batch_petro(url, QUERY_BODY, auth, CONNS),
        }
    )
    bsamplers = {}
    for name, (run, _close) in batch_made.items():

        def bsample(run: Callable[[int], list] = run, name: str = name) -> float:
            gc.collect()
            t0 = time.perf_counter()
            out = run(n)
            dt = time.perf_counter() - t0
            check(out, name)
            return dt

        try:
            run(4 * CONNS)
            bsamplers[name] = bsample
        except Exception as e:
            na_batch[name] = f"n/a (request_many call failed: {type(e).__name__}: {e})"[:300]
    # What the server can serve: wrk (keep-alive, same body, same concurrency), run
    # as one more sampler of the request_many rounds, so that the limit and the
    # figure judged against it are measured in the same minutes (this machine's
    # speed drifts by 20-40% within minutes).
    limits: list[float] = []
    if shutil.which("wrk"):

        def wrk_sample() -> float:
            rps = server.wrk_limit(url, dumps(QUERY_BODY), clients.basic(auth), CONNS, p["wrk_s"])
            if not rps:
                raise RuntimeError("wrk gave no figure")
            limits.append(rps)
            return n / rps

        bsamplers[WRK] = wrk_sample
    batch = interleave(bsamplers, p["w3_rounds"], "W3 request_many")
    batch.pop(WRK, None)
    return {
        "requests_per_sample": n,
        "concurrency": CONNS,
        "threads": {"results": threaded, "na": na_thr},
        "asyncio": {"results": aio, "na": na_aio},
        "batch": {"results": batch, "na": na_batch},
        "wrk_rps": limits,
        "server_limit_rps": statistics.median(limits) if limits else None,
        "unit": "s",
    }


# --------------------------------------------------------------------------- W4
W4_CLIENTS = [*clients.GET.keys(), "orjson (file)"]


def w4(ng: server.Nginx, p: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    url = ng.url + "/wells-100k.json"
    path = str(ng.root / "www" / "wells-100k.json")
    samplers = {}
    rss: dict[str, list[int]] = {c: [] for c in W4_CLIENTS}

    for name in W4_CLIENTS:

        def sample(name: str = name) -> float:
            target = path if name == "orjson (file)" else url
            cmd = [sys.executable, str(HERE / "child.py"), "w4", name, target,
                   str(want["count"]), str(want["tvd_sum"])]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rss[name].append(res["rss_kb"])
            return float(res["rss_kb"])

        samplers[name] = sample
    res = interleave(samplers, p["w4_rounds"], "W4")
    return {"bytes": len(ng.files["wells-100k.json"]), "results": res, "unit": "KiB peak RSS"}


# --------------------------------------------------------------------------- W5
W5_IMPORTS = {
    "python (no import)": "pass",
    "petro": "import petro",
    "requests": "import requests",
    "httpx": "import httpx",
    "niquests": "import niquests",
    "urllib3": "import urllib3",
    "aiohttp": "import aiohttp",
    "pyreqwest": "import pyreqwest",
    "pyreqwest (+ client)": "import pyreqwest.client",
    "primp": "import primp",
    "rnet": "import rnet",
}
HEAVY = ("pandas", "polars", "tqdm", "numpy")


def w5(p: dict[str, Any]) -> dict[str, Any]:
    # Imports as a user gets them: bytecode cached (PYTHONDONTWRITEBYTECODE would recompile).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samplers = {}
    for name, code in W5_IMPORTS.items():
        cmd = [sys.executable, "-c", code]
        subprocess.run(cmd, check=True, env=env)  # warm: bytecode written, files cached

        def sample(cmd: list[str] = cmd) -> float:
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env)
            return time.perf_counter() - t0

        samplers[name] = sample
    res = interleave(samplers, p["w5_runs"], "W5")
    bare = res["python (no import)"].get("median", 0.0)
    for v in res.values():
        if "median" in v:
            v["net_median"] = v["median"] - bare
    probe = (
        f"import petro, sys, json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    heavy = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                      text=True, check=True).stdout)  # fmt: skip
    return {"results": res, "heavy_modules_imported_by_petro": heavy, "unit": "s"}


# --------------------------------------------------------------------------- W6 + index
def start_emulator(p: dict[str, Any]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = server.taskset(
        [sys.executable, str(HERE / "child.py"), "emulator", str(p["w6_records"]),
         str(p["idx_records"])],
        server.SERVER_CPU,
    )  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the emulator process died during setup")
    return proc, json.loads(line)


W6_NO_ARROW = " (no pyarrow)"


def w6(emu: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    from data import wells

    want = digest(wells(p["w6_records"]))
    # With pyarrow installed pandas 3 keeps text in Arrow; W6 then also runs with
    # text as Python str (pandas' storage without pyarrow), each side alike.
    storages = {"": "auto"}
    if importlib.util.find_spec("pyarrow") is not None:
        storages[W6_NO_ARROW] = "python"
    detail: dict[str, list[dict[str, Any]]] = {}
    samplers = {}
    for suffix, storage in storages.items():
        for how in ("petro", "requests"):
            name = how + suffix
            detail[name] = []

            def sample(how: str = how, name: str = name, storage: str = storage) -> float:
                cmd = [sys.executable, str(HERE / "child.py"), "w6", how, emu["url"],
                       emu["app_id"], emu["secret_key"], "BenchWell", str(want["count"]),
                       str(want["tvd_sum"]), storage]  # fmt: skip
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
                if out.returncode != 0:
                    raise RuntimeError((out.stderr or "failed").strip()[-300:])
                res = json.loads(out.stdout.strip().splitlines()[-1])
                detail[name].append(res)
                return float(res["seconds"])

            samplers[name] = sample
    res = interleave(samplers, p["w6_rounds"], "W6")
    for how, rows in detail.items():
        if rows and how in res:
            res[how]["rss_kb"] = statistics.median(r["rss_kb"] for r in rows)
            res[how]["base_rss_kb"] = statistics.median(r["base_rss_kb"] for r in rows)
    return {"records": p["w6_records"], "results": res, "setup_s": emu["setup_w6_s"], "unit": "s",
            "pyarrow": len(storages) > 1}  # fmt: skip


def index_query(emu: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    import petro

    ai = petro.PetroAI(emu["url"], app_id=emu["app_id"], secret_key=emu["secret_key"],
                       progress=False)  # fmt: skip
    groups = p["idx_records"] // 10
    ids = [f"W{RNG.randrange(groups):07d}" for _ in range(p["idx_queries"])]
    ai.data.query("Idx", {"wellId": ids[0]})
    times = []
    for wid in ids:
        t0 = time.perf_counter()
        rows = ai.data.query("Idx", {"wellId": wid})
        times.append(time.perf_counter() - t0)
        if len(rows) != 10 or any(r["wellId"] != wid for r in rows):
            raise AssertionError(f"index query {wid}: {len(rows)} rows")
    t0 = time.perf_counter()
    rows = ai.data.query("Idx", {"seq": p["idx_records"] - 1})
    unindexed = time.perf_counter() - t0
    if len(rows) != 1:
        raise AssertionError("unindexed query: wrong rows")
    return {
        "records": p["idx_records"],
        "insert_s": emu["setup_idx_s"],
        "indexed": stats(times),
        "unindexed_single_s": unindexed,
        "unit": "s",
    }


# --------------------------------------------------------------------------- targets
def med(block: dict[str, Any], name: str) -> float | None:
    v = block.get(name, {})
    return v.get("median") if "error" not in v else None


def paired(a: list[float] | None, b: list[float] | None) -> float | None:
    """The median over rounds of ``a[i] / b[i]``: two clients' samples taken in the
    same round, seconds apart, so that the machine's drift between rounds (its speed
    moves by a third within minutes, often in two states) cancels. Reported beside
    the targets, which are judged on the medians. None unless every round has both."""
    if not a or not b or len(a) != len(b) or not all(b):
        return None
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def samples(block: dict[str, Any], name: str) -> list[float] | None:
    v = block.get(name, {})
    return v.get("samples") if "error" not in v else None


def by_round(ratio: float | None, unit: str = "x") -> str:
    return f"; paired by round {ratio:.2f}{unit}" if ratio is not None else ""


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(wl: str, text: str, ok: bool | None, evidence: str) -> None:
        out.append({"workload": wl, "target": text, "status": {True: "PASS", False: "FAIL", None: "n/a"}[ok], "evidence": evidence})  # fmt: skip

    for w, why in r.get("crashed", {}).items():
        add(w, "the workload ran to its end", None,
            f"its process crashed in both attempts ({why}); nothing to judge")  # fmt: skip
    if "W1" in r:
        res = r["W1"]["results"]
        pet = med(res, "petro")
        peers = {k: med(res, k) for k in res if k != "petro" and med(res, k)}
        fastest = min(peers, key=peers.get) if peers else None  # type: ignore[arg-type]
        if pet and fastest:
            pr = paired(samples(res, "petro"), samples(res, fastest))
            add("W1", "petro at least as fast as the fastest peer", pet <= peers[fastest],
                f"petro {pet * 1e3:.0f} ms vs {fastest} {peers[fastest] * 1e3:.0f} ms "
                f"({pet / peers[fastest]:.2f}x{by_round(pr)}); requests {res['requests']['median'] * 1e3:.0f} ms")  # fmt: skip
    if "W2" in r:
        po = r["W2"]["parse_only"]
        pj, oj = med(po, "petro .json()"), med(po, "orjson.loads(bytes)")
        if pj and oj:
            pr = paired(samples(po, "petro .json()"), samples(po, "orjson.loads(bytes)"))
            add("W2", "petro .json() no slower than orjson.loads on the same bytes", pj <= oj,
                f"petro .json() {pj * 1e3:.1f} ms vs orjson.loads {oj * 1e3:.1f} ms ({pj / oj:.2f}x{by_round(pr)})")  # fmt: skip
        res = r["W2"]["results"]
        pet, req = med(res, "petro"), med(res, "requests")
        if pet and req:
            add(
                "W2",
                "petro GET+.json() at most 0.6x requests",
                pet <= 0.6 * req,
                f"petro {pet * 1e3:.1f} ms vs requests {req * 1e3:.1f} ms ({pet / req:.2f}x"
                f"{by_round(paired(samples(res, 'petro'), samples(res, 'requests')))})",
            )
    if "W3" in r:
        w = r["W3"]
        n = w["requests_per_sample"]
        lim = w["server_limit_rps"]
        for mode, pname in (("threads", "petro"), ("asyncio", "petro AsyncSession")):
            res = w[mode]["results"]
            pet = med(res, pname)
            peers = {k: n / med(res, k) for k in res if k != pname and med(res, k)}  # type: ignore[operator]
            if not pet:
                add("W3", f"{mode}: petro >= 1.1x fastest peer or within 10% of the server", None,
                    w[mode]["na"].get(pname, res.get(pname, {}).get("error", "n/a")))  # fmt: skip
                continue
            rps = n / pet
            fastest = max(peers, key=peers.get) if peers else None  # type: ignore[arg-type]
            ok = (fastest is not None and rps >= 1.1 * peers[fastest]) or (lim and rps >= 0.9 * lim)
            # Rates: the peer's time over petro's.
            pr = paired(samples(res, fastest), samples(res, pname)) if fastest else None
            add("W3", f"{mode}: petro >= 1.1x fastest peer or within 10% of the server", bool(ok),
                f"petro {rps:,.0f} req/s; fastest peer {fastest} {peers.get(fastest, 0):,.0f} req/s "
                f"({rps / peers[fastest]:.2f}x{by_round(pr)}); server limit (wrk) {lim or 0:,.0f} req/s")  # fmt: skip
        res = w["batch"]["results"]
        pet = med(res, "petro request_many")
        if not pet:
            add(
                "W3",
                "request_many within 10% of the server limit",
                None,
                w["batch"]["na"].get("petro request_many", "n/a"),
            )
        else:
            rps = n / pet
            times = samples(res, "petro request_many")
            rates = [n / t for t in times] if times else None
            pr = paired(rates, w["wrk_rps"])
            add(
                "W3",
                "request_many within 10% of the server limit",
                bool(lim and rps >= 0.9 * lim),
                f"request_many {rps:,.0f} req/s vs server {lim or 0:,.0f} req/s "
                f"({rps / (lim or rps):.2f}{by_round(pr, unit='')})",
            )
    if "W4" in r:
        res = r["W4"]["results"]
        pet, req, pri = med(res, "petro"), med(res, "requests"), med(res, "primp")
        if pet and req and pri:
            add("W4", "petro peak RSS at most 0.7x requests and below primp",
                pet <= 0.7 * req and pet < pri,
                f"petro {pet / 1024:.0f} MiB ({pet / req:.2f}x), requests {req / 1024:.0f} MiB, "
                f"primp {pri / 1024:.0f} MiB ({pri / req:.2f}x)")  # fmt: skip
    if "W5" in r:
        res = r["W5"]["results"]
        pet = res["petro"].get("net_median")
        for ref in ("pyreqwest", "pyreqwest (+ client)"):
            pr = res[ref].get("net_median")
            if pet is not None and pr:
                add("W5", f"import petro within 1.5x of `{W5_IMPORTS[ref]}`", pet <= 1.5 * pr,
                    f"petro {pet * 1e3:.1f} ms vs {pr * 1e3:.1f} ms ({pet / pr:.2f}x), net of "
                    f"interpreter start {res['python (no import)']['median'] * 1e3:.1f} ms")  # fmt: skip
        heavy = r["W5"]["heavy_modules_imported_by_petro"]
        add(
            "W5",
            "import petro loads none of pandas, polars, tqdm, numpy",
            not heavy,
            "imported: " + (", ".join(heavy) if heavy else "none"),
        )
    if "W6" in r:
        res = r["W6"]["results"]
        variants = {"": " (text in Arrow: pandas with pyarrow)" if r["W6"].get("pyarrow") else ""}
        if f"petro{W6_NO_ARROW}" in res:
            variants[W6_NO_ARROW] = " (text as Python str: pandas without pyarrow)"
        for suffix, label in variants.items():
            pet, req = med(res, "petro" + suffix), med(res, "requests" + suffix)
            if not (pet and req):
                continue
            add(
                "W6",
                f"query_df at least 5x faster than a requests loop{label}",
                pet * 5 <= req,
                f"petro {pet:.2f} s vs requests {req:.2f} s ({req / pet:.1f}x faster"
                f"{by_round(paired(samples(res, 'requests' + suffix), samples(res, 'petro' + suffix)))})",
            )
            pm, rm = res["petro" + suffix]["rss_kb"], res["requests" + suffix]["rss_kb"]
            add(
                "W6",
                f"query_df peak memory lower than the requests loop{label}",
                pm < rm,
                f"petro {pm / 1024:.0f} MiB vs requests {rm / 1024:.0f} MiB",
            )
    return out


# --------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def ver(cmd: list[str]) -> str:
        try:
            o = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (o.stdout + o.stderr).strip().splitlines()[0]
        except Exception:
            return "not available"

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": ver(["nginx", "-v"]),
        "wrk": ver(["wrk", "-v"]),
        "server_cpu": server.SERVER_CPU,
        "client_cpu": server.CLIENT_CPU,
    }


def fmt_time(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.2f} s"


def table(
    res: dict[str, Any], na: dict[str, str], kind: str, ref: str | None, n: int = 0
) -> list[str]:
    head = {"time": "| client | median | best | spread | vs requests |",
            "rps": "| client | median req/s | best req/s | spread | vs requests |",
            "rss": "| client | peak RSS (median) | best | spread | vs requests |"}[kind]  # fmt: skip
    lines = [head, "|---|---:|---:|---:|---:|"]
    refm = med(res, ref) if ref else None
    rows = sorted(((k, v) for k, v in res.items() if "median" in v), key=lambda kv: kv[1]["median"])
    for k, v in rows:
        m, b = v["median"], v["best"]
        if kind == "time":
            cells = (fmt_time(m), fmt_time(b))
        elif kind == "rps":
            cells = (f"{n / m:,.0f}", f"{n / b:,.0f}")
        else:
            cells = (f"{m / 1024:,.0f} MiB", f"{b / 1024:,.0f} MiB")
        ratio = f"{m / refm:.2f}x" if refm else ""
        lines.append(f"| {k} | {cells[0]} | {cells[1]} | {v['spread'] * 100:.0f}% | {ratio} |")
    for k, v in res.items():
        if "error" in v:
            lines.append(f"| {k} | error: {v['error']} | | | |")
    for k, why in na.items():
        lines.append(f"| {k} | {why} | | | |")
    return lines


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    L = [f"# petro benchmark results ({r['profile']} profile)", "",
         f"{r['date']} · {m['cpu']} · {m['cpus']} CPUs (server on CPU {m['server_cpu']}, client on "
         f"CPU {m['client_cpu']}) · Linux {m['kernel']} · Python {m['python']} · {m['nginx']}", "",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()), "",
         "Times are medians over interleaved rounds; *best* is the fastest sample; *spread* is "
         "(worst - best) / median; ratios are medians over requests' median (lower is better, "
         "except req/s where the ratio is of times too). Targets are judged on the medians; "
         "*paired by round* beside them is the median of the two clients' ratio within each "
         "round (samples seconds apart), which the machine's drift between rounds moves less.",
         ""]  # fmt: skip
    L += ["## Targets", "", "| workload | target | result | evidence |", "|---|---|---|---|"]
    L += [
        f"| {t['workload']} | {t['target']} | **{t['status']}** | {t['evidence']} |"
        for t in r["targets"]
    ]
    if "W1" in r:
        w = r["W1"]
        L += ["", f"## W1: {w['requests_per_sample']} sequential POSTs (~200-byte JSON, Basic auth, one session, reply parsed)", ""]  # fmt: skip
        L += table(w["results"], w["na"], "time", "requests")
    if "W2" in r:
        w = r["W2"]
        L += ["", f"## W2: GET {w['bytes'] / 1e6:.1f} MB JSON array (10,000 records) parsed to a list of dicts", ""]  # fmt: skip
        L += table(w["results"], w["na"], "time", "requests")
        L += ["", "Parse step alone, body already in memory:", ""]
        L += table(w["parse_only"], {}, "time", "requests .json()")
    if "W3" in r:
        w = r["W3"]
        n = w["requests_per_sample"]
        L += ["", f"## W3: {n} POSTs at concurrency {w['concurrency']}", "",
              f"Server limit (wrk, {w['concurrency']} keep-alive connections, same body and auth): "
              + (f"**{w['server_limit_rps']:,.0f} req/s** (runs: " + ", ".join(f"{x:,.0f}" for x in w["wrk_rps"]) + ")"
                 if w["server_limit_rps"] else "not measured (wrk missing)")]  # fmt: skip
        for mode in ("threads", "asyncio", "batch"):
            L += ["", f"### {mode}", ""]
            L += table(
                w[mode]["results"],
                w[mode]["na"],
                "rps",
                "requests" if mode == "threads" else None,
                n,
            )
    if "W4" in r:
        w = r["W4"]
        L += ["", f"## W4: peak RSS of a fresh process fetching {w['bytes'] / 1e6:.0f} MB JSON (100,000 records) into Python objects", ""]  # fmt: skip
        L += table(w["results"], {}, "rss", "requests")
    if "W5" in r:
        w = r["W5"]
        L += ["", "## W5: import time (fresh interpreter, wall time; net = minus `python -c pass`)", "",
              "| import | median | net median | best | spread |", "|---|---:|---:|---:|---:|"]  # fmt: skip
        for k, v in sorted(w["results"].items(), key=lambda kv: kv[1].get("median", 9)):
            if "median" in v:
                L.append(f"| `{W5_IMPORTS[k]}` | {fmt_time(v['median'])} | {fmt_time(v['net_median'])} | {fmt_time(v['best'])} | {v['spread'] * 100:.0f}% |")  # fmt: skip
        L += ["", "Heavy modules loaded by `import petro`: " + (", ".join(w["heavy_modules_imported_by_petro"]) or "none"), ""]  # fmt: skip
    if "W6" in r:
        w = r["W6"]
        L += ["", f"## W6: {w['records']:,} records (100 pages of 1,000) from the emulator into a pandas DataFrame", "",
              "| how | median | best | spread | peak RSS | RSS before the pull |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for k, v in w["results"].items():
            if "median" in v:
                L.append(f"| {k} | {fmt_time(v['median'])} | {fmt_time(v['best'])} | {v['spread'] * 100:.0f}% | {v['rss_kb'] / 1024:,.0f} MiB | {v['base_rss_kb'] / 1024:,.0f} MiB |")  # fmt: skip
            elif "error" in v:
                L.append(f"| {k} | error: {v['error']} | | | | |")
    if "index" in r:
        w = r["index"]
        L += ["", f"## Emulator: indexed query over {w['records']:,} records", "",
              f"`data.query(\"Idx\", {{\"wellId\": id}})` (10 matching records): median "
              f"**{fmt_time(w['indexed']['median'])}**, best {fmt_time(w['indexed']['best'])} over "
              f"{w['indexed']['n']} ids; the same store queried on a non-indexed field: "
              f"{fmt_time(w['unindexed_single_s'])}. Inserting the records took {w['insert_s']:.1f} s."]  # fmt: skip
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- main
#: Workloads in the order they run; W1-W4 share the nginx files, W6 and IDX the emulator.
ORDER = ("W1", "W2", "W4", "W3", "W5", "W6", "IDX")


def run_parts(only: set[str], p: dict[str, Any]) -> dict[str, Any]:
    """Run the workloads in ``only`` in this process; their results by key."""
    r: dict[str, Any] = {}
    if only & {"W1", "W2", "W3", "W4"}:
        ng = server.Nginx()
        # Only the files this process's workloads read: each workload has a process
        # of its own, and making the 100,000 records takes ~2 s.
        sizes = {"wells-10k.json": 10_000} if "W2" in only else {}
        if "W4" in only:
            sizes["wells-100k.json"] = 100_000
        want = {name: digest(recs) for name, recs in ng.write_files(sizes).items()}
        with ng:
            if "W1" in only:
                print("W1 ...", flush=True)
                r["W1"] = w1(ng, p)
            if "W2" in only:
                print("W2 ...", flush=True)
                r["W2"] = w2(ng, p, want["wells-10k.json"])
            if "W4" in only:
                print("W4 ...", flush=True)
                r["W4"] = w4(ng, p, want["wells-100k.json"])
            if "W3" in only:
                print("W3 ...", flush=True)
                r["W3"] = w3(ng, p)
    if "W5" in only:
        print("W5 ...", flush=True)
        r["W5"] = w5(p)
    if only & {"W6", "IDX"}:
        print("emulator setup ...", flush=True)
        proc, emu = start_emulator(p)
        try:
            if "W6" in only:
                print("W6 ...", flush=True)
                r["W6"] = w6(emu, p)
            if "IDX" in only:
                print("emulator index query ...", flush=True)
                r["index"] = index_query(emu, p)
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(30)
    return r


def run_isolated(only: set[str], quick: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Each workload in a child process of its own (``--part``), so that a peer that
    takes its process down (a native panic that aborts) costs that workload one retry,
    not the run. Returns the results and, for workloads that crashed twice, why."""
    r: dict[str, Any] = {}
    crashed: dict[str, str] = {}
    for w in (w for w in ORDER if w in only):
        for attempt in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "part.json"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--part", w,
                       "--part-out", str(out)] + (["--quick"] if quick else [])  # fmt: skip
                rc = subprocess.run(cmd).returncode
                if rc == 0 and out.exists():
                    r.update(json.loads(out.read_text()))
                    crashed.pop(w, None)
                    break
            why = f"its process exited with {rc} (signal {-rc})" if rc < 0 else f"exit {rc}"
            crashed[w] = why
            print(f"{w}: {why}; attempt {attempt} of 2", file=sys.stderr, flush=True)
    return r, crashed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the quick profile (about a minute)")
    ap.add_argument("--only", default="", help="comma-separated workloads: W1,W2,W3,W4,W5,W6,IDX")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    ap.add_argument("--out", default=str(HERE / "results"), help="results directory")
    ap.add_argument("--part", help=argparse.SUPPRESS)  # one workload, in a child process
    ap.add_argument("--part-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    profile = "quick" if a.quick else "full"
    p = PROFILES[profile]
    only = {w.strip().upper() for w in a.only.split(",") if w.strip()} or set(ORDER)

    if a.part:
        # The child pins itself (before any thread exists). The parent stays unpinned:
        # `server` reads the CPUs it may use from this process's affinity on import.
        if server.CLIENT_CPU is not None:
            os.sched_setaffinity(0, {server.CLIENT_CPU})
        part = run_parts({a.part}, p)
        Path(a.part_out).write_text(json.dumps(part, default=str))
        return 0

    import urllib3

    if "future" in getattr(urllib3, "__file__", "") or urllib3.__version__.startswith("2.2"):
        print(f"warning: urllib3 {urllib3.__version__} is urllib3-future, not urllib3; see "
              "benchmarks/requirements.txt", file=sys.stderr)  # fmt: skip
    r: dict[str, Any] = {
        "profile": profile,
        "params": p,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": clients.versions(),
    }
    t_start = time.perf_counter()
    parts, crashed = run_isolated(only, a.quick)
    r.update(parts)
    if crashed:
        r["crashed"] = crashed
    r["seconds"] = time.perf_counter() - t_start
    r["targets"] = targets(r)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(r)
    (out / f"{profile}.md").write_text(md)
    (out / f"{profile}.json").write_text(json.dumps(r, indent=1, default=str) + "\n")
    print()
    print(md)
    print(f"wrote {out / (profile + '.md')} and {profile}.json in {r['seconds']:.0f} s")
    failed = [t for t in r["targets"] if t["status"] == "FAIL"]
    for t in r["targets"]:
        print(f"{t['status']:4}  {t['workload']}: {t['target']} -- {t['evidence']}")
    return 1 if (a.strict and (failed or crashed)) else 0


if __name__ == "__main__":
    sys.exit(main())
