"""``PetroAI.data.query_dask``: a query as a dask DataFrame, one skip/limit range per partition.

The task graph carries no secret: each partition's task holds only the base URL, the
profile name (if any), the type, query, fields, sort, skip and limit. Each worker builds
its own ``PetroAI`` from its environment (``PETRO_*``) or profile. dask is imported only
here, only when used.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from ._config import ConfigError

__all__ = ["frame", "load_partition", "partitions"]

#: Records per partition unless told otherwise.
DEFAULT_PARTITION_SIZE = 50_000

_clients: dict[tuple[str, str | None], Any] = {}
_clients_lock = threading.Lock()


def partitions(
    total: int, *, npartitions: int | None, partition_size: int | None, skip: int = 0
) -> list[tuple[int, int]]:
    """``(skip, limit)`` ranges covering ``total`` records from ``skip``."""
    if npartitions is not None and partition_size is not None:
        raise ValueError("pass npartitions= or partition_size=, not both")
    for name, v in (("npartitions", npartitions), ("partition_size", partition_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive int, not {v!r}")
    if npartitions is not None:
        size = max(1, math.ceil(total / npartitions))
    else:
        size = partition_size or DEFAULT_PARTITION_SIZE
    ranges = [(skip + start, min(size, total - start)) for start in range(0, total, size)]
    return ranges or [(skip, 0)]


def _client(base_url: str, profile: str | None) -> Any:
    """This worker's client for ``base_url`` (made once per process, from its own settings)."""
    from .petroai import PetroAI

    key = (base_url, profile)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            try:
                client = PetroAI(base_url, profile=profile, progress=False)
            except ConfigError as e:
                import socket

                raise ConfigError(
                    f"query_dask: the worker on {socket.gethostname()} has no Petro.ai "
                    "credentials. Partitions carry no secrets: give every worker its own, "
                    "e.g. PETRO_APP_ID and PETRO_SECRET_KEY (or PETRO_TOKEN) in its "
                    f"environment, or a profile in its config file. ({e})"
                ) from None
            _clients[key] = client
        return client


def load_partition(spec: dict[str, Any]) -> Any:
    """Fetch one partition (runs on a worker): ``spec`` is a secret-free dict."""
    from ._frames import to_pandas

    client = _client(spec["base_url"], spec["profile"])
    records = client.data.query(
        spec["type"],
        spec["query"],
        fields=spec["fields"],
        sort=spec["sort"],
        skip=spec["skip"],
        limit=spec["limit"],
        progress=False,
    )
    df = to_pandas(records)
    import pandas as pd

    df.index = pd.RangeIndex(spec["skip"], spec["skip"] + len(df))
    return _conform(df, spec["meta"])


def _conform(df: Any, meta: Any) -> Any:
    """Give a partition exactly ``meta``'s columns and, where they convert, its dtypes."""
    df = df.reindex(columns=meta.columns)
    for col, dtype in meta.dtypes.items():
        if df[col].dtype != dtype:
            try:
                df[col] = df[col].astype(dtype)
            except (TypeError, ValueError):
                pass
    return df


def meta_of(sample: list[dict[str, Any]]) -> Any:
    """An empty DataFrame with the columns and dtypes of a sample of records."""
    from ._frames import to_pandas

    df = to_pandas(sample)
    for col in df.columns:
        if df[col].dtype.kind in "iu":
            df[col] = df[col].astype("Int64")  # a later partition may have gaps
    return df.iloc[:0]


def frame(
    *,
    base_url: str,
    profile: str | None,
    type: str,
    query: dict[str, Any] | None,
    fields: list[str] | None,
    sort: dict[str, int] | None,
    ranges: list[tuple[int, int]],
    meta: Any,
) -> Any:
    """The dask DataFrame: one ``load_partition`` task per range."""
    try:
        import dask.dataframe as dd
    except ImportError as e:
        raise ImportError(
            "query_dask() needs dask: pip install 'petro[dask]' (dask[dataframe,distributed])"
        ) from e
    specs = [
        {
            "base_url": base_url,
            "profile": profile,
            "type": type,
            "query": query or {},
            "fields": fields,
            "sort": sort,
            "skip": skip,
            "limit": limit,
            "meta": meta,
        }
        for skip, limit in ranges
    ]
    return dd.from_map(
        load_partition, specs, meta=meta, label=f"petro-{type}", enforce_metadata=False
    )
