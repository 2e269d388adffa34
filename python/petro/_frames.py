"""Records to DataFrames (pandas and polars are imported only here, only when used)."""

from __future__ import annotations

import re
from typing import Any

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def _looks_like_dates(values: Any) -> bool:
    seen = 0
    for v in values:
        if v is None:
            continue
        if not isinstance(v, str) or not _ISO_DATE.match(v):
            return False
        seen += 1
        if seen >= 20:
            break
    return seen > 0


def to_pandas(records: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame: ISO date strings become datetimes, integer columns with gaps ``Int64``."""
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    for col in df.columns:
        s = df[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            sample = s.dropna().head(50)
            if len(sample) and _looks_like_dates(sample):
                df[col] = pd.to_datetime(
                    s,
                    errors="coerce",
                    utc=any(str(x).endswith("Z") or "+" in str(x)[10:] for x in sample),
                )
        elif s.dtype.kind == "f" and s.isna().any():
            raw = [r.get(col) for r in records if isinstance(r, dict) and r.get(col) is not None]
            if raw and all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
                df[col] = s.astype("Int64")
    return df


def to_polars(records: list[dict[str, Any]]) -> Any:
    """A polars DataFrame with ISO date strings parsed."""
    import polars as pl

    df = pl.from_dicts(records, infer_schema_length=None) if records else pl.DataFrame()
    for col in df.columns:
        if df[col].dtype == pl.Utf8:
            sample = df[col].drop_nulls().head(50).to_list()
            if sample and _looks_like_dates(sample):
                if all(len(x) == 10 for x in sample):
                    df = df.with_columns(pl.col(col).str.to_date(strict=False))
                else:
                    df = df.with_columns(pl.col(col).str.to_datetime(strict=False))
    return df
