"""Bidirectional: one recurrent layer reads each sequence forwards, a second one backwards."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import minigrad as mg
from layers import torch_weights
from layers.builtin_recurrent import BuiltinRecurrent
from layers.module import Module
from layers.rnn import RNN
from minigrad import Tensor

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Module):
    """Keras's ``Bidirectional``: the outputs of a forward and a backward reading, merged.

    x : (batch, time, features) -> what the wrapped layer gives, merged: with "concat" the
    last axis is twice the units, (batch, time, 2 units) or (batch, 2 units).

    Parameters
    ----------
    layer : RNN
        A recurrent layer (SimpleRNN, LSTM, GRU or RNN(cell)): the forward reading.
    merge_mode : "concat", "sum", "mul", "ave" or None, default "concat"
        How the two outputs combine; None returns the list [forward, backward].
    backward_layer : RNN, optional
        The backward reading.  By default a copy of ``layer`` with ``go_backwards`` flipped
        and weights of its own (a built SimpleRNN, LSTM or GRU draws fresh ones; a copy of
        an RNN over a cell of one's own starts from the same values).  One given must read in
        the other direction and return what ``layer`` returns.

    With ``return_sequences`` the backward outputs are put back in time order before the
    merge, so step t holds both readings of step t.  With ``return_state`` the result is
    [output, *forward states, *backward states] ([forward, backward, *states] when
    ``merge_mode`` is None).  A mask goes to both readings; as in Keras, with
    ``return_sequences`` both layers output zeros at masked steps (their
    ``zero_output_for_mask`` is set to their ``return_sequences``).
    """

    def __init__(
        self, layer: RNN, merge_mode: str | None = "concat", backward_layer: RNN | None = None
    ) -> None:
        if not isinstance(layer, RNN):
            raise ValueError(
                "Bidirectional: expected a recurrent layer (SimpleRNN, LSTM, GRU or RNN), "
                f"got {type(layer).__name__}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        if backward_layer is None:
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
            backward_layer.states = None  # each reading carries states of its own
            if backward_layer.built and isinstance(backward_layer, BuiltinRecurrent):
                backward_layer.build(backward_layer.cell.input_size)  # weights of its own
        else:
            _check_backward_layer(layer, backward_layer, merge_mode)
        for reading in (layer, backward_layer):  # as Keras does: padded steps merge as zeros
            reading.zero_output_for_mask = reading.return_sequences
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    def forward(
        self, x: Any, initial_state: Any = None, mask: Any = None, training: bool | None = None
    ) -> Tensor | list[Tensor]:
        """Both readings of x : (batch, time, features); ``initial_state`` is the forward
        layer's states then the backward layer's, ``mask`` (batch, time) booleans.  Both
        readings' calls are checked before either runs, and their states are kept (stateful
        layers) only once both have run: a failed call builds and changes nothing."""
        count = len(self.forward_layer.state_sizes)
        forward_states = backward_states = None
        if initial_state is not None:
            given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(given) != 2 * count:
                raise ValueError(
                    f"Bidirectional: initial_state needs {2 * count} arrays (the forward layer's "
                    f"{count} then the backward layer's), got {len(given)}"
                )
            forward_states, backward_states = given[:count], given[count:]
        readings = (self.forward_layer, self.backward_layer)
        calls = [
            reading.checked_call(x, states, mask)
            for reading, states in zip(readings, (forward_states, backward_states), strict=True)
        ]
        runs = [reading.run(call, training) for reading, call in zip(readings, calls, strict=True)]
        for reading, (_, final) in zip(readings, runs, strict=True):
            reading.keep_states(final)
        forward, backward = (reading.result(*run) for reading, run in zip(readings, runs, strict=True))
        states: list[Tensor] = []
        if self.return_state:
            states = [*forward[1:], *backward[1:]]
            forward, backward = forward[0], backward[0]
        if self.return_sequences:
            backward = backward[:, ::-1]  # back in time order: step t beside step t
        merged = self._merge(forward, backward)
        if not self.return_state:
            return merged
        return [*merged, *states] if isinstance(merged, list) else [merged, *states]

    def _merge(self, forward: Tensor, backward: Tensor) -> Tensor | list[Tensor]:
        if self.merge_mode == "concat":
            return mg.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        if self.merge_mode == "ave":
            return (forward + backward) * 0.5
        return [forward, backward]

    @property
    def built(self) -> bool:
        return self.forward_layer.built and self.backward_layer.built

    def build(self, input_size: int) -> None:
        """Create both readings' weights for inputs of ``input_size`` features per step."""
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(input_size)

    @property
    def output_size(self) -> int | None:
        """Features per step of the merged output (None when merge_mode is None: a list)."""
        size = self.forward_layer.output_size
        if self.merge_mode == "concat":
            return size + self.backward_layer.output_size  # a given backward_layer may have other units
        return None if self.merge_mode is None else size

    def reset_states(self) -> None:
        """Forget both readings' carried states (stateful layers)."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def torch_state_dict(self, layer: int = 0) -> dict[str, Any]:
        """Both directions under PyTorch's names: ``weight_ih_l0`` ... and ``weight_ih_l0_reverse``
        ... (``layer`` is the index in a stack)."""
        forward_layer, backward_layer = self._torch_readings()
        return {
            **forward_layer.torch_state_dict(layer),
            **backward_layer.torch_state_dict(layer, reverse=True),
        }

    def load_torch_state_dict(self, state: Mapping[str, Any], layer: int = 0) -> None:
        """Load a bidirectional PyTorch layer's weights (of stack layer ``layer``); a problem in
        either direction is a ValueError and changes neither."""
        forward_layer, backward_layer = self._torch_readings()
        forward = torch_weights.keras_weights(forward_layer, state, layer, reverse=False)  # both checked
        backward = torch_weights.keras_weights(
            backward_layer, state, layer, reverse=True
        )  # before either loads
        torch_weights.set_keras_weights(forward_layer, *forward)
        torch_weights.set_keras_weights(backward_layer, *backward)

    def _torch_readings(self) -> tuple[BuiltinRecurrent, BuiltinRecurrent]:
        """Both readings, which must be SimpleRNN, LSTM or GRU to have PyTorch's layout."""
        for reading in (self.forward_layer, self.backward_layer):
            if not isinstance(reading, BuiltinRecurrent):
                raise ValueError(
                    "Bidirectional: PyTorch's layout needs SimpleRNN, LSTM or GRU, "
                    f"not {type(reading).__name__}"
                )
        return self.forward_layer, self.backward_layer


