"""Reverse mode from scratch: a scalar autograd in a page, and how minigrad's Tensor grows from it.

Every later lesson rests on this one: backpropagation through time is nothing but reverse
mode run over a graph that an RNN unrolled.
"""

# %% [markdown]
# # Reverse mode from scratch
#
# **Claim.** To get the derivative of one output with respect to every input, it is enough
# to (1) record each elementary operation as it is computed, and (2) walk that record once
# backwards, applying the chain rule at every node: a node's gradient is the sum, over the
# nodes that used it, of their gradient times the local derivative,
#
# $$
# \frac{\partial L}{\partial v} = \sum_{u \text{ uses } v} \frac{\partial L}{\partial u}\,
# \frac{\partial u}{\partial v}.
# $$
#
# Below is a whole scalar autograd: a `Value` that remembers its inputs and a closure that
# knows its local derivatives.

# %%
import math

import numpy as np

import minigrad as mg
from lessons import diagrams
from lessons.report import check, close, output_dir, show, title


class Value:
    """A number that remembers how it was computed."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.op = op
        self.backward_step = lambda: None  # pushes self.grad to the parents

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def step():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out.backward_step = step
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def step():  # d(a b)/da = b, d(a b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out.backward_step = step
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def step():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - t * t) * out.grad

        out.backward_step = step
        return out

    def backward(self):
        # Topological order, without recursion: a node comes after everything it was made
        # from.  (An unrolled RNN of 1000 steps is far deeper than Python's recursion limit.)
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        self.grad = 1.0  # dL/dL
        for node in reversed(order):  # outputs first, then what they were made from
            node.backward_step()
        return order


# %% [markdown]
# ## One worked expression
#
# $L = \tanh(a b + c) + a c$ with $a = 0.5$, $b = -1.5$, $c = 2$.  Note that $a$ is used
# twice: its gradient must collect both paths.  By hand, with $t = \tanh(a b + c)$ and
# $\tanh'(v) = 1 - \tanh^2(v)$:
#
# $$
# \frac{\partial L}{\partial a} = (1 - t^2)\, b + c, \qquad
# \frac{\partial L}{\partial b} = (1 - t^2)\, a, \qquad
# \frac{\partial L}{\partial c} = (1 - t^2) + a.
# $$

# %%
title("a scalar autograd")
a, b, c = Value(0.5), Value(-1.5), Value(2.0)
L = (a * b + c).tanh() + a * c
order = L.backward()
t = math.tanh(0.5 * -1.5 + 2.0)
show("L", L.data)
show("dL/da, dL/db, dL/dc", [a.grad, b.grad, c.grad])
print("topological order:", " ".join(n.op or "leaf" for n in order))
check("forward value equals tanh(a b + c) + a c", abs(L.data - (t + 0.5 * 2.0)) < 1e-15)
check("dL/da = (1 - t^2) b + c (two paths summed)", abs(a.grad - ((1 - t * t) * -1.5 + 2.0)) < 1e-15)
check("dL/db = (1 - t^2) a", abs(b.grad - (1 - t * t) * 0.5) < 1e-15)
check("dL/dc = (1 - t^2) + a", abs(c.grad - ((1 - t * t) + 0.5)) < 1e-15)
check("every node comes after the nodes it was made from",
      all(order.index(p) < order.index(n) for n in order for p in n.parents))  # fmt: skip

# %% [markdown]
# ## The same computation on minigrad's Tensor
#
# minigrad keeps exactly these ideas and generalises each of them:
#
# * **arrays instead of numbers.** A `Tensor` holds a numpy array; its `grad` has the same
#   shape.
# * **one class per op.** Instead of a closure, each op is a class in `minigrad/ops.py` with
#   `forward` and `backward` side by side (`Mul.backward` returns `g * b, g * a`).
# * **broadcasting.** When `b` of shape (3,) is added to `a` of shape (2, 3), `b` was used
#   twice, once per row, so its gradient sums the two rows,
#   $\partial L / \partial b_j = \sum_i \partial L / \partial (a + b)_{ij}$: `unbroadcast`
#   does that sum.
# * **the same loop** in `minigrad/engine.py` (`Tensor.backward` calls it): the iterative
#   topological sort, the seed, the chain rule op by op, the sums, and freeing the graph when
#   it is done, on one screen; the safety checks sit below it, each saying why it exists.

# %%
title("the same expression on minigrad")
ta, tb, tc = (mg.Tensor([v], requires_grad=True) for v in (0.5, -1.5, 2.0))
TL = (ta * tb + tc).tanh() + ta * tc
TL.backward()
check("minigrad's value equals the scalar autograd's", close(TL.data, [L.data], 1e-15))
check("and so do all three gradients",
      close(np.concatenate([ta.grad, tb.grad, tc.grad]), [a.grad, b.grad, c.grad], 1e-15))  # fmt: skip

title("broadcasting: a bias used by every row gets the sum of their gradients")
x = mg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
bias = mg.Tensor(np.zeros(3), requires_grad=True)
((x + bias) * 2).sum().backward()
show("bias.grad", bias.grad)
check("bias.grad = 2 per row x 2 rows = 4 everywhere", close(bias.grad, [4.0, 4.0, 4.0]))

# %% [markdown]
# ## The graph of a 3-step RNN
#
# Lesson l01 builds the recurrent step in full; here it is enough to unroll
#
# $$
# h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh}), \qquad t = 1, 2, 3, \qquad L = \textstyle\sum_j h_{3,j}
# $$
#
# (the book's notation: rows $x_t$ of 2 features, states $h_t$ of 3 units, input weights
# $W_{xh}$ and recurrent weights $W_{hh}$; see the notation page).  The graph is a chain in
# which $W_{xh}$ and $W_{hh}$ are each used three times, so their gradients sum three terms:
#
# $$
# \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{3} h_{t-1}^\top \frac{\partial L}{\partial a_t},
# \qquad a_t = x_t W_{xh} + h_{t-1} W_{hh}.
# $$
#
# That sum over time steps is all that "backpropagation through time" adds.
# `minigrad.graph.to_dot` gives the recorded graph as Graphviz DOT text, the tensors named
# where we name them; the picture below is drawn from that text.

# %%
title("the unrolled graph of a 3-step RNN")
mg.manual_seed(0)
W_xh = mg.Tensor(mg.random.generator().standard_normal((2, 3)) * 0.5, requires_grad=True)
W_hh = mg.Tensor(mg.random.generator().standard_normal((3, 3)) * 0.5, requires_grad=True)
h = mg.zeros(1, 3)
xs = [mg.Tensor([[1.0, 0.0]]), mg.Tensor([[0.0, 1.0]]), mg.Tensor([[1.0, 1.0]])]
named = {"W_xh": W_xh, "W_hh": W_hh}
for t, x_t in enumerate(xs, start=1):
    h = (x_t @ W_xh + h @ W_hh).tanh()
    named |= {f"x_{t}": x_t, f"h_{t}": h}
loss = h.sum()
dot = mg.graph.to_dot(loss, {**named, "L": loss})
(output_dir() / "rnn_3_steps.dot").write_text(dot)
print(f"the graph: {dot.count('->')} edges, its DOT text saved as rnn_3_steps.dot")
check("W_xh feeds three MatMul ops, one per step", dot.count(f"t{id(W_xh)} -> op") == 3)
check("W_hh feeds three MatMul ops, one per step", dot.count(f"t{id(W_hh)} -> op") == 3)
diagrams.computation_graph(dot, "rnn_3_steps.png", "the recorded graph of a 3-step RNN")

# %% [markdown]
# *The figure:* the graph of the 3-step RNN as minigrad recorded it, read left to right.
# Green boxes are the named tensors with their shapes ($x_1, x_2, x_3$ of shape (1, 2),
# $W_{xh}$ (2, 3), $W_{hh}$ (3, 3), the states $h_1, h_2, h_3$ (1, 3), and the loss $L$);
# orange boxes are ops (`MatMul`, `Add`, `Tanh`, `Sum`); blue boxes are unnamed
# intermediate tensors.  Three arrows leave $W_{xh}$ and three leave $W_{hh}$, one to each
# step's `MatMul`.

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {"a_grad": a.grad}

# %% [markdown]
# # Summary
#
# - Reverse mode records every op as a node; `backward` visits the nodes once, outputs
#   before inputs, and each node turns the gradient of its output into gradients of its
#   inputs by the chain rule.  A value used twice receives the sum of both gradients.
# - The order is a topological sort, done with an explicit stack: an RNN unrolled over many
#   steps makes a graph deeper than Python's recursion limit.
# - minigrad's Tensor is the same machine on numpy arrays; broadcasting in the forward pass
#   becomes a sum in the backward pass.
#
# # Exercises
#
# 1. Add `exp` to the scalar autograd above and check it against minigrad on
#    `exp(a * b) + a`.
# 2. In the 3-step RNN graph, how many paths lead from $W_{hh}$ to the loss?  Count them in
#    the picture, then say why its gradient is a sum over time.
# 3. Write the topological sort recursively and find the chain length at which it fails.
