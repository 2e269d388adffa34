"""Where petro's time goes in the workloads whose targets are not met (W3 request_many, W6).

Not a benchmark (no peers, no targets): a split of one petro run into its stages, for
``benchmarks/README.md`` "Where the time goes". Same pinning as ``run.py`` (server on the
first CPU, this process on the last); best of ``--rounds``.

    python benchmarks/breakdown.py [--only W3,W6] [--rounds 5] [--string-storage python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import server  # noqa: E402
from data import QUERY_BODY  # noqa: E402


def best(stages: list[dict[str, float]]) -> dict[str, float]:
    """The round with the lowest total, in ms."""
    top = min(stages, key=lambda s: s["total"])
    return {k: round(v * 1e3, 1) for k, v in top.items()}


def w3(rounds: int) -> None:
    import petro

    body = QUERY_BODY
    ng = server.Nginx()
    ng.write_files({})
    with ng:
        url = ng.url + "/api/reply.json"
        s = petro.Session()
        s.auth = (server.USER, server.PASSWORD)
        reqs = [{"method": "POST", "url": url, "json": body} for _ in range(1000)]
        s.request_many(reqs, concurrency=32)
        stages = []
        for _ in range(rounds):
            # The batch as the suite runs it (simple items: the core reads them and
            # makes each reply a Response, parsing its JSON, as it arrives), then
            # `.json()` on each reply (hands over the value parsed in the batch).
            t0 = time.perf_counter()
            out = s.request_many(reqs, concurrency=32)
            t1 = time.perf_counter()
            values = [r.json() for r in out]  # kept, as the suite keeps them
            t2 = time.perf_counter()
            del values
            stages.append({"batch": t1 - t0, "json": t2 - t1, "total": t2 - t0})
        b = best(stages)
        print(f"W3 request_many, 1,000 POSTs at 32 (ms): {b}")
        print(f"  -> {1e3 * 1000 / b['total']:,.0f} req/s")


def w6(rounds: int, string_storage: str) -> None:
    n = 100_000
    if string_storage != "auto":
        import pandas as pd

        # "python": text as str objects, as pandas keeps it without pyarrow.
        pd.set_option("mode.string_storage", string_storage)
    emu = subprocess.Popen(
        server.taskset([sys.executable, str(HERE / "child.py"), "emulator", str(n), "10"],
                       server.SERVER_CPU),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert emu.stdout is not None
        info = json.loads(emu.stdout.readline())
        import petro
        from petro import _core, _frames
        from petro import petroai as pa

        c = petro.PetroAI(info["url"], app_id=info["app_id"], secret_key=info["secret_key"],
                          progress=False)  # fmt: skip
        stages: list[dict[str, float]] = []

        def timed(self: object, plan: object, skip: int = 0) -> object:
            # As PetroAI._frame, with the stages timed.
            t0 = time.perf_counter()
            builder = _core.FrameBuilder(text_objects=not _frames.arrow_text())
            pages = self._pages(plan, columnar=True, frames=builder)  # type: ignore[attr-defined]
            for page in pages:
                builder.append(page)
            t1 = time.perf_counter()
            cols = builder.finish(arrow_text=_frames.arrow_text())
            t2 = time.perf_counter()
            df = _frames.from_columns(cols)
            t3 = time.perf_counter()
            stages.append({"fetch+parse": t1 - t0, "finish": t2 - t1, "pandas": t3 - t2,
                           "total": t3 - t0})  # fmt: skip
            return df

        c.data.query_df("BenchWell", page_size=1000)
        pa.PetroAI._frame = timed  # type: ignore[method-assign,assignment]
        for _ in range(rounds):
            c.data.query_df("BenchWell", page_size=1000)
        print(f"W6 query_df, 100,000 records in 100 pages (ms): {best(stages)}")
    finally:
        if emu.stdin:
            emu.stdin.close()
        emu.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="W3,W6")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--string-storage", default="auto", help="W6: pandas' mode.string_storage")
    a = ap.parse_args()
    client_cpu = server.CLIENT_CPU
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    only = set(a.only.split(","))
    if "W3" in only:
        w3(a.rounds)
    if "W6" in only:
        w6(a.rounds, a.string_storage)


if __name__ == "__main__":
    main()
