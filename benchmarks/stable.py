"""The stable presets on the 2-D mixtures, Stacked MNIST and MNIST: each seed trained and scored
as a user would.

Every run is ``gankit.train(preset, sets=[train.seed=s, speed.threads=1])``, then scored from
the generator ``gankit sample`` draws by default (the EMA one when the preset keeps one): on
the 2-D mixtures gankit.metrics.mode_coverage of 2,500 samples, on Stacked MNIST
``gankit evaluate --metrics stacked-modes`` (26,000 samples, the shipped classifier per
channel), on MNIST ``gankit evaluate --metrics parzen,fid,pr`` (10,000 samples: the paper's
Parzen protocol on the test set, classifier-feature FID, precision and recall). On both image
benchmarks the raw G of the same checkpoint is scored too where an EMA is kept: the no-EMA
ablation at no training cost. The process CPU time of the training call is the
run's cost. Prints one Markdown table (per seed, then mean +- std) and writes the runs' numbers
to ``--out/<preset>.json``.
``--ablation`` trains the preset with one piece removed at a time (a variant that changes
nothing in the preset's config is skipped) and prints which piece moves which number; each
variant's JSON is ``--out/<preset>--<variant>.json``, and a variant already measured on these
seeds (or more) is read back rather than trained again. ``--set KEY=VALUE`` changes the preset
for every variant (a candidate recipe measured before it becomes a preset).

    python benchmarks/stable.py --preset ring8-stable --seeds 10 11 12 13 14 --out runs/stable
    python benchmarks/stable.py --preset grid25-stable --ablation --seeds 10 11 --out runs/stable
    python benchmarks/stable.py --preset stacked-mnist-stable --seeds 60 61 62 --out runs/stable
    python benchmarks/stable.py --preset mnist-stable --seeds 105 106 107 --out runs/stable
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from collapse import SAMPLES, summarise

import gankit
from gankit.config import Config, build_config
from gankit.data.toy import distribution
from gankit.metrics.evaluate import PAPER_SAMPLES, evaluate_checkpoint
from gankit.metrics.mode_coverage import mode_coverage
from gankit.metrics.stacked_modes import STACKED_SAMPLES

MNIST_SAMPLES = PAPER_SAMPLES  # the paper's Parzen protocol

# variant -> (what it removes or changes, overrides on the preset)
ABLATIONS: dict[str, tuple[str, list[str]]] = {
    "preset": ("the preset as shipped", []),
    "no-ema": ("last iterate of G instead of its EMA", ["train.ema=0.0"]),
    "no-r1r2": ("no R1 / R2 gradient penalties", ["reg.r1=0.0", "reg.r2=0.0"]),
    "gan-loss": ("the standard GAN loss (non-saturating G) instead of rpgan",
                 ["game.loss='gan'"]),
    "tanh-D": ("tanh D instead of ReLU", ["model.d_activation='tanh'"]),
    "no-decay": ("constant learning rate (no decay)", ["optim.lr_decay=1.0"]),
    "dcgan-betas": ("DCGAN's Adam betas (0.5, 0.999) instead of R3GAN's (0, 0.99)",
                    ["optim.beta1=0.5", "optim.beta2=0.999"]),
    "pack4": ("PacGAN: D judges 4 samples at once (added, not removed)", ["game.pack=4"]),
    "half-steps": ("half the preset's training steps", []),  # filled in from the preset
}


def variant_sets(preset: str, name: str, extra: list[str]) -> list[str]:
    """The --set overrides of one variant: ``extra`` (the candidate's own) and then its own."""
    if name == "half-steps":
        steps = build_config(preset, sets=extra).train.max_steps
        return [*extra, f"train.max_steps={steps // 2}"]
    return [*extra, *ABLATIONS[name][1]]


def changes_preset(preset: str, sets: list[str], extra: list[str]) -> bool:
    """Whether a variant's overrides change anything beyond the candidate's own."""
    return build_config(preset, sets=sets).to_dict() != build_config(preset, sets=extra).to_dict()


def run_seed(preset: str, seed: int, sets: list[str], run_dir: Path) -> dict:
    """Train one seed with the ordinary API; its scores, CPU seconds and steps."""
    start = time.process_time()
    result = gankit.train(preset, out=run_dir, progress=False,
                          sets=[*sets, f"train.seed={seed}", "speed.threads=1"])
    seconds = time.process_time() - start
    if result.stopped_by is not None:
        raise SystemExit(f"{run_dir} stopped by a signal")
    return {**score(build_config(preset, sets=sets), run_dir, 10_000 + seed), "seed": seed,
            "cpu_seconds": round(seconds, 1), "steps": result.step}


def score(cfg: Config, run_dir: Path, seed: int) -> dict:
    """The scores of the run's default generator (its EMA one where kept)."""
    data = cfg.data.name
    scores = {"mnist": image_scores, "stacked_mnist": stacked_scores}.get(data)
    if scores is not None:
        row = scores(run_dir, seed, raw=False)
        if cfg.train.ema > 0:  # the same run's last iterate: no-EMA for free
            row["raw"] = scores(run_dir, seed, raw=True)
        return row
    dist = distribution(data)
    samples = gankit.sample(run_dir, SAMPLES, seed=seed)
    return mode_coverage(samples, dist.modes, dist.std).as_dict()


def stacked_scores(run_dir: Path, seed: int, raw: bool) -> dict:
    """Stacked MNIST: modes hit and KL to uniform, VEEGAN's and PacGAN's protocol."""
    report, _ = evaluate_checkpoint(run_dir, "stacked-modes", STACKED_SAMPLES, seed,
                                    progress=False, raw=raw)
    modes, kl = report["results"]
    return {"modes_covered": int(modes["value"]), "modes_total": modes["params"]["modes_total"],
            "kl_to_uniform": kl["value"], "largest_mode": modes["params"]["largest_mode"],
            "n_samples": STACKED_SAMPLES}


def image_scores(run_dir: Path, seed: int, raw: bool) -> dict:
    """MNIST: the paper's Parzen protocol, classifier-feature FID, precision and recall."""
    report, _ = evaluate_checkpoint(run_dir, "parzen,fid,pr", MNIST_SAMPLES, seed,
                                    progress=False, raw=raw)
    values = {r["metric"]: r for r in report["results"]}
    return {"parzen": values["parzen"]["value"], "parzen_error": values["parzen"]["error"],
            "fid": values["fid"]["value"], "precision": values["precision"]["value"],
            "recall": values["recall"]["value"], "n_samples": MNIST_SAMPLES}


def measure(preset: str, variant: str, seeds: list[int], out: Path, extra: list[str]) -> dict:
    """Every seed of one variant (read back from its JSON when already measured)."""
    sets = variant_sets(preset, variant, extra)
    path = out / (f"{preset}.json" if variant == "preset" else f"{preset}--{variant}.json")
    if path.exists():
        old = json.loads(path.read_text())
        done = {r["seed"]: r for r in old["runs"]}
        if old["sets"] == sets and set(seeds) <= set(done):
            return summary(preset, variant, sets, [done[s] for s in seeds])
    rows = []
    for seed in seeds:
        rows.append(run_seed(preset, seed, sets, out / "runs" / f"{preset}--{variant}-{seed}"))
        print(f"{preset} {variant} seed {seed}: {rows[-1]}", flush=True)
    result = summary(preset, variant, sets, rows)
    path.write_text(json.dumps(result, indent=1))
    return result


def summary(preset: str, variant: str, sets: list[str], rows: list[dict]) -> dict:
    cpu = [r["cpu_seconds"] for r in rows]
    raw = {"raw": summarise([r["raw"] for r in rows])} if "raw" in rows[0] else {}
    return {"preset": preset, "variant": variant, "what": ABLATIONS[variant][0], "sets": sets,
            "runs": rows, **summarise(rows), **raw, "cpu_seconds_max": max(cpu),
            "cpu_seconds_mean": sum(cpu) / len(cpu)}


def quality(row: dict) -> str:
    """The 2-D mixtures' share of high-quality samples; Stacked MNIST's largest mode."""
    if "high_quality" in row:
        return f"{row['high_quality']:.1%}"
    return f"{row['largest_mode']:.0f}"


def quality_spread(r: dict) -> str:
    """A summary's mean +- std of that column."""
    key = "high_quality" if "high_quality" in r else "largest_mode"
    return f"{quality(r)} +- {quality({key: r[key + '_std']})}"


def print_image_seeds(r: dict) -> None:
    """MNIST: Parzen (paper protocol), FID, precision and recall per seed."""
    print(f"\n{r['preset']}: {r['runs'][0]['n_samples']:,} samples per run; Parzen by the "
          "paper's protocol on the test set; FID, precision and recall in classifier features")
    print("| seed | Parzen, nats | FID | precision | recall | CPU s | steps |")
    print("|---|---|---|---|---|---|---|")
    for row in r["runs"]:
        print(f"| {row['seed']} | {row['parzen']:.1f} +- {row['parzen_error']:.1f} | "
              f"{row['fid']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} | "
              f"{row['cpu_seconds']:.0f} | {row['steps']} |")
        if "raw" in row:
            raw = row["raw"]
            print(f"| {row['seed']}, raw G | {raw['parzen']:.1f} +- {raw['parzen_error']:.1f} | "
                  f"{raw['fid']:.2f} | {raw['precision']:.3f} | {raw['recall']:.3f} | | |")
    print(f"| mean +- std | {r['parzen']:.1f} +- {r['parzen_std']:.1f} | {r['fid']:.2f} +- "
          f"{r['fid_std']:.2f} | {r['precision']:.3f} +- {r['precision_std']:.3f} | "
          f"{r['recall']:.3f} +- {r['recall_std']:.3f} | {r['cpu_seconds_mean']:.0f} (max "
          f"{r['cpu_seconds_max']:.0f}) | |")
    if "raw" in r:
        raw = r["raw"]
        print(f"| mean +- std, raw G | {raw['parzen']:.1f} +- {raw['parzen_std']:.1f} | "
              f"{raw['fid']:.2f} +- {raw['fid_std']:.2f} | {raw['precision']:.3f} +- "
              f"{raw['precision_std']:.3f} | {raw['recall']:.3f} +- {raw['recall_std']:.3f} | | |")


def print_seeds(r: dict) -> None:
    first = r["runs"][0]
    if "parzen" in first:
        print_image_seeds(r)
        return
    k, n = first["modes_total"], first.get("n_samples", SAMPLES)
    if "high_quality" in first:
        print(f"\n{r['preset']}: {n:,} samples per run; high quality: within 3 std of the "
              f"nearest mode; a mode counts with >= {1 / (4 * k):.1%} of the samples")
        column = "high quality"
    else:
        print(f"\n{r['preset']}: {n:,} samples per run; a mode counts with one sample; "
              f"largest mode: the samples in the most frequent one (fair share {n / k:.0f})")
        column = "largest mode"
    print(f"| seed | modes (of {k}) | {column} | KL to uniform | CPU s | steps |")
    print("|---|---|---|---|---|---|")
    for row in r["runs"]:
        print(f"| {row['seed']} | {row['modes_covered']} | {quality(row)} | "
              f"{row['kl_to_uniform']:.3f} | {row['cpu_seconds']:.0f} | {row['steps']} |")
        if "raw" in row:
            raw = row["raw"]
            print(f"| {row['seed']}, raw G | {raw['modes_covered']} | {quality(raw)} | "
                  f"{raw['kl_to_uniform']:.3f} | | |")
    print(f"| mean +- std | {r['modes_covered']:.1f} +- {r['modes_covered_std']:.1f} | "
          f"{quality_spread(r)} | {r['kl_to_uniform']:.3f} "
          f"+- {r['kl_to_uniform_std']:.3f} | {r['cpu_seconds_mean']:.0f} (max "
          f"{r['cpu_seconds_max']:.0f}) | |")
    if "raw" in r:
        raw = r["raw"]
        print(f"| mean +- std, raw G | {raw['modes_covered']:.1f} +- "
              f"{raw['modes_covered_std']:.1f} | {quality_spread(raw)} | "
              f"{raw['kl_to_uniform']:.3f} +- {raw['kl_to_uniform_std']:.3f} | | |")


def print_image_ablation(results: list[dict]) -> None:
    seeds = ", ".join(str(row["seed"]) for row in results[0]["runs"])
    print(f"\n{results[0]['preset']}, one piece changed at a time: mean over seeds {seeds} "
          "(per seed in brackets)")
    print("| variant | what | Parzen, nats | FID | precision | recall | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        cells = [f"{r[k]:{f}} ({', '.join(f'{row[k]:{f}}' for row in r['runs'])})"
                 for k, f in (("parzen", ".1f"), ("fid", ".2f"), ("precision", ".3f"),
                              ("recall", ".3f"))]
        print(f"| {r['variant']} | {r['what']} | {' | '.join(cells)} | "
              f"{r['cpu_seconds_mean']:.0f} |")


def print_ablation(results: list[dict]) -> None:
    first = results[0]["runs"][0]
    if "parzen" in first:
        print_image_ablation(results)
        return
    k = first["modes_total"]
    column = "high quality" if "high_quality" in first else "largest mode"
    print(f"\n{results[0]['preset']}, one piece changed at a time: mean over seeds "
          f"{', '.join(str(row['seed']) for row in results[0]['runs'])} (per seed in brackets)")
    print(f"| variant | what | modes (of {k}) | {column} | KL to uniform | CPU s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        modes = ", ".join(str(row["modes_covered"]) for row in r["runs"])
        hq = ", ".join(quality(row) for row in r["runs"])
        kl = ", ".join(f"{row['kl_to_uniform']:.3f}" for row in r["runs"])
        print(f"| {r['variant']} | {r['what']} | {r['modes_covered']:.1f} ({modes}) | "
              f"{quality(r)} ({hq}) | {r['kl_to_uniform']:.3f} ({kl}) | "
              f"{r['cpu_seconds_mean']:.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14])
    p.add_argument("--out", type=Path, default=Path("runs/stable"))
    p.add_argument("--ablation", action="store_true",
                   help="also train the variants of ABLATIONS, one piece changed at a time")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change the preset for every variant (as gankit train --set)")
    p.add_argument("--variants", nargs="*", default=list(ABLATIONS)[1:],
                   choices=list(ABLATIONS)[1:], help="the variants --ablation trains")
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    full = measure(args.preset, "preset", args.seeds, args.out, args.set)
    if not args.ablation:
        print_seeds(full)
        return
    variants = [v for v in args.variants
                if changes_preset(args.preset, variant_sets(args.preset, v, args.set), args.set)]
    print_ablation([full, *(measure(args.preset, v, args.seeds, args.out, args.set)
                            for v in variants)])


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
