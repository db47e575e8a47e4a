#!/usr/bin/env python3
"""Modular-arithmetic grokking trainer in PyTorch, speaking grokmap protocol v1.

The same model family, data split and initialization as numpy_modular.py
(one-hot embeddings -> concatenated -> hidden layer (ReLU or quadratic) -> p
logits, full-batch AdamW), on the GPU when one is visible (the command
plugin pins each trial to its device with CUDA_VISIBLE_DEVICES).

Trial packing (protocol extension `pack`, see plugins/command/PROTOCOL.md):
when the params file carries `trials: [{trial_id, params, resume}, ...]`,
all of them are trained at once with stacked weights, one batched matmul
(torch.bmm) per layer for the whole pack. Trials in a pack share the shape
keys (SHAPE_KEYS); they may differ in data fraction, weight decay, learning
rate, Adam betas, init scale and seed. Every trial computes logits for all
p^2 pairs: a per-trial mask picks its training pairs for the loss, the rest
are its validation set. Every line such a run writes carries `trial_id`.

A small GPU model is mostly launch overhead, so a pack of 64 trials costs
little more wall time per step than one: see bench/gpu/pack_bench.py.

The model code (`PackedModular`, `make_split`, `is_eval_step`) is importable
without running anything, for benchmarks.
"""

import math
import os
import sys
import time

import numpy as np
import torch
from grokmap_protocol import is_eval_step, read_params, stop_reason, stop_requested, trials_of, watch_stop_signals

# The data, the split and the initial weights come from the numpy example, so both draw the same.
from numpy_modular import DEFAULTS as NUMPY_DEFAULTS
from numpy_modular import PARAM_NAMES, all_pairs, fingerprint, init_weights, train_indices

DEFAULTS = {
    **{k: v for k, v in NUMPY_DEFAULTS.items() if k != "step_delay_ms"},
    # fp32: exact float32 matmuls; tf32: TensorFloat-32 tensor cores on Ampere/Hopper (much faster).
    "precision": "fp32",
}

# What trials in one pack must share; the rest may differ per trial.
SHAPE_KEYS = (
    "p",
    "operation",
    "embed_dim",
    "model_size",
    "activation",
    "dtype",
    "max_steps",
    "eval_every",
    "checkpoint_every",
    "precision",
)
PER_TRIAL_KEYS = ("data_fraction", "weight_decay", "lr", "beta1", "beta2", "eps", "init_scale", "seed")


def make_split(cfg, n_pairs):
    """Training mask over all pairs: the split numpy_modular.py draws for this seed."""
    mask = np.zeros(n_pairs, dtype=bool)
    mask[train_indices(cfg, n_pairs)[0]] = True
    return mask


