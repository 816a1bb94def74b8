"""Assignment ops: six differentiable ops and the topological order of reverse mode.

Teacher's source: the worked solution sits between the solution markers; the student's
handout has a stub there instead.
"""

# %% [markdown]
# # Writing the ops of an autograd
#
# An autograd is a set of ops that each know two things: how to compute their output
# (`forward`) and how to turn the gradient of the loss with respect to that output into the
# gradient with respect to each input (`backward`, the chain rule).  In minigrad an op is a
# subclass of `minigrad.Function`.  Its `forward` receives numpy arrays and returns one; it may
# keep on `self` whatever `backward` will need.  Its `backward(g)` receives g = dL/d(output),
# an array of the output's shape, and returns one gradient per input, each of that input's
# shape (a tuple, or one array for an op with one input).  You use an op through `apply`:
#
#     out = Mul.apply(a, b)        # a Tensor; out.grad_fn is the Mul object that made it
#     out.backward(np.ones(out.shape))
#
# Write six ops and one graph algorithm.  Keep the names and signatures: the grader imports
# them from your file.  Use numpy inside the ops; do not call minigrad's own ops (the grader
# notices).
#
# | name | forward | what backward returns |
# |---|---|---|
# | `Mul` | `a * b`, broadcasting like numpy | `(dL/da, dL/db)`, each reduced to its input's shape |
# | `MatMul` | `a @ b` for 2-D `a` (n, k) and `b` (k, m) | `(dL/da, dL/db)` |
# | `Tanh` | `tanh(a)` | `dL/da` |
# | `Sigmoid` | `1 / (1 + exp(-a))`, without overflow for large `abs(a)` | `dL/da` |
# | `Sum` | `a.sum(axis, keepdims)`, `axis` None, an int or a tuple | `dL/da` |
# | `LogSoftmax` | `a - log(sum(exp(a), axis))`, stable for large `a` | `dL/da` |
#
# Every op keeps its input's dtype: float32 in, float32 out.

# %%
import numpy as np

from minigrad import Function


def reduce_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``.

    Broadcasting copies an input along some axes; each copy sends its gradient back, so the
    input's gradient is the sum over those axes.
    """
    ### BEGIN SOLUTION
    added = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(added)))  # axes broadcasting put in front
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad
    ### END SOLUTION


class Mul(Function):
    """a * b with numpy's broadcasting; d(ab)/da = b, d(ab)/db = a."""

    def forward(self, a, b):
        ### BEGIN SOLUTION
        self.a, self.b = a, b
        return a * b
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return reduce_to_shape(g * self.b, self.a.shape), reduce_to_shape(g * self.a, self.b.shape)
        ### END SOLUTION


class MatMul(Function):
    """C = A B for A (n, k) and B (k, m): dL/dA = dL/dC B^T and dL/dB = A^T dL/dC."""

    def forward(self, a, b):
        ### BEGIN SOLUTION
        self.a, self.b = a, b
        return a @ b
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return g @ self.b.T, self.a.T @ g
        ### END SOLUTION


class Tanh(Function):
    """y = tanh(a); dy/da = 1 - y^2, so backward needs only the output."""

    def forward(self, a):
        ### BEGIN SOLUTION
        self.y = np.tanh(a)
        return self.y
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return g * (1 - self.y * self.y)
        ### END SOLUTION


class Sigmoid(Function):
    """y = 1 / (1 + exp(-a)); dy/da = y (1 - y).

    exp(-a) overflows for a below about -709 (float64) or -88 (float32): write the formula
    so that exp only ever sees a number <= 0.
    """

    def forward(self, a):
        ### BEGIN SOLUTION
        e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
        self.y = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
        return self.y
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return g * self.y * (1 - self.y)
        ### END SOLUTION


class Sum(Function):
    """a.sum(axis, keepdims): every summed element gets the gradient of its sum."""

    def forward(self, a, axis=None, keepdims=False):
        ### BEGIN SOLUTION
        self.shape = a.shape
        if axis is None:
            axis = tuple(range(a.ndim))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        self.axes = tuple(k % a.ndim for k in axes)
        return a.sum(axis=self.axes, keepdims=keepdims)
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        g = np.asarray(g).reshape([1 if k in self.axes else n for k, n in enumerate(self.shape)])
        return np.broadcast_to(g, self.shape).copy()
        ### END SOLUTION


class LogSoftmax(Function):
    """y = a - log(sum(exp(a), axis)), along ``axis``.

    Subtract the maximum along the axis before exp (it cancels in the formula), or exp
    overflows for scores of a few hundred.  With p = exp(y) = softmax(a):
    dL/da = g - p * sum(g, axis).
    """

    def forward(self, a, axis=-1):
        ### BEGIN SOLUTION
        shifted = a - a.max(axis=axis, keepdims=True)
        self.y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.y
        ### END SOLUTION

    def backward(self, g):
        ### BEGIN SOLUTION
        return g - np.exp(self.y) * g.sum(axis=self.axis, keepdims=True)
        ### END SOLUTION


# %% [markdown]
# # The order of reverse mode
#
# `backward` must visit a tensor only after every tensor made from it, so that the
# gradient it passes on is complete.  Write `topological_order(root)`: every tensor that
# `root` depends on (follow `tensor.grad_fn.parents`; a leaf has `grad_fn` None), each
# exactly once, every tensor after the tensors it was made from, and `root` last.
#
# Do it without recursion: an RNN unrolled over 100,000 steps makes a chain far deeper than
# Python's recursion limit.  An explicit stack of (tensor, children done?) pairs does it.

# %%


def topological_order(root):
    """Every tensor ``root`` depends on, each once, inputs before outputs, ``root`` last."""
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, parents_done = stack.pop()
        if parents_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor.grad_fn is not None:
            stack.extend((parent, False) for parent in tensor.grad_fn.parents)
    return order
    ### END SOLUTION


# %% [markdown]
# # Check your work
#
#     python -m minigrad.testing.grading check ops.py
