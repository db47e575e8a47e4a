#!/usr/bin/env python3
"""Trial packing on one GPU: how much faster is training K grokking runs at once?

A single prepared script for a GPU machine with PyTorch (no Node, no network,
well under 8 minutes on an H200). It imports the model code of
examples/torch_modular.py, the trainer the command plugin runs, and measures:

1. Throughput: full-batch training steps per second for one trial, and for
   packs of 8, 64 and 256 same-shape trials trained with stacked weights
   (torch.bmm). The aggregate speed-up is trial-steps/s of a pack over
   steps/s of one trial, measured side by side in this run.
2. A phase diagram mapped with packing: 6 weight decays x 6 data fractions
   x 3 model sizes x 2 seeds (216 trials, p = 97), one pack per model size,
   timed end to end, with each cell's phase (comprehension, grokking,
   memorization, confusion) and the time the same trials would take one at
   a time (estimated from measured single-trial step times).

Writes pack_bench.json and pack_bench.md to $OUT when it is set (else to
the current directory) and prints the table.

    python3 bench/gpu/pack_bench.py                # H200: the full run
    python3 bench/gpu/pack_bench.py --smoke        # CPU, tiny sizes, seconds
"""

import argparse
import json
import math
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))

import torch  # noqa: E402
from torch_modular import DEFAULTS, PackedModular, is_eval_step, set_precision  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trial_configs(base, k, vary):
    """k configs of one shape; per-trial knobs varied so the pack is not k copies."""
    configs = []
    for i in range(k):
        c = dict(base)
        if vary:
            c["seed"] = i
            c["weight_decay"] = [0.1, 0.3, 1.0, 3.0][i % 4]
            c["data_fraction"] = [0.3, 0.4, 0.5, 0.6][(i // 4) % 4]
        configs.append(c)
    return configs


def measure_steps_per_s(base, k, device, min_seconds, min_steps, warmup=3):
    model = PackedModular(trial_configs(base, k, vary=True), device)
    for _ in range(warmup):
        model.step()
    sync(device)
    steps, start = 0, time.perf_counter()
    while True:
        model.step()
        steps += 1
        if steps >= min_steps and steps % 5 == 0:
            sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    return steps / elapsed, peak


def pack_equivalence(base, k, steps, device):
    """Train k trials as one pack and each alone for `steps` steps; the largest metric differences.

    Packing must not change what a trial learns: only floating-point summation order differs.
    """
    configs = trial_configs(base, k, vary=True)
    packed = PackedModular(configs, device)
    for _ in range(steps):
        packed.step()
    together = packed.evaluate()
    del packed
    worst = {"train_acc": 0.0, "val_acc": 0.0, "train_loss_rel": 0.0}
    for i, c in enumerate(configs):
        alone = PackedModular([c], device)
        for _ in range(steps):
            alone.step()
        single = alone.evaluate()
        worst["train_acc"] = max(worst["train_acc"], abs(together[0][i] - single[0][0]))
        worst["val_acc"] = max(worst["val_acc"], abs(together[1][i] - single[1][0]))
        rel = abs(together[2][i] - single[2][0]) / max(abs(single[2][0]), 1e-12)
        worst["train_loss_rel"] = max(worst["train_loss_rel"], rel)
    return {"pack": k, "steps": steps, "max_abs_diff": worst}


def finite_or_null(x):
    """JSON has no NaN: a diverged run's metrics become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): finite_or_null(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_null(v) for v in x]
    return x


def classify(first_train, first_val, delay):
    if first_train is not None and first_val is not None:
        return "comprehension" if first_val - first_train < delay else "grokking"
    if first_train is not None:
        return "memorization"
    return "confusion"


def map_phase_diagram(args, device, sizes, wds, fractions, seeds):
    """Train every (wd, fraction, seed) of one model size as one pack; returns per-trial phases and timings."""
    trials, timings = [], []
    for size in sizes:
        # Each pack gets an equal share of the time budget, so every size is mapped.
        deadline = time.perf_counter() + args.time_budget / len(sizes)
        base = {**DEFAULTS, "p": args.p, "embed_dim": args.embed_dim, "model_size": size, "max_steps": args.steps}
        base.update(eval_every=args.eval_every, precision=args.precision)
        configs = [
            {**base, "weight_decay": wd, "data_fraction": f, "seed": s} for wd in wds for f in fractions for s in seeds
        ]
        sync(device)
        start = time.perf_counter()
        model = PackedModular(configs, device)
        k = len(configs)
        first_train, first_val = [None] * k, [None] * k
        last = None
        step = 0
        stopped_early = False
        while step < args.steps:
            model.step()
            step += 1
            if is_eval_step(step, args.eval_every, args.steps):
                rows = model.evaluate()
                last = rows
                for i in range(k):
                    if first_train[i] is None and rows[0][i] >= args.threshold:
                        first_train[i] = step
                    if first_val[i] is None and rows[1][i] >= args.threshold:
                        first_val[i] = step
                if time.perf_counter() > deadline:
                    stopped_early = True
                    break
        sync(device)
        elapsed = time.perf_counter() - start
        timings.append({"model_size": size, "trials": k, "steps": step, "seconds": elapsed, "stopped_early": stopped_early})
        for i, c in enumerate(configs):
            trials.append(
                {
                    "model_size": size,
                    "weight_decay": c["weight_decay"],
                    "data_fraction": c["data_fraction"],
                    "seed": c["seed"],
                    "steps": step,
                    "first_train": first_train[i],
                    "first_val": first_val[i],
                    "final_train_acc": last[0][i] if last else None,
                    "final_val_acc": last[1][i] if last else None,
                    "phase": classify(first_train[i], first_val[i], args.delay),
                }
            )
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return trials, timings


def phase_grid_text(trials, sizes, wds, fractions, seeds):
    letter = {"comprehension": "C", "grokking": "G", "memorization": "M", "confusion": "X"}
    lines = []
    for size in sizes:
        lines.append(f"model_size {size}: rows weight decay, columns data fraction; one letter per seed")
        lines.append("| wd \\ frac | " + " | ".join(f"{f:g}" for f in fractions) + " |")
        lines.append("|---|" + "---|" * len(fractions))
        for wd in wds:
            cells = []
            for f in fractions:
                got = [
                    t
                    for t in trials
                    if t["model_size"] == size and t["weight_decay"] == wd and t["data_fraction"] == f
                ]
                got.sort(key=lambda t: t["seed"])
                cells.append("".join(letter[t["phase"]] for t in got))
            lines.append(f"| {wd:g} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on CPU, for testing the script itself")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available; cpu with --smoke)")
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--model-size", type=int, default=512, help="hidden width for the throughput runs")
    ap.add_argument("--packs", default="1,8,64,256")
    ap.add_argument("--sizes", default="128,256,512", help="model sizes of the phase diagram")
    ap.add_argument("--steps", type=int, default=10000, help="step budget of each phase-diagram trial")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--delay", type=int, default=500, help="grokking delay in steps (phase rule)")
    ap.add_argument("--precision", choices=["fp32", "tf32"], default="tf32")
    ap.add_argument("--equivalence-steps", type=int, default=300, help="steps of the pack-vs-alone check")
    ap.add_argument("--measure-seconds", type=float, default=3.0, help="timing window per throughput point")
    ap.add_argument(
        "--time-budget", type=float, default=300.0, help="seconds for the whole phase diagram, shared by its packs"
    )
    args = ap.parse_args()

    wds = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    fractions = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    seeds = [0, 1]
    if args.smoke:
        args.device = args.device or "cpu"
        args.p, args.embed_dim, args.model_size = 11, 8, 16
        args.packs, args.sizes = "1,2,4", "8,16"
        args.steps, args.eval_every, args.delay = 40, 10, 10
        args.measure_seconds, args.time_budget, args.equivalence_steps = 0.2, 30.0, 20
        wds, fractions, seeds = [0.1, 1.0], [0.3, 0.6], [0]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    set_precision(args.precision)
    torch.manual_seed(0)
    packs = [int(x) for x in args.packs.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    started = time.perf_counter()

    env = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "precision": args.precision,
        "python": platform.python_version(),
    }

    # 1. Throughput against pack size, side by side in this run.
    base = {**DEFAULTS, "p": args.p, "embed_dim": args.embed_dim, "model_size": args.model_size}
    base["precision"] = args.precision
    throughput = []
    for k in packs:
        steps_per_s, peak = measure_steps_per_s(base, k, device, args.measure_seconds, min_steps=10)
        throughput.append({"pack": k, "steps_per_s": steps_per_s, "trial_steps_per_s": k * steps_per_s, "peak_gib": peak})
        print(f"pack {k:4d}: {steps_per_s:9.1f} steps/s  {k * steps_per_s:11.1f} trial-steps/s", flush=True)
    single = next((t["steps_per_s"] for t in throughput if t["pack"] == 1), None)
    for t in throughput:
        t["speedup_vs_single"] = t["trial_steps_per_s"] / single if single else None

    # Single-trial step time of every phase-diagram model size, for the unpacked estimate.
    single_by_size = {}
    for size in sizes:
        sps, _ = measure_steps_per_s({**base, "model_size": size}, 1, device, args.measure_seconds / 2, min_steps=10)
        single_by_size[size] = sps

    # Packing changes speed, not results: a pack against the same trials trained one by one.
    equivalence = pack_equivalence(base, min(8, max(packs)), args.equivalence_steps, device)
    print(f"pack vs alone: {equivalence}", flush=True)

    # 2. The phase diagram, packed.
    trials, timings = map_phase_diagram(args, device, sizes, wds, fractions, seeds)
    packed_seconds = sum(t["seconds"] for t in timings)
    unpacked_estimate = sum(t["trials"] * t["steps"] / single_by_size[t["model_size"]] for t in timings)
    counts = {}
    for t in trials:
        counts[t["phase"]] = counts.get(t["phase"], 0) + 1

    report = {
        "environment": env,
        "settings": {k: v for k, v in vars(args).items()},
        "throughput": throughput,
        "pack_equivalence": equivalence,
        "phase_diagram": {
            "grid": {"weight_decay": wds, "data_fraction": fractions, "model_size": sizes, "seed": seeds},
            "trials": len(trials),
            "packed_seconds": packed_seconds,
            "unpacked_estimate_seconds": unpacked_estimate,
            "speedup": unpacked_estimate / packed_seconds if packed_seconds > 0 else None,
            "single_trial_steps_per_s_by_size": single_by_size,
            "per_pack": timings,
            "phase_counts": counts,
            "runs": trials,
        },
        "total_seconds": time.perf_counter() - started,
    }

    lines = [
        f"# Trial packing on {env['device']} (torch {env['torch']}, {args.precision})",
        "",
        f"Throughput, p = {args.p}, embed {args.embed_dim}, hidden {args.model_size}, full batch "
        f"({args.p * args.p} pairs), AdamW:",
        "",
        "| pack | steps/s | trial-steps/s | speed-up vs 1 trial | peak GiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for t in throughput:
        peak = f"{t['peak_gib']:.1f}" if t["peak_gib"] is not None else "-"
        speedup = f"{t['speedup_vs_single']:.1f}x" if t["speedup_vs_single"] else "-"
        lines.append(f"| {t['pack']} | {t['steps_per_s']:.1f} | {t['trial_steps_per_s']:.1f} | {speedup} | {peak} |")
    pd = report["phase_diagram"]
    diff = equivalence["max_abs_diff"]
    lines += [
        "",
        f"Pack of {equivalence['pack']} against the same trials trained alone, {equivalence['steps']} steps: "
        f"largest difference train acc {diff['train_acc']:.4f}, val acc {diff['val_acc']:.4f}, "
        f"train loss {diff['train_loss_rel']:.2e} (relative).",
        "",
        f"Phase diagram: {len(wds)} wd x {len(fractions)} fractions x {len(sizes)} sizes x {len(seeds)} seeds = "
        f"{len(trials)} trials, {args.steps} steps each, one pack per size:",
        "",
        f"- packed: {packed_seconds:.1f} s; one trial at a time (estimated from measured single-trial "
        f"speed): {unpacked_estimate:.1f} s; speed-up {pd['speedup']:.1f}x",
        "- phases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    ]
    if any(t["stopped_early"] for t in timings):
        lines.append(f"- stopped early at the time budget ({args.time_budget:.0f} s): " + ", ".join(
            f"size {t['model_size']} at step {t['steps']}" for t in timings if t["stopped_early"]))
    lines += ["", phase_grid_text(trials, sizes, wds, fractions, seeds), f"Total {report['total_seconds']:.1f} s."]
    table = "\n".join(lines)
    print(table)

    out_dir = os.environ.get("OUT") or "."
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "pack_bench.json"), "w", encoding="utf-8") as f:
        json.dump(finite_or_null(report), f, indent=2, default=str)
    with open(os.path.join(out_dir, "pack_bench.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