class PackedModular:
    """K same-shape MLPs with stacked weights, trained together by full-batch AdamW.

    Weights have a leading pack dimension K; hyperparameters that may differ
    per trial are (K,) tensors. Trials never interact: each has its own
    weights, optimizer state and loss, so training a pack gives each trial
    what training it alone would (up to floating-point summation order).
    """

    def __init__(self, configs, device):
        shape = {k: configs[0][k] for k in SHAPE_KEYS}
        for c in configs[1:]:
            diff = [k for k in SHAPE_KEYS if c[k] != shape[k]]
            if diff:
                raise ValueError(f"trials in one pack must share {', '.join(diff)}")
        self.shape = shape
        self.device = device
        self.k = len(configs)
        self.dtype = torch.float64 if shape["dtype"] == "float64" else torch.float32
        p = shape["p"]
        a, b, y = all_pairs(p, shape["operation"])
        self.a = torch.as_tensor(a, device=device)
        self.b = torch.as_tensor(b, device=device)
        self.y = torch.as_tensor(y, device=device)
        self.y_packed = self.y.repeat(self.k)  # labels for the flattened (K * N) rows
        n = len(a)
        masks = np.stack([make_split(c, n) for c in configs])
        self.train_mask = torch.as_tensor(masks, device=device)
        self.n_train = self.train_mask.sum(dim=1)
        self.n_val = n - self.n_train
        # Loss weights: mean over each trial's own training pairs.
        self.loss_weight = self.train_mask.to(self.dtype) / self.n_train.to(self.dtype)[:, None]

        def per_trial(key):
            return torch.tensor([float(c[key]) for c in configs], dtype=self.dtype, device=device)

        self.lr, self.wd = per_trial("lr"), per_trial("weight_decay")
        self.beta1, self.beta2, self.eps = per_trial("beta1"), per_trial("beta2"), per_trial("eps")
        inits = [init_weights(c) for c in configs]
        self.params = {
            k: torch.as_tensor(np.stack([w[k] for w in inits]), dtype=self.dtype, device=device).requires_grad_(True)
            for k in PARAM_NAMES
        }
        self.m = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in self.params.items()}
        # Each trial's own Adam step count (a retired trial stops counting).
        self.t = torch.zeros(self.k, dtype=self.dtype, device=device)
        self.active = torch.ones(self.k, dtype=torch.bool, device=device)

    def logits(self):
        P = self.params
        emb = torch.cat([P["E"][:, self.a], P["E"][:, self.b]], dim=2)  # (K, N, 2d)
        pre = torch.baddbmm(P["b1"][:, None, :], emb, P["W1"])  # (K, N, h)
        hid = torch.relu(pre) if self.shape["activation"] == "relu" else pre * pre
        return torch.baddbmm(P["b2"][:, None, :], hid, P["W2"])  # (K, N, p)

    def step(self):
        """One full-batch AdamW step for every active trial; returns each trial's training loss (K,)."""
        for w in self.params.values():
            w.grad = None
        logits = self.logits()
        ce = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), self.y_packed, reduction="none"
        ).reshape(self.k, -1)
        train_loss = (ce * self.loss_weight).sum(dim=1)
        train_loss.sum().backward()
        with torch.no_grad():
            live = self.active.to(self.dtype)
            self.t += live
            t = self.t.clamp(min=1)
            c1 = 1 - self.beta1**t
            c2 = 1 - self.beta2**t
            for k, w in self.params.items():
                view = (-1,) + (1,) * (w.dim() - 1)
                g = w.grad
                b1, b2 = self.beta1.view(view), self.beta2.view(view)
                self.m[k].mul_(b1).add_((1 - b1) * g)
                self.v[k].mul_(b2).addcmul_((1 - b2) * g, g)
                lr = (self.lr * live).view(view)
                w.mul_(1 - lr * self.wd.view(view))
                denom = (self.v[k] / c2.view(view)).sqrt_().add_(self.eps.view(view))
                w.sub_(lr * (self.m[k] / c1.view(view)) / denom)
        return train_loss.detach()

    @torch.no_grad()
    def evaluate(self):
        """Per-trial metrics (computed in float64) as five Python lists: train/val accuracy and loss, weight norm."""
        logits = self.logits()
        ce = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), self.y_packed, reduction="none"
        ).reshape(self.k, -1)
        correct = (logits.argmax(dim=2) == self.y[None, :]).double()
        ce = ce.double()
        tm = self.train_mask.double()
        vm = 1 - tm
        n_tr, n_va = self.n_train.double(), self.n_val.double()
        norm_sq = sum(w.detach().double().pow(2).flatten(1).sum(dim=1) for w in self.params.values())
        out = torch.stack(
            [
                (correct * tm).sum(1) / n_tr,
                (correct * vm).sum(1) / n_va,
                (ce * tm).sum(1) / n_tr,
                (ce * vm).sum(1) / n_va,
                norm_sq.sqrt(),
            ]
        )
        return out.cpu().tolist()

    def state_of(self, i):
        """Trial i's weights and optimizer state as numpy arrays (for its checkpoint)."""
        arrays = {}
        for k in PARAM_NAMES:
            arrays[f"param_{k}"] = self.params[k][i].detach().cpu().numpy()
            arrays[f"m_{k}"] = self.m[k][i].cpu().numpy()
            arrays[f"v_{k}"] = self.v[k][i].cpu().numpy()
        return arrays

    @torch.no_grad()
    def load_into(self, i, arrays, step):
        for k in PARAM_NAMES:
            self.params[k][i].copy_(torch.as_tensor(arrays[f"param_{k}"]))
            self.m[k][i].copy_(torch.as_tensor(arrays[f"m_{k}"]))
            self.v[k][i].copy_(torch.as_tensor(arrays[f"v_{k}"]))
        self.t[i] = step

    @torch.no_grad()
    def retire(self, i):
        """Stop training trial i (finished or diverged); zeros keep NaNs out of the pack's kernels."""
        self.active[i] = False
        for k in PARAM_NAMES:
            self.params[k][i].zero_()
            self.m[k][i].zero_()
            self.v[k][i].zero_()


