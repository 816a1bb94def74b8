"""RNN: any cell run over a sequence, with Keras's masks, states and return conventions.

A cell is anything with ``state_size`` (an int, or a list of ints for several states) and
``cell(x, states) -> (output, new_states)`` for one step, x : (batch, features) and each
state (batch, size).  ``RNN(cell)`` makes it a layer, unrolling the cell over time (``unroll``:
BPTT is reverse mode over the unrolled graph).  A cell that runs a whole sequence its own way
has ``run_sequence(x, states, mask, training)``: the built-in cells (``layers.recurrent_cell``)
do, for their dropout and their fused ops.  SimpleRNN, LSTM and GRU are RNNs over the cell
they build from Keras's options (``layers.builtin_recurrent``); ``StackedRNNCells``
(``layers.stacked_cells``) makes one cell of several.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import minigrad as mg
from layers.dense import as_float_input
from layers.module import Module, float_dtype, positive_int
from minigrad import Tensor
from minigrad.engine import collector_paused


def state_sizes(cell: Any, owner: str) -> list[int]:
    """The cell's ``state_size`` as a list of positive ints, or a ValueError saying what is wrong."""
    if isinstance(cell, type):
        name = cell.__name__
        raise ValueError(f"{owner}: expected a cell, got the class {name}; make one: {name}(...)")
    if isinstance(cell, RNN):
        raise ValueError(
            f"{owner}: expected a cell, got the layer {type(cell).__name__}; give a cell such as "
            "layers.LSTMCell(units), or the layer's own .cell"
        )
    if not hasattr(cell, "state_size"):
        raise ValueError(
            f"{owner}: the cell {type(cell).__name__} has no state_size (an int, or a list of ints "
            "with one size per state)"
        )
    size = cell.state_size
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    if not sizes or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            f"{owner}: the cell's state_size must be a positive int or a list of them, got {size!r}"
        )
    return [int(s) for s in sizes]


def checked_states(
    owner: str,
    given: Any,
    labels: Sequence[str],
    sizes: Sequence[int],
    batch: int,
    dtype: np.dtype,
    nouns: tuple[str, str],
) -> list[Tensor]:
    """``given`` (one array or Tensor per state; a lone state may come bare) as Tensors of
    shape (batch, size) and the layer's dtype, or a ValueError naming what came.  ``nouns``
    name the whole and one state in messages, e.g. ("initial_state", "initial state")."""
    whole, one = nouns
    given = list(given) if isinstance(given, (list, tuple)) else [given]
    if len(given) != len(sizes):
        count = len(sizes)
        raise ValueError(f"{owner}: {whole} needs {count} arrays ({', '.join(labels)}), got {len(given)}")
    states = [s if isinstance(s, Tensor) else Tensor(s, dtype=dtype) for s in given]
    for label, s, size in zip(labels, states, sizes, strict=True):
        if s.shape != (batch, size) or s.dtype != dtype:
            raise ValueError(
                f"{owner}: {one} {label} must be {dtype} of shape {(batch, size)}, "
                f"got {s.dtype} of shape {s.shape}"
            )
    return states


class SequenceCall(NamedTuple):
    """A call of a recurrent layer, checked: x (batch, time, features), one (batch, size)
    Tensor per state, and the (batch, time) boolean mask or None."""

    x: Tensor
    states: list[Tensor]
    mask: np.ndarray | None


