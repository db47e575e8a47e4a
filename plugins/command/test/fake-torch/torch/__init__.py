"""A numpy stand-in for the small part of PyTorch that examples/torch_modular.py
and bench/gpu/pack_bench.py use, with just enough autograd for their model.

For tests on machines without PyTorch (this project's CI): it lets them run
the torch example's own logic — packing, AdamW, checkpoints, the protocol,
the benchmark's bookkeeping — on the CPU. It says nothing about real
PyTorch's behaviour or speed; where PyTorch is installed the tests use it.
Put this folder first on PYTHONPATH to use it.
"""

import builtins
import contextlib

import numpy as np

from . import nn  # noqa: F401  (torch.nn.functional)

__version__ = "0.0+numpy-stand-in"
float32, float64, bool, int64 = np.float32, np.float64, np.bool_, np.int64


class _Version:
    cuda = None


version = _Version()


class device:
    def __init__(self, spec):
        self.type = str(spec).split(":")[0]

    def __repr__(self):
        return self.type


class _Cuda:
    def is_available(self):
        return False

    def synchronize(self, _device=None):
        pass

    def get_device_name(self, _device=None):
        return "none"

    def max_memory_allocated(self, _device=None):
        return 0

    def empty_cache(self):
        pass

    def reset_peak_memory_stats(self, _device=None):
        pass


cuda = _Cuda()


class _Namespace:
    pass


backends = _Namespace()
backends.cuda = _Namespace()
backends.cuda.matmul = _Namespace()
backends.cudnn = _Namespace()


def manual_seed(_seed):
    pass


_grad = {"enabled": True}


class no_grad(contextlib.ContextDecorator):
    def __enter__(self):
        self.previous = _grad["enabled"]
        _grad["enabled"] = False

    def __exit__(self, *_exc):
        _grad["enabled"] = self.previous


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _unbroadcast(g, shape):
    """Sum a gradient back down to the shape of a broadcast operand."""
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, size in enumerate(shape):
        if size == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


