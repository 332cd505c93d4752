import dataclasses

import pytest

from gankit.config import Config, build_config, load_config_toml, parse_set
from gankit.errors import ConfigError
from gankit.presets import preset_names


def test_defaults_are_the_papers_mnist_configuration():
    c = Config()
    assert (c.model.noise_dim, c.model.prior, c.model.g_hidden) == (100, "uniform", [1200, 1200])
    assert (c.model.d_units, c.model.d_pieces) == ([240, 240], 5)
    assert (c.model.g_init_range, c.model.d_init_range) == (0.05, 0.005)
    assert (c.model.d_input_keep, c.model.d_hidden_keep) == (0.8, 0.5)
    assert (c.optim.lr, c.optim.lr_decay, c.optim.lr_min) == (0.1, 1.000004, 1e-6)
    assert (c.optim.momentum_start, c.optim.momentum_end, c.optim.momentum_saturate_epoch) == (
        0.5, 0.7, 250)
    assert (c.train.batch_size, c.game.d_steps, c.game.g_loss) == (100, 1, "non_saturating")


def test_layers_apply_in_order(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[train]\nepochs = 7\nbatch_size = 20\n")
    c = build_config("paper-digits", f, ["train.epochs=9", "game.schedule=alternating"])
    assert c.data.name == "digits"  # preset
    assert c.train.batch_size == 20  # file over preset
    assert c.train.epochs == 9  # --set over file
    assert c.game.schedule == "alternating"  # bare string value


def test_saved_toml_round_trips(tmp_path):
    c = build_config("paper-digits", sets=["optim.lr=0.03"])
    (tmp_path / "config.toml").write_text(c.to_toml())
    assert load_config_toml(tmp_path / "config.toml") == c


@pytest.mark.parametrize("assignment, fragment", [
    ("game.d_steps=0", "game.d_steps = 0 is out of range"),
    ("optim.lr=0", "optim.lr = 0.0 is out of range"),
    ("optim.lr=-1", "out of range"),
    ("train.batch_size=0", "train.batch_size = 0 is out of range"),
    ("train.epochs=-1", "train.epochs = -1 is out of range"),
    ("model.d_input_keep=1.5", "out of range"),
    ("optim.lr=nan", "finite"),
    ("optim.lr=inf", "finite"),
    ("train.epochs=2.5", "wrong type"),
    ("train.epochs=true", "wrong type"),
    ("model.g_hidden=[0]", "wrong type"),
    ("model.prior=cauchy", "not one of uniform, gaussian"),
    ("train.bogus=1", "unknown config key train.bogus"),
    ("nope.x=1", "unknown config section [nope]"),
    ("epochs=3", "not of the form section.key=value"),
])
def test_bad_values_are_rejected_with_a_line_naming_them(assignment, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        build_config(sets=[assignment])
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'nope'.*quickstart"):
        build_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(config_file=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_config(config_file=bad)


def test_presets_are_listed_and_valid():
    assert {"paper-digits", "paper-mnist"} <= set(preset_names())
    for name in preset_names():
        assert dataclasses.is_dataclass(build_config(name))


def test_parse_set_reads_toml_values():
    assert parse_set("optim.lr=1e-3") == {"optim": {"lr": 1e-3}}
    assert parse_set("model.g_hidden=[10, 20]") == {"model": {"g_hidden": [10, 20]}}