def _described(value: Any) -> str:
    """What a cell returned, in words, for an error message."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} Tensor of shape {value.shape}"
    if isinstance(value, np.ndarray):
        return (
            f"a numpy array of shape {value.shape} (a numpy array carries no gradient: compute "
            "the step with Tensor operations)"
        )
    return f"a {type(value).__name__}"


def _is_tensor_of(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> bool:
    return isinstance(value, Tensor) and value.shape == shape and value.dtype == dtype


def unroll(
    step: Callable[[Tensor, list[Tensor]], tuple[Tensor, list[Tensor]]],
    x: Tensor,
    states: list[Tensor],
    mask: np.ndarray | None,
    output_size: int,
) -> tuple[Tensor, list[Tensor]]:
    """``step(x_t, states) -> (output, new states)`` applied at every step of x (batch, time,
    features): (outputs (batch, time, output_size), final states).  Where ``mask`` (batch,
    time) is False a sample keeps its states and repeats its output (zeros before its first
    step).  BPTT is reverse mode over this unrolled graph."""
    previous = Tensor(np.zeros((x.shape[0], output_size), x.dtype))
    outputs = []
    with collector_paused():  # the graph grows by thousands of objects, none in a cycle
        for t in range(x.shape[1]):
            output, new_states = step(x[:, t], states)
            if mask is not None:
                mask_t = mask[:, t, None]
                new_states = [mg.where(mask_t, n, s) for n, s in zip(new_states, states, strict=True)]
                output = mg.where(mask_t, output, previous)
            states, previous = new_states, output
            outputs.append(output)
    return mg.stack(outputs, axis=1), states


class RNN(Module):
    """A recurrent layer around any cell (Keras's ``RNN``).

    x : (batch, time, features) -> (batch, time, output_size) with ``return_sequences``, else
    (batch, output_size); with ``return_state``, the list [output, *final states].
    ``output_size`` is the cell's ``output_size`` if it has one, else its first state size.

    Parameters
    ----------
    cell : a cell (see the module's docstring), e.g. ``layers.GRUCell(8)``, a cell of your
        own, or ``StackedRNNCells([...])``.  With a built-in cell the layer gives the
        built-in layer's numbers, on its fused path where the activations allow.
    return_sequences : bool, default False
        Return every step's output, not only the last.
    return_state : bool, default False
        Return the list [output, *final states].
    go_backwards : bool, default False
        Read each sequence from its end; the outputs stay in that reversed order.
    stateful : bool, default False
        Start each call from the final states of the call before (``reset_states()``).
    zero_output_for_mask : bool, default False
        A masked step outputs zeros (and so does the last output when the last step is
        masked), instead of repeating the output before it.
    """

    cell_attributes = ("cell",)  # its weights are parameters, wherever the cell keeps them

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        zero_output_for_mask: bool = False,
    ) -> None:
        name = type(self).__name__
        sizes = state_sizes(cell, name)
        if not callable(cell):
            raise ValueError(f"{name}: the cell must be callable as cell(x, states) -> (output, new_states)")
        dtype = float_dtype(f"{name} (the cell's dtype)", getattr(cell, "dtype", np.float64))
        self.cell = cell
        self.state_sizes = sizes
        output_size = getattr(cell, "output_size", sizes[0])
        self.output_size = positive_int(name, "the cell's output_size", output_size)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful = go_backwards, stateful
        self.zero_output_for_mask = zero_output_for_mask
        self.dtype = dtype
        self.states: list[np.ndarray] | None = None  # carried between calls when stateful

    @property
    def state_labels(self) -> tuple[str, ...]:
        """What to call each state in messages."""
        names = getattr(self.cell, "state_names", None)
        return tuple(names) if names else tuple(f"state {k}" for k in range(len(self.state_sizes)))

    @property
    def built(self) -> bool:
        return getattr(self.cell, "built", True)

    def build(self, input_size: int) -> None:
        """Create the cell's weights for inputs of ``input_size`` features per step."""
        if hasattr(self.cell, "build"):
            self.cell.build(input_size)

    def forward(
        self,
        x: Any,
        initial_state: Any = None,
        mask: Any = None,
        training: bool | None = None,
    ) -> Tensor | list[Tensor]:
        """Run the layer over sequences, as Keras's ``layer(x, initial_state, mask, training)``.

        Parameters
        ----------
        x : (batch, time, features)
        initial_state : one (batch, size) array or Tensor per state, optional (zeros)
        mask : (batch, time) booleans, optional; a masked step keeps the states and repeats
            the previous output (or outputs zeros, with ``zero_output_for_mask``); what its
            input holds (NaN too) reaches neither the outputs nor any gradient
        training : bool, optional; dropout is on in training (default: the module's mode)

        Returns
        -------
        output : (batch, time, output_size) with ``return_sequences``, else
            (batch, output_size); with ``return_state``, the list [output, *final states]

        Every check comes before anything changes: a failed call builds nothing and leaves a
        stateful layer's states as they were.
        """
        call = self.checked_call(x, initial_state, mask)
        outputs, final = self.run(call, training)
        self.keep_states(final)
        return self.result(outputs, final)

    def checked_call(self, x: Any, initial_state: Any = None, mask: Any = None) -> SequenceCall:
        """The call's input, initial states and mask, checked and converted; changes nothing."""
        name = type(self).__name__
        x = as_float_input(x, self.dtype, name)
        if x.ndim != 3:
            raise ValueError(f"{name}: expected input of shape (batch, time, features), got {x.shape}")
        batch, time, features = x.shape
        if time < 1 or batch < 1:
            raise ValueError(f"{name}: the input needs at least one sample and one step, got {x.shape}")
        expected = getattr(self.cell, "input_size", None)
        if expected is not None and features != expected:
            raise ValueError(f"{name}: expected {expected} features per step, got shape {x.shape}")
        mask = self._check_mask(mask, batch, time)
        return SequenceCall(x, self._initial_states(initial_state, batch), mask)

    def run(self, call: SequenceCall, training: bool | None = None) -> tuple[Tensor, list[Tensor]]:
        """Build the cell if needed and run it over a checked call: (every step's output,
        final states), the outputs in reading order.  Keeps no states."""
        x, states, mask = call
        if not self.built:
            self.build(x.shape[2])
        if mask is not None:  # a masked step's input is selected away, never multiplied by 0
            x = mg.where(mask[:, :, None], x, 0.0)
        if self.go_backwards:  # read from the end; the outputs stay in that reversed order
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        training = self.training if training is None else training
        outputs, final = self.inner_loop(x, states, mask, training)
        if mask is not None and self.zero_output_for_mask:
            outputs = mg.where(mask[:, :, None], outputs, 0.0)
        return outputs, final

    def inner_loop(
        self, x: Tensor, states: list[Tensor], mask: np.ndarray | None, training: bool
    ) -> tuple[Tensor, list[Tensor]]:
        """The cell over the sequence x (batch, time, features), in reading order: (outputs
        (batch, time, output_size), final states).  A cell with ``run_sequence`` runs it its
        own way; any other is unrolled, each step's results checked."""
        run_sequence = getattr(self.cell, "run_sequence", None)
        if run_sequence is not None:
            return run_sequence(x, states, mask, training)
        return unroll(self._checked_step, x, states, mask, self.output_size)

    def keep_states(self, final: list[Tensor]) -> None:
        """A stateful layer keeps a run's final states for its next call."""
        if self.stateful:
            self.states = [s.data.copy() for s in final]

    def result(self, outputs: Tensor, final: list[Tensor]) -> Tensor | list[Tensor]:
        """What the layer returns for a run: Keras's conventions."""
        output = outputs if self.return_sequences else outputs[:, -1]
        return [output, *final] if self.return_state else output

    def _checked_step(self, x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One step of the cell, its output and states checked against the sizes it declared."""
        name = type(self).__name__
        result = self.cell(x, list(states) if len(states) > 1 else [states[0]])
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise ValueError(
                f"{name}: the cell must return (output, new_states), got {type(result).__name__}"
            )
        output, new_states = result
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        batch = x.shape[0]
        if not _is_tensor_of(output, (batch, self.output_size), self.dtype):
            raise ValueError(
                f"{name}: the cell's output must be a {self.dtype} Tensor of shape "
                f"{(batch, self.output_size)}, got {_described(output)}"
            )
        if len(new_states) != len(self.state_sizes):
            raise ValueError(
                f"{name}: the cell returned {len(new_states)} states, its state_size says "
                f"{len(self.state_sizes)}"
            )
        for label, s, size in zip(self.state_labels, new_states, self.state_sizes, strict=True):
            if not _is_tensor_of(s, (batch, size), self.dtype):
                raise ValueError(
                    f"{name}: the cell's new {label} must be a {self.dtype} Tensor of shape "
                    f"{(batch, size)}, got {_described(s)}"
                )
        return output, new_states

    def _check_mask(self, mask: Any, batch: int, time: int) -> np.ndarray | None:
        if mask is None:
            return None
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.shape != (batch, time) or mask.dtype != bool:
            raise ValueError(
                f"{type(self).__name__}: mask must be a boolean array of shape (batch, time) = "
                f"{(batch, time)}, got {mask.dtype} of shape {mask.shape}"
            )
        return mask

    def _initial_states(self, initial_state: Any, batch: int) -> list[Tensor]:
        name, labels = type(self).__name__, self.state_labels
        if initial_state is None and self.stateful and self.states is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(
                    f"{name}: this stateful layer holds states for a batch of "
                    f"{self.states[0].shape[0]}, got a batch of {batch}; call reset_states() "
                    "to start over with another batch size"
                )
            return [Tensor(s) for s in self.states]
        if initial_state is None:
            return [Tensor(np.zeros((batch, size), self.dtype)) for size in self.state_sizes]
        nouns = ("initial_state", "initial state")
        return checked_states(name, initial_state, labels, self.state_sizes, batch, self.dtype, nouns)

    def reset_states(self, states: Sequence[Any] | None = None) -> None:
        """Forget the carried states of a stateful layer (or set them to ``states``: one
        (batch, size) array per state, the same batch for all).  Wrong counts or shapes are
        a ValueError and change nothing, and so are states for a layer that is not stateful
        (its calls start from zeros or from ``initial_state``)."""
        if states is None:
            self.states = None
            return
        name, labels = type(self).__name__, self.state_labels
        if not self.stateful:
            raise ValueError(
                f"{name}.reset_states: the layer is not stateful, so its calls would not start from "
                "these states; build it with stateful=True, or pass initial_state= to the call"
            )
        given = list(states) if isinstance(states, (list, tuple)) else [states]
        arrays = [np.array(s.data if isinstance(s, Tensor) else s, dtype=self.dtype) for s in given]
        if len(arrays) != len(labels):
            raise ValueError(
                f"{name}.reset_states: needs {len(labels)} arrays ({', '.join(labels)}), got {len(arrays)}"
            )
        batch = arrays[0].shape[0] if arrays[0].ndim == 2 else None
        for label, array, size in zip(labels, arrays, self.state_sizes, strict=True):
            if array.ndim != 2 or array.shape != (batch, size):
                raise ValueError(
                    f"{name}.reset_states: state {label} must have shape (batch, {size}) with one "
                    f"batch for all states, got {array.shape}"
                )
        self.states = arrays
