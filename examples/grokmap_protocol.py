"""Helpers for writing a trainer that speaks grokmap protocol v1.

Copy this file next to your trainer (it needs only the standard library,
and numpy for `write_npz_checkpoint`). See plugins/command/PROTOCOL.md.

    from grokmap_protocol import emit, read_params, is_eval_step, stop_requested, watch_stop_signals

A trainer that takes packs of trials (protocol extension `pack`) gets them
from `trials_of(doc, defaults)`; a single trial is a pack of one whose lines
carry no trial_id, so one code path serves both.
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


def trials_of(doc, defaults):
    """The trials a parameters document asks for, as `Trial`s.

    A document with a `trials` list (extension `pack`) asks for each of them;
    any other for the one trial it describes.
    """
    threshold = float(doc.get("threshold", 0.99))
    packed = "trials" in doc
    entries = doc["trials"] if packed else [{k: doc.get(k) for k in ("trial_id", "params", "resume")}]
    return [
        Trial(
            e["trial_id"],
            known_params(e.get("params") or {}, defaults, e["trial_id"] if packed else None),
            e.get("resume"),
            packed,
            threshold,
        )
        for e in entries
    ]


class Trial:
    """One trial's side of the protocol: its lines, first steps at threshold, last metrics, checkpoints."""

    def __init__(self, trial_id, cfg, resume, packed, threshold):
        self.trial_id = trial_id
        self.cfg = cfg
        self.resume = resume
        # In a pack every line names its trial; a single trial's lines need not.
        self.packed = packed
        self.threshold = threshold
        self.step = 0
        self.first_train = None
        self.first_val = None
        self.last = None
        self.done = False

    def line(self, obj):
        emit({**obj, "trial_id": self.trial_id} if self.packed else obj)

    def record(self, train_acc, val_acc, train_loss, val_loss, weight_norm):
        """Report an evaluation at the current step (and note the first steps at threshold)."""
        if self.first_train is None and train_acc >= self.threshold:
            self.first_train = self.step
        if self.first_val is None and val_acc >= self.threshold:
            self.first_val = self.step
        self.last = {
            "train_acc": train_acc,
            "val_acc": val_acc,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "weight_norm": weight_norm,
        }
        self.line({"type": "progress", "step": self.step, **self.last})

    def result(self, status, backend, extra, reason=None):
        self.done = True
        out = {
            "type": "result",
            "status": status,
            "steps": self.step,
            "max_steps": self.cfg["max_steps"],
            "first_step_at_threshold": {"train": self.first_train, "val": self.first_val},
            "final": self.last or {"train_acc": 0.0, "val_acc": 0.0},
            "backend": backend,
            "extra": extra,
        }
        if reason:
            out["reason"] = reason
        self.line(out)

    def save_checkpoint(self, ckpt_dir, fingerprint, arrays):
        """Write this trial's npz checkpoint (one file per trial in a pack's shared dir) and announce it."""
        meta = {
            "step": self.step,
            "fingerprint": fingerprint,
            "first_train": self.first_train,
            "first_val": self.first_val,
            "last": self.last,
        }
        stem = "ckpt-"
        if self.packed:
            stem += "".join(c if c.isalnum() or c in "._-" else "_" for c in str(self.trial_id)) + "-"
        name = write_npz_checkpoint(ckpt_dir, stem, self.step, meta, arrays)
        self.line({"type": "checkpoint", "step": self.step, "path": name})

    def load_checkpoint(self, fingerprint):
        """The arrays of the checkpoint this trial resumes from; restores its step and bookkeeping."""
        path = self.resume["path"]
        meta, arrays = read_npz_checkpoint(path)
        if meta["fingerprint"] != fingerprint:
            raise SystemExit(f"checkpoint {path} was written for different parameters; refusing to resume")
        self.step, self.first_train, self.first_val, self.last = (
            meta["step"],
            meta["first_train"],
            meta["first_val"],
            meta["last"],
        )
        self.line({"type": "log", "level": "info", "msg": f"resumed from step {self.step}"})
        return arrays


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
