#!/usr/bin/env python3
"""JAX reference of one training step of grokmap's modular-arithmetic trainer.

The same models, data split, initial weights and full-batch AdamW step as
modular_numpy.py (whose `dataset` and model constructors it imports, so the
weights are bit-identical), with the backward pass from jax.value_and_grad
and the whole step (forward, backward, AdamW) as one jit-compiled XLA
function, float32, on the CPU. Used by bench/trainer.ts where the Python it
runs can `import jax`:

  <venv>/bin/pip install "jax[cpu]"
  python modular_jax.py --model mlp --p 97 --steps 10 --warmup 2 [--algorithm dense|lookup]

Same flags and the same JSON output line as modular_numpy.py (plus
"compile_ms": the first step, tracing and compiling included, which falls
in the warm-up and is not in the medians).

One thread, to compare with single-threaded wasm and OpenBLAS pinned to one:
before jax is imported this sets XLA_FLAGS=--xla_cpu_multi_thread_eigen=false,
so XLA's CPU kernels do not split work over Eigen's thread pool (measured with
jax 0.10.2: "busy", CPU time over wall time of the timed steps, 0.99-1.00).
The process is not tied to a CPU by default, as the numpy and tfjs processes
are not; --cpu N also restricts it to CPU N with os.sched_setaffinity (Linux;
what `taskset -c N` does, and the thread pools XLA sizes by the CPUs it may
use then get one thread), for machines where "busy" comes out above 1.
"""

import json
import os
import resource
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modular_numpy import MLP, Transformer, dataset, parser  # noqa: E402


def pin(cpu):
    """Restrict this process (and the threads it starts later) to one CPU, as `taskset -c cpu` would."""
    if not hasattr(os, "sched_setaffinity"):
        sys.exit("--cpu needs os.sched_setaffinity (Linux); use taskset or leave it out")
    os.sched_setaffinity(0, {cpu})


def xent(logits, y):
    import jax

    lp = jax.nn.log_softmax(logits, axis=1)
    return -lp[np.arange(len(y)), y].mean()


def mlp_loss(algorithm, a, b, y):
    import jax.numpy as jnp

    def loss(w):
        if algorithm == "dense":
            x = jnp.concatenate([w["embed_a"][a], w["embed_b"][b]], axis=1)
            pre = x @ jnp.concatenate([w["w1_a"], w["w1_b"]], axis=0)
        else:
            pre = (w["embed_a"] @ w["w1_a"])[a] + (w["embed_b"] @ w["w1_b"])[b]
        return xent(jnp.maximum(pre, 0) @ w["w_out"], y)

    return loss


def transformer_loss(p, d, heads, depth, tokens, y):
    """As modular_numpy.Transformer: causal MHA + ReLU MLP blocks, no LayerNorm, the last block at '=' only."""
    import jax
    import jax.numpy as jnp

    dh = d // heads
    mask = jnp.asarray(np.triu(np.full((3, 3), -1e9, np.float32), 1))

    def block(w, l, xq, xf):
        n, tq, _ = xq.shape
        q = (xq @ w[f"l{l}_q"]).reshape(n, tq, heads, dh)
        k = (xf @ w[f"l{l}_k"]).reshape(n, 3, heads, dh)
        v = (xf @ w[f"l{l}_v"]).reshape(n, 3, heads, dh)
        s = jnp.einsum("nqhc,nkhc->nhqk", q, k) / np.float32(np.sqrt(dh))
        if tq == 3:
            s = s + mask
        att = jax.nn.softmax(s, axis=-1)
        z = jnp.einsum("nhqk,nkhc->nqhc", att, v).reshape(n, tq, d)
        r = xq + z @ w[f"l{l}_o"]
        hid = jnp.maximum(r @ w[f"l{l}_in"] + w[f"l{l}_in_bias"], 0)
        return r + hid @ w[f"l{l}_out"] + w[f"l{l}_out_bias"]

    def loss(w):
        x = w["embed"][tokens] + w["pos"][None]
        for l in range(depth):
            xq = x[:, 2:3] if l == depth - 1 else x
            x = block(w, l, xq, x)
        return xent(x[:, 0] @ w["unembed"], y)

    return loss


def make_step(loss, lr=1e-3, b1=0.9, b2=0.98, wd=1.0, eps=1e-8):
    """Forward, backward and AdamW (decoupled weight decay, as modular_numpy.adamw) as one jitted function."""
    import jax
    import jax.numpy as jnp

    grad = jax.value_and_grad(loss)

    def step(w, m, v, t):
        value, g = grad(w)
        c1, c2 = 1 - b1**t, 1 - b2**t
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in w}
        v = {k: b2 * v[k] + (1 - b2) * g[k] * g[k] for k in w}
        w = {k: w[k] * np.float32(1 - lr * wd) - lr * (m[k] / c1) / (jnp.sqrt(v[k] / c2) + eps) for k in w}
        return w, m, v, value

    return jax.jit(step, donate_argnums=(0, 1, 2))


def main():
    ap = parser()
    ap.add_argument("--cpu", type=int, default=None, help="also restrict the process to this CPU")
    args = ap.parse_args()

    if args.cpu is not None:
        pin(args.cpu)
    import jax  # after XLA_FLAGS and the affinity are set
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    a, b, y = dataset(args.p, args.fraction, 0)
    if args.model == "mlp":
        model = MLP(args.p, args.embed, args.size or 512, a, b, args.algorithm, rng)
        loss = mlp_loss(args.algorithm, jnp.asarray(a), jnp.asarray(b), jnp.asarray(y))
    else:
        d = args.size or 128
        model = Transformer(args.p, d, args.heads, args.depth, a, b, rng)
        loss = transformer_loss(args.p, d, args.heads, args.depth, jnp.asarray(model.tokens), jnp.asarray(y))
    step = make_step(loss)
    w = {k: jnp.asarray(x) for k, x in model.w.items()}
    m = {k: jnp.zeros_like(x) for k, x in w.items()}
    v = {k: jnp.zeros_like(x) for k, x in w.items()}
    times, cpu_times, compile_ms, value = [], [], float("nan"), float("nan")
    for t in range(1, args.warmup + args.steps + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        w, m, v, value = jax.block_until_ready(step(w, m, v, np.float32(t)))
        wall, used = (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000
        if t == 1:
            compile_ms = wall
        if t > args.warmup:
            times.append(wall)
            cpu_times.append(used)
    print(json.dumps({
        "ms_per_step": float(np.median(times)),
        "cpu_ms_per_step": float(np.median(cpu_times)),
        "busy": float(sum(cpu_times) / sum(times)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss": float(value),
        "examples": int(len(y)),
        "compile_ms": compile_ms,
        "cpu": args.cpu,
        "jax": jax.__version__,
    }))


if __name__ == "__main__":
    main()
