"""What SimpleRNN, LSTM and GRU share.

* ``RecurrentCell``: one time step, with Keras's weights ``kernel`` (input, gates*units),
  ``recurrent_kernel`` (units, gates*units) and ``bias``.  Each cell's ``step`` is written in
  minigrad primitives; it is the readable reference.
* ``Recurrent``: the layer.  It checks its input, applies dropout, reverses the sequence for
  ``go_backwards``, runs the sequence either by unrolling the cell (``impl="autograd"``: BPTT
  is plain reverse mode over the unrolled graph) or as one op of ``layers.fused``
  (``impl="fused"``: BPTT written out by hand in compiled loops), applies the mask, keeps
  the states of a stateful layer and returns what Keras returns.  It also converts weights
  to and from PyTorch's layout.

Masks: at a time step whose mask is False a sample keeps its previous states and repeats
its previous output (zeros before its first unmasked step), as Keras does.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from layers import activations
from layers.dense import as_float_input
from layers.fused import CODES, fused_op
from layers.module import Module, assign_checked, float_dtype, positive_int
from layers.rnn import RNN, checked_states
from minigrad import Tensor, init
from minigrad.serialize import entry_problems

IMPLS = ("auto", "autograd", "fused")

# Every recurrent layer's options, for the docstrings (see ``document_options``).
RECURRENT_OPTIONS = """\
    units : int
        The size of the state and of each step's output.
    activation : str or callable, default "tanh"
        Applied to the candidate state ("tanh", "sigmoid", "relu", "linear", or a function).
    use_bias : bool, default True
    kernel_initializer, recurrent_initializer, bias_initializer : str or callable
        Keras's names; by default "glorot_uniform", "orthogonal" and "zeros".
    dropout : float in [0, 1), default 0
        Fraction of the input features dropped in training, one mask per sequence.
    recurrent_dropout : float in [0, 1), default 0
        Fraction of the state fed back that is dropped in training, one mask per sequence.
    return_sequences : bool, default False
        Return every step's output, (batch, time, units), not only the last, (batch, units).
    return_state : bool, default False
        Return the list [output, *final states].
    go_backwards : bool, default False
        Read each sequence from its end; the outputs stay in that reversed order.
    stateful : bool, default False
        Start each call from the final states of the call before (``reset_states()`` forgets
        them); the graph is not carried over, so training on chunks is truncated BPTT.
    zero_output_for_mask : bool, default False
        A masked step outputs zeros instead of repeating the output before it (Keras's option).
    unroll : bool, default False
        Keras's speed option, accepted for compatibility; the numbers are the same either way.
    input_size : int, optional
        Features per step: build the weights now rather than at the first call.
    impl : "auto", "autograd" or "fused", default "auto"
        "autograd" unrolls the cell's primitive ops; "fused" runs the whole sequence as one
        op of ``layers.fused`` (BPTT written by hand, the time loop compiled); "auto" is
        "fused" when the activations are named ones (and, for a GRU, reset_after=True).
    dtype : float32 or float64, default float64
"""


def document_options(own: str = "") -> Any:
    """Class decorator for a recurrent layer: its docstring lists ``own`` options then every
    option of ``Recurrent``, and ``help()`` shows them all in the signature (instead of
    ``**options``), each after the layer's own as keyword-only."""

    def decorate(cls: type) -> type:
        cls.__doc__ = f"{cls.__doc__.rstrip()}\n\n    Parameters\n    ----------\n{RECURRENT_OPTIONS}{own}"
        signature = inspect.signature(cls.__init__)
        params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        names = {p.name for p in params}
        params += [
            p.replace(kind=p.KEYWORD_ONLY)
            for p in inspect.signature(Recurrent.__init__).parameters.values()
            if p.name not in names and p.kind is not p.VAR_KEYWORD
        ]
        cls.__init__.__signature__ = signature.replace(parameters=params)
        return cls

    return decorate


class RecurrentCell(Module):
    """One time step of a recurrent layer (subclasses define ``gates`` and ``step``).

    Parameters live in Keras's layout: ``kernel`` (input_size, gates*units),
    ``recurrent_kernel`` (units, gates*units), ``bias`` (gates*units,).
    """

    gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation = "tanh",
        use_bias: bool = True,
        kernel_initializer: str | init.Initializer = "glorot_uniform",
        recurrent_initializer: str | init.Initializer = "orthogonal",
        bias_initializer: str | init.Initializer = "zeros",
        input_size: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.units = positive_int(type(self).__name__, "units", units)
        self.activation_name = activation if isinstance(activation, str) else None
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = init.get(kernel_initializer)
        self.recurrent_initializer = init.get(recurrent_initializer)
        self.bias_initializer = init.get(bias_initializer)
        self.dtype = float_dtype(type(self).__name__, dtype)
        self.input_size: int | None = None
        if input_size is not None:
            self.build(input_size)

    @property
    def state_size(self) -> int | list[int]:
        """Keras's: the units for one state, a list of them for several (LSTM's h and c)."""
        return self.units if len(self.state_names) == 1 else [self.units] * len(self.state_names)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    @property
    def built(self) -> bool:
        return self.input_size is not None

    def build(self, input_size: int) -> None:
        """Create the weights for inputs of ``input_size`` features."""
        width = self.gates * self.units
        input_size = positive_int(type(self).__name__, "input_size", input_size)
        self.input_size = input_size
        self.kernel = Tensor(self.kernel_initializer((input_size, width), self.dtype), requires_grad=True)
        self.recurrent_kernel = Tensor(
            self.recurrent_initializer((self.units, width), self.dtype), requires_grad=True
        )
        if self.use_bias:
            self.bias = Tensor(self.initial_bias(), requires_grad=True)

    def initial_bias(self) -> np.ndarray:
        return self.bias_initializer(self.bias_shape, self.dtype)

    def bias_or_zeros(self) -> Tensor:
        """The bias, or a constant zero bias when ``use_bias=False``."""
        return self.bias if self.use_bias else Tensor(np.zeros(self.bias_shape, self.dtype))

    def gate(self, z: Tensor, k: int) -> Tensor:
        """The k-th block of ``units`` columns of a (batch, gates*units) pre-activation."""
        return z[:, k * self.units : (k + 1) * self.units]

    def step(
        self, x: Tensor, states: list[Tensor], recurrent_mask: np.ndarray | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """x : (batch, input_size), states : each (batch, units) -> (output, new states)."""
        raise NotImplementedError

    def forward(self, x: Any, states: Any) -> tuple[Tensor, list[Tensor]]:
        """Keras's ``cell(inputs, states)``: one step, x (batch, features) and one (batch,
        units) state each in ``state_names``, returning (output, new states).  Checked before
        the first call builds the weights."""
        name = type(self).__name__
        x = as_float_input(x, self.dtype, name)
        if x.ndim != 2:
            raise ValueError(f"{name}: expected input of shape (batch, features), got {x.shape}")
        if self.input_size is not None and x.shape[1] != self.input_size:
            raise ValueError(f"{name}: expected {self.input_size} features, got shape {x.shape}")
        sizes = [self.units] * len(self.state_names)
        states = checked_states(name, states, self.state_names, sizes, x.shape[0], self.dtype,
                                ("states", "state"))  # fmt: skip
        if self.input_size is None:
            self.build(x.shape[1])
        return self.step(x, states)


class GatedCell(RecurrentCell):
    """A cell whose gates use a second activation, ``recurrent_activation`` (LSTM, GRU)."""

    def __init__(
        self, units: int, recurrent_activation: str | activations.Activation = "sigmoid", **options: Any
    ) -> None:
        self.recurrent_activation_name = (
            recurrent_activation if isinstance(recurrent_activation, str) else None
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        super().__init__(units, **options)


class Recurrent(RNN):
    """A recurrent layer that builds its cell from Keras's options (SimpleRNN, LSTM and GRU).

    x : (batch, time, features) -> (batch, time, units) with ``return_sequences``, else
    (batch, units); with ``return_state``, the list [output, *final states].
    """

    cell_class: ClassVar[type[RecurrentCell]]
    # PyTorch's gate blocks, as indices into Keras's gate blocks
    torch_gate_order: ClassVar[tuple[int, ...]] = (0,)

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation = "tanh",
        use_bias: bool = True,
        kernel_initializer: str | init.Initializer = "glorot_uniform",
        recurrent_initializer: str | init.Initializer = "orthogonal",
        bias_initializer: str | init.Initializer = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        zero_output_for_mask: bool = False,
        unroll: bool = False,
        input_size: int | None = None,
        impl: str = "auto",
        dtype: Any = np.float64,
        **cell_options: Any,
    ) -> None:
        name = type(self).__name__
        for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name}: {label} must be in [0, 1), got {rate}")
        if impl not in IMPLS:
            raise ValueError(f"{name}: impl must be one of {IMPLS}, got {impl!r}")
        cell = self.cell_class(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            input_size=input_size,
            dtype=dtype,
            **cell_options,
        )
        if impl == "fused" and fused_op(cell) is None:
            raise ValueError(
                f"{name}: impl='fused' needs named activations {sorted(CODES)} (and, for a GRU, "
                "reset_after=True); use impl='autograd' for a callable"
            )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         zero_output_for_mask=zero_output_for_mask)  # fmt: skip
        self.units = cell.units
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.unroll = unroll  # Keras's speed option; this layer always computes the same numbers
        self.impl = impl

    # PyTorch's layout
    def _torch_blocks(self, w: np.ndarray) -> np.ndarray:
        """Reorder the gate blocks of the last axis from Keras's order to PyTorch's."""
        u = self.units
        return np.concatenate([w[..., k * u : (k + 1) * u] for k in self.torch_gate_order], -1)

    def _keras_blocks(self, w: np.ndarray) -> np.ndarray:
        """The inverse of ``_torch_blocks``."""
        u, order = self.units, self.torch_gate_order
        return np.concatenate(
            [w[..., order.index(k) * u : (order.index(k) + 1) * u] for k in range(len(order))], -1
        )

    def _torch_biases(self, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bias_ih, bias_hh) in Keras's gate order: Keras's one bias goes to bias_ih."""
        return bias, np.zeros_like(bias)

    def _keras_bias(self, bias_ih: np.ndarray, bias_hh: np.ndarray) -> np.ndarray:
        return bias_ih + bias_hh

    def torch_state_dict(self, layer: int = 0, reverse: bool = False) -> dict[str, np.ndarray]:
        """The weights as numpy arrays under PyTorch's names, in PyTorch's gate order.

        ``layer`` is the index in a stack (PyTorch's ``num_layers``: names end in ``_l{layer}``)
        and ``reverse`` names the backward direction of a bidirectional layer (``_reverse``).
        """
        cell, end = self._built_cell("torch_state_dict"), _torch_suffix(layer, reverse)
        out = {
            f"weight_ih{end}": self._torch_blocks(cell.kernel.data).T.copy(),
            f"weight_hh{end}": self._torch_blocks(cell.recurrent_kernel.data).T.copy(),
        }
        if cell.use_bias:
            bias_ih, bias_hh = self._torch_biases(cell.bias.data)
            out[f"bias_ih{end}"] = self._torch_blocks(bias_ih).copy()
            out[f"bias_hh{end}"] = self._torch_blocks(bias_hh).copy()
        return out

    def load_torch_state_dict(self, state: Mapping[str, Any], layer: int = 0, reverse: bool = False) -> None:
        """Load PyTorch's ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``
        (numpy arrays or anything array-like), or those of stack layer ``layer`` and of the
        ``reverse`` direction.  Entries of the other layers and direction of a PyTorch state
        dict are left for them; anything else unexpected, missing or mis-shaped is a
        ValueError that changes nothing.  An unbuilt layer takes its input size from
        ``weight_ih``, and builds only once every check has passed."""
        self._set_torch_weights(*self._torch_weights(state, layer, reverse))

    def _torch_weights(
        self, state: Mapping[str, Any], layer: int, reverse: bool
    ) -> tuple[int, dict[str, np.ndarray]]:
        """Check PyTorch's entries for this layer and turn them into Keras's layout, changing
        nothing: (input size, {"kernel": ..., "recurrent_kernel": ..., "bias": ...})."""
        cell, name, end = self.cell, type(self).__name__, _torch_suffix(layer, reverse)
        input_size = cell.input_size
        if input_size is None and np.ndim(state.get(f"weight_ih{end}")) == 2:
            input_size = np.shape(state[f"weight_ih{end}"])[1]
        if input_size is None:
            raise ValueError(
                f"{name}.load_torch_state_dict: no 2-D weight_ih{end} to take the input size from"
            )
        width = cell.gates * self.units
        expected = {f"weight_ih{end}": (width, input_size), f"weight_hh{end}": (width, self.units)}
        if cell.use_bias:
            expected.update({f"bias_ih{end}": (width,), f"bias_hh{end}": (width,)})
        own = {k: v for k, v in state.items() if k in expected or not TORCH_NAME.fullmatch(k)}
        problems = entry_problems(expected, own)
        if problems:
            raise ValueError(f"{name}: cannot load PyTorch weights: " + "; ".join(problems))
        arrays = {k.removesuffix(end): np.asarray(state[k], dtype=self.dtype) for k in expected}
        values = {
            "kernel": self._keras_blocks(arrays["weight_ih"].T),
            "recurrent_kernel": self._keras_blocks(arrays["weight_hh"].T),
        }
        if cell.use_bias:
            values["bias"] = self._keras_bias(
                self._keras_blocks(arrays["bias_ih"]), self._keras_blocks(arrays["bias_hh"])
            )
        return input_size, values

    def _set_torch_weights(self, input_size: int, values: dict[str, np.ndarray]) -> None:
        """Build the cell if it is not yet, and copy in what ``_torch_weights`` returned."""
        if not self.cell.built:
            self.cell.build(input_size)
        assign_checked(dict(self.cell.named_parameters()), values, type(self).__name__)

    def _built_cell(self, what: str) -> RecurrentCell:
        if not self.cell.built:
            raise ValueError(
                f"{type(self).__name__}.{what}: the layer is not built yet; call it on an input "
                "or give input_size"
            )
        return self.cell


# a PyTorch recurrent weight of any stack layer and direction
TORCH_NAME = re.compile(r"(weight|bias)_(ih|hh)_l\d+(_reverse)?")


def _torch_suffix(layer: int, reverse: bool) -> str:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or layer < 0:
        raise ValueError(f"the layer index must be an integer >= 0, got {layer!r}")
    return f"_l{layer}" + ("_reverse" if reverse else "")
