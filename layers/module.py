"""Module: the base of every layer, holding parameters and sub-modules as PyTorch does."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from minigrad import Tensor
from minigrad.serialize import entry_problems


def positive_int(owner: str, name: str, value: Any) -> int:
    """``value`` as an int, or Keras's ValueError when it is not a positive integer (2.5, 0, "3")."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def float_dtype(owner: str, dtype: Any) -> np.dtype:
    """``dtype`` as a numpy dtype, or a ValueError unless it is float32 or float64 (the dtypes
    a Tensor holds)."""
    checked = np.dtype(dtype)
    if checked not in (np.float32, np.float64):
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {checked}")
    return checked


class Module:
    """A layer or a model.  Parameters are the Tensors assigned to its attributes with
    ``requires_grad=True`` (as PyTorch registers an ``nn.Parameter``); one frozen later with
    ``requires_grad = False`` (or by Keras's ``module.trainable = False``) stays a parameter,
    counted as non-trainable, as in Keras.
    Sub-modules are the attributes that are Modules.  Lists, tuples and dicts are searched
    too, as Keras tracks them: ``self.blocks = [Dense(4), Dense(4)]`` gives the modules
    ``blocks.0`` and ``blocks.1``, ``self.weights = {"U": Tensor(..., requires_grad=True)}``
    the parameter ``weights.U``.  The attributes named in ``cell_attributes`` hold cells of
    any kind (see ``cell_members``): their weights and modules are found wherever a cell keeps
    them.  A parameter shared by several modules is listed, counted and updated once.  A
    weight held in a container or a cell is known by ``requires_grad``: freeze it with
    ``trainable = False`` (which remembers it), not by switching its ``requires_grad`` off.
    Calling a module calls ``forward``.
    """

    training: bool = True
    cell_attributes: ClassVar[tuple[str, ...]] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        names = self.__dict__.setdefault("_parameter_names", set())
        if isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            names.add(name)
            value.requires_grad = self.trainable  # a weight made while frozen is frozen too
        elif not isinstance(value, Tensor):
            names.discard(name)
        if not self.trainable:
            for child in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(child, Module):
                    child.trainable = False
        object.__setattr__(self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, member in self._members():
            if isinstance(member, Module):
                yield name, member

    def _members(self) -> Iterator[tuple[str, Module | Tensor]]:
        """Sub-modules, and the weights that cells keep outside modules, by dotted name, in
        attribute order."""
        frozen = {id(p) for p in self.__dict__.get("_frozen", [])}
        for name, value in vars(self).items():
            if name in BOOKKEEPING:
                continue
            if name in self.cell_attributes:
                yield from cell_members(value, name, set(), frozen, objects=True)
            elif isinstance(value, (Module, list, tuple, dict)):
                yield from cell_members(value, name, set(), frozen, objects=False)

    @property
    def trainable(self) -> bool:
        """Keras's switch.  False freezes every weight of this module and of the modules
        inside: ``requires_grad`` becomes False (as PyTorch's ``requires_grad_(False)``), also
        for weights the layer makes later when it builds, so no optimizer moves them and
        ``trainable_weights`` leaves them out.  True makes them all trainable again."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}.trainable must be True or False, got {value!r}")
        self.__dict__["_trainable"] = bool(value)
        for _, child in self.named_children():
            child.trainable = value
        # the frozen weights are remembered: a container that lists only weights that require
        # grad (a plain cell's) would not give them back when unfreezing
        weights = [p for _, p in self._all_parameters("")] + self.__dict__.pop("_frozen", [])
        for param in weights:
            param.requires_grad = bool(value)
        if not value:
            self.__dict__["_frozen"] = weights

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The parameters an optimizer moves (``requires_grad``), in ``parameters()`` order."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The frozen parameters, in ``parameters()`` order."""
        return [p for p in self.parameters() if not p.requires_grad]

    @property
    def built(self) -> bool:
        """Whether the weights exist (layers that learn their input size make them lazily)."""
        return True

    def unbuilt_layers(self, prefix: str = "") -> Iterator[str]:
        """The dotted names (with types) of the layers inside that are not built yet."""
        if not self.built:
            yield f"{prefix.rstrip('.') or 'the layer'} ({type(self).__name__})"
            return
        for name, child in self.named_children():
            yield from child.unbuilt_layers(f"{prefix}{name}.")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, this module's own first, in definition order; a
        shared parameter appears once, under its first name.

        A ValueError (as PyTorch's lazy modules and Keras give) names the layers that are not
        built yet: their weights do not exist, so an optimizer or a checkpoint made now would
        silently miss them.
        """
        unbuilt = list(self.unbuilt_layers())
        if unbuilt:
            raise ValueError(
                f"{type(self).__name__}: not built yet: {', '.join(unbuilt)}.  A layer makes its "
                "weights once it knows its input size: give input_size= to the first layer (e.g. "
                "LSTM(16, input_size=8)), or call the model once on a batch of inputs"
            )
        seen: set[int] = set()
        names: set[str] = set()
        for name, param in self._all_parameters(prefix):
            if id(param) in seen:
                continue
            if name in names:  # e.g. a cell's dict key "a.b" beside a nested "a": {"b": ...}
                raise ValueError(
                    f"{type(self).__name__}: two different weights are named {name!r}; a checkpoint "
                    "would keep only one: rename one of them"
                )
            seen.add(id(param))
            names.add(name)
            yield name, param

    def _all_parameters(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        names = self.__dict__.get("_parameter_names", set())
        for name, value in vars(self).items():
            if name in names and isinstance(value, Tensor):
                yield prefix + name, value
        for name, member in self._members():
            if isinstance(member, Module):
                yield from member._all_parameters(f"{prefix}{name}.")
            else:
                yield prefix + name, member

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    def count_params(self, trainable: bool | None = None) -> int:
        """The number of scalar parameters (Keras's count): all of them, or with
        ``trainable=True`` (``False``) those that do (do not) require grad."""
        return sum(p.numel() for p in self.parameters() if trainable is None or p.requires_grad == trainable)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) or, with mode=False, evaluation mode."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter as a numpy array, by dotted name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters as numpy arrays, in Keras's order and layout."""
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights: list[Any]) -> None:
        """Load arrays in ``get_weights()``'s order; wrong counts or shapes are a ValueError
        and change nothing."""
        own = dict(self.named_parameters())
        if len(weights) != len(own):
            raise ValueError(
                f"{type(self).__name__}.set_weights: expected {len(own)} arrays "
                f"({', '.join(own) or 'the layer is not built yet: call it once or give input_size'}),"
                f" got {len(weights)}"
            )
        assign_checked(own, dict(zip(own, weights, strict=True)), type(self).__name__)

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters of the same names, as PyTorch's does.

        state : dict of name -> array, as ``state_dict()`` or ``minigrad.load`` give
        strict : True (the default): a missing or unexpected name is an error.  False: load
            the names both sides have and leave the rest (e.g. a checkpoint of a part of the
            model); the names left out are in the returned tuple.

        Returns ``(missing_keys, unexpected_keys)``.  A wrongly shaped or non-numeric entry is
        a ValueError either way; every problem is listed at once, and nothing is changed.
        """
        if not isinstance(strict, (bool, np.bool_)):
            name = type(self).__name__
            raise ValueError(f"{name}.load_state_dict: strict must be True or False, got {strict!r}")
        own = dict(self.named_parameters())
        result = IncompatibleKeys([n for n in own if n not in state], [n for n in state if n not in own])
        if not strict:
            own = {name: param for name, param in own.items() if name in state}
            state = {name: state[name] for name in own}
        assign_checked(own, state, type(self).__name__)
        return result


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match: the module's names the state lacked, and the
    state's names the module has no parameter for."""

    missing_keys: list[str]
    unexpected_keys: list[str]


# what Module keeps about its own parameters, not members of it
BOOKKEEPING = ("_parameter_names", "_frozen", "_trainable")
# objects that carry a __dict__ but hold no weights of a cell
NOT_CELL_PARTS = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def cell_members(
    value: Any, name: str, visited: set[int], frozen: set[int], objects: bool
) -> Iterator[tuple[str, Module | Tensor]]:
    """The modules and weights that ``value`` holds, by dotted name from ``name``.

    A weight is a leaf Tensor with ``requires_grad``, or one whose id is in ``frozen`` (frozen
    by ``trainable = False``); a Module is taken whole (its own rules find its parameters).
    Lists, tuples and dicts are searched in their order, and with ``objects`` so are the
    attributes of plain objects (a cell that is not a Module, and the objects it keeps), each
    object once: ``cell.W``, ``cell.layers.0``, ``cell.weights.U``.
    """
    if isinstance(value, Module):
        yield name, value
        return
    if isinstance(value, Tensor):
        if value.is_leaf and (value.requires_grad or id(value) in frozen):
            yield name, value
        return
    if isinstance(value, (list, tuple)):
        items: Any = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    elif objects and hasattr(value, "__dict__") and not isinstance(value, NOT_CELL_PARTS):
        items = vars(value).items()
    else:
        return
    if id(value) in visited:
        return
    visited.add(id(value))
    for key, item in items:
        yield from cell_members(item, f"{name}.{key}", visited, frozen, objects)


def assign_checked(params: Mapping[str, Tensor], values: Mapping[str, Any], owner: str) -> None:
    """Check every name and shape first, then copy ``values`` into ``params`` in place."""
    problems = entry_problems({name: p.shape for name, p in params.items()}, values)
    if problems:
        raise ValueError(f"{owner}: cannot load weights: " + "; ".join(problems))
    for name, p in params.items():
        p.data[...] = np.asarray(values[name])
        p.mark_modified()