class Tensor:
    def __init__(self, data, parents=(), backward=None):
        self.data = np.asarray(data)
        self.grad = None
        track = _grad["enabled"] and builtins.any(p.requires_grad for p in parents)
        self.requires_grad = track
        self._parents = parents if track else ()
        self._backward = backward if track else None
        self._view_of = None

    shape = property(lambda self: self.data.shape)

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    def dim(self):
        return self.data.ndim

    def numel(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def __int__(self):
        return int(self.data)

    def __float__(self):
        return float(self.data)

    def tolist(self):
        return self.data.tolist()

    def numpy(self):
        return self.data

    def cpu(self):
        return self

    def detach(self):
        return Tensor(self.data)

    def to(self, dtype):
        return Tensor(self.data.astype(dtype))

    def double(self):
        return Tensor(self.data.astype(np.float64))

    def view(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        return Tensor(self.data.reshape(shape))

    def reshape(self, *shape):
        source = self.shape
        return Tensor(self.data.reshape(*shape), (self,), lambda g: [g.reshape(source)])

    def flatten(self, start=0):
        return Tensor(self.data.reshape(self.data.shape[:start] + (-1,)))

    def repeat(self, times):
        return Tensor(np.tile(self.data, times))

    def clamp(self, min=None):
        return Tensor(np.maximum(self.data, min))

    def argmax(self, dim):
        return Tensor(self.data.argmax(axis=dim))

    def pow(self, exponent):
        return Tensor(self.data**exponent)

    def sqrt(self):
        return Tensor(np.sqrt(self.data))

    def sum(self, dim=None):
        shape = self.shape
        if dim is None:
            return Tensor(self.data.sum(), (self,), lambda g: [np.broadcast_to(g, shape)])
        return Tensor(self.data.sum(axis=dim), (self,), lambda g: [np.broadcast_to(np.expand_dims(g, dim), shape)])

    def __getitem__(self, index):
        if isinstance(index, tuple):
            index = tuple(_data(i) if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = _data(index)
        shape = self.shape

        def backward(g):
            out = np.zeros(shape, dtype=g.dtype)
            np.add.at(out, index, g)
            return [out]

        out = Tensor(self.data[index], (self,), backward)
        out._view_of = (self, index)
        return out

    def __setitem__(self, index, value):
        self.data[index] = _data(value)

    # In-place operations keep the dtype and write through views, as PyTorch's do.
    def _assign(self, value):
        value = np.asarray(value).astype(self.data.dtype)
        if self._view_of is not None:
            base, index = self._view_of
            base.data[index] = value
            self.data = base.data[index]
        else:
            self.data = value
        return self

    def mul_(self, other):
        return self._assign(self.data * _data(other))

    def add_(self, other):
        return self._assign(self.data + _data(other))

    def sub_(self, other):
        return self._assign(self.data - _data(other))

    def sqrt_(self):
        return self._assign(np.sqrt(self.data))

    def addcmul_(self, a, b):
        return self._assign(self.data + _data(a) * _data(b))

    def copy_(self, other):
        return self._assign(np.broadcast_to(_data(other), self.shape))

    def zero_(self):
        return self._assign(np.zeros_like(self.data))

    def __iadd__(self, other):
        return self._assign(self.data + _data(other))

    def _binary(self, other, forward, grad_self, grad_other):
        a, b = self.data, _data(other)
        parents = (self, other) if isinstance(other, Tensor) else (self,)

        def backward(g):
            grads = [_unbroadcast(grad_self(g, a, b), a.shape)]
            if isinstance(other, Tensor):
                grads.append(_unbroadcast(grad_other(g, a, b), b.shape))
            return grads

        return Tensor(forward(a, b), parents, backward)

    def __mul__(self, other):
        return self._binary(other, lambda a, b: a * b, lambda g, a, b: g * b, lambda g, a, b: g * a)

    __rmul__ = __mul__

    def __add__(self, other):
        return self._binary(other, lambda a, b: a + b, lambda g, a, b: g, lambda g, a, b: g)

    __radd__ = __add__

    def __sub__(self, other):
        return self._binary(other, lambda a, b: a - b, lambda g, a, b: g, lambda g, a, b: -g)

    def __truediv__(self, other):
        return self._binary(other, lambda a, b: a / b, lambda g, a, b: g / b, lambda g, a, b: -g * a / (b * b))

    def __rsub__(self, other):
        return Tensor(_data(other) - self.data)

    def __rtruediv__(self, other):
        return Tensor(_data(other) / self.data)

    def __pow__(self, other):
        return Tensor(self.data ** _data(other))

    def __rpow__(self, other):
        return Tensor(_data(other) ** self.data)

    def __neg__(self):
        return Tensor(-self.data)

    def __eq__(self, other):
        return Tensor(self.data == _data(other))

    __hash__ = object.__hash__

    def backward(self):
        order, seen = [], set()

        def visit(t):
            if id(t) in seen:
                return
            seen.add(id(t))
            for p in t._parents:
                visit(p)
            order.append(t)

        visit(self)
        grads = {id(self): np.ones_like(self.data)}
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if not t._parents:
                if t.requires_grad:
                    t.grad = Tensor(g if t.grad is None else t.grad.data + g)
                continue
            for parent, pg in zip(t._parents, t._backward(g)):
                if parent.requires_grad:
                    grads[id(parent)] = grads.get(id(parent), 0) + pg


def as_tensor(x, dtype=None, device=None):
    a = np.asarray(x)
    return Tensor(a.astype(dtype) if dtype is not None else a)


def tensor(x, dtype=None, device=None):
    return as_tensor(x, dtype)


def zeros(n, dtype=np.float32, device=None):
    return Tensor(np.zeros(n, dtype=dtype))


def ones(n, dtype=np.float32, device=None):
    return Tensor(np.ones(n, dtype=dtype))


def zeros_like(t):
    return Tensor(np.zeros_like(t.data))


def stack(tensors):
    return Tensor(np.stack([t.data for t in tensors]))


def relu(x):
    return Tensor(np.maximum(x.data, 0), (x,), lambda g: [g * (x.data > 0)])


def cat(tensors, dim):
    sizes = [t.shape[dim] for t in tensors]
    return Tensor(
        np.concatenate([t.data for t in tensors], axis=dim),
        tuple(tensors),
        lambda g: np.split(g, np.cumsum(sizes)[:-1], axis=dim),
    )


def baddbmm(bias, batch1, batch2):
    def backward(g):
        return [
            _unbroadcast(g, bias.shape),
            g @ batch2.data.transpose(0, 2, 1),
            batch1.data.transpose(0, 2, 1) @ g,
        ]

    return Tensor(bias.data + batch1.data @ batch2.data, (bias, batch1, batch2), backward)
