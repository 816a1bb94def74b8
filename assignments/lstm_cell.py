"""Assignment lstm_cell: an LSTM cell from minigrad's primitive ops.

Teacher's source: the worked solution sits between the solution markers; the student's
handout has a stub there instead.
"""

# %% [markdown]
# # An LSTM cell from primitives
#
# Write one step of an LSTM with minigrad's primitive ops only: `@`, `+`, `-`, `*`,
# `.sigmoid()`, `.tanh()` and slicing.  Autograd then gives you backpropagation through the
# cell for free, and the grader compares it with the true gradients on cases hypothesis draws.
#
# The weights come in Keras's layout, gate blocks in the order i, f, c, o:
# kernel W (n_in, 4u), recurrent_kernel U (u, 4u), bias b (4u,), where u is the number of
# units.  Block k of a (batch, 4u) array is its columns k*u to (k+1)*u.
#
#     i  = sigmoid(x W_i + h U_i + b_i)      input gate: how much of the candidate to take in
#     f  = sigmoid(x W_f + h U_f + b_f)      forget gate: how much of the old cell to keep
#     g  = tanh(x W_c + h U_c + b_c)         candidate cell state
#     o  = sigmoid(x W_o + h U_o + b_o)      output gate: how much of the cell to show
#     c' = f * c + i * g
#     h' = o * tanh(c')
#
# `LSTMCell(kernel, recurrent_kernel, bias)` keeps the three Tensors;
# `cell(x, h, c)` takes x (batch, n_in), h and c (batch, u) and returns `(h_new, c_new)`.
# Do not use `layers` (the grader notices): the point is to build it yourself.

# %%


class LSTMCell:
    """One LSTM step in Keras's layout; kernel (n_in, 4u), recurrent_kernel (u, 4u), bias (4u,)."""

    def __init__(self, kernel, recurrent_kernel, bias):
        self.kernel, self.recurrent_kernel, self.bias = kernel, recurrent_kernel, bias
        self.units = recurrent_kernel.shape[0]

    def __call__(self, x, h, c):
        ### BEGIN SOLUTION
        u = self.units
        z = x @ self.kernel + h @ self.recurrent_kernel + self.bias  # (batch, 4u): all four gates
        i = z[:, 0 * u : 1 * u].sigmoid()
        f = z[:, 1 * u : 2 * u].sigmoid()
        g = z[:, 2 * u : 3 * u].tanh()
        o = z[:, 3 * u : 4 * u].sigmoid()
        c_new = f * c + i * g
        h_new = o * c_new.tanh()
        return h_new, c_new
        ### END SOLUTION


# %% [markdown]
# # Check your work
#
#     python -m minigrad.testing.grading check lstm_cell.py
