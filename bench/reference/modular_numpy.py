#!/usr/bin/env python3
"""numpy reference of one training step of grokmap's modular-arithmetic trainer.

Same models as plugins/modular-arithmetic (src/models.ts), same full-batch
step: forward, softmax cross-entropy, hand-written backward, AdamW with
decoupled weight decay. Used by bench/trainer.ts to put the TensorFlow.js
step time next to numpy's on the same machine in the same run.

  python modular_numpy.py --model mlp --p 97 --steps 10 --warmup 2 [--algorithm dense|lookup]

MLP algorithms (identical function and gradients):
  dense  - concat(E_a[a], E_b[b]) @ W1 over all N rows (the textbook form; the
           DESIGN.md "numpy 68 ms" figure was measured this way);
  lookup - (E_a @ W1a)[a] + (E_b @ W1b)[b], the form the TensorFlow.js
           trainer uses, with a sorted segment sum for the scatter-add.

Prints one JSON line: wall and CPU ms per step (medians), peak RSS, loss after the steps.
Pin threads from outside (OPENBLAS_NUM_THREADS=1) to compare with one
single-threaded wasm process.
"""

import argparse
import json
import resource
import time

import numpy as np

F = np.float32


def dataset(p, fraction, seed):
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    order = np.random.default_rng(seed).permutation(len(a))
    n = int(np.floor(fraction * len(a) + 0.5))  # JS Math.round, as the trainer splits
    tr = order[:n]
    return a[tr], b[tr], (a[tr] + b[tr]) % p


def softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    sm = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.log(np.maximum(sm[np.arange(n), y], 1e-38)).mean())
    sm[np.arange(n), y] -= 1
    return loss, sm / F(n)


class Segments:
    """Scatter-add by index via one stable sort and np.add.reduceat (np.add.at is slow)."""

    def __init__(self, idx, rows):
        self.order = np.argsort(idx, kind="stable")
        s = idx[self.order]
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        self.ids = s[self.starts]
        self.rows = rows

    def add(self, g):
        out = np.zeros((self.rows, g.shape[1]), dtype=g.dtype)
        out[self.ids] = np.add.reduceat(g[self.order], self.starts, axis=0)
        return out


class MLP:
    def __init__(self, p, e, h, a, b, algorithm, rng):
        self.a, self.b, self.algorithm, self.e = a, b, algorithm, e
        self.w = {
            "embed_a": rng.standard_normal((p, e)).astype(F),
            "embed_b": rng.standard_normal((p, e)).astype(F),
            "w1_a": (rng.standard_normal((e, h)) / np.sqrt(2 * e)).astype(F),
            "w1_b": (rng.standard_normal((e, h)) / np.sqrt(2 * e)).astype(F),
            "w_out": (rng.standard_normal((h, p)) / np.sqrt(h)).astype(F),
        }
        self.seg_a, self.seg_b = Segments(a, p), Segments(b, p)

    def loss_and_grads(self, y):
        w, a, b, e = self.w, self.a, self.b, self.e
        if self.algorithm == "dense":
            x = np.concatenate([w["embed_a"][a], w["embed_b"][b]], axis=1)
            w1 = np.concatenate([w["w1_a"], w["w1_b"]], axis=0)
            pre = x @ w1
        else:
            pa, pb = w["embed_a"] @ w["w1_a"], w["embed_b"] @ w["w1_b"]
            pre = pa[a] + pb[b]
        act = np.maximum(pre, 0)
        loss, dlogits = softmax_xent(act @ w["w_out"], y)
        g = {"w_out": act.T @ dlogits}
        dpre = (dlogits @ w["w_out"].T) * (pre > 0)
        if self.algorithm == "dense":
            dw1 = x.T @ dpre
            g["w1_a"], g["w1_b"] = dw1[:e], dw1[e:]
            dx = dpre @ w1.T
            g["embed_a"], g["embed_b"] = self.seg_a.add(dx[:, :e]), self.seg_b.add(dx[:, e:])
        else:
            dpa, dpb = self.seg_a.add(dpre), self.seg_b.add(dpre)
            g["w1_a"], g["w1_b"] = w["embed_a"].T @ dpa, w["embed_b"].T @ dpb
            g["embed_a"], g["embed_b"] = dpa @ w["w1_a"].T, dpb @ w["w1_b"].T
        return loss, g


