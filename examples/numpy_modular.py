#!/usr/bin/env python3
"""Modular-arithmetic grokking trainer in numpy, speaking grokmap protocol v1.

The model is the MLP family of grokmap's built-in `modular-arithmetic`
trainer: each operand a, b in Z_p gets a learned embedding (a one-hot row
times an embedding matrix), the two embeddings are concatenated, go through
one hidden layer (ReLU or quadratic) and a linear read-out to p logits. It is
trained full batch with AdamW on a random `data_fraction` of all pairs and
evaluated on the rest.

CPU only (numpy/OpenBLAS). See plugins/command/PROTOCOL.md for the protocol:
parameters arrive in the JSON file named by GROKMAP_PARAMS_FILE (and on
stdin); progress, checkpoints, logs and the result leave as JSON lines on
stdout; anything human-readable goes to stderr.

Checkpoints (np.savez, every `checkpoint_every` steps and on SIGTERM) hold
the parameters, the optimizer state and the step, so a resumed run follows
exactly the path an uninterrupted one would have taken.

Trial packing (protocol extension `pack`): a params file with a `trials`
list trains all of them in this one process, each with its own data split,
weights and optimizer state, stepped in turn (one step each, round after
round), every line tagged with its `trial_id`. Each trial's numbers are
bit for bit those of its single run; unlike torch_modular.py's batched pack
this saves no compute, only process starts.

Run by hand:  GROKMAP_PARAMS_FILE=params.json python3 numpy_modular.py
"""

import json
import math
import os
import sys
import time

import numpy as np
from grokmap_protocol import is_eval_step, read_params, stop_reason, stop_requested, trials_of, watch_stop_signals

DEFAULTS = {
    "p": 97,
    "operation": "add",  # add | sub | mul | div | x2_plus_xy_plus_y2
    "data_fraction": 0.5,
    "weight_decay": 1.0,
    "lr": 1e-3,
    "beta1": 0.9,
    "beta2": 0.98,
    "eps": 1e-8,
    "embed_dim": 128,
    "model_size": 512,  # hidden width
    "activation": "relu",  # relu | quadratic
    "init_scale": 1.0,
    "seed": 0,
    "max_steps": 10000,
    "eval_every": 50,
    "checkpoint_every": 1000,
    "dtype": "float32",
    "step_delay_ms": 0,  # testing knob: sleep per step to imitate a slow trainer
}

OPERATIONS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "div": lambda a, b, p: (a * pow_mod(b, p - 2, p)) % p,
    "x2_plus_xy_plus_y2": lambda a, b, p: (a * a + a * b + b * b) % p,
}

PARAM_NAMES = ("E", "W1", "b1", "W2", "b2")


def pow_mod(b, e, p):
    return np.array([pow(int(x), e, p) for x in np.ravel(b)], dtype=np.int64).reshape(np.shape(b))


def all_pairs(p, operation):
    """Every (a, b) the operation is defined on, and its label."""
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    if operation == "div":
        keep = b != 0
        a, b = a[keep], b[keep]
    return a, b, OPERATIONS[operation](a, b, p)


def train_indices(cfg, n_pairs):
    """Which pairs are trained on: a seeded random `data_fraction` of them."""
    order = np.random.default_rng(cfg["seed"]).permutation(n_pairs)
    n_train = min(n_pairs - 1, max(1, round(cfg["data_fraction"] * n_pairs)))
    return order[:n_train], order[n_train:]


def make_dataset(cfg):
    a, b, y = all_pairs(cfg["p"], cfg["operation"])
    tr, va = train_indices(cfg, len(a))
    return (a[tr], b[tr], y[tr]), (a[va], b[va], y[va])


