"""Periodic evaluation during training, and keeping the best checkpoint by one metric.

Configured by the ``[eval]`` section: every ``every`` epochs, ``samples`` images are drawn from
one fixed noise batch (a private RNG, so training's random stream is untouched and runs with
and without evaluation end with the same weights), the chosen metrics are computed and written
to the metrics log as one line of ``eval_<metric>`` (and ``eval_<metric>_se``) values. When
``best_by`` names a metric, the checkpoint of each new best epoch is copied to RUN/best/ and
described in RUN/best.json.

In a data-parallel run every rank generates its share of the samples from the same fixed noise
and they are gathered (so the metric is the 1-process one); rank 0 alone computes the metrics
while the others wait at the next step's collective, for at most GANKIT_DIST_TIMEOUT seconds.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit.config import Config, EvalConfig
from gankit.errors import ConfigError
from gankit.io.atomic import write_text_atomic
from gankit.metrics.evaluate import Evaluator, parse_metrics
from gankit.metrics.registry import (
    FEATURES,
    higher_is_better,
    keys_of,
    metric_writing,
    names_needing,
    result_keys,
)
from gankit.sampling import sample
from gankit.training.callbacks import Callback

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer

BEST_DIR, BEST_JSON = "best", "best.json"


def check_best_by(cfg: EvalConfig) -> None:
    """Refuse an ``eval.best_by`` that no metric writes, before any work starts.

    Checked here rather than in gankit.config, which sits below the metrics and cannot list
    their result keys.
    """
    if cfg.best_by and cfg.best_by not in result_keys():
        raise ConfigError(f"eval.best_by = {cfg.best_by!r} is not one of "
                          f"{', '.join(result_keys())} (or '' for none)")


class PeriodicEvaluation(Callback):
    all_ranks = True  # in a data-parallel run each rank generates its share of the samples

    def __init__(self, cfg: EvalConfig, dataset: str, data_dir: str | None = None,
                 evaluator: Evaluator | None = None) -> None:
        self.cfg = cfg
        check_best_by(cfg)
        metrics = parse_metrics(cfg.metrics)
        produced = [key for m in metrics for key in keys_of(m)]
        if cfg.best_by and cfg.best_by not in produced:
            raise ConfigError(f"eval.best_by = {cfg.best_by!r} is not computed by eval.metrics "
                              f"= {cfg.metrics!r}; add {metric_writing(cfg.best_by)!r} to it "
                              "or choose one of " + ", ".join(produced))
        feature_metrics = [m for m in metrics if m in names_needing(FEATURES)]
        if feature_metrics and dataset != "mnist" and evaluator is None:
            raise ConfigError(f"eval.metrics {', '.join(feature_metrics)} need the MNIST "
                              f"feature network and data.name = {dataset!r} is not MNIST; "
                              "use eval.metrics = 'parzen' for this dataset")
        self.evaluator = evaluator or Evaluator(dataset, data_dir or None, metrics)
        self.best: float | None = None
        self._best_loaded = False

    def on_epoch_end(self, trainer: Trainer) -> dict[str, Any] | None:
        if not self.cfg.every or trainer.epoch % self.cfg.every:
            return None
        from gankit.data.ranges import to_unit

        start = time.perf_counter()
        # The same draws as `gankit sample RUN -n samples --seed seed` (a private generator),
        # from the generator that command samples: G's moving average when train.ema is on.
        net = trainer.sampled_g
        was_training = net.training
        net.eval()  # batch norm, if any, must not update its running statistics here
        try:
            samples = sample(net, self.cfg.samples, seed=self.cfg.seed, dist=trainer.dist)
            if not trainer.dist.is_main:
                return None  # rank 0 computes the metrics; the others go on training
            samples = to_unit(samples, getattr(net, "output", "sigmoid"))  # the data's [0, 1]
        finally:
            net.train(was_training)
        self.evaluator.progress = trainer.progress
        rows = self.evaluator.run(samples)
        record: dict[str, Any] = {}
        for r in rows:
            record[f"eval_{r['metric']}"] = r["value"]
            if r["error"] is not None:
                record[f"eval_{r['metric']}_se"] = r["error"]
        if trainer.ema is not None:
            record["eval_generator"] = "ema"
        record["eval_samples"] = len(samples)
        record["eval_seconds"] = round(time.perf_counter() - start, 2)
        if self.cfg.best_by:
            record["eval_best"] = self._keep_if_best(trainer, record[f"eval_{self.cfg.best_by}"])
        return record

    def _keep_if_best(self, trainer: Trainer, value: float) -> bool:
        run = Path(trainer.run_dir)
        if not self._best_loaded and (run / BEST_JSON).exists():
            self.best = json.loads((run / BEST_JSON).read_text("utf-8"))["value"]
        self._best_loaded = True
        higher = higher_is_better(self.cfg.best_by)
        if self.best is not None and not (value > self.best if higher else value < self.best):
            return False
        ckpt = trainer.last_checkpoint
        if ckpt is None or json.loads((ckpt / "state.json").read_text())["step"] != trainer.step:
            ckpt = trainer.save_checkpoint()
        tmp, old = run / f".{BEST_DIR}.tmp", run / f".{BEST_DIR}.old"
        for p in (tmp, old):
            shutil.rmtree(p, ignore_errors=True)
        shutil.copytree(ckpt, tmp)
        if (run / BEST_DIR).exists():
            (run / BEST_DIR).rename(old)
        tmp.rename(run / BEST_DIR)
        shutil.rmtree(old, ignore_errors=True)
        info = {"metric": self.cfg.best_by, "value": value, "step": trainer.step,
                "epoch": trainer.epoch, "checkpoint": ckpt.name}
        write_text_atomic(run / BEST_JSON, json.dumps(info) + "\n")
        self.best = value
        return True


def callbacks_for(cfg: Config) -> list[Callback]:
    """The callbacks a configuration asks for (none when eval.every = 0)."""
    check_best_by(cfg.eval)
    if not cfg.eval.every:
        return []
    return [PeriodicEvaluation(cfg.eval, cfg.data.name, cfg.data.data_dir or None)]
