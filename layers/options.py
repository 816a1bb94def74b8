"""The Keras options of the built-in recurrent cells and layers, declared once.

``OPTIONS`` is the one table: each option's name, default, type and meaning, and the group
of classes that take it.  ``takes_options`` gives a class's constructor its signature from it, so that
``help(layers.LSTM)`` shows every option in the signature and in the docstring; ``bind``
binds a call's arguments to it, so that a wrong name or a missing ``units`` is Python's own
TypeError, and the class receives the values in ``configure(units, **options)``.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# the groups of classes that take an option
CELL = "every built-in cell and layer"
GATED = "LSTM and GRU"
LSTM_ONLY = "LSTM"
GRU_ONLY = "GRU"
LAYER = "the layers, not the cells"


@dataclass(frozen=True)
class Option:
    """One option: what ``help()`` shows of it, and which classes take it."""

    name: str
    default: Any
    kind: str  # its type, as the docstring shows it
    doc: str
    group: str


# In Keras's order (positional arguments keep it); the options Keras lacks come last.
OPTIONS = (
    Option(
        "activation",
        "tanh",
        'str or callable, default "tanh"',
        'Applied to the candidate state ("tanh", "sigmoid", "relu", "linear", or a function).',
        CELL,
    ),
    Option(
        "recurrent_activation",
        "sigmoid",
        'str or callable, default "sigmoid"',
        "Applied to the gates (LSTM's i, f, o; GRU's z, r).",
        GATED,
    ),
    Option("use_bias", True, "bool, default True", "", CELL),
    Option(
        "kernel_initializer",
        "glorot_uniform",
        'str or callable, default "glorot_uniform"',
        "Keras's name of the input kernel's initializer.",
        CELL,
    ),
    Option(
        "recurrent_initializer",
        "orthogonal",
        'str or callable, default "orthogonal"',
        "Keras's name of the recurrent kernel's initializer.",
        CELL,
    ),
    Option("bias_initializer", "zeros", 'str or callable, default "zeros"', "", CELL),
    Option(
        "unit_forget_bias",
        True,
        "bool, default True",
        "Start the forget gate's bias at 1, so that the cell remembers by default.",
        LSTM_ONLY,
    ),
    Option(
        "dropout",
        0.0,
        "float in [0, 1), default 0",
        "Fraction of the input features dropped in training, one mask per sequence.",
        CELL,
    ),
    Option(
        "recurrent_dropout",
        0.0,
        "float in [0, 1), default 0",
        "Fraction of the state fed back that is dropped in training, one mask per sequence.",
        CELL,
    ),
    Option(
        "return_sequences",
        False,
        "bool, default False",
        "Return every step's output, (batch, time, units), not only the last, (batch, units).",
        LAYER,
    ),
    Option("return_state", False, "bool, default False", "Return the list [output, *final states].", LAYER),
    Option(
        "go_backwards",
        False,
        "bool, default False",
        "Read each sequence from its end; the outputs stay in that reversed order.",
        LAYER,
    ),
    Option(
        "stateful",
        False,
        "bool, default False",
        "Start each call from the final states of the call before (``reset_states()`` forgets "
        "them); the graph is not carried over, so training on chunks is truncated BPTT.",
        LAYER,
    ),
    Option(
        "unroll",
        False,
        "bool, default False",
        "Keras's speed option, accepted for compatibility; the numbers are the same either way.",
        LAYER,
    ),
    Option(
        "reset_after",
        True,
        "bool, default True",
        "Apply the reset gate after the recurrent product (PyTorch's formula; the bias is then "
        "(2, 3 units)) rather than before it.",
        GRU_ONLY,
    ),
    Option(
        "zero_output_for_mask",
        False,
        "bool, default False",
        "A masked step outputs zeros instead of repeating the output before it (Keras's option).",
        LAYER,
    ),
    Option(
        "input_size",
        None,
        "int, optional",
        "Features per step: build the weights now rather than at the first call.",
        CELL,
    ),
    Option(
        "impl",
        "auto",
        '"auto", "autograd" or "fused", default "auto"',
        '"autograd" unrolls the cell\'s primitive ops; "fused" runs the whole sequence as the op '
        "of ``layers.fused`` the cell names (BPTT written by hand, the time loop compiled); "
        '"auto" is "fused" where the cell has an op for its activations.',
        CELL,
    ),
    Option("dtype", np.float64, "float32 or float64, default float64", "", CELL),
)

UNITS = Option(
    "units", inspect.Parameter.empty, "int", "The size of the state and of each step's output.", CELL
)


def names(*groups: str) -> tuple[str, ...]:
    """The names of the options of these groups, in the table's order."""
    return tuple(option.name for option in OPTIONS if option.group in groups)


def takes_options(*groups: str) -> Callable[[type], type]:
    """Class decorator: the signature of the class's own ``__init__(self, *args, **kwargs)``
    becomes ``(units, <the options of these groups>)``, and its docstring gets a Parameters
    section, both made from ``OPTIONS``.  The ``__init__`` passes ``bind(cls, ...)`` to
    ``configure``."""
    chosen = [UNITS, *(option for option in OPTIONS if option.group in groups)]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(o.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=o.default)
            for o in chosen
        ]
    )
    lines = []
    for option in chosen:
        lines.append(f"    {option.name} : {option.kind}")
        lines += textwrap.wrap(option.doc, 92, initial_indent=" " * 8, subsequent_indent=" " * 8)

    def decorate(cls: type) -> type:
        cls.__dict__["__init__"].__signature__ = signature
        cls.__doc__ = (
            f"{(cls.__doc__ or '').rstrip()}\n\n    Parameters\n    ----------\n" + "\n".join(lines) + "\n"
        )
        return cls

    return decorate


def bind(cls: type, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``cls(*args, **kwargs)`` by name, defaults filled in, bound as Python
    binds them to the signature ``takes_options`` gave (a wrong name is Python's TypeError)."""
    bound = inspect.signature(cls.__dict__["__init__"]).bind(instance, *args, **kwargs)
    bound.apply_defaults()
    return {name: value for name, value in bound.arguments.items() if name != "self"}
