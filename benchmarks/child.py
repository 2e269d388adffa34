"""Work done in fresh processes: W4 and W6 samples, and the emulator server process.

``python child.py w4 CLIENT URL COUNT TVD_SUM``: fetch a big JSON array with CLIENT,
print ``{"rss_kb", "seconds"}`` (peak RSS of this process: VmHWM, see ``rss_kb``).

``python child.py w6 petro|requests URL APP_ID SECRET TYPE COUNT TVD_SUM [STORAGE]``: pull
every record of TYPE into a pandas DataFrame (text in pandas' ``mode.string_storage``
STORAGE: ``auto``, or ``python`` as without pyarrow), print ``{"rss_kb", "seconds",
"base_rss_kb"}``.

``python child.py emulator W6_RECORDS IDX_RECORDS``: start ``petro.Emulator`` with the
benchmark's types, print one JSON line (url, credentials, setup times), then serve until
stdin closes.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pin() -> None:
    cpu = os.environ.get("BENCH_CPU")
    if cpu:
        os.sched_setaffinity(0, {int(cpu)})


def rss_kb() -> int:
    """Peak RSS of this process image, in KiB.

    ``VmHWM`` rather than ``getrusage().ru_maxrss``: Linux carries ru_maxrss across
    fork + exec, so a child of the (large) benchmark process would report the parent's
    peak. VmHWM belongs to the new address space only.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def w4(client: str, url: str, count: str, tvd_sum: str) -> None:
    if client == "orjson (file)":
        import orjson

        t0 = time.perf_counter()
        with open(url, "rb") as f:
            obj = orjson.loads(f.read())
        close = None
    else:
        import clients

        fetch, close = clients.GET[client](url)
        t0 = time.perf_counter()
        obj = fetch()
    seconds = time.perf_counter() - t0
    peak = rss_kb()
    if len(obj) != int(count) or sum(r["tvd_ft"] for r in obj) != int(tvd_sum):
        raise SystemExit(f"{client}: wrong result")
    if close:
        close()
    print(json.dumps({"rss_kb": peak, "seconds": seconds}))


def w6(
    how: str, url: str, app_id: str, secret: str, type_: str, count: str, tvd_sum: str,
    storage: str = "auto",
) -> None:  # fmt: skip
    import pandas as pd

    if storage != "auto":
        # "python": text as Python str, as pandas keeps it when pyarrow is not installed.
        pd.set_option("mode.string_storage", storage)

    if how == "petro":
        import petro

        client = petro.PetroAI(url, app_id=app_id, secret_key=secret, progress=False)
        base = rss_kb()
        t0 = time.perf_counter()
        df = client.data.query_df(type_, page_size=1000)
        seconds = time.perf_counter() - t0
    else:
        import requests

        base = rss_kb()
        t0 = time.perf_counter()
        records: list = []
        skip = 0
        while True:
            r = requests.post(
                url + "/api/data/query",
                auth=(app_id, secret),
                json={"type": type_, "query": {}, "options": {"limit": 1000, "skip": skip}},
            )
            r.raise_for_status()
            page = r.json()
            records.extend(page)
            skip += len(page)
            if len(page) < 1000:
                break
        df = pd.DataFrame(records)
        seconds = time.perf_counter() - t0
    peak = rss_kb()
    if len(df) != int(count) or int(df["tvd_ft"].sum()) != int(tvd_sum):
        raise SystemExit(f"w6 {how}: wrong result ({len(df)} rows)")
    print(json.dumps({"rss_kb": peak, "base_rss_kb": base, "seconds": seconds}))


def emulator(n_w6: str, n_idx: str) -> None:
    from data import wells

    import petro

    emu = petro.Emulator(sample_data=False, max_body_bytes=256 * 1024 * 1024).start()
    ai = petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key, progress=False)
    t0 = time.perf_counter()
    ai.data.create("BenchWell", wells(int(n_w6)), chunk_size=5000)
    t_w6 = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = int(n_idx)
    chunk = 50_000
    for lo in range(0, n, chunk):
        ai.data.create(
            "Idx",
            [
                {"wellId": f"W{i // 10:07d}", "seq": i, "v": i % 997}
                for i in range(lo, min(n, lo + chunk))
            ],
            chunk_size=chunk,
        )
    t_idx = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "url": emu.url,
                "app_id": emu.app_id,
                "secret_key": emu.secret_key,
                "setup_w6_s": t_w6,
                "setup_idx_s": t_idx,
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    emu.stop()


if __name__ == "__main__":
    pin()
    cmd, *args = sys.argv[1:]
    {"w4": w4, "w6": w6, "emulator": emulator}[cmd](*args)