def pick_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_precision(precision):
    allow = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow


def main():
    doc = read_params()
    watch_stop_signals()
    ckpt_dir = doc.get("checkpoint_dir") or os.environ["GROKMAP_CHECKPOINT_DIR"]
    trials = trials_of(doc, DEFAULTS)

    device = pick_device()
    set_precision(trials[0].cfg["precision"])
    torch.manual_seed(0)
    model = PackedModular([t.cfg for t in trials], device)
    backend = f"torch-{device.type}" + (f":{torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    shape = model.shape
    max_steps, eval_every, ckpt_every = int(shape["max_steps"]), int(shape["eval_every"]), int(shape["checkpoint_every"])

    resumed_steps = {t.resume["step"] for t in trials if t.resume}
    if resumed_steps and (len(resumed_steps) > 1 or any(not t.resume for t in trials)):
        raise SystemExit("all trials of a pack must resume from the same step (or none)")
    for i, t in enumerate(trials):
        if t.resume:
            model.load_into(i, t.load_checkpoint(fingerprint(t.cfg)), t.step)
    step = trials[0].step
    started = time.monotonic()

    def extra(i):
        return {
            "wall_time_s": round(time.monotonic() - started, 3),
            "n_params": int(sum(w[i].numel() for w in model.params.values())),
            "n_train": int(model.n_train[i]),
            "pack_size": model.k,
        }

    def evaluate():
        rows = model.evaluate()
        for i, t in enumerate(trials):
            if t.done:
                continue
            t.step = step
            t.record(*(rows[j][i] for j in range(5)))
            if not math.isfinite(rows[2][i]):
                t.result("diverged", backend, extra(i), f"training loss became non-finite at step {step}")
                model.retire(i)

    if step == 0:
        evaluate()
    while step < max_steps and not all(t.done for t in trials):
        if stop_requested():
            for i, t in enumerate(trials):
                if not t.done:
                    t.step = step
                    t.save_checkpoint(ckpt_dir, fingerprint(t.cfg), model.state_of(i))
                    t.result("cancelled", backend, extra(i), f"stopped at step {step} ({stop_reason()})")
            return 0
        # No host sync per step: a diverging trial is found at its next evaluation
        # (trials never interact, so its NaNs cannot spread to the others).
        model.step()
        step += 1
        if is_eval_step(step, eval_every, max_steps):
            evaluate()
        if step % ckpt_every == 0 and step < max_steps:
            for i, t in enumerate(trials):
                if not t.done:
                    t.step = step
                    t.save_checkpoint(ckpt_dir, fingerprint(t.cfg), model.state_of(i))
    for i, t in enumerate(trials):
        if not t.done:
            t.step = step
            t.result("completed", backend, extra(i))
    return 0


if __name__ == "__main__":
    sys.exit(main())
