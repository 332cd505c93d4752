"""Property-based tests: no config value or command line produces a traceback; every invalid
one gives exit code 2 and one line naming the problem."""

import dataclasses
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit import api, cli
from gankit.config import Config, build_config
from gankit.errors import ConfigError, GankitError
from gankit.games import check_config

KEYS = [f"{s.name}.{f.name}" for s in dataclasses.fields(Config)
        for f in dataclasses.fields(s.type if isinstance(s.type, type) else
                                    type(getattr(Config(), s.name)))]
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

toml_values = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "true", "false", "[]", "[1, -2]", "[0]",
                     "[64, 64]", '"mlp"', "'alternating'", "{a = 1}", "0x10", "1_000", "",
                     "=", "[[1]]", "\"", "simultaneous", "minimax", "adam", "cpu", "1e-300"]),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=15),
                 st.sampled_from(["train", ".", "train.", ".epochs", "a.b.c", "train.epochs.x"]))
assignments = st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, toml_values),
                        st.text(max_size=20))


@SETTINGS
@given(st.lists(assignments, max_size=4))
def test_any_set_values_give_a_config_or_one_config_error(sets):
    try:
        cfg = build_config("paper-digits", sets=sets)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    try:
        check_config(cfg)
    except ConfigError as exc:
        assert "\n" not in str(exc)


class _WouldTrain(Exception):
    """Raised instead of training: the command line was valid all the way to the trainer."""


def _fake_make_trainer(cfg, run_dir, **kwargs):
    check_config(cfg)
    raise _WouldTrain


flags = st.sampled_from(["--preset", "--config", "--set", "--out", "--epochs", "--seed",
                         "--device", "--data-dir", "--resume", "--quiet", "-n", "--npy",
                         "--help-me", "-x", "--"])
words = st.one_of(assignments, toml_values, st.sampled_from(
    ["paper-digits", "paper-mnist", "nope", "runs/x", "/no/such", "a\x00b", "-1", "0", "5",
     "cpu", "cuda", "mps", "auto", "train", "sample", "presets"]),
    st.text(alphabet=string.printable, max_size=10), st.text(max_size=6))
argvs = st.tuples(st.sampled_from(["train", "sample", "presets", "nope", ""]),
                  st.lists(st.one_of(flags, words), max_size=7)).map(lambda t: [t[0], *t[1]])


@SETTINGS
@given(argv=argvs)
def test_any_command_line_exits_cleanly_with_one_line(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(api, "make_trainer", _fake_make_trainer)
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except _WouldTrain:
        return
    except SystemExit as exc:  # argparse: --help, or a usage error
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("gankit: error: "), err
    else:
        assert code == 0, (code, err)


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--epochs", "x"], "argument --epochs: invalid int value: 'x'"),
    (["train", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["sample"], "the following arguments are required: source"),
    (["launch"], "argument command: invalid choice: 'launch'"),
    (["train", "--out", "a\x00b", "--preset", "paper-digits"], "a\\x00b"),
    (["train", "--config", "a\x00b"], "a\\x00b"),
    (["train", "--resume", "a\x00b"], "a\\x00b"),
    (["train", "--set", 'data.data_dir="a\\u0000b"'], "holds a NUL character"),
    (["train", "--set", "divergence.lr_factor=1.5"], "divergence.lr_factor = 1.5"),
    (["train", "--set", "divergence.action=retry"], "divergence.action = 'retry'"),
])
def test_argument_errors_are_one_line(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(api, "make_trainer", _fake_make_trainer)
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("gankit: error: "), err
    assert fragment in err


def test_errors_are_gankit_errors_with_exit_code_2():
    assert GankitError.exit_code == ConfigError.exit_code == 2
