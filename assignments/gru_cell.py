"""Assignment gru_cell: a GRU cell from minigrad's primitive ops.

Teacher's source: the worked solution sits between the solution markers; the student's
handout has a stub there instead.
"""

# %% [markdown]
# # A GRU cell from primitives
#
# Write one step of a GRU with minigrad's primitive ops only: `@`, `+`, `-`, `*`,
# `.sigmoid()`, `.tanh()` and slicing.  Autograd then gives you backpropagation through the
# cell for free, and the grader compares it with the true gradients on cases hypothesis draws.
#
# The weights come in Keras's layout with `reset_after=True` (PyTorch's formula), gate
# blocks in the order z, r, n: kernel W (n_in, 3u), recurrent_kernel U (u, 3u), and bias b
# (2, 3u) whose row 0 is added to the input projection and row 1 to the recurrent one.
# Block k of a (batch, 3u) array is its columns k*u to (k+1)*u.
#
#     z  = sigmoid(x W_z + b_z + h U_z + b'_z)           update gate
#     r  = sigmoid(x W_r + b_r + h U_r + b'_r)           reset gate
#     n  = tanh(x W_n + b_n + r * (h U_n + b'_n))        candidate
#     h' = z * h + (1 - z) * n
#
# `GRUCell(kernel, recurrent_kernel, bias)` keeps the three Tensors; `cell(x, h)` takes
# x (batch, n_in) and h (batch, u) and returns h_new (batch, u).  Do not use `layers` (the
# grader notices): the point is to build it yourself.

# %%


class GRUCell:
    """One GRU step (reset_after=True) in Keras's layout; kernel (n_in, 3u),
    recurrent_kernel (u, 3u), bias (2, 3u)."""

    def __init__(self, kernel, recurrent_kernel, bias):
        self.kernel, self.recurrent_kernel, self.bias = kernel, recurrent_kernel, bias
        self.units = recurrent_kernel.shape[0]

    def __call__(self, x, h):
        ### BEGIN SOLUTION
        u = self.units
        x_proj = x @ self.kernel + self.bias[0]  # (batch, 3u): the input's part of each gate
        h_proj = h @ self.recurrent_kernel + self.bias[1]  # (batch, 3u): the state's part
        z = (x_proj[:, :u] + h_proj[:, :u]).sigmoid()
        r = (x_proj[:, u : 2 * u] + h_proj[:, u : 2 * u]).sigmoid()
        n = (x_proj[:, 2 * u :] + r * h_proj[:, 2 * u :]).tanh()
        return z * h + (1 - z) * n
        ### END SOLUTION


# %% [markdown]
# # Check your work
#
#     python -m minigrad.testing.grading check gru_cell.py
