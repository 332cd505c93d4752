"""Typed configuration: dataclass defaults < preset < TOML file < ``--set`` overrides.

The defaults are the paper's MNIST configuration as its authors ran it
(``docs/paper.md``); presets hold only what differs. Every value is checked
by the rule in its field's metadata, so a bad value fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from gankit.errors import ConfigError
from gankit.presets import preset_text
from gankit.stabilisers import check_stabilisers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _choice(*options: str) -> dict[str, Any]:
    return {"choices": options}


def _range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False) -> dict[str, Any]:
    return {"range": (lo, hi, lo_open, hi_open)}


# The pieces of data.augment, in the order gankit.core.augment applies them.
AUGMENT_PIECES = ("color", "translation", "cutout")


@dataclass
class DataConfig:
    name: str = "mnist"
    data_dir: str = ""  # empty: $GANKIT_DATA_DIR, else the user cache directory
    path: str = ""  # the image folder of data.name = "folder"
    image_size: int = field(default=0, metadata=_range(0))  # 0: the data's own size
    color: str = field(default="auto", metadata=_choice("auto", "grey", "rgb"))
    gcn: bool = False  # global contrast normalisation (the paper's CIFAR-10 models)
    gcn_scale: float = field(default=55.0, metadata=_range(0, lo_open=True))
    # DiffAugment: transforms of every image D sees, real and fake (gankit.core.augment)
    augment: list[str] = field(default_factory=list, metadata={"items": AUGMENT_PIECES})


@dataclass
class ModelConfig:
    arch: str = field(default="mlp", metadata=_choice("mlp", "toy", "paper_conv", "dcgan"))
    noise_dim: int = field(default=100, metadata=_range(1))
    prior: str = field(default="uniform", metadata=_choice("uniform", "gaussian"))
    g_hidden: list[int] = field(default_factory=lambda: [1200, 1200])
    g_init_range: float = field(default=0.05, metadata=_range(0, lo_open=True))
    # One activation per hidden layer of the MLP generator; empty: all ReLU.
    g_activations: list[str] = field(default_factory=list,
                                     metadata={"items": ("relu", "sigmoid")})
    # G's output unit; the data layer puts the data in the same range.
    g_output: str = field(default="sigmoid", metadata=_choice("sigmoid", "tanh", "linear"))
    d_units: list[int] = field(default_factory=lambda: [240, 240])
    # The toy D's hidden units (model.arch = "toy"): tanh keeps D smooth for Figure 1; ReLU
    # draws the sharp bumps a 25-mode grid of std 0.05 asks for.
    d_activation: str = field(default="tanh", metadata=_choice("tanh", "relu"))
    d_pieces: int = field(default=5, metadata=_range(1))
    d_init_range: float = field(default=0.005, metadata=_range(0, lo_open=True))
    d_input_keep: float = field(default=0.8, metadata=_range(0, 1, lo_open=True))
    d_hidden_keep: float = field(default=0.5, metadata=_range(0, 1, lo_open=True))
    d_max_col_norm: float = field(default=0.0, metadata=_range(0))  # 0: unconstrained
    # The convolutional nets (arch = "dcgan"): base widths, doubled at every halving of size.
    g_width: int = field(default=64, metadata=_range(1))
    d_width: int = field(default=64, metadata=_range(1))
    d_spectral_norm: bool = False  # spectral norm on D's linear and conv layers (Miyato 2018)
    # the minibatch-std feature before D's last layer (ProGAN): its group size; 0: off
    d_minibatch_std: int = field(default=0, metadata=_range(0))


@dataclass
class GameConfig:
    name: str = field(default="gan", metadata=_choice("gan", "discogan"))  # who plays: trainer
    g_loss: str = field(default="non_saturating", metadata=_choice("non_saturating", "minimax"))
    # the pair of D and G losses (gankit.core.losses); g_loss applies to "gan" only
    loss: str = field(default="gan", metadata=_choice("gan", "hinge", "lsgan", "wgan", "rpgan"))
    pack: int = field(default=1, metadata=_range(1))  # PacGAN: D judges m samples at once
    schedule: str = field(default="simultaneous",
                          metadata=_choice("simultaneous", "alternating"))
    d_steps: int = field(default=1, metadata=_range(1))  # k of Algorithm 1


@dataclass
class ConditionConfig:
    """Conditional GANs (gankit.nets.conditional): the class label y fed to G and D."""

    classes: int = field(default=0, metadata=_range(0))  # 0: unconditional
    # How D sees y: concatenated to x, by projection (Miyato & Koyama 2018), or not at all
    # (AC-GAN as Odena et al. published it: D only predicts the class).
    d_input: str = field(default="concat", metadata=_choice("concat", "projection", "none"))
    aux_weight: float = field(default=0.0, metadata=_range(0))  # AC-GAN class loss; 0: off


_BETA = _range(-1, 1, hi_open=True)  # -1: the shared beta; else 0 <= beta < 1 (validate)


@dataclass
class RegConfig:
    """Regularisers of D (gankit.core.penalties); every weight 0: off."""

    r1: float = field(default=0.0, metadata=_range(0))  # gamma/2 E||grad D(x)||^2, reals
    r2: float = field(default=0.0, metadata=_range(0))  # the same at G's samples
    every: int = field(default=1, metadata=_range(1))  # lazy: every N-th D update, times N
    gp: float = field(default=0.0, metadata=_range(0))  # WGAN-GP's lambda
    label_smoothing: float = field(default=0.0, metadata=_range(0, 1, hi_open=True))
    instance_noise: float = field(default=0.0, metadata=_range(0))  # std, on D's inputs


@dataclass
class OptimConfig:
    name: str = field(default="momentum", metadata=_choice("momentum", "adam"))
    lr: float = field(default=0.1, metadata=_range(0, lo_open=True))
    lr_decay: float = field(default=1.000004, metadata=_range(1))  # lr /= this every step
    lr_min: float = field(default=1e-6, metadata=_range(0))
    momentum_start: float = field(default=0.5, metadata=_range(0, 1, hi_open=True))
    momentum_end: float = field(default=0.7, metadata=_range(0, 1, hi_open=True))
    momentum_saturate_epoch: int = field(default=250, metadata=_range(1))
    beta1: float = field(default=0.5, metadata=_range(0, 1, hi_open=True))
    beta2: float = field(default=0.999, metadata=_range(0, 1, hi_open=True))
    # per player (TTUR, Heusel et al. 2017): lr 0 and beta -1 take the shared value above
    g_lr: float = field(default=0.0, metadata=_range(0))
    d_lr: float = field(default=0.0, metadata=_range(0))
    g_beta1: float = field(default=-1.0, metadata=_BETA)
    d_beta1: float = field(default=-1.0, metadata=_BETA)
    g_beta2: float = field(default=-1.0, metadata=_BETA)
    d_beta2: float = field(default=-1.0, metadata=_BETA)

    def player(self, name: str) -> tuple[float, float, float]:
        """(lr, beta1, beta2) of player "g" or "d" (any other name: the shared values)."""
        lr, b1, b2 = (getattr(self, f"{name}_{k}", d) for k, d in
                      (("lr", 0.0), ("beta1", -1.0), ("beta2", -1.0)))
        return lr or self.lr, self.beta1 if b1 < 0 else b1, self.beta2 if b2 < 0 else b2


@dataclass
class TrainConfig:
    epochs: int = field(default=0, metadata=_range(0))  # 0: until stopped
    max_steps: int = field(default=0, metadata=_range(0))  # 0: no step budget
    batch_size: int = field(default=100, metadata=_range(1))
    seed: int = field(default=0, metadata=_range(0))
    device: str = field(default="auto", metadata=_choice("auto", "cpu", "cuda", "mps"))
    log_every: int = field(default=50, metadata=_range(1))  # steps
    sample_every: int = field(default=1, metadata=_range(0))  # epochs, 0: never
    checkpoint_every: int = field(default=1, metadata=_range(1))  # epochs
    keep_checkpoints: int = field(default=3, metadata=_range(0))  # 0: keep all
    sync_batchnorm: bool = False  # data-parallel: batch norm over the global batch
    # decay of an exponential moving average of G's weights, sampled instead of G; 0: off
    ema: float = field(default=0.0, metadata=_range(0, 1, hi_open=True))
    ema_warmup: bool = True  # decay min(ema, (1 + t) / (10 + t)) at G update t (docs/ema.md)


@dataclass
class EvalConfig:
    """Periodic evaluation during training (gankit.metrics.periodic); every = 0 turns it off."""

    every: int = field(default=0, metadata=_range(0))  # epochs
    metrics: str = "parzen"  # comma-separated names from gankit.metrics.registry
    samples: int = field(default=2000, metadata=_range(2))
    seed: int = field(default=0, metadata=_range(0))  # of the noise; a private RNG stream
    # a result key of gankit.metrics.registry, or "" for none; checked by metrics.periodic
    best_by: str = ""


@dataclass
class SpeedConfig:
    """How the update is executed; none of these changes its mathematics (see docs/speed.md)."""

    # "auto": the fused step where it applies (the paper's MLPs, one process), which computes
    # the autograd step's update with less work; the autograd step everywhere else
    step: str = field(default="auto", metadata=_choice("auto", "fused", "autograd"))
    compile: bool = False  # torch.compile the networks of the autograd step
    autocast: str = field(default="none", metadata=_choice("none", "bf16"))
    threads: int = field(default=0, metadata=_range(0))  # 0: torch's default
    # subnormal floats (below 1.2e-38) read and written as 0 on CPU: up to 2x faster late in
    # training, where G's saturated sigmoid makes them (docs/speed.md)
    flush_denormal: bool = True


@dataclass
class MonitorConfig:
    # steps, 0: off, -1 (auto): every AUTO_COLLAPSE_EVERY steps where the data's modes are
    # known (MNIST, Stacked MNIST, toy mixtures), else off (gankit.training.mode_readers)
    collapse_every: int = field(default=-1, metadata=_range(-1))
    collapse_samples: int = field(default=500, metadata=_range(2))


@dataclass
class DivergenceConfig:
    """What happens when a loss or a weight becomes NaN or inf (see docs/reliability.md)."""

    # stop: exit 1 keeping the last good checkpoint; rollback: reload it, scale both players'
    # learning rates by lr_factor and go on, at most max_rollbacks times per process.
    action: str = field(default="stop", metadata=_choice("stop", "rollback"))
    lr_factor: float = field(default=0.5, metadata=_range(0, 1, lo_open=True, hi_open=True))
    max_rollbacks: int = field(default=3, metadata=_range(1))


@dataclass
class ReportConfig:
    html: bool = True  # write RUN/report.html when training ends (gankit.report)
    tensorboard: bool = False  # also log to RUN/tensorboard/ (gankit.report.tensorboard)


@dataclass
class DiscoGANConfig:
    """Kim et al. 2017 (game.name = "discogan"): two generators, two discriminators."""

    # mlp: 2-D points; warp: G a spatial transformer (moves pixels), D conv
    arch: str = field(default="conv", metadata=_choice("conv", "mlp", "warp"))
    width: int = field(default=64, metadata=_range(1))  # channels of the first conv layer
    global_bottleneck: bool = True  # encode down to 1x1 (the paper's 5-layer variant)
    depth: int = field(default=0, metadata=_range(0))  # G's halvings; 0: down to 4x4 (paper)
    hidden: list[int] = field(default_factory=lambda: [128, 128, 128])  # mlp layers
    recon: str = field(default="l2", metadata=_choice("l2", "l1"))  # the paper: MSE
    recon_weight: float = field(default=1.0, metadata=_range(0))  # the paper: 1
    gan_weight: float = field(default=1.0, metadata=_range(0))  # the paper: 1
    directions: str = field(default="both", metadata=_choice("both", "ab"))  # ab: G_AB only
    d_spectral_norm: bool = False  # spectral norm on D_A's and D_B's linear and conv layers
    # data.name = "folders": the two image folders, read at data.image_size and data.color
    folder_a: str = ""
    folder_b: str = ""


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    game: GameConfig = field(default_factory=GameConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    divergence: DivergenceConfig = field(default_factory=DivergenceConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    discogan: DiscoGANConfig = field(default_factory=DiscoGANConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def _check_value(section: str, f: dataclasses.Field, value: Any) -> Any:
    """Coerce ``value`` to the field's type and check its rule; raise ConfigError if it fails."""
    name = f"{section}.{f.name}"
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list) and "items" in f.metadata:
        ok = isinstance(value, list) and all(v in f.metadata["items"] for v in value)
        if isinstance(value, list) and not ok:
            raise ConfigError(f"{name} = {value!r} may hold only "
                              + ", ".join(f.metadata["items"]))
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{name} = {value!r} has the wrong type; expected "
                          f"{type(default).__name__} like {default!r}")
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(f"{name} = {value!r} holds a NUL character")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r} must be a finite number")
    rule = f.metadata
    if "choices" in rule and value not in rule["choices"]:
        raise ConfigError(f"{name} = {value!r} is not one of {', '.join(rule['choices'])}")
    if "range" in rule:
        lo, hi, lo_open, hi_open = rule["range"]
        bad = (lo is not None and (value <= lo if lo_open else value < lo)) or (
            hi is not None and (value >= hi if hi_open else value > hi))
        if bad:
            lo_s = "" if lo is None else f"{lo} {'<' if lo_open else '<='} "
            hi_s = "" if hi is None else f" {'<' if hi_open else '<='} {hi}"
            raise ConfigError(f"{name} = {value!r} is out of range; need {lo_s}{f.name}{hi_s}")
    return value


