"""``python -m minigrad``: report the setup and prove one gradient end to end."""

import numpy as np

import minigrad as mg
from minigrad import kernels
from minigrad.testing import gradcheck

print(f"minigrad {mg.__version__}: Numba kernels {'on' if kernels.JIT else 'off (MINIGRAD_JIT=0)'}")

x = mg.Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
w = mg.Tensor([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], requires_grad=True)
loss = mg.functional.cross_entropy((x @ w).tanh(), np.array([1]))
loss.backward()
print(f"loss = cross_entropy(tanh(x @ w), [1]) = {loss.item():.6f}")
print("dloss/dw =\n", w.grad)
gradcheck(lambda x, w: mg.functional.cross_entropy((x @ w).tanh(), np.array([1])), [x, w])
print("gradcheck: backprop equals central differences")
