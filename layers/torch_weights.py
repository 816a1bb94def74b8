"""The built-in layers' weights in PyTorch's layout: names, gate order and biases.

PyTorch's ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` keep, for stack layer k (and ``_reverse``
for the backward direction of a bidirectional layer), ``weight_ih_lk`` (gates*units, input),
``weight_hh_lk`` (gates*units, units), ``bias_ih_lk`` and ``bias_hh_lk`` (gates*units,).
Keras keeps the transposes, ``kernel`` and ``recurrent_kernel``, with the gate blocks in its
own order, and one bias: PyTorch's two biases add up to it, except in a GRU with
``reset_after=True``, whose bias (2, 3 units) holds both as rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from layers.module import assign_checked
from minigrad.serialize import entry_problems


@dataclass(frozen=True)
class TorchLayout:
    """How a built-in cell's weights map to its PyTorch counterpart's."""

    gate_order: tuple[int, ...]  # PyTorch's gate blocks, as indices into Keras's
    two_biases: bool  # Keras's bias holds PyTorch's bias_ih and bias_hh as its two rows


# each built-in cell's PyTorch counterpart, by its name (a cell's ``torch_name()``)
TORCH_LAYOUTS = {
    "RNN": TorchLayout(gate_order=(0,), two_biases=False),
    "LSTM": TorchLayout(gate_order=(0, 1, 2, 3), two_biases=False),  # i, f, g, o is Keras's i, f, c, o
    "GRU": TorchLayout(gate_order=(1, 0, 2), two_biases=True),  # r, z, n from Keras's z, r, h
}
# PyTorch's name of each weight and Keras's name of its transpose
TORCH_NAMES = {"weight_ih": "kernel", "weight_hh": "recurrent_kernel"}
# a PyTorch recurrent weight of any stack layer and direction
TORCH_NAME = re.compile(r"(weight|bias)_(ih|hh)_l\d+(_reverse)?")


def torch_state_dict(layer: Any, stack_layer: int = 0, reverse: bool = False) -> dict[str, np.ndarray]:
    """The built layer's weights as numpy arrays under PyTorch's names, in PyTorch's order."""
    cell, end = layer.cell, _suffix(stack_layer, reverse)
    if not cell.built:
        raise ValueError(
            f"{type(layer).__name__}.torch_state_dict: the layer is not built yet; call it on an "
            "input or give input_size"
        )
    layout = _layout(layer)
    out = {
        f"{torch}{end}": _torch_blocks(layout, getattr(cell, keras).data).T.copy()
        for torch, keras in TORCH_NAMES.items()
    }
    if cell.use_bias:
        bias = cell.bias.data
        bias_ih, bias_hh = (bias[0], bias[1]) if layout.two_biases else (bias, np.zeros_like(bias))
        out[f"bias_ih{end}"] = _torch_blocks(layout, bias_ih).copy()
        out[f"bias_hh{end}"] = _torch_blocks(layout, bias_hh).copy()
    return out


def keras_weights(
    layer: Any, state: Mapping[str, Any], stack_layer: int = 0, reverse: bool = False
) -> tuple[int, dict[str, np.ndarray]]:
    """Check PyTorch's entries for this layer and turn them into Keras's layout, changing
    nothing: (input size, {"kernel": ..., "recurrent_kernel": ..., "bias": ...}).  Entries of
    the other stack layers and direction are left for them; anything else unexpected, missing
    or mis-shaped is a ValueError."""
    cell, name, end = layer.cell, type(layer).__name__, _suffix(stack_layer, reverse)
    layout = _layout(layer)
    input_size = cell.input_size
    if input_size is None and np.ndim(state.get(f"weight_ih{end}")) == 2:
        input_size = np.shape(state[f"weight_ih{end}"])[1]
    if input_size is None:
        raise ValueError(f"{name}.load_torch_state_dict: no 2-D weight_ih{end} to take the input size from")
    width = cell.gates * cell.units
    expected = {f"weight_ih{end}": (width, input_size), f"weight_hh{end}": (width, cell.units)}
    if cell.use_bias:
        expected.update({f"bias_ih{end}": (width,), f"bias_hh{end}": (width,)})
    own = {k: v for k, v in state.items() if k in expected or not TORCH_NAME.fullmatch(k)}
    problems = entry_problems(expected, own)
    if problems:
        raise ValueError(f"{name}: cannot load PyTorch weights: " + "; ".join(problems))
    arrays = {
        k.removesuffix(end): _keras_blocks(layout, np.asarray(state[k], dtype=cell.dtype)) for k in expected
    }
    values = {keras: arrays[torch].T for torch, keras in TORCH_NAMES.items()}
    if cell.use_bias:
        bias_ih, bias_hh = arrays["bias_ih"], arrays["bias_hh"]
        values["bias"] = np.stack([bias_ih, bias_hh]) if layout.two_biases else bias_ih + bias_hh
    return input_size, values


def set_keras_weights(layer: Any, input_size: int, values: dict[str, np.ndarray]) -> None:
    """Build the layer's cell if it is not yet, and copy in what ``keras_weights`` returned."""
    if not layer.cell.built:
        layer.cell.build(input_size)
    assign_checked(dict(layer.cell.named_parameters()), values, type(layer).__name__)


def _layout(layer: Any) -> TorchLayout:
    """The layout of the layer's cell (``torch_name()`` is a ValueError for a cell that has
    no PyTorch counterpart)."""
    return TORCH_LAYOUTS[layer.cell.torch_name()]


def _torch_blocks(layout: TorchLayout, w: np.ndarray) -> np.ndarray:
    """Reorder the gate blocks of the last axis from Keras's order to PyTorch's."""
    u = w.shape[-1] // len(layout.gate_order)
    return np.concatenate([w[..., k * u : (k + 1) * u] for k in layout.gate_order], -1)


def _keras_blocks(layout: TorchLayout, w: np.ndarray) -> np.ndarray:
    """The inverse of ``_torch_blocks``, on the first axis (PyTorch's gate axis)."""
    order = layout.gate_order
    u = w.shape[0] // len(order)
    return np.concatenate([w[order.index(k) * u : (order.index(k) + 1) * u] for k in range(len(order))], 0)


def _suffix(stack_layer: int, reverse: bool) -> str:
    if isinstance(stack_layer, bool) or not isinstance(stack_layer, (int, np.integer)) or stack_layer < 0:
        raise ValueError(f"the layer index must be an integer >= 0, got {stack_layer!r}")
    return f"_l{stack_layer}" + ("_reverse" if reverse else "")
