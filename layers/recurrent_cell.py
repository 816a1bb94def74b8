"""What the built-in cells (SimpleRNNCell, LSTMCell, GRUCell) share.

A cell's ``step`` is its formulas in minigrad's primitive ops: the readable reference.  Its
weights are in Keras's layout: ``kernel`` (input_size, gates*units), ``recurrent_kernel``
(units, gates*units) and ``bias``.

A cell also owns how it runs over a whole sequence (``run_sequence``, which ``layers.RNN``
calls): it draws its dropout masks, then runs either the op of ``layers.fused`` it names in
``fused_op`` (BPTT written out by hand in compiled loops) or its ``step`` unrolled over time
(BPTT is plain reverse mode over the unrolled graph), as ``impl`` says.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from layers import activations
from layers.dense import as_float_input
from layers.fused import CODES, FusedRecurrence
from layers.module import Module, float_dtype, positive_int
from layers.options import CELL, bind, takes_options
from layers.rnn import checked_states, unroll
from minigrad import Tensor, init
from minigrad.functional import dropout_mask

IMPLS = ("auto", "autograd", "fused")


@takes_options(CELL)
class RecurrentCell(Module):
    """One time step of a built-in recurrent layer (subclasses define ``gates``, ``step`` and
    ``fused_op``).

    Parameters live in Keras's layout: ``kernel`` (input_size, gates*units),
    ``recurrent_kernel`` (units, gates*units), ``bias`` (gates*units,).
    """

    gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(RecurrentCell, self, args, kwargs))

    def configure(
        self,
        units: int,
        activation: str | activations.Activation,
        use_bias: bool,
        kernel_initializer: str | init.Initializer,
        recurrent_initializer: str | init.Initializer,
        bias_initializer: str | init.Initializer,
        dropout: float,
        recurrent_dropout: float,
        input_size: int | None,
        impl: str,
        dtype: Any,
    ) -> None:
        """Take the options (see ``layers.options``), checked."""
        name = type(self).__name__
        for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name}: {label} must be in [0, 1), got {rate}")
        self.units = positive_int(name, "units", units)
        self.activation_name = activation if isinstance(activation, str) else None
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = init.get(kernel_initializer)
        self.recurrent_initializer = init.get(recurrent_initializer)
        self.bias_initializer = init.get(bias_initializer)
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.dtype = float_dtype(name, dtype)
        self.impl = impl
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

    def with_bias(self, z: Tensor) -> Tensor:
        """z + b, or z itself when ``use_bias=False``."""
        return z + self.bias if self.use_bias else z

    def gate(self, z: Tensor, k: int) -> Tensor:
        """The k-th block of ``units`` columns of a (batch, gates*units) pre-activation."""
        return z[:, k * self.units : (k + 1) * self.units]

    def step(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """The formulas of one step: x (batch, input_size), states each (batch, units), and
        h_fed_back (batch, units), the state h as it enters the recurrent product (after
        recurrent dropout; by default h itself) -> (output, new states)."""
        raise NotImplementedError

    def forward(self, x: Any, states: Any) -> tuple[Tensor, list[Tensor]]:
        """Keras's ``cell(inputs, states)``: one step, x (batch, features) and one (batch,
        units) state each in ``state_names``, returning (output, new states).  Checked before
        the first call builds the weights."""
        name = type(self).__name__
        if self.dropout or self.recurrent_dropout:
            raise ValueError(
                f"{name}: dropout draws one mask per sequence, which a call of one step does not "
                "have; run the cell over sequences in layers.RNN, or make it with dropout=0"
            )
        x = as_float_input(x, self.dtype, name)
        if x.ndim != 2:
            raise ValueError(f"{name}: expected input of shape (batch, features), got {x.shape}")
        if self.input_size is not None and x.shape[1] != self.input_size:
            raise ValueError(f"{name}: expected {self.input_size} features, got shape {x.shape}")
        sizes = [self.units] * len(self.state_names)
        nouns = ("states", "state")
        states = checked_states(name, states, self.state_names, sizes, x.shape[0], self.dtype, nouns)
        if self.input_size is None:
            self.build(x.shape[1])
        return self.step(x, states)

    # --- a whole sequence, for layers.RNN ---
    def run_sequence(
        self, x: Tensor, states: list[Tensor], mask: np.ndarray | None, training: bool
    ) -> tuple[Tensor, list[Tensor]]:
        """x (batch, time, features) in reading order, a masked step's input already zeros;
        states each (batch, units); mask (batch, time) or None -> (outputs (batch, time,
        units), final states).  Dropout, then the fused op or the unrolled steps."""
        x, recurrent_mask = self.dropout_masks(x, training)
        fused = None if self.impl == "autograd" else self.fused_call()
        if fused is None:
            return unroll(self.dropped_step(recurrent_mask), x, states, mask, self.units)
        op, activation_names = fused
        outputs, *final = op.apply(
            x, *states, *self.fused_weights(), mask=mask, recurrent_mask=recurrent_mask, **activation_names
        )
        return outputs, final

    def dropout_masks(self, x: Tensor, training: bool) -> tuple[Tensor, np.ndarray | None]:
        """x with its input dropout applied, and the recurrent dropout mask (batch, units) or
        None: one mask of each per sequence, shared by every step, drawn in training only."""
        batch, _, features = x.shape
        if training and self.dropout > 0:
            x = x * dropout_mask((batch, 1, features), self.dropout, self.dtype)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = dropout_mask((batch, self.units), self.recurrent_dropout, self.dtype)
        return x, recurrent_mask

    def dropped_step(self, recurrent_mask: np.ndarray | None) -> Any:
        """``step`` as a function of (x, states), with h fed back through the recurrent mask."""
        if recurrent_mask is None:
            return self.step
        return lambda x, states: self.step(x, states, states[0] * recurrent_mask)

    # --- the fused op this cell names ---
    @property
    def impl(self) -> str:
        """The path this cell runs on, "auto", "autograd" or "fused" (see ``layers.options``)."""
        return self._impl

    @impl.setter
    def impl(self, impl: str) -> None:
        name = type(self).__name__
        if impl not in IMPLS:
            raise ValueError(f"{name}: impl must be one of {IMPLS}, got {impl!r}")
        if impl == "fused" and self.fused_call() is None:
            raise ValueError(
                f"{name}: impl='fused' needs named activations {sorted(CODES)}; "
                "use impl='autograd' for a callable"
            )
        self._impl = impl

    def fused_op(self) -> type[FusedRecurrence] | None:
        """The op of ``layers.fused`` that computes this cell's formulas over a whole sequence,
        or None.  It is called as ``op.apply(x, *states, kernel, recurrent_kernel, bias,
        mask=..., recurrent_mask=..., **fused_activations())``, the weights from
        ``fused_weights()``."""
        return None

    def fused_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """kernel, recurrent_kernel and bias (zeros without use_bias), as the fused op takes them."""
        return self.kernel, self.recurrent_kernel, self.bias_or_zeros()

    def fused_activations(self) -> dict[str, str] | None:
        """The activations by name, as the fused op takes them, or None where one has no code
        in the kernels (a function of one's own)."""
        named = {"activation": self.activation_name}
        return named if all(name in CODES for name in named.values()) else None

    def fused_call(self) -> tuple[type[FusedRecurrence], dict[str, str]] | None:
        """(op, activations by name) where this cell can run fused, else None."""
        op, named = self.fused_op(), self.fused_activations()
        return None if op is None or named is None else (op, named)


class GatedCell(RecurrentCell):
    """A cell whose gates use a second activation, ``recurrent_activation`` (LSTM, GRU)."""

    def configure(
        self, units: int, recurrent_activation: str | activations.Activation, **options: Any
    ) -> None:
        self.recurrent_activation_name = (
            recurrent_activation if isinstance(recurrent_activation, str) else None
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        super().configure(units, **options)

    def fused_activations(self) -> dict[str, str] | None:
        named = super().fused_activations()
        if named is None or self.recurrent_activation_name not in CODES:
            return None
        return {**named, "recurrent_activation": self.recurrent_activation_name}