def merge(config: Config, overrides: dict[str, Any], source: str) -> Config:
    """Return ``config`` with the nested ``overrides`` applied; unknown keys are errors."""
    config = dataclasses.replace(config)
    for section, values in overrides.items():
        if section not in {f.name for f in dataclasses.fields(Config)}:
            raise ConfigError(f"unknown config section [{section}] in {source}; known: "
                              + ", ".join(f.name for f in dataclasses.fields(Config)))
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] in {source} must be a table of keys")
        sub = getattr(config, section)
        fields = {f.name: f for f in dataclasses.fields(sub)}
        changes = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"unknown config key {section}.{key} in {source}; known: "
                                  + ", ".join(fields))
            changes[key] = _check_value(section, fields[key], value)
        setattr(config, section, dataclasses.replace(sub, **changes))
    return config


def parse_set(assignment: str) -> dict[str, Any]:
    """Turn ``section.key=value`` into a nested dict; the value is read as TOML, else a string."""
    path, sep, raw = assignment.partition("=")
    section, dot, key = path.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set {assignment!r} is not of the form section.key=value, "
                          "e.g. --set train.epochs=5")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return {section: {key: value}}


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def build_config(preset: str | None = None, config_file: str | Path | None = None,
                 sets: list[str] | tuple[str, ...] = (),
                 overrides: dict[str, Any] | None = None) -> Config:
    """Resolve a configuration from its layers, checking every value on the way."""
    config = Config()
    if preset:
        config = merge(config, tomllib.loads(preset_text(preset)), f"preset {preset}")
    if config_file:
        config = merge(config, read_toml(config_file), str(config_file))
    for assignment in sets:
        config = merge(config, parse_set(assignment), f"--set {assignment}")
    if overrides:
        for dotted, value in overrides.items():
            config = merge(config, _nest(dotted, value), "overrides")
    return config


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    section, _, key = dotted.partition(".")
    if not key:
        raise ConfigError(f"override {dotted!r} must name section.key")
    return {section: {key: value}}


def load_config_toml(path: str | Path) -> Config:
    """Read a run's saved ``config.toml`` back into a Config (used by resume and sample)."""
    return merge(Config(), read_toml(path), str(path))


def validate(cfg: Config) -> None:
    """Checks that involve more than one value (single values are checked by ``merge``)."""
    if cfg.game.schedule == "simultaneous" and cfg.game.d_steps != 1:
        raise ConfigError(f"game.d_steps = {cfg.game.d_steps} needs game.schedule = "
                          "'alternating'; the simultaneous update takes one step of each player")
    if cfg.optim.lr_min > cfg.optim.lr:
        raise ConfigError(f"optim.lr_min = {cfg.optim.lr_min} exceeds optim.lr = {cfg.optim.lr}")
    check_stabilisers(cfg)
    cond = cfg.condition
    if cond.classes == 0 and cond.aux_weight > 0:
        raise ConfigError("condition.aux_weight > 0 (AC-GAN) needs condition.classes > 0")
    if cond.classes and cond.d_input == "none" and cond.aux_weight == 0:
        raise ConfigError("condition.d_input = 'none' hides the class from D; give it a class "
                          "loss with condition.aux_weight > 0 (AC-GAN) or use 'concat'")

