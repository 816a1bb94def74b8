"""minigrad: a small reverse-mode autograd on numpy, for learning recurrent networks.

>>> import minigrad as mg
>>> x = mg.Tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([2., 4.])
"""

from minigrad import data, functional, graph, init, kernels, optim
from minigrad.factories import arange, full, ones, ones_like, tensor, zeros, zeros_like
from minigrad.function import Function
from minigrad.grad_mode import detect_anomaly, is_grad_enabled, no_grad
from minigrad.ops import concatenate, stack, where
from minigrad.random import manual_seed, rand, randn
from minigrad.serialize import load, save
from minigrad.tensor import Tensor


def cat(tensors: list, dim: int = 0) -> Tensor:
    """PyTorch's name for ``concatenate``."""
    return concatenate(tensors, axis=dim)


__version__ = "0.1.0"

__all__ = [
    "Function",
    "Tensor",
    "arange",
    "cat",
    "concatenate",
    "data",
    "detect_anomaly",
    "full",
    "functional",
    "graph",
    "init",
    "is_grad_enabled",
    "kernels",
    "load",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "save",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]