def init_weights(cfg):
    """Initial weights in float64 (cast by the caller)."""
    p, d, h, s = cfg["p"], cfg["embed_dim"], cfg["model_size"], cfg["init_scale"]
    # A stream separate from the data split, so the split never depends on the model size.
    rng = np.random.default_rng([cfg["seed"], 1])
    return {
        "E": rng.standard_normal((p, d)) * s / math.sqrt(d),
        "W1": rng.standard_normal((2 * d, h)) * s / math.sqrt(2 * d),
        "b1": np.zeros(h),
        "W2": rng.standard_normal((h, p)) * s / math.sqrt(h),
        "b2": np.zeros(p),
    }


def forward(params, a, b, activation):
    x = np.concatenate([params["E"][a], params["E"][b]], axis=1)
    pre = x @ params["W1"] + params["b1"]
    hid = np.maximum(pre, 0) if activation == "relu" else pre * pre
    logits = hid @ params["W2"] + params["b2"]
    return x, pre, hid, logits


def loss_and_acc(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = float(-logp[np.arange(len(y)), y].mean()) + 0.0  # never -0.0
    acc = float((logits.argmax(axis=1) == y).mean())
    return loss, acc, logp


def gradients(params, a, b, y, activation):
    x, pre, hid, logits = forward(params, a, b, activation)
    loss, acc, logp = loss_and_acc(logits, y)
    n = len(y)
    g_logits = np.exp(logp)
    g_logits[np.arange(n), y] -= 1
    g_logits /= n
    grads = {"W2": hid.T @ g_logits, "b2": g_logits.sum(axis=0)}
    g_hid = g_logits @ params["W2"].T
    g_pre = g_hid * (pre > 0) if activation == "relu" else g_hid * 2 * pre
    grads["W1"] = x.T @ g_pre
    grads["b1"] = g_pre.sum(axis=0)
    g_x = g_pre @ params["W1"].T
    d = params["E"].shape[1]
    g_e = np.zeros_like(params["E"])
    np.add.at(g_e, a, g_x[:, :d])
    np.add.at(g_e, b, g_x[:, d:])
    grads["E"] = g_e
    return grads, loss, acc


def adamw_step(params, grads, m, v, t, cfg):
    lr, b1, b2, eps, wd = cfg["lr"], cfg["beta1"], cfg["beta2"], cfg["eps"], cfg["weight_decay"]
    c1, c2 = 1 - b1**t, 1 - b2**t
    for k in PARAM_NAMES:
        g = grads[k]
        m[k] = b1 * m[k] + (1 - b1) * g
        v[k] = b2 * v[k] + (1 - b2) * g * g
        params[k] *= 1 - lr * wd
        params[k] -= lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)


def weight_norm(params):
    return float(math.sqrt(sum(float((w.astype(np.float64) ** 2).sum()) for w in params.values())))


def fingerprint(cfg):
    """What must match for a checkpoint to be resumable by this run."""
    keys = ("p", "operation", "data_fraction", "embed_dim", "model_size", "activation", "seed", "dtype")
    return json.dumps({k: cfg[k] for k in keys}, sort_keys=True)


