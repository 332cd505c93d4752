"""Table 1 on this machine: train paper-mnist for time budgets, score each by Parzen.

Budgets count the training process's CPU time (``time.process_time``), so that with
``--threads 1`` a budget means minutes of one dedicated core, whatever else the machine runs;
the wall-clock time is recorded beside it. One run is trained; when its training time reaches
each budget it is stopped (a
checkpoint is written, as for Ctrl-C), 10,000 samples are scored by the paper's Parzen protocol
on the MNIST test set, and training resumes exactly where it stopped. Evaluation time is not
counted in the budgets. Prints one line per budget and writes RUN/table1.json. Stopped from
outside (Ctrl-C, kill) it writes no row for the budget it was running toward.

    python benchmarks/table1.py --budgets 10 30 60 --out runs/table1 [--seed 0]
        [--preset dcgan-mnist] [--threads 1] [--set optim.name='"adam"' ...]
    python benchmarks/table1.py --continue --budgets 120 180 --out runs/table1
        [--set speed.step='"fused"' ...]

``--continue`` extends a finished table: it resumes RUN's run from its last budget (with the
run's saved config; only speed.* may be changed, as for `gankit train --resume`) and adds rows
for the budgets beyond it; each row records the speed settings it ran with. A run stopped
between budgets (e.g. a machine taken away) has trained past its last row without that time being
counted; its newer checkpoints are moved to RUN/beyond-<M>min-step-<S>/ and training resumes
at the budget's checkpoint, so every budget stays exact (resumption is bit-exact: the steps are
redone).

Each budget's checkpoint is also copied to RUN/budgets/MINUTESmin, so that other metrics
(`gankit evaluate RUN/budgets/30min --metrics fid,kid,pr,score,modes`) can be taken later.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.api import for_display, resume_overrides
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.io.checkpoint import LATEST, list_checkpoints, read_checkpoint, resolve
from gankit.metrics.parzen import parzen_protocol
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer


class TimeBudget(Callback):
    """Ask the trainer to stop (as SIGTERM does) once ``seconds`` of process CPU time have passed.

    Checked at each metrics line (every 5 steps here), so it overshoots a little; the real
    training time is what the table reports.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.process_time() + seconds
        self.sent = False

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if not self.sent and time.process_time() >= self.deadline:
            self.sent = True
            trainer.request_stop()


def rewind_to_budget(run: Path, row: dict[str, Any]) -> Path | None:
    """Make the checkpoint of ``row``'s budget the run's newest again.

    Checkpoints written after that budget are moved (never deleted) to a folder of their own,
    RUN/beyond-<M>min-step-<newest step>/, which is returned; None if there were none.
    """
    newest, _ = resolve(run)
    newest_step = read_checkpoint(newest)[1]["step"]
    if newest_step == row["step"]:
        return None
    label = f"{row['budget_min']:g}min"
    root, aside = run / "checkpoints", run / f"beyond-{label}-step-{newest_step}"
    aside.mkdir()
    for folder in list_checkpoints(root):
        shutil.move(folder, aside / folder.name)
    shutil.copytree(run / "budgets" / label, root / f"budget-{label}")
    (root / LATEST).write_text(f"budget-{label}\n", "utf-8")
    return aside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budgets", type=float, nargs="+", default=[10, 30, 60],
                    help="cumulative training minutes (process CPU time) at which to evaluate")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--data-dir")
    ap.add_argument("--preset", default="paper-mnist")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override of the run, as gankit train --set (a variant)")
    ap.add_argument("--continue", dest="extend", action="store_true",
                    help="extend RUN/table1.json: resume its run for the budgets beyond its last")
    args = ap.parse_args()
    if args.extend:
        try:  # refused before any checkpoint is moved, not when the run resumes
            resume_overrides(args.sets)
        except GankitError as exc:
            ap.error(str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)
    valid = load_dataset("mnist", "valid", args.data_dir).flat()
    test = load_dataset("mnist", "test", args.data_dir).flat()
    rows, spent, wall, resume_sets = [], 0.0, 0.0, []
    if args.extend:
        rows = json.loads((args.out / "table1.json").read_text("utf-8"))
        spent, wall = rows[-1]["cpu_s"], rows[-1]["wall_s"]
        resume_sets, args.preset, args.sets = args.sets, rows[0]["preset"], rows[0]["sets"]
        aside = rewind_to_budget(args.out, rows[-1])
        if aside:
            print(f"resuming at the {rows[-1]['budget_min']:g}-minute budget (step "
                  f"{rows[-1]['step']}); later checkpoints moved to {aside}")
    for minutes in sorted(b for b in args.budgets if not rows or b > rows[-1]["budget_min"]):
        budget = TimeBudget(minutes * 60 - spent)
        start, start_wall = time.process_time(), time.perf_counter()
        if not rows:
            sets = [f"train.seed={args.seed}", "train.log_every=5", *args.sets]
            if args.data_dir:
                sets.append(f"data.data_dir={args.data_dir!r}")
            result = gankit.train(args.preset, out=args.out, sets=sets, progress=False,
                                  callbacks=[budget])
        else:
            result = gankit.resume(args.out, sets=resume_sets, progress=False,
                                   callbacks=[budget])
        spent += time.process_time() - start
        wall += time.perf_counter() - start_wall
        if not budget.sent:  # stopped from outside (Ctrl-C, kill): this budget was not reached
            print(f"stopped before the {minutes:g}-minute budget (step {result.step}); no row "
                  f"written; `--continue` resumes at the {rows[-1]['budget_min']:g}-minute one"
                  if rows else "stopped before the first budget; no row written", flush=True)
            return
        checkpoint, _ = resolve(args.out)
        shutil.copytree(checkpoint, args.out / "budgets" / f"{minutes:g}min", dirs_exist_ok=True)
        # In [0, 1] like the test images, whatever the model's output range (tanh for DCGAN).
        samples = for_display(gankit.sample(args.out, args.samples, seed=args.seed), args.out)
        r = parzen_protocol(samples, valid, test, progress=True)
        row = {"preset": args.preset, "sets": args.sets, "budget_min": minutes,
               "cpu_s": round(spent, 1), "wall_s": round(wall, 1), "epoch": result.epoch,
               "step": result.step, "parzen_mean": r.mean, "parzen_se": r.se, "sigma": r.sigma,
               "load_avg_1min": os.getloadavg()[0], "torch_threads": torch.get_num_threads(),
               "speed": read_checkpoint(checkpoint)[1]["config"]["speed"]}
        rows.append(row)
        print(f"{minutes:g} min: epoch {result.epoch}, step {result.step}: "
              f"{r.mean:.1f} +- {r.se:.1f} nats (sigma {r.sigma:.4f}); "
              f"load {row['load_avg_1min']:.1f}",
              flush=True)
        (args.out / "table1.json").write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
