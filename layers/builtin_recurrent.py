"""BuiltinRecurrent: an RNN over a built-in cell made from Keras's options (SimpleRNN, LSTM,
GRU), with its weights in PyTorch's layout too.

The options are declared in ``layers.options``; those of the cell (activation, dropout,
impl, ...) go to the cell, which owns its fast path; those of the layer (return_sequences,
stateful, ...) go to ``RNN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from layers import torch_weights
from layers.options import CELL, LAYER, bind, names, takes_options
from layers.recurrent_cell import RecurrentCell
from layers.rnn import RNN


class CellOption:
    """A layer attribute that is its cell's, as Keras's ``LSTM.dropout`` is ``LSTM.cell.dropout``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, layer: Any, owner: type | None = None) -> Any:
        return self if layer is None else getattr(layer.cell, self.name)

    def __set__(self, layer: Any, value: Any) -> None:
        setattr(layer.cell, self.name, value)


@takes_options(CELL, LAYER)
class BuiltinRecurrent(RNN):
    """A recurrent layer that builds its cell (``cell_class``) from Keras's options.

    x : (batch, time, features) -> (batch, time, units) with ``return_sequences``, else
    (batch, units); with ``return_state``, the list [output, *final states].
    """

    cell_class: ClassVar[type[RecurrentCell]]
    dropout = CellOption()
    recurrent_dropout = CellOption()
    impl = CellOption()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(BuiltinRecurrent, self, args, kwargs))

    def configure(self, units: int, **options: Any) -> None:
        """Make the cell from its options and the layer from the others."""
        layer_options = {name: options.pop(name) for name in names(LAYER)}
        unroll = layer_options.pop("unroll")
        cell = self.cell_class(units, **options)
        super().__init__(cell, **layer_options)
        self.units = cell.units
        self.unroll = unroll  # Keras's speed option; this layer always computes the same numbers

    def torch_state_dict(self, layer: int = 0, reverse: bool = False) -> dict[str, Any]:
        """The weights as numpy arrays under PyTorch's names, in PyTorch's gate order.

        ``layer`` is the index in a stack (PyTorch's ``num_layers``: names end in ``_l{layer}``)
        and ``reverse`` names the backward direction of a bidirectional layer (``_reverse``).
        """
        return torch_weights.torch_state_dict(self, layer, reverse)

    def load_torch_state_dict(self, state: Mapping[str, Any], layer: int = 0, reverse: bool = False) -> None:
        """Load PyTorch's ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``
        (numpy arrays or anything array-like), or those of stack layer ``layer`` and of the
        ``reverse`` direction.  Entries of the other layers and direction of a PyTorch state
        dict are left for them; anything else unexpected, missing or mis-shaped is a
        ValueError that changes nothing.  An unbuilt layer takes its input size from
        ``weight_ih``, and builds only once every check has passed."""
        torch_weights.set_keras_weights(self, *torch_weights.keras_weights(self, state, layer, reverse))
