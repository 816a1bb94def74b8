"""Dense: y = activation(x @ kernel + bias)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers import activations
from layers.module import Module, positive_int
from minigrad import Tensor, init


def as_float_input(x: Any, dtype: np.dtype, owner: str) -> Tensor:
    """``x`` as a Tensor of the layer's dtype; integer ids or another float type are errors."""
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if array.dtype.kind not in "f":
        raise ValueError(
            f"{owner}: expected float input, got an array of dtype {array.dtype}"
            + (" (integer ids go through an Embedding first)" if array.dtype.kind in "iub" else "")
        )
    if array.dtype != dtype:  # checked before a Tensor is made: that would turn float16 into float64
        raise ValueError(
            f"{owner}: expected {np.dtype(dtype)} input (the layer's dtype), got {array.dtype}; "
            "convert the input or build the layer with a matching dtype"
        )
    return x if isinstance(x, Tensor) else Tensor(array)


def float_dtype(owner: str, dtype: Any) -> np.dtype:
    """``dtype`` as a numpy dtype, or a ValueError unless it is float32 or float64 (an integer
    table would hold the initial weights rounded to zeros; Tensors hold float32 or float64)."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if checked is None or checked.type not in (np.float32, np.float64):
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {dtype!r}")
    return checked


class Dense(Module):
    """A fully connected layer.

    x : (..., input_size) -> (..., units)

    Parameters
    ----------
    units : int
        Outputs per input.
    activation : str or callable, optional
        Applied to x @ kernel + bias ("tanh", "sigmoid", "relu", "softmax", "linear"); None
        is linear.
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str or callable
        Keras's names; by default "glorot_uniform" and "zeros".
    input_size : int, optional
        Features per input: build the weights now rather than at the first call.
    dtype : float32 or float64, default float64
    """

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation | None = None,
        use_bias: bool = True,
        kernel_initializer: str | init.Initializer = "glorot_uniform",
        bias_initializer: str | init.Initializer = "zeros",
        input_size: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.units = positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = init.get(kernel_initializer)
        self.bias_initializer = init.get(bias_initializer)
        self.dtype = float_dtype("Dense", dtype)
        self.input_size: int | None = None
        if input_size is not None:
            self.build(input_size)

    @property
    def built(self) -> bool:
        return self.input_size is not None

    def build(self, input_size: int) -> None:
        """Create the weights for inputs of ``input_size`` features."""
        input_size = positive_int("Dense", "input_size", input_size)
        self.input_size = input_size
        self.kernel = Tensor(
            self.kernel_initializer((input_size, self.units), self.dtype), requires_grad=True
        )
        if self.use_bias:
            self.bias = Tensor(self.bias_initializer((self.units,), self.dtype), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        x = as_float_input(x, self.dtype, "Dense")
        if x.ndim < 1:
            raise ValueError("Dense: expected input of shape (..., features), got a scalar")
        if self.input_size is None:
            self.build(x.shape[-1])
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"Dense: expected input with {self.input_size} features in the last axis, got shape {x.shape}"
            )
        if x.ndim > 2:  # one product over every leading axis: (n, in) @ (in, units) is one
            # BLAS call forward and backward, where a stack of matrices is one call per matrix
            y = (x.reshape(-1, self.input_size) @ self.kernel).reshape(*x.shape[:-1], self.units)
        else:
            y = x @ self.kernel
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)
