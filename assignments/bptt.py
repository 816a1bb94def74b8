"""Assignment bptt: an RNN's forward pass and backpropagation through time, by hand, in numpy.

Teacher's source: the worked solution sits between the solution markers; the student's
handout has a stub there instead.
"""

# %% [markdown]
# # Backpropagation through time by hand
#
# No autograd here: numpy only, as in article 004 (pinard, "Sequence models (2): RNN"),
# whose notation we keep.  One sequence of T steps, column-vector maths:
#
#     h(t)     = tanh(U x(t) + W h(t-1) + b)        h(0) is the given h0
#     o(t)     = V h(t) + c
#     y_hat(t) = softmax(o(t))
#     L        = sum_t -log y_hat(t)[y(t)]          y(t) is the class at step t
#
# with x (T, n_in), h0 (n_h,), U (n_h, n_in), W (n_h, n_h), b (n_h,), V (n_out, n_h),
# c (n_out,) and y (T,) integer classes.  Row t of an array is step t (counting from 0 in
# code; the article counts from 1).
#
# 1. `rnn_forward(x, h0, U, W, b, V, c)` returns `(h, y_hat)`: h (T, n_h), row t is h(t);
#    y_hat (T, n_out).  Make the softmax stable: exp overflows past 709, and scores may be in the thousands.
# 2. `rnn_backward(x, h0, U, W, b, V, c, y)` returns a dict with the gradients of L:
#    `dU, dW, db, dV, dc, dh0`, each of its parameter's shape.
#
# The derivation (the article's formulas, which its text lost): with the error at the
# output e(t) = y_hat(t) - onehot(y(t)) and delta(t) = dL/dh(t),
#
#     dL/dc = sum_t e(t)                 dL/dV = sum_t e(t) h(t)^T
#     delta(T)  = V^T e(T)
#     delta(t)  = V^T e(t) + W^T diag(1 - h(t+1)^2) delta(t+1)
#     dL/dW = sum_t diag(1 - h(t)^2) delta(t) h(t-1)^T
#     dL/db = sum_t diag(1 - h(t)^2) delta(t)
#     dL/dU = sum_t diag(1 - h(t)^2) delta(t) x(t)^T
#
# and dL/dh0 is where the recursion would go one step further: W^T diag(1 - h(1)^2) delta(1).

# %%
import numpy as np


def rnn_forward(x, h0, U, W, b, V, c):
    """h : (T, n_h) and y_hat : (T, n_out) for one sequence x : (T, n_in)."""
    ### BEGIN SOLUTION
    T, n_h = x.shape[0], h0.shape[0]
    h = np.empty((T, n_h))
    y_hat = np.empty((T, V.shape[0]))
    previous = h0
    for t in range(T):
        h[t] = np.tanh(U @ x[t] + W @ previous + b)
        o = V @ h[t] + c
        e = np.exp(o - o.max())  # the shift cancels in the ratio and keeps exp finite
        y_hat[t] = e / e.sum()
        previous = h[t]
    return h, y_hat
    ### END SOLUTION


def rnn_backward(x, h0, U, W, b, V, c, y):
    """The gradients of L = sum_t -log y_hat(t)[y(t)] as a dict: dU, dW, db, dV, dc, dh0."""
    ### BEGIN SOLUTION
    h, y_hat = rnn_forward(x, h0, U, W, b, V, c)
    T = x.shape[0]
    error = y_hat.copy()
    error[np.arange(T), y] -= 1  # e(t) = y_hat(t) - onehot(y(t))
    grads = {"dU": np.zeros_like(U), "dW": np.zeros_like(W), "db": np.zeros_like(b)}
    grads["dV"] = error.T @ h
    grads["dc"] = error.sum(axis=0)
    from_later = np.zeros_like(h0)  # W^T diag(1 - h(t+1)^2) delta(t+1)
    for t in reversed(range(T)):
        delta = V.T @ error[t] + from_later
        through_tanh = (1 - h[t] ** 2) * delta  # diag(1 - h(t)^2) delta(t)
        previous = h[t - 1] if t > 0 else h0
        grads["dW"] += np.outer(through_tanh, previous)
        grads["db"] += through_tanh
        grads["dU"] += np.outer(through_tanh, x[t])
        from_later = W.T @ through_tanh
    grads["dh0"] = from_later
    return grads
    ### END SOLUTION


# %% [markdown]
# # Check your work
#
#     python -m minigrad.testing.grading check bptt.py
#
# The forward pass is checked against a reference, and the gradients against the true
# gradients at the same inputs, to a tolerance only a derivation meets: finite differences,
# or another library's autograd (which the grader refuses), will not do.
