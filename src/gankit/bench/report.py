"""The text ``gankit bench`` prints for a result of ``gankit.bench.run``."""

from __future__ import annotations

from typing import Any


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['preset']}, batch {r['batch_size']}, {r['threads']} threads, torch {r['torch']}, "
        f"data {r['data']}; {r['steps']} steps each in {r['rounds']} alternating chunks",
        f"  useful work       : {r['useful_mflop_per_sample']:8.1f} MFLOP per example "
        f"(plain loop computes {r['plain_loop_mflop_per_sample']:.1f})",
        f"  fp32 matmul rate  : {r['matmul_gflops_model_shapes']:8.1f} GFLOP/s at the model's "
        f"shapes, {r['matmul_gflops_512']:.1f} at 512^3",
        "  bf16 matmul rate  : " + (
            f"{r['matmul_gflops_512_bf16']:8.1f} GFLOP/s at 512^3 (speed.autocast = 'bf16' "
            "can pay here)" if r.get("matmul_gflops_512_bf16") else
            "     no bf16 units on this CPU (speed.autocast = 'bf16' would be slower)"),
        f"  floor per step    : {r['floor_ms_per_step']:8.2f} ms at the model-shape rate",
        f"  plain PyTorch loop: {r['plain_samples_per_s']:8.0f} samples/s",
        f"  gankit step       : {r['gankit_samples_per_s']:8.0f} samples/s  "
        f"= {r['ratio']:.2f}x plain (median over chunks {r['ratio_median_of_rounds']:.2f}x), "
        f"{r['useful_gflops']:.1f} useful GFLOP/s = "
        f"{100 * r['utilisation_model_shapes']:.0f}% of the model-shape rate, "
        f"{100 * r['utilisation_512']:.0f}% of the 512^3 rate",
        "  batch  plain/s  gankit/s  ratio",
    ]
    lines += [f"  {c['batch']:5d} {c['plain_samples_per_s']:8.0f} {c['gankit_samples_per_s']:9.0f}"
              f"  {c['ratio']:5.2f}x" for c in r["batch_curve"]]
    lines += [f"  sampling (G forward): {r['sample_images_per_s']:9.0f} images/s",
              f"  evaluation (D forward): {r['discriminate_images_per_s']:7.0f} images/s"]
    return "\n".join(lines)
