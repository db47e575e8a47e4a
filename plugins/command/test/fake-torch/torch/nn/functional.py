import numpy as np


def cross_entropy(logits, target, reduction="none"):
    from .. import Tensor

    if reduction != "none":
        raise NotImplementedError("the stand-in supports reduction='none' only")
    z = logits.data - logits.data.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    t = target.data
    rows = np.arange(len(t))

    def backward(g):
        p = np.exp(logp)
        p[rows, t] -= 1
        return [p * g[:, None]]

    return Tensor(-logp[rows, t], (logits,), backward)
