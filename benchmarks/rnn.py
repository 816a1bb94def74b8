"""The fused recurrent layers against PyTorch's: SimpleRNN / nn.RNN, LSTM / nn.LSTM, GRU / nn.GRU.

One layer, ``return_sequences=True`` (batch_first), the same weights in both libraries,
input (batch, time, features).  Two phases:

* ``forward``: the forward pass alone, no graph (``mg.no_grad()`` / ``torch.no_grad()``);
* ``train``: forward, backward of the sum of the outputs, every gradient read (parameters
  and input), gradients cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import layers
import minigrad as mg

SIZES = [(50, 32, 64, 128), (100, 16, 32, 64), (20, 64, 128, 256), (1000, 8, 32, 64)]
QUICK_SIZES = [(10, 4, 8, 16)]
DTYPES = ["float32", "float64"]
KINDS = {
    "SimpleRNN": (layers.SimpleRNN, torch.nn.RNN),
    "LSTM": (layers.LSTM, torch.nn.LSTM),
    "GRU": (layers.GRU, torch.nn.GRU),
}
Phases = dict[str, Callable[[], None]]


def make_layer(kind: str, impl: str, size: tuple[int, ...], dtype: str) -> Any:
    """minigrad's layer, seeded: (time, batch, features, units) = size."""
    _, _, features, units = size
    mg.manual_seed(0)
    return KINDS[kind][0](units, return_sequences=True, input_size=features, impl=impl, dtype=dtype)


def make_input(size: tuple[int, ...], dtype: str) -> np.ndarray:
    """A (batch, time, features) input of standard normal values."""
    time_, batch, features, _ = size
    return np.random.default_rng(0).standard_normal((batch, time_, features)).astype(dtype)


def torch_layer(kind: str, ours: Any, dtype: str) -> torch.nn.Module:
    """PyTorch's layer of the same kind with ``ours``'s weights."""
    state = {k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()}
    features, units = state["weight_ih_l0"].shape[1], state["weight_hh_l0"].shape[1]
    layer = KINDS[kind][1](features, units, batch_first=True).to(getattr(torch, dtype))
    layer.load_state_dict(state)
    return layer


def minigrad_phases(layer: Any, x: np.ndarray) -> Phases:
    """The forward pass and training step of a minigrad recurrent layer on ``x``."""

    def forward() -> None:
        with mg.no_grad():
            layer(x)

    def train() -> None:
        xt = mg.Tensor(x, requires_grad=True)
        layer(xt).sum().backward()
        _ = [p.grad for p in layer.parameters()], xt.grad
        layer.zero_grad()

    return {"forward": forward, "train": train}


def torch_phases(layer: torch.nn.Module, x: np.ndarray) -> Phases:
    """The same two phases for a PyTorch recurrent layer (which returns (output, state))."""
    xt0 = torch.from_numpy(x)

    def forward() -> None:
        with torch.no_grad():
            layer(xt0)

    def train() -> None:
        xt = xt0.clone().requires_grad_()
        layer(xt)[0].sum().backward()
        _ = [p.grad.numpy() for p in layer.parameters()], xt.grad.numpy()
        layer.zero_grad()

    return {"forward": forward, "train": train}


def cases(quick: bool) -> list[dict[str, Any]]:
    """Every (kind, size, dtype) case: {"case": its name, "runs": {"minigrad", "torch"}: phases}."""
    found = []
    for size in QUICK_SIZES if quick else SIZES:
        for dtype in DTYPES:
            for kind in KINDS:
                ours = make_layer(kind, "fused", size, dtype)
                x = make_input(size, dtype)
                runs = {
                    "minigrad": minigrad_phases(ours, x),
                    "torch": torch_phases(torch_layer(kind, ours, dtype), x),
                }
                found.append({"case": f"{kind} {size} {dtype}", "runs": runs})
    return found