def mm(x, w):
    """x[..., k] @ w[k, n] as one 2-D product (numpy would loop over the leading axes)."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])


class Transformer:
    """[a, b, =] -> embeddings + positions -> blocks (causal MHA + ReLU MLP 4d, no LayerNorm) -> unembed at '='."""

    def __init__(self, p, d, heads, depth, a, b, rng):
        self.p, self.d, self.H, self.depth = p, d, heads, depth
        self.tokens = np.stack([a, b, np.full_like(a, p)], axis=1)  # [N, 3]
        n = lambda *s: rng.standard_normal(s).astype(F)  # noqa: E731
        w = {"embed": n(p + 1, d) / np.sqrt(d), "pos": n(3, d) / np.sqrt(d)}
        for l in range(depth):
            for m in "qkvo":
                w[f"l{l}_{m}"] = n(d, d) / np.sqrt(d)
            w[f"l{l}_in"], w[f"l{l}_in_bias"] = n(d, 4 * d) / np.sqrt(d), np.zeros(4 * d, F)
            w[f"l{l}_out"], w[f"l{l}_out_bias"] = n(4 * d, d) / np.sqrt(4 * d), np.zeros(d, F)
        w["unembed"] = n(d, p) / np.sqrt(d)
        self.w = {k: v.astype(F) for k, v in w.items()}
        self.seg = Segments(self.tokens.ravel(), p + 1)
        mask = np.triu(np.full((3, 3), -1e9, F), 1)
        self.mask = mask[None, None]  # [1, 1, q, k]

    def block(self, l, xq, xf):
        w, H = self.w, self.H
        n, tq, d = xq.shape
        dh = d // H
        q = mm(xq, w[f"l{l}_q"]).reshape(n, tq, H, dh).transpose(0, 2, 1, 3)  # [N,H,tq,dh]
        k = mm(xf, w[f"l{l}_k"]).reshape(n, 3, H, dh).transpose(0, 2, 1, 3)
        v = mm(xf, w[f"l{l}_v"]).reshape(n, 3, H, dh).transpose(0, 2, 1, 3)
        # Attention over 3 positions as broadcast products (numpy's stacked tiny matmuls are far slower).
        s = (q[:, :, :, None, :] * k[:, :, None, :, :]).sum(-1) / np.sqrt(dh)  # [N,H,tq,3]
        if tq == 3:
            s = s + self.mask
        s = np.exp(s - s.max(-1, keepdims=True))
        att = s / s.sum(-1, keepdims=True)
        z = (att[..., None] * v[:, :, None, :, :]).sum(3).transpose(0, 2, 1, 3).reshape(n, tq, d)
        r = xq + mm(z, w[f"l{l}_o"])
        pre = mm(r, w[f"l{l}_in"]) + w[f"l{l}_in_bias"]
        hid = np.maximum(pre, 0)
        out = r + mm(hid, w[f"l{l}_out"]) + w[f"l{l}_out_bias"]
        return out, (xq, xf, q, k, v, att, z, r, pre, hid)

    def block_backward(self, l, dout, cache, g):
        w, H = self.w, self.H
        xq, xf, q, k, v, att, z, r, pre, hid = cache
        n, tq, d = xq.shape
        dh = d // H
        flat = lambda t: t.reshape(-1, t.shape[-1])  # noqa: E731
        g[f"l{l}_out"] = flat(hid).T @ flat(dout)
        g[f"l{l}_out_bias"] = flat(dout).sum(0)
        dpre = mm(dout, w[f"l{l}_out"].T) * (pre > 0)
        g[f"l{l}_in"] = flat(r).T @ flat(dpre)
        g[f"l{l}_in_bias"] = flat(dpre).sum(0)
        dr = dout + mm(dpre, w[f"l{l}_in"].T)
        g[f"l{l}_o"] = flat(z).T @ flat(dr)
        dz = mm(dr, w[f"l{l}_o"].T).reshape(n, tq, H, dh).transpose(0, 2, 1, 3)
        datt = (dz[:, :, :, None, :] * v[:, :, None, :, :]).sum(-1)  # [N,H,tq,3]
        dv = (att[..., None] * dz[:, :, :, None, :]).sum(2)  # [N,H,3,dh]
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) / np.sqrt(dh)
        dq = (ds[..., None] * k[:, :, None, :, :]).sum(3)  # [N,H,tq,dh]
        dk = (ds[..., None] * q[:, :, :, None, :]).sum(2)  # [N,H,3,dh]
        back = lambda t, s: t.transpose(0, 2, 1, 3).reshape(n, s, d)  # noqa: E731
        dq, dk, dv = back(dq, tq), back(dk, 3), back(dv, 3)
        g[f"l{l}_q"] = flat(xq).T @ flat(dq)
        g[f"l{l}_k"] = flat(xf).T @ flat(dk)
        g[f"l{l}_v"] = flat(xf).T @ flat(dv)
        return dr + mm(dq, w[f"l{l}_q"].T), mm(dk, w[f"l{l}_k"].T) + mm(dv, w[f"l{l}_v"].T)

    def loss_and_grads(self, y):
        w = self.w
        x = w["embed"][self.tokens] + w["pos"][None]
        caches = []
        for l in range(self.depth):
            last = l == self.depth - 1
            xq = x[:, 2:3] if last else x
            x, cache = self.block(l, xq, x)
            caches.append(cache)
        xl = x[:, 0]
        loss, dlogits = softmax_xent(xl @ w["unembed"], y)
        g = {"unembed": xl.T @ dlogits}
        dout = (dlogits @ w["unembed"].T)[:, None]
        for l in reversed(range(self.depth)):
            dxq, dxf = self.block_backward(l, dout, caches[l], g)
            if l == self.depth - 1:
                dxf[:, 2:3] += dxq
                dout = dxf
            else:
                dout = dxq + dxf
        g["pos"] = dout.sum(0)
        g["embed"] = self.seg.add(dout.reshape(-1, self.d))
        return loss, g


def adamw(w, g, m, v, t, lr=1e-3, b1=0.9, b2=0.98, wd=1.0, eps=1e-8):
    c1, c2 = 1 - b1**t, 1 - b2**t
    for k in w:
        m[k] = b1 * m[k] + (1 - b1) * g[k]
        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
        w[k] *= F(1 - lr * wd)
        w[k] -= (lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)).astype(F)


def parser():
    """The command-line flags, shared with modular_jax.py."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "transformer"], default="mlp")
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--size", type=int, default=None, help="MLP width (512) or d_model (128)")
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--algorithm", choices=["dense", "lookup"], default="lookup")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    return ap


def main():
    args = parser().parse_args()

    rng = np.random.default_rng(0)
    a, b, y = dataset(args.p, args.fraction, 0)
    if args.model == "mlp":
        model = MLP(args.p, args.embed, args.size or 512, a, b, args.algorithm, rng)
    else:
        model = Transformer(args.p, args.size or 128, args.heads, args.depth, a, b, rng)
    m = {k: np.zeros_like(x) for k, x in model.w.items()}
    v = {k: np.zeros_like(x) for k, x in model.w.items()}
    times, cpu, loss = [], [], float("nan")
    for t in range(1, args.warmup + args.steps + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss, g = model.loss_and_grads(y)
        adamw(model.w, g, m, v, t)
        if t > args.warmup:
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    print(json.dumps({
        "ms_per_step": float(np.median(times)),
        "cpu_ms_per_step": float(np.median(cpu)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss": loss,
        "examples": int(len(y)),
    }))


if __name__ == "__main__":
    main()
