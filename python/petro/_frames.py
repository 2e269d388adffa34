"""Records to DataFrames (pandas and polars are imported only here, only when used)."""

from __future__ import annotations

import functools
import gc
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


def _may_hold_dates(values: Any) -> bool:
    """False when the first value of a column of str/None/NaN values (an object array)
    is no ISO date: ``_parse_dates`` would then leave it as it is. Checked on the array
    itself, without the pandas calls ``_parse_dates`` makes to find its sample."""
    for v in values[:200]:
        if isinstance(v, str):
            return _ISO_DATE.match(v) is not None
    return True  # no str in the first 200: let _parse_dates look further


def _parse_dates(df: Any, col: Any) -> None:
    """Turn a text column of ISO dates into datetimes (in place)."""
    import pandas as pd

    s = df[col]
    # The first 50 non-null values (without a pass over the whole column).
    sample = s.iloc[:200].dropna().head(50)
    if len(sample) < 50 and len(s) > 200:
        sample = s.dropna().head(50)
    if len(sample) and _looks_like_dates(sample):
        # format="ISO8601": every ISO form (pandas would otherwise infer one format
        # from the first value and turn e.g. later fractional seconds into NaT).
        try:
            df[col] = pd.to_datetime(
                s,
                errors="coerce",
                format="ISO8601",
                utc=any(str(x).endswith("Z") or "+" in str(x)[10:] for x in sample),
            )
        except ValueError:
            # Times with and without an offset mixed ("Mixed timezones detected"):
            # no one reading is right, so the text stays as it came.
            pass


def to_pandas(records: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame: ISO date strings become datetimes, integer columns with gaps ``Int64``."""
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    for col in df.columns:
        s = df[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            _parse_dates(df, col)
        elif s.dtype.kind == "f" and s.isna().any():
            raw = [r.get(col) for r in records if isinstance(r, dict) and r.get(col) is not None]
            if raw and all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
                df[col] = s.astype("Int64")
    return df


def from_builder(builder: Any) -> Any:
    """The DataFrame of a ``_core.FrameBuilder``'s pages.

    The cyclic garbage collector is paused meanwhile: the millions of values made
    here cannot form cycles, yet each collection would walk every column's list
    (about 5% of the time for 100,000 records).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return from_columns(builder.finish(arrow_text=arrow_text()))
    finally:
        if paused:
            gc.enable()


def from_columns(columns: list[tuple[str, str, Any, Any, bool]]) -> Any:
    """A pandas DataFrame from ``_core.FrameBuilder.finish()``'s columns, with the dtypes
    ``to_pandas`` gives the same records."""
    import pandas as pd

    data: dict[str, Any] = {}
    text: list[str] = []
    # Each buffer is a numpy array over memory Rust filled: no copy here.
    for name, kind, values, missing, utc in columns:
        if kind == "int":
            data[name] = values if missing is None else pd.arrays.IntegerArray(values, missing)
        elif kind in ("float", "bool"):
            data[name] = values
        elif kind == "datetime":
            stamps = pd.Series(values.view("datetime64[ns]"))
            if utc:
                stamps = stamps.dt.tz_localize("UTC")
            want = _date_dtype(utc)
            data[name] = stamps if stamps.dtype == want else stamps.astype(want)
        elif kind == "arrow_str":
            # Arrow buffers built in Rust: no Python str per cell.
            import pyarrow as pa

            offsets, chars = values
            arr = pa.Array.from_buffers(
                pa.large_string(),
                len(offsets) - 1,
                [
                    None if missing is None else pa.py_buffer(missing),
                    pa.py_buffer(offsets),
                    pa.py_buffer(chars),
                ],
            )
            data[name] = pd.Series(arr, dtype=_text_dtype(), copy=False)
            text.append(name)
        elif kind == "str":
            # Only str, None and NaN: straight to the dtype pandas infers for text.
            data[name] = pd.Series(values, dtype=_text_dtype(), copy=False)
            if _may_hold_dates(values):
                text.append(name)
        elif kind == "null":
            # Every value None: what infer_objects would leave it, and no dates.
            data[name] = pd.Series(values, dtype=object, copy=False)
        else:
            series = pd.Series(values, dtype=object)
            data[name] = series.infer_objects() if len(series) else series
            text.append(name)
    df = pd.DataFrame(data, copy=False)
    for name in text:
        if pd.api.types.is_string_dtype(df[name].dtype):
            _parse_dates(df, name)  # what Rust left as text (e.g. dates with offsets)
    return df


@functools.cache
def _date_dtype(utc: bool) -> Any:
    """The dtype ``pandas.to_datetime`` gives ISO date strings (pandas 3 infers the unit),
    asked the way ``_parse_dates`` converts them (``format="ISO8601"``, which also skips
    the format guessing a first call would otherwise set up: ~2 ms in a fresh process)."""
    import pandas as pd

    return pd.to_datetime(pd.Series(["2000-01-01"]), format="ISO8601", utc=utc).dtype


@functools.cache
def arrow_text() -> bool:
    """Whether pandas keeps text in Arrow (pandas 3 with pyarrow installed): text
    columns are then handed over as Arrow buffers built in Rust."""
    return getattr(_text_dtype(), "storage", None) == "pyarrow"


@functools.cache
def _text_dtype() -> Any:
    """The dtype pandas infers for a column of str (``str`` in pandas 3, else object)."""
    import pandas as pd

    return pd.Series(["x", None]).dtype


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
