"""EmbeddedRecurrent: an Embedding and the built-in recurrent layer it feeds, with each id's
input projection looked up in one table instead of multiplied out at every step.

A recurrent layer starts from the projection x_t W of every step (``kernel`` W is
(dim, gates*units)).  When x_t is row ``id`` of an embedding table E, that projection is row
``id`` of the product E W: a (vocab, gates*units) table made once per call.  For a vocabulary
smaller than batch * time, as in a character model, this replaces the products of every step
(forward, and the two of backward) by one small product, a gather and a scatter-add:

    forward:   Z = E W (vocab, gates*units);  x_proj[t, b] = Z[ids[b, t]]
    backward:  dZ[v] = sum over (b, t) with ids[b, t] = v of dx_proj[t, b]  (a scatter-add);
               dE = dZ W^T,  dW = E^T dZ   (MatMul's own backward)

It is an explicit choice, never made behind the user's back: ``lstm(embed(ids))`` stays the
plain path.  The two paths compute the same function with sums taken in another order, so they
agree to rounding, not bit for bit: the projection's sum over ``dim`` terms is the same, the
gradients of E and W sum the same terms in another grouping (``tests/test_embedded_recurrent``
states the tolerances).  The layers' own weights are used, so parameters, optimisers and saved
files see the same Tensors as the plain model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
from layers.builtin_recurrent import BuiltinRecurrent
from layers.embedding import Embedding
from layers.fused import CODES, FusedRecurrence, batch_parallel, blas
from layers.module import Module
from minigrad import Tensor, kernels
from minigrad.data import as_ids
from minigrad.function import Function


class LookedUpRecurrence(Function):
    """A fused recurrent op whose input projection is gathered from a table by id:
    (table, *states, recurrent_kernel, bias) -> (outputs, *final states).

    table : (vocab, gates*units), the embedding table times the layer's kernel
    ids (a parameter) : (batch, time) ints in [0, vocab)

    The time loop is ``op``'s (a ``FusedRecurrence`` of ``layers.fused``), run on the
    attributes its docstring lists.  The loop selects a masked step's states away and gives it
    zero gate gradients, so its id receives no gradient from it.
    """

    def forward(
        self, table, *arrays, ids, op, mask=None, recurrent_mask=None, activation="tanh",
        recurrent_activation="sigmoid",
    ):  # fmt: skip
        loop = self.loop = op()
        count = op.n_states
        states, (recurrent, bias) = [s.copy() for s in arrays[:count]], arrays[count:]
        batch, time = ids.shape
        loop.mask = np.ones((batch, time), bool) if mask is None else np.ascontiguousarray(mask)
        loop.activation, loop.recurrent_activation = CODES[activation], CODES[recurrent_activation]
        units = recurrent.shape[0]
        loop.recurrent_mask = (
            np.ones((batch, units), table.dtype) if recurrent_mask is None else recurrent_mask
        )
        self.table_shape = table.shape
        self.ids = np.ascontiguousarray(ids.T).reshape(-1)  # time-major, as the loop reads them
        x_proj = table[self.ids]
        blas.require()
        # the time loop, its batch split over the cores allowed (layers/fused/batch_parallel.py)
        outputs, finals = batch_parallel.sequence_forward(
            loop, x_proj.reshape(time, batch, -1), states, np.ascontiguousarray(recurrent), bias
        )
        return (outputs, *finals)

    def backward(self, g_outputs, *g_finals):
        g_x_proj, g_states, g_recurrent, g_bias = batch_parallel.sequence_backward(
            self.loop, g_outputs, list(g_finals)
        )
        g_table = np.zeros(self.table_shape, g_x_proj.dtype)
        kernels.scatter_add_rows(g_table, self.ids, g_x_proj.reshape(self.ids.shape[0], -1))
        return (g_table, *g_states, g_recurrent, g_bias)


def read_rows(embeddings: Tensor, ids: np.ndarray, mask: np.ndarray | None) -> Tensor:
    """The table with every row that no kept step reads replaced by zeros (selected, so that a
    NaN there reaches nothing, as on the plain path, where such a row is never read): dW = E^T dZ
    would otherwise multiply it by its zero gradient."""
    read = np.zeros(embeddings.shape[0], bool)
    read[ids if mask is None else ids[mask]] = True
    return embeddings if read.all() else mg.where(read[:, None], embeddings, 0.0)


class EmbeddedRecurrent(Module):
    """``recurrent(embedding(ids))`` with the input projection looked up (see the module's
    docstring): the same function, to rounding, in fewer operations when the vocabulary is
    smaller than batch * time.

    ids : (batch, time) integers -> what ``recurrent`` returns for (batch, time, dim) inputs

    Parameters
    ----------
    embedding : Embedding
        Its table is E; with ``mask_zero`` its padding mask goes to the recurrent layer, as
        ``Sequential`` passes it.
    recurrent : SimpleRNN, LSTM or GRU
        A built-in layer that runs fused (``impl`` "auto" or "fused" with named activations)
        and draws no input dropout (``dropout`` 0: a dropped input has no row in the table).
        Its ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful`` and
        ``zero_output_for_mask`` apply as they do in the layer.

    Both layers keep their weights: the model's parameters are the same Tensors as those
    of ``recurrent(embedding(ids))``.
    """

    def __init__(self, embedding: Embedding, recurrent: BuiltinRecurrent) -> None:
        if not isinstance(embedding, Embedding):
            raise ValueError(
                f"EmbeddedRecurrent: expected an Embedding first, got {type(embedding).__name__}"
            )
        if not isinstance(recurrent, BuiltinRecurrent):
            raise ValueError(
                "EmbeddedRecurrent: expected a built-in recurrent layer (SimpleRNN, LSTM, GRU) "
                f"second, got {type(recurrent).__name__}"
            )
        if recurrent.dtype != embedding.embeddings.dtype:
            raise ValueError(
                f"EmbeddedRecurrent: the embedding's dtype {embedding.embeddings.dtype} differs "
                f"from the recurrent layer's {recurrent.dtype}"
            )
        self.embedding, self.recurrent = embedding, recurrent
        self.fused_call()  # raises now for a layer that cannot run this way

    def fused_call(self) -> tuple[type[FusedRecurrence], dict[str, str]]:
        """The recurrent cell's fused op and activations, or a ValueError saying why there is none."""
        cell = self.recurrent.cell
        fused = cell.fused_call()
        if cell.impl == "autograd" or fused is None:
            raise ValueError(
                "EmbeddedRecurrent: the recurrent layer must run fused (impl 'auto' or 'fused', "
                f"activations named among {sorted(CODES)}); got impl={cell.impl!r}"
            )
        if cell.dropout:
            raise ValueError(
                f"EmbeddedRecurrent: the recurrent layer's input dropout ({cell.dropout}) drops "
                "parts of each embedded vector, which a looked-up projection cannot; use dropout=0"
            )
        return fused

    def compute_mask(self, ids: Any) -> np.ndarray | None:
        """The embedding's padding mask of ``ids`` (None without ``mask_zero``), which
        ``Sequential`` passes on when the recurrent layer returns sequences."""
        return self.embedding.compute_mask(ids)

    def forward(self, ids: Any, initial_state: Any = None, training: bool | None = None) -> Any:
        """As ``recurrent(embedding(ids), initial_state, mask=embedding.compute_mask(ids),
        training)``; every check comes before anything changes."""
        embedding, rnn, cell = self.embedding, self.recurrent, self.recurrent.cell
        op, activation_names = self.fused_call()
        ids = as_ids(ids, "EmbeddedRecurrent", embedding.vocab_size)
        if ids.ndim != 2:
            raise ValueError(f"EmbeddedRecurrent: expected ids of shape (batch, time), got {ids.shape}")
        mask = embedding.compute_mask(ids)
        # the recurrent layer's own checks of the call, on an input of the embedded shape
        stand_in = np.broadcast_to(np.zeros((), rnn.dtype), (*ids.shape, embedding.dim))
        _, states, mask = rnn.checked_call(stand_in, initial_state, mask)
        if not rnn.built:
            rnn.build(embedding.dim)
        if rnn.go_backwards:
            ids, mask = ids[:, ::-1], None if mask is None else mask[:, ::-1]
        training = rnn.training if training is None else training
        _, recurrent_mask = cell.dropout_masks(stand_in, training)
        table = read_rows(embedding.embeddings, ids, mask) @ cell.kernel
        outputs, *final = LookedUpRecurrence.apply(
            table, *states, cell.recurrent_kernel, cell.bias_or_zeros(), ids=ids, op=op, mask=mask,
            recurrent_mask=recurrent_mask, **activation_names,
        )  # fmt: skip
        if mask is not None and rnn.zero_output_for_mask:
            outputs = mg.where(mask[:, :, None], outputs, 0.0)
        rnn.keep_states(final)
        return rnn.result(outputs, final)
