"""`gankit bench`: the FLOP count against the layer sizes by hand, and its bad input."""

import pytest
import torch

from gankit import bench
from gankit.bench import flops_per_sample, matmul_rate, model_gemm_shapes
from gankit.cli import main
from gankit.config import build_config


def test_paper_mnist_flops_match_a_hand_count():
    # G 100-1200-1200-784, D maxout 784-240x5, 240-240x5, 240-1 (multiply-adds per example):
    g = 100 * 1200 + 1200 * 1200 + 1200 * 784  # 2,500,800
    d1, d2, d3 = 784 * 1200, 240 * 1200, 240
    useful = 3 * g - 100 * 1200 + 4 * (d1 + d2 + d3) + 2 * (d2 + d3) + d1
    plain = 3 * g - 100 * 1200 + 7 * (d1 + d2 + d3) + 2 * (d2 + d3)
    f = flops_per_sample(build_config("paper-mnist"), 784)
    assert f["useful"] == 2 * useful == pytest.approx(27.63e6, rel=1e-3)
    assert f["plain_loop"] == 2 * plain


def test_matmul_rate_is_positive_and_shapes_follow_the_batch():
    shapes = model_gemm_shapes(build_config("paper-mnist"), 784, 100)
    assert shapes[0] == (100, 100, 1200) and shapes[3] == (200, 784, 1200)
    assert matmul_rate([(32, 32, 32)], seconds=0.01) > 0


@pytest.mark.parametrize("args", [["--batches", "a,b"], ["--rounds", "0"]])
def test_bad_bench_arguments_are_one_line_errors(args, capsys):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error:") and err.count("\n") == 1


@pytest.mark.parametrize("bf16_units", [True, False])
def test_bench_measures_bf16_only_where_the_cpu_multiplies_it(bf16_units, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "bf16_matmul_supported", lambda: bf16_units)
    r = bench.run(rounds=1, steps=1, batches=(8,), data_dir=tmp_path)
    report = bench.format_report(r)
    assert r["data"].startswith("random")  # no MNIST in tmp_path: the bench still runs
    if bf16_units:
        assert r["matmul_gflops_512_bf16"] > 0 and "can pay here" in report
    else:
        assert r["matmul_gflops_512_bf16"] is None and "no bf16 units" in report


def test_dcgan_bench_counts_the_plain_loops_flops_as_a_hand_count():
    cfg = build_config("dcgan-mnist", sets=["model.g_width=8", "model.d_width=8"])
    b = 4
    shapes = bench.conv_gemm_shapes(cfg, (1, 28, 28), b)
    # G: z (100) -> 16x7x7 -> 8x14x14 -> 1x28x28 (transposed: m = input positions, n = out x k);
    # D: 1x28x28 -> 8x14x14 -> 16x7x7 -> one logit (m = output positions, k = in x kernel)
    assert shapes == [(b, 100, 16 * 49), (b * 49, 16, 8 * 16), (b * 196, 8, 16),
                      (b * 196, 16, 8), (b * 49, 8 * 16, 16), (b, 16 * 49, 1)]
    f = [2 * m * k * n for m, k, n in shapes]
    fg, fd = sum(f[:3]), sum(f[3:])
    # forward G once and D three times; weight gradients of D three times and of G once;
    # input gradients of D in all three backward passes but the first layer's for real and
    # detached fake images; of G in all but its first layer (z needs none)
    hand = fg + 3 * fd + 3 * fd + (3 * fd - 2 * f[3]) + fg + (fg - f[0])
    plain = bench.PlainConvLoop(cfg, torch.rand(20, 1, 28, 28) * 2 - 1, b)
    assert bench.counted_flops(plain, b) * b == hand


def test_bench_refuses_a_model_its_plain_loops_do_not_implement(capsys):
    assert main(["bench", "--preset", "paper-tfd", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "paper-mnist MLP or of a DCGAN" in err and err.count("\n") == 1
