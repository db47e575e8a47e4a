"""Helpers for writing a trainer that speaks grokmap protocol v1.

Copy this file next to your trainer (it needs only the standard library,
and numpy for `write_npz_checkpoint`). See plugins/command/PROTOCOL.md.

    from grokmap_protocol import emit, read_params, is_eval_step, stop_requested, watch_stop_signals
"""

import json
import math
import os
import signal
import sys
import threading

PROTOCOL = 1


def finite_or_null(x):
    """JSON has no NaN or Infinity: non-finite floats become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_or_null(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_null(v) for v in x]
    return x


def emit(obj):
    """Write one protocol line to stdout and flush it."""
    sys.stdout.write(json.dumps(finite_or_null(obj), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(msg, level="info", trial_id=None):
    emit({"type": "log", "level": level, "msg": msg, **({"trial_id": trial_id} if trial_id else {})})


def read_params():
    """The parameters document: from GROKMAP_PARAMS_FILE, else from stdin."""
    path = os.environ.get("GROKMAP_PARAMS_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    else:
        # One line: stdin stays open after it (see watch_stop_signals).
        doc = json.loads(sys.stdin.readline())
    if doc.get("protocol") != PROTOCOL:
        raise SystemExit(f"unsupported protocol {doc.get('protocol')!r}; this trainer speaks {PROTOCOL}")
    return doc


def known_params(params, defaults, trial_id=None):
    """Defaults overlaid with the given parameters; unknown names are logged and ignored."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        log(f"ignoring parameters this trainer does not use: {', '.join(unknown)}", "warn", trial_id)
    return {**defaults, **{k: v for k, v in params.items() if k in defaults}}


def is_eval_step(step, eval_every, max_steps):
    """The SDK's isEvalStep: every step to 10, then log-spaced, then every eval_every."""
    if step == max_steps or step <= 10 or step % eval_every == 0:
        return True
    spacing = max(1, round(step * (10 ** (1 / 20) - 1)))
    return spacing < eval_every and step % spacing == 0


_stop = {"reason": None}


def watch_stop_signals():
    """From now on a stop request only sets a flag: check `stop_requested()` between steps.

    Two things ask a trainer to stop: SIGTERM (the trial was cancelled), and,
    when the host sets GROKMAP_STDIN_OPEN=1, end of file on stdin (the host
    is gone, e.g. the worker died) — so no trainer runs on as a zombie.
    Call it after `read_params()`.
    """

    def on_sigterm(_signum, _frame):
        _stop["reason"] = _stop["reason"] or "SIGTERM"

    signal.signal(signal.SIGTERM, on_sigterm)
    if os.environ.get("GROKMAP_STDIN_OPEN") == "1":

        def watch_stdin():
            # The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered
            # reader would hold its lock while the interpreter shuts down.
            try:
                while os.read(0, 65536):
                    pass
            except (OSError, ValueError):
                pass
            _stop["reason"] = _stop["reason"] or "stdin closed: host gone"

        threading.Thread(target=watch_stdin, name="grokmap-stdin-watch", daemon=True).start()


def stop_requested():
    return _stop["reason"] is not None


def stop_reason():
    return _stop["reason"]


def write_npz_checkpoint(ckpt_dir, stem, step, meta, arrays, keep=2):
    """Write `<stem><step>.npz` atomically, keep the newest `keep`, return its name."""
    import numpy as np

    name = f"{stem}{step:08d}.npz"
    final = os.path.join(ckpt_dir, name)
    with open(final + ".tmp", "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(final + ".tmp", final)
    mine = sorted(
        n for n in os.listdir(ckpt_dir) if n.startswith(stem) and n.endswith(".npz") and n[len(stem) :][:8].isdigit()
    )
    # The host may still be reading the previous one.
    for old in mine[:-keep]:
        os.remove(os.path.join(ckpt_dir, old))
    return name


def read_npz_checkpoint(path):
    """(meta, arrays) of a checkpoint written by write_npz_checkpoint."""
    import numpy as np

    with np.load(path) as z:
        return json.loads(str(z["meta"])), {k: z[k].copy() for k in z.files if k != "meta"}
