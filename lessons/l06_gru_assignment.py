"""Assignment: write your own GRU cell from primitives and prove it with minigrad.testing.

For courses: the task, a worked solution, and the two proofs that grade it.  The proofs
also show what each one can and cannot catch, on two deliberately wrong cells.
"""

# %% [markdown]
# # The task
#
# Write a GRU cell with minigrad's primitive ops only (`@`, `+`, `*`, `sigmoid`, `tanh`,
# slicing).  It takes x : (batch, input_size) and h : (batch, units) and returns h' with
#
#     z = sigmoid(x W_z + h U_z + b_z + b'_z)          update gate
#     r = sigmoid(x W_r + h U_r + b_r + b'_r)          reset gate
#     n = tanh(x W_n + b_n + r * (h U_n + b'_n))       candidate
#     h' = z * h + (1 - z) * n
#
# with W (input_size, 3 units), U (units, 3 units) and b (2, 3 units) holding the blocks in
# the order z, r, n (Keras's layout; it is PyTorch's formula).  Then prove it:
#
# 1. **gradients**: backpropagation through your cell equals central differences, for
#    random shapes and values drawn by hypothesis (`minigrad.testing`);
# 2. **the formula**: your cell equals a trusted reference on the same weights.

# %%
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import layers
import minigrad as mg
from lessons.report import check, title
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays


class MyGRUCell:
    """The worked solution."""

    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b
        self.units = U.shape[0]

    def block(self, a, k):
        return a[:, k * self.units : (k + 1) * self.units]

    def __call__(self, x, h):
        xp = x @ self.W + self.b[0]  # the three input projections
        hp = h @ self.U + self.b[1]  # the three recurrent projections
        z = (self.block(xp, 0) + self.block(hp, 0)).sigmoid()
        r = (self.block(xp, 1) + self.block(hp, 1)).sigmoid()
        n = (self.block(xp, 2) + r * self.block(hp, 2)).tanh()
        return z * h + (1 - z) * n


# %% [markdown]
# # The two proofs
#
# `prove_cell` is what a grader runs on a student's class.  Hypothesis draws the sizes
# (batch 1-3, input 1-3, units 1-3) and the values; `gradcheck` compares the gradients of
# every input and every weight with central differences, and the output is compared with
# `layers.GRUCell` holding the same weights.


# %%
@st.composite
def cell_case(draw):
    batch, features, units = (draw(st.integers(1, 3)) for _ in range(3))
    return [
        draw(arrays(shape=(batch, features))),  # x
        draw(arrays(shape=(batch, units))),  # h
        draw(arrays(shape=(features, 3 * units))),  # W
        draw(arrays(shape=(units, 3 * units))),  # U
        draw(arrays(shape=(2, 3 * units))),  # b
    ]


def prove_cell(cell_class, examples=15):
    """Raise AssertionError unless ``cell_class`` passes both proofs."""

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None)
    @given(case=cell_case())
    def proofs(case):
        x, h, W, U, b = case

        def run(x_, h_, W_, U_, b_):
            return cell_class(W_, U_, b_)(x_, h_)

        gradcheck(run, [x, h, W, U, b])  # proof 1
        reference = layers.GRUCell(U.shape[0], input_size=W.shape[0])
        reference.set_weights([W, U, b])
        expected = reference(x, [h])[0].data
        got = run(*(mg.Tensor(a) for a in case)).data
        np.testing.assert_allclose(
            got, expected, atol=1e-12, err_msg="the cell's output differs from GRUCell's"
        )

    proofs()


title("the worked solution")
prove_cell(MyGRUCell)
check("MyGRUCell passes both proofs", True)

# %% [markdown]
# # What each proof catches
#
# **A wrong formula.**  A student swaps the gate: h' = (1 - z) * h + z * n.  Every op is still
# a minigrad primitive, so its gradients are exactly right and proof 1 passes: gradcheck
# proves that backward matches forward, not that forward is the GRU.  Proof 2 catches it.

# %%
title("a cell with the update gate swapped")


class SwappedGateCell(MyGRUCell):
    def __call__(self, x, h):
        xp, hp = x @ self.W + self.b[0], h @ self.U + self.b[1]
        z = (self.block(xp, 0) + self.block(hp, 0)).sigmoid()
        r = (self.block(xp, 1) + self.block(hp, 1)).sigmoid()
        n = (self.block(xp, 2) + r * self.block(hp, 2)).tanh()
        return (1 - z) * h + z * n  # wrong


try:
    prove_cell(SwappedGateCell)
    caught = None
except AssertionError as error:
    caught = str(error)
print(
    "the proofs said:", next((line for line in (caught or "").splitlines() if "differs" in line), "nothing")
)
check(
    "the swapped gate is caught, by the comparison with the reference",
    caught is not None and "differs" in caught,
)

# %% [markdown]
# **A wrong backward.**  A student writes the sigmoid as an op of their own, with forward
# and backward, and forgets a factor: d sigmoid/dz = y, not y (1 - y).  The forward is right,
# so proof 2 cannot see it; gradcheck names the input and the element where it goes wrong.

# %%
title("a cell whose own sigmoid op has a wrong backward")


class StudentSigmoid(mg.Function):
    def forward(self, a):
        self.y = 1 / (1 + np.exp(-a))
        return self.y

    def backward(self, g):
        return (g * self.y,)  # wrong: should be g * y * (1 - y)


class WrongBackwardCell(MyGRUCell):
    def __call__(self, x, h):
        xp, hp = x @ self.W + self.b[0], h @ self.U + self.b[1]
        z = StudentSigmoid.apply(self.block(xp, 0) + self.block(hp, 0))
        r = (self.block(xp, 1) + self.block(hp, 1)).sigmoid()
        n = (self.block(xp, 2) + r * self.block(hp, 2)).tanh()
        return z * h + (1 - z) * n


try:
    prove_cell(WrongBackwardCell)
    caught = None
except AssertionError as error:
    caught = str(error)
print("the proofs said:", (caught or "nothing").splitlines()[0][:160])
check("the wrong backward is caught by gradcheck", caught is not None and caught.startswith("gradcheck"))
