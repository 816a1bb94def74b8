"""minigrad's autograd engine against PyTorch's eager autograd, op for op.

* ``lstm``: ``layers.LSTM(impl="autograd")`` (one Tensor op at a time, unrolled over time)
  against :func:`lstm_loop` run on PyTorch tensors, which performs the same ops in the same
  order as minigrad's LSTM cell (x_t @ W + h @ U, + b, the four gate blocks by ``chunk``,
  sigmoid / tanh, f * c + i * g, o * tanh(c), stack): the fair comparator of the two engines.  PyTorch's
  ``nn.LSTM`` (one fused op) is timed beside them.  Phases as in ``rnn.py``.
* ``op``: one op forward and backward (its output's gradient given), leaves made once:
  a (32, 64) @ (64, 128) product, tanh of (32, 128), a (32, 128) + (32, 128) sum.
* ``chain``: 10 blocks h = tanh(h @ W) * h + h on (32, 64) @ (64, 64), 40 ops, then the
  sum and backward.

The code of ``op``, ``chain`` and :func:`lstm_loop` is the same for both libraries: only
the tensor type differs.  All float32 except the LSTM, which runs in both dtypes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import rnn
import torch

import minigrad as mg

CHAIN_BLOCKS, OPS_PER_BLOCK = 10, 4
QUICK_LSTM_SIZES = [(5, 4, 8, 16)]


def lstm_loop(x: Any, h: Any, c: Any, kernel: Any, recurrent: Any, bias: Any, stack: Callable) -> Any:
    """An LSTM over x (batch, time, features) from states h, c (batch, units), in Keras's
    layout (kernel (features, 4 units), recurrent (units, 4 units), gates i, f, c, o), op
    by op on whichever tensors it is given: (batch, time, units)."""
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent
        z = z + bias
        z_i, z_f, z_c, z_o = z.chunk(4, dim=1)
        i = z_i.sigmoid()
        f = z_f.sigmoid()
        g = z_c.tanh()
        o = z_o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        outputs.append(h)
    return stack(outputs, dim=1)


def keras_weights(layer: Any) -> list[np.ndarray]:
    """[kernel, recurrent kernel, bias] of a minigrad LSTM, read from its PyTorch export."""
    state = layer.torch_state_dict()
    return [
        state["weight_ih_l0"].T.copy(),
        state["weight_hh_l0"].T.copy(),
        state["bias_ih_l0"] + state["bias_hh_l0"],
    ]


def torch_loop_phases(layer: Any, x: np.ndarray) -> rnn.Phases:
    """:func:`lstm_loop` on PyTorch tensors with ``layer``'s weights: forward and train."""
    weights = [torch.from_numpy(w).requires_grad_() for w in keras_weights(layer)]
    xt0 = torch.from_numpy(x)
    zeros = torch.zeros((x.shape[0], weights[1].shape[0]), dtype=xt0.dtype)

    def forward() -> None:
        with torch.no_grad():
            lstm_loop(xt0, zeros, zeros, *weights, torch.stack)

    def train() -> None:
        xt = xt0.clone().requires_grad_()
        lstm_loop(xt, zeros, zeros, *weights, torch.stack).sum().backward()
        _ = [w.grad.numpy() for w in weights], xt.grad.numpy()
        for w in weights:
            w.grad = None

    return {"forward": forward, "train": train}


def lstm_cases(quick: bool) -> list[dict[str, Any]]:
    """The autograd LSTM, PyTorch's eager loop of the same ops, and nn.LSTM, per size and dtype."""
    found = []
    for size in QUICK_LSTM_SIZES if quick else rnn.SIZES:
        for dtype in rnn.DTYPES:
            ours, x = rnn.make_layer("LSTM", "autograd", size, dtype), rnn.make_input(size, dtype)
            runs = {
                "minigrad": rnn.minigrad_phases(ours, x),
                "torch": torch_loop_phases(ours, x),
                "nn.LSTM": rnn.torch_phases(rnn.torch_layer("LSTM", ours, dtype), x),
            }
            found.append({"case": f"LSTM {size} {dtype}", "runs": runs})
    return found


def op_arrays(name: str) -> list[np.ndarray]:
    """The inputs of one op case, float32."""
    rng = np.random.default_rng(0)
    shapes = {
        "matmul": [(32, 64), (64, 128)],
        "tanh": [(32, 128)],
        "add": [(32, 128), (32, 128)],
        "chain": [(32, 64), (64, 64)],
    }[name]
    return [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]


def op_step(tensor: Callable[..., Any], name: str) -> Callable[[], None]:
    """One op of ``name`` (or the chain), forward and backward, in the library of ``tensor``
    (``mg.Tensor`` or ``torch.tensor``); the leaves' gradients are cleared after each step."""
    leaves = [tensor(a, requires_grad=True) for a in op_arrays(name)]
    compute = {
        "matmul": lambda a, b: a @ b,
        "tanh": lambda a: a.tanh(),
        "add": lambda a, b: a + b,
        "chain": chain,
    }[name]
    seed = tensor(np.ones(compute(*leaves).shape, np.float32)) if name != "chain" else None

    def step() -> None:
        out = compute(*leaves)
        if seed is None:
            out.sum().backward()
        else:
            out.backward(seed)
        for leaf in leaves:
            leaf.grad = None

    return step


def chain(x: Any, w: Any) -> Any:
    """CHAIN_BLOCKS blocks of h = tanh(h @ w) * h + h: OPS_PER_BLOCK ops each."""
    h = x
    for _ in range(CHAIN_BLOCKS):
        h = (h @ w).tanh() * h + h
    return h


def op_cases(quick: bool) -> list[dict[str, Any]]:
    """One op each, and the chain: {"case", "runs": {"minigrad", "torch"}: {"step"}}; small
    enough for the quick run as they are (``quick`` changes nothing)."""
    return [
        {
            "case": name,
            "runs": {
                "minigrad": {"step": op_step(mg.Tensor, name)},
                "torch": {"step": op_step(torch.tensor, name)},
            },
        }
        for name in ("matmul", "tanh", "add", "chain")
    ]
