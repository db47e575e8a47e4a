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

Run by hand:  GROKMAP_PARAMS_FILE=params.json python3 numpy_modular.py
"""

import json
import math
import os
import sys
import time

import numpy as np
from grokmap_protocol import (
    emit,
    is_eval_step,
    known_params,
    log,
    read_npz_checkpoint,
    read_params,
    stop_requested,
    stop_reason,
    watch_stop_signals,
    write_npz_checkpoint,
)

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


def save_checkpoint(ckpt_dir, state):
    arrays = {f"param_{k}": v for k, v in state["params"].items()}
    arrays.update({f"m_{k}": v for k, v in state["m"].items()})
    arrays.update({f"v_{k}": v for k, v in state["v"].items()})
    meta = {k: state[k] for k in ("step", "fingerprint", "first_train", "first_val", "last")}
    name = write_npz_checkpoint(ckpt_dir, "ckpt-", state["step"], meta, arrays)
    emit({"type": "checkpoint", "step": state["step"], "path": name})


def load_checkpoint(path, cfg):
    meta, arrays = read_npz_checkpoint(path)
    if meta["fingerprint"] != fingerprint(cfg):
        raise SystemExit(f"checkpoint {path} was written for different parameters; refusing to resume")
    params = {k: arrays[f"param_{k}"] for k in PARAM_NAMES}
    m = {k: arrays[f"m_{k}"] for k in PARAM_NAMES}
    v = {k: arrays[f"v_{k}"] for k in PARAM_NAMES}
    return params, m, v, meta


def main():
    doc = read_params()
    watch_stop_signals()
    cfg = known_params(doc.get("params") or {}, DEFAULTS)
    if cfg["operation"] not in OPERATIONS:
        raise SystemExit(f"unknown operation {cfg['operation']!r}; one of {sorted(OPERATIONS)}")
    if cfg["activation"] not in ("relu", "quadratic"):
        raise SystemExit(f"unknown activation {cfg['activation']!r}")
    threshold = float(doc.get("threshold", 0.99))
    ckpt_dir = doc.get("checkpoint_dir") or os.environ["GROKMAP_CHECKPOINT_DIR"]
    dtype = np.float64 if cfg["dtype"] == "float64" else np.float32
    max_steps, eval_every = int(cfg["max_steps"]), int(cfg["eval_every"])
    ckpt_every = int(cfg["checkpoint_every"])
    act = cfg["activation"]

    (ta, tb, ty), (va, vb, vy) = make_dataset(cfg)
    started = time.monotonic()
    resume = doc.get("resume")
    if resume:
        params, m, v, meta = load_checkpoint(resume["path"], cfg)
        step, first_train, first_val, last = meta["step"], meta["first_train"], meta["first_val"], meta["last"]
        log(f"resumed from step {step}")
    else:
        params = {k: w.astype(dtype) for k, w in init_weights(cfg).items()}
        m = {k: np.zeros_like(w) for k, w in params.items()}
        v = {k: np.zeros_like(w) for k, w in params.items()}
        step, first_train, first_val, last = 0, None, None, None

    def evaluate():
        nonlocal first_train, first_val, last
        tr_loss, tr_acc, _ = loss_and_acc(forward(params, ta, tb, act)[3], ty)
        va_loss, va_acc, _ = loss_and_acc(forward(params, va, vb, act)[3], vy)
        if first_train is None and tr_acc >= threshold:
            first_train = step
        if first_val is None and va_acc >= threshold:
            first_val = step
        last = {
            "train_acc": tr_acc,
            "val_acc": va_acc,
            "train_loss": tr_loss,
            "val_loss": va_loss,
            "weight_norm": weight_norm(params),
        }
        emit({"type": "progress", "step": step, **last})
        return math.isfinite(tr_loss)

    def state():
        return {
            "step": step,
            "params": params,
            "m": m,
            "v": v,
            "fingerprint": fingerprint(cfg),
            "first_train": first_train,
            "first_val": first_val,
            "last": last,
        }

    def result(status, reason=None):
        out = {
            "type": "result",
            "status": status,
            "steps": step,
            "max_steps": max_steps,
            "first_step_at_threshold": {"train": first_train, "val": first_val},
            "final": last or {"train_acc": 0.0, "val_acc": 0.0},
            "backend": "numpy",
            "extra": {
                "wall_time_s": round(time.monotonic() - started, 3),
                "n_params": int(sum(w.size for w in params.values())),
                "n_train": int(len(ty)),
            },
        }
        if reason:
            out["reason"] = reason
        emit(out)

    if step == 0:
        evaluate()
    delay = float(cfg["step_delay_ms"]) / 1000
    while step < max_steps:
        if stop_requested():
            save_checkpoint(ckpt_dir, state())
            result("cancelled", f"stopped at step {step} ({stop_reason()})")
            return 0
        grads, loss, _ = gradients(params, ta, tb, ty, act)
        if not math.isfinite(loss):
            result("diverged", f"training loss became {loss} at step {step + 1}")
            return 0
        adamw_step(params, grads, m, v, step + 1, cfg)
        step += 1
        if is_eval_step(step, eval_every, max_steps) and not evaluate():
            result("diverged", f"training loss became non-finite at step {step}")
            return 0
        if step % ckpt_every == 0 and step < max_steps:
            save_checkpoint(ckpt_dir, state())
        if delay:
            time.sleep(delay)
    result("completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
