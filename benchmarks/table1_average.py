"""Table 1 with Polyak averaging: each budget's generator averaged over the run's second half.

For every row of RUN/table1.json (written by table1.py), the generators of all budget
checkpoints whose epoch is at least half the row's epoch (the row's own included) are
averaged with `gankit average` into RUN/averages/<M>min, and scored by the same Parzen
protocol and sample seed as table1.py. The rule is fixed in advance, not tuned per row; rows
with a single checkpoint in their second half are skipped. Training is untouched: this only
reads the budget checkpoints. Prints one line per row and writes RUN/table1-average.json.

    python benchmarks/table1_average.py runs/table1 [--threads 1] [--data-dir DIR]

Then `gankit evaluate RUN/averages/<M>min --metrics fid,kid,pr,score,modes` for the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import gankit
from gankit.io.checkpoint import read_checkpoint, resolve
from gankit.metrics.evaluate import evaluate_checkpoint


def second_half(rows: list[dict], row: dict) -> list[dict]:
    """The rows (budgets) whose checkpoint lies in the second half of ``row``'s training."""
    return [r for r in rows if row["epoch"] / 2 <= r["epoch"] <= row["epoch"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path, help="a table1.py --out folder")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = json.loads((args.run / "table1.json").read_text("utf-8"))
    results = []
    for row in rows:
        members = second_half(rows, row)
        if len(members) < 2:
            continue
        label = f"{row['budget_min']:g}min"
        sources = [args.run / "budgets" / f"{r['budget_min']:g}min" for r in members]
        out = args.run / "averages" / label
        if not out.exists():
            gankit.average_generators(sources, out)
        else:  # made by an earlier call: reuse it only if the rule still picks the same members
            made_from = [m["step"] for m in read_checkpoint(resolve(out)[0])[1]["averaged_from"]]
            if made_from != [r["step"] for r in members]:
                raise SystemExit(f"{out} was averaged from other checkpoints; move it aside")
        report, _ = evaluate_checkpoint(out, "parzen", data_dir=args.data_dir, progress=False)
        parzen = report["results"][0]
        result = {"budget_min": row["budget_min"], "epoch": row["epoch"],
                  "averaged_epochs": [r["epoch"] for r in members],
                  "parzen_mean": parzen["value"], "parzen_se": parzen["error"],
                  "sigma": parzen["params"]["sigma"], "single_parzen_mean": row["parzen_mean"]}
        results.append(result)
        print(f"{label}: epoch {row['epoch']}, {len(members)} checkpoints from epoch "
              f"{members[0]['epoch']}: {result['parzen_mean']:.1f} +- {result['parzen_se']:.1f} "
              f"nats (single checkpoint {row['parzen_mean']:.1f})", flush=True)
    (args.run / "table1-average.json").write_text(json.dumps(results, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
