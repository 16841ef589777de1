"""Static attributes of the series of a many-series run (`--static-features`): the sector of a
stock, the site type of a sensor. Each series has one value per attribute; the model reads them
as input columns constant over every window of that series.

Where they come from (`static_table`): columns constant within each series of a long-format
file, or a small table (CSV or parquet) whose first column names the series.

How they are encoded (`encode_static`), once over all series of the run, and saved per series in
the model card: a numeric attribute is standardized over the series (mean 0, standard deviation
1); any other is one-hot, one 0/1 column per value (`sector=Energy`). An attribute is not a time
series, so there is nothing to fit on training rows only; a forecast reads the values saved in the
card, never the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.data.sources.files import FILE_SUFFIXES
from forecaster.errors import DataError


def is_table(static_features: list[str] | None) -> bool:
    """`--static-features` names a table file rather than columns."""
    return bool(static_features) and len(static_features) == 1 and static_features[0].endswith(FILE_SUFFIXES)


def static_table(static_features: list[str], names: list[str], raw: pd.DataFrame | None = None,
                 runs: list[tuple] | None = None) -> pd.DataFrame:
    """(S, A) attributes of the series `names`: from the table file `static_features[0]`, or from
    the columns `static_features` of the long-format `raw` frame, whose series i holds rows
    [a, b) of `runs[i] = (name, a, b)`; refused in one line where a series has none or several
    values of an attribute."""
    if is_table(static_features):
        return _from_file(Path(static_features[0]), names)
    missing = [c for c in static_features if raw is None or c not in raw.columns]
    if missing:
        where = "the long-format file" if raw is not None else "a one-file-per-series source"
        raise DataError(f"--static-features {missing[0]!r} is not a column of {where}; name columns of a "
                        "long-format --csv (with --series-col), or give a table file whose first column "
                        "names the series, e.g. --static-features attributes.csv")
    rows = {}
    for name, a, b in runs:
        part = raw[static_features].iloc[a:b]
        for c in static_features:
            values = part[c].dropna().unique()
            if len(values) != 1:
                what = "no value" if len(values) == 0 else f"{len(values)} values ({values[0]!r}, {values[1]!r}...)"
                raise DataError(f"static feature {c!r} has {what} in series {name!r}; a static feature holds one "
                                "value per series (use --features for one that changes over time)")
        rows[str(name)] = part.iloc[0]
    return pd.DataFrame.from_dict(rows, orient="index")[static_features]


def _from_file(path: Path, names: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"static feature table not found: {path}; give a CSV or parquet file whose first "
                        "column names the series")
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if table.shape[1] < 2:
        raise DataError(f"{path} needs a first column naming the series and at least one attribute column")
    table = table.set_axis(table.iloc[:, 0].astype(str), axis=0).iloc[:, 1:]
    if table.index.has_duplicates:
        raise DataError(f"{path} names series {table.index[table.index.duplicated()][0]!r} twice; one row per series")
    absent = [n for n in names if n not in table.index]
    if absent:
        raise DataError(f"{path} has no row for series {absent[0]!r} ({len(absent)} of {len(names)} missing); "
                        "give every series' attributes")
    gaps = table.loc[names].isna()
    if gaps.any().any():
        r, c = np.argwhere(gaps.to_numpy())[0]
        raise DataError(f"{path} has no {table.columns[c]!r} for series {names[r]!r}; fill in every attribute")
    return table.loc[names]


def encode_static(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each series' encoded attributes, by series then input column name: numeric attributes
    standardized over the series, others one-hot (see the module docstring)."""
    columns: dict[str, pd.Series] = {}
    for c in table.columns:
        numeric = pd.to_numeric(table[c], errors="coerce")
        if numeric.notna().all():
            std = float(numeric.std(ddof=0))
            columns[str(c)] = (numeric - numeric.mean()) / (std if std > 1e-12 else 1.0)
        else:
            for value in sorted(table[c].astype(str).unique()):
                columns[f"{c}={value}"] = (table[c].astype(str) == value).astype(float)
    encoded = pd.DataFrame(columns, index=table.index)
    return {str(name): {k: float(v) for k, v in row.items()} for name, row in encoded.iterrows()}
