"""Keras's SimpleRNN argument by argument: parameters, shapes, states, direction, dropout, statefulness.

Article: "Keras tutorial: recurrent neural networks (1), SimpleRNN"
(畅游人工智能之海--Keras教程之循环神经网络(一)).
"""

# %% [markdown]
# # `SimpleRNN(3, use_bias=False)` on two features
#
# The layer computes, in the book's notation (see the notation page),
#
# $$
# h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh}).
# $$
#
# The article writes $h_t = \tanh(W_h h_{t-1} + W_x x_t)$: its $W_x$ and $W_h$ are our $W_{xh}$
# and $W_{hh}$, written with the weights on the left.  Keras calls $W_{xh}$ the `kernel`
# ($D \times H = 2 \times 3$) and $W_{hh}$ the `recurrent_kernel` ($H \times H = 3 \times 3$);
# with `use_bias=False` there is no $b_h$.  So the layer has
#
# $$
# D H + H^2 = 2 \cdot 3 + 3 \cdot 3 = 15
# $$
#
# parameters, as the article's summary says.

# %%
import numpy as np

import layers
import minigrad as mg
from lessons.report import check, close, show, title

title("parameters and summary")
model = layers.Sequential([layers.SimpleRNN(3, use_bias=False)])
summary = model.summary((None, 2))
check("the summary reports 15 parameters", "Total params: 15" in summary)

# %% [markdown]
# ## The weights the article printed
#
# The article prints its layer's freshly initialised weights: a kernel drawn by
# glorot_uniform, uniform in $\pm\sqrt{6 / (D + H)} = \pm\sqrt{6/5} = \pm 1.095$, and a
# recurrent kernel drawn by orthogonal, $W_{hh} W_{hh}^\top = I$.  Both claims can be checked on
# the printed numbers themselves.

# %%
kernel = np.array([[0.1444943, 0.14509082, 0.8174648], [-0.00633633, -0.9820774, -0.53582764]])
recurrent = np.array([[-0.8286751, 0.00360382, -0.5597184],
                      [-0.12797575, -0.9747111, 0.18319504],
                      [-0.5449035, 0.22343954, 0.80818003]])  # fmt: skip
title("the printed weights")
show("kernel (2, 3)", kernel)
show("recurrent kernel (3, 3)", recurrent)
check("the kernel lies within the glorot_uniform limit sqrt(6/5)", np.abs(kernel).max() <= np.sqrt(6 / 5))
check("the recurrent kernel is orthogonal: W_hh W_hh^T = I to the 7 digits printed",
      np.allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-6))  # fmt: skip

# %% [markdown]
# ## One input, every way of returning it
#
# The input `[[1, 2], [2, 3]]` is one sequence of two steps of two features: shape
# $(B, T, D) = (1, 2, 2)$.
# The article's printed outputs come from *new* layers, each with weights of its own that it
# did not print, so they cannot be recomputed.  Here every variant uses the printed weights,
# and every output is checked in plain numpy against
#
# $$
# h_1 = \tanh(x_1 W_{xh}), \qquad h_2 = \tanh(x_2 W_{xh} + h_1 W_{hh}).
# $$

# %%
x = np.array([[[1.0, 2.0], [2.0, 3.0]]])
h1 = np.tanh(x[0, 0] @ kernel)
h2 = np.tanh(x[0, 1] @ kernel + h1 @ recurrent)
show("h_1 by hand", h1)
show("h_2 by hand", h2)


def simple_rnn(**options):
    layer = layers.SimpleRNN(3, use_bias=False, input_size=2, **options)
    layer.set_weights([kernel, recurrent])
    return layer


title("return_sequences=True: every step's output, (batch, time, units)")
sequences = simple_rnn(return_sequences=True)(x)
show("output", sequences)
check(
    "shape (1, 2, 3) and values [h_1, h_2]",
    sequences.shape == (1, 2, 3) and close(sequences.data[0], [h1, h2]),
)

title("return_sequences=False: only the last output, (batch, units)")
last = simple_rnn()(x)
show("output", last)
check("shape (1, 3) and value h_2", last.shape == (1, 3) and close(last.data[0], h2))

title("return_state=True: [output, last state]")
output, state = simple_rnn(return_state=True)(x)
check("for SimpleRNN the output is the last state (the article's observation)", close(output, state, 0))

title("go_backwards=True: read from the end, outputs in reading order")
backwards = simple_rnn(go_backwards=True, return_sequences=True)(x)
b1 = np.tanh(x[0, 1] @ kernel)
b2 = np.tanh(x[0, 0] @ kernel + b1 @ recurrent)
show("output", backwards)
check("it reads step 2 first, then step 1, and returns the sequence in that order",
      close(backwards.data[0], [b1, b2]))  # fmt: skip

# %% [markdown]
# ## `dropout`, `recurrent_dropout`, `stateful` and `unroll`
#
# * `dropout` drops inputs and `recurrent_dropout` drops the state fed back, each with one
#   mask per sequence that every step shares, and only in training: with masks $m_x$ and
#   $m_h$ (0 or $1/(1-p)$ in each place) a step computes
#   $h_t = \tanh\big((x_t \odot m_x) W_{xh} + (h_{t-1} \odot m_h) W_{hh}\big)$.
# * `stateful=True` keeps the last state of each sample as the first state of the same sample
#   in the next call: two calls on halves equal one call on the whole sequence.
# * `unroll` is a speed option of Keras's graph compiler; it changes no number.

# %%
title("dropout only while training")
dropping = simple_rnn(dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
dropping.eval()
check("in evaluation mode dropout changes nothing", close(dropping(x), sequences, 0))
dropping.train()
mg.manual_seed(0)
check("in training mode it does", not close(dropping(x), sequences, 1e-6))

title("stateful: the state carries over between calls")
long_x = np.concatenate([x, x[:, ::-1]], axis=1)
whole = simple_rnn(return_sequences=True)(long_x)
carrying = simple_rnn(return_sequences=True, stateful=True)
halves = np.concatenate([carrying(x).data, carrying(x[:, ::-1].copy()).data], axis=1)
check("two stateful calls on halves equal one call on the whole", close(halves, whole, 1e-14))
carrying.reset_states()
check("after reset_states() it starts from zero again", close(carrying(x), sequences, 1e-14))

title("unroll")
check(
    "unroll=True gives the same numbers",
    close(simple_rnn(unroll=True, return_sequences=True)(x), sequences, 0),
)

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {"kernel": kernel, "recurrent": recurrent, "last": last.data, "summary": summary}

# %% [markdown]
# # Summary
#
# - `SimpleRNN(3, use_bias=False)` on 2 features holds $D H + H^2 = 15$ weights: the kernel
#   $W_{xh}$ (glorot-uniform) and the recurrent kernel $W_{hh}$ (orthogonal).
# - `return_sequences` chooses every step's output or the last; `return_state` adds the final
#   state, which for SimpleRNN equals the last output; `go_backwards` reads from the end.
# - Dropout acts only in training; a stateful layer carries its state into the next call;
#   `unroll` changes nothing in the numbers.
#
# # Exercises
#
# 1. Count the parameters of `SimpleRNN(3)` with a bias on 2 features, then check with
#    `summary()`.
# 2. Feed a sequence in two halves to a stateful layer and compare with one call on the
#    whole sequence.
# 3. Show that `go_backwards=True` equals reversing the input in time.
