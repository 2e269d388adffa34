"""The soak's short form: no errors and no runaway memory over many threaded requests.

The long form (1,000,000 requests, 32 threads, < 5 % RSS growth) is `python tools/soak.py`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import soak


def test_short_soak():
    report = soak.soak(requests=16_000, threads=16, use_nginx=True, samples=10)
    assert report["requests"] == 16_000
    assert report["errors"] == 0, report["first_errors"]
    # Short runs are noisy (allocator warm-up); the long form holds the 5 % target.
    assert report["rss_growth_percent"] < 25, report