class Model:
    """One trial's data, weights and AdamW state, stepped by `advance`."""

    def __init__(self, trial):
        cfg = trial.cfg
        if cfg["operation"] not in OPERATIONS:
            raise SystemExit(f"unknown operation {cfg['operation']!r}; one of {sorted(OPERATIONS)}")
        if cfg["activation"] not in ("relu", "quadratic"):
            raise SystemExit(f"unknown activation {cfg['activation']!r}")
        self.trial = trial
        self.cfg = cfg
        self.act = cfg["activation"]
        self.max_steps, self.eval_every = int(cfg["max_steps"]), int(cfg["eval_every"])
        self.ckpt_every = int(cfg["checkpoint_every"])
        self.train_set, self.val_set = make_dataset(cfg)
        if trial.resume:
            arrays = trial.load_checkpoint(fingerprint(cfg))
            self.params = {k: arrays[f"param_{k}"] for k in PARAM_NAMES}
            self.m = {k: arrays[f"m_{k}"] for k in PARAM_NAMES}
            self.v = {k: arrays[f"v_{k}"] for k in PARAM_NAMES}
        else:
            dtype = np.float64 if cfg["dtype"] == "float64" else np.float32
            self.params = {k: w.astype(dtype) for k, w in init_weights(cfg).items()}
            self.m = {k: np.zeros_like(w) for k, w in self.params.items()}
            self.v = {k: np.zeros_like(w) for k, w in self.params.items()}

    def evaluate(self):
        """Report the metrics at the current step; False once the training loss is not finite."""
        (ta, tb, ty), (va, vb, vy) = self.train_set, self.val_set
        tr_loss, tr_acc, _ = loss_and_acc(forward(self.params, ta, tb, self.act)[3], ty)
        va_loss, va_acc, _ = loss_and_acc(forward(self.params, va, vb, self.act)[3], vy)
        self.trial.record(tr_acc, va_acc, tr_loss, va_loss, weight_norm(self.params))
        return math.isfinite(tr_loss)

    def checkpoint(self, ckpt_dir):
        arrays = {f"param_{k}": v for k, v in self.params.items()}
        arrays.update({f"m_{k}": v for k, v in self.m.items()})
        arrays.update({f"v_{k}": v for k, v in self.v.items()})
        self.trial.save_checkpoint(ckpt_dir, fingerprint(self.cfg), arrays)

    def result(self, status, started, pack_size, reason=None):
        extra = {
            "wall_time_s": round(time.monotonic() - started, 3),
            "n_params": int(sum(w.size for w in self.params.values())),
            "n_train": int(len(self.train_set[2])),
        }
        if pack_size is not None:
            extra["pack_size"] = pack_size
        self.trial.result(status, "numpy", extra, reason)

    def advance(self, ckpt_dir, started, pack_size):
        """One AdamW step, then the evaluation and checkpoint it is due; ends the trial when it must."""
        t = self.trial
        ta, tb, ty = self.train_set
        grads, loss, _ = gradients(self.params, ta, tb, ty, self.act)
        if not math.isfinite(loss):
            return self.result("diverged", started, pack_size, f"training loss became {loss} at step {t.step + 1}")
        adamw_step(self.params, grads, self.m, self.v, t.step + 1, self.cfg)
        t.step += 1
        if is_eval_step(t.step, self.eval_every, self.max_steps) and not self.evaluate():
            return self.result("diverged", started, pack_size, f"training loss became non-finite at step {t.step}")
        if t.step % self.ckpt_every == 0 and t.step < self.max_steps:
            self.checkpoint(ckpt_dir)


def main():
    doc = read_params()
    watch_stop_signals()
    ckpt_dir = doc.get("checkpoint_dir") or os.environ["GROKMAP_CHECKPOINT_DIR"]
    trials = trials_of(doc, DEFAULTS)
    # A pack's trials are stepped in turn, one step each, so that they share
    # every stop (SIGTERM) and their checkpoints keep a common step. numpy on
    # a CPU gains nothing from batching them; they just share one process.
    pack_size = len(trials) if trials[0].packed else None
    models = [Model(t) for t in trials]
    started = time.monotonic()
    for model in models:
        if model.trial.step == 0:
            model.evaluate()
    while True:
        for m in models:
            if not m.trial.done and m.trial.step >= m.max_steps:
                m.result("completed", started, pack_size)
        live = [m for m in models if not m.trial.done]
        if not live:
            return 0
        if stop_requested():
            for m in live:
                m.checkpoint(ckpt_dir)
                m.result("cancelled", started, pack_size, f"stopped at step {m.trial.step} ({stop_reason()})")
            return 0
        for m in live:
            m.advance(ckpt_dir, started, pack_size)
        delay = max(float(m.cfg["step_delay_ms"]) for m in live) / 1000
        if delay:
            time.sleep(delay)


if __name__ == "__main__":
    sys.exit(main())