def _check_backward_layer(layer: RNN, backward_layer: Any, merge_mode: str | None) -> None:
    """Keras's rules for a given backward layer, and the shapes the merge needs."""
    if not isinstance(backward_layer, RNN):
        raise ValueError(
            f"Bidirectional: backward_layer must be a recurrent layer, got {type(backward_layer).__name__}"
        )
    if backward_layer.go_backwards == layer.go_backwards:
        raise ValueError(
            "Bidirectional: backward_layer must read in the other direction (go_backwards flipped)"
        )
    for option in ("return_sequences", "return_state", "stateful"):
        if getattr(backward_layer, option) != getattr(layer, option):
            raise ValueError(f"Bidirectional: backward_layer must have the same {option} as the layer")
    kinds = f"forward {type(layer).__name__}, backward {type(backward_layer).__name__}"
    if len(backward_layer.state_sizes) != len(layer.state_sizes):
        raise ValueError(
            f"Bidirectional: both readings need the same number of states, got {len(layer.state_sizes)} "
            f"and {len(backward_layer.state_sizes)} ({kinds}): give a backward_layer of the same kind"
        )
    if merge_mode in ("sum", "mul", "ave") and backward_layer.output_size != layer.output_size:
        raise ValueError(
            f"Bidirectional: merge_mode={merge_mode!r} needs outputs of one size, got "
            f"{layer.output_size} and {backward_layer.output_size} ({kinds})"
        )
