"""Order, memory, vanishing and exploding gradients, and why LSTM.

Article: Morvan (莫烦Python), "TensorFlow Day 6: RNN basics".

Measures what the article says in words: a reversed sequence is a different input; the
state S(t) carries the past forward; backpropagating through t steps multiplies the
gradient by the recurrent weights t times (0.9^t vanishes, 1.1^t explodes); and an LSTM keeps
a key fact from the start of a sequence where a plain RNN loses it.
"""

# %% [markdown]
# # Order matters
#
# The article's example: say a famous name backwards and it stops making sense.  An RNN
# reads its input in order and carries a state from step to step (the article's $S(t)$, our
# $h_t$; the notation page has every symbol),
#
# $$
# h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h),
# $$
#
# so a sequence and the same steps reversed end in different states $h_T$.  A model that only
# adds up its inputs, $\sum_t x_t$, cannot tell them apart.

# %%
import numpy as np

import layers
import minigrad as mg
from lessons import diagrams
from lessons.report import check, plot, show, title

title("a sequence and its reverse")
mg.manual_seed(0)
x = mg.random.generator().standard_normal((1, 6, 3))
rnn = layers.SimpleRNN(4, input_size=3)
forward_state, reversed_state = rnn(x).data, rnn(x[:, ::-1].copy()).data
show("h_T reading forwards", forward_state)
show("h_T reading backwards", reversed_state)
check("the two final states differ", np.abs(forward_state - reversed_state).max() > 1e-3)
check("a sum of the inputs cannot tell them apart", np.allclose(x.sum(axis=1), x[:, ::-1].sum(axis=1)))

# %% [markdown]
# ## Three shapes of application
#
# * many to one, e.g. the feeling of a sentence: read every step, keep the last state,
#   $\hat y = \mathrm{softmax}(h_T W_{hq} + b_q)$;
# * one to many, e.g. describing an image: one input vector $v$, a sequence out.  Here the
#   input enters once, as the RNN's initial state through a Dense layer,
#   $h_0 = \tanh(v W_v + b_v)$, and the RNN writes from it for as many steps as asked,
#   reading no input of its own: $h_t = \tanh(h_{t-1} W_{hh} + b_h)$, $o_t = h_t W_{hq} + b_q$;
# * many to many, e.g. tagging: an output $o_t = h_t W_{hq} + b_q$ at every step of the input.

# %%
title("the three shapes")
batch, steps, features, units = 2, 5, 3, 4
many_to_one = layers.Sequential([layers.SimpleRNN(units), layers.Dense(2)])
many_to_many = layers.Sequential([layers.SimpleRNN(units, return_sequences=True), layers.Dense(7)])
sequence = mg.random.generator().standard_normal((batch, steps, features))

# one to many: image (batch, features) -> initial state (batch, units) -> a sequence of words
to_state = layers.Dense(units, activation="tanh", input_size=features)
writer = layers.SimpleRNN(units, return_sequences=True, input_size=1)
to_words = layers.Dense(7, input_size=units)


def one_to_many(image: np.ndarray, length: int) -> mg.Tensor:
    nothing = np.zeros((len(image), length, 1))  # the writer reads no input of its own
    return to_words(writer(nothing, initial_state=[to_state(image)]))


image = mg.random.generator().standard_normal((batch, features))
shapes = {
    "many to one": many_to_one(sequence).shape,
    "one to many": one_to_many(image, steps).shape,
    "many to many": many_to_many(sequence).shape,
}
for name, shape in shapes.items():
    show(f"{name}: output", shape)
check("many to one gives one prediction per sequence: (batch, classes)", shapes["many to one"] == (2, 2))
check("many to many gives one per input step: (batch, time, tags)", shapes["many to many"] == (2, 5, 7))
check(
    "one to many turns one vector per sample into a sequence: (batch, time, words)",
    shapes["one to many"] == (2, 5, 7),
)
other_image = image.copy()
other_image[0] += 1.0
changed = np.abs(one_to_many(other_image, steps).data - one_to_many(image, steps).data)[0].max(axis=1)
check("and every one of its steps depends on that one input", bool(np.all(changed > 0)))
check("it writes as many steps as asked: 8 from the same image", one_to_many(image, 8).shape == (2, 8, 7))

# %% [markdown]
# # Vanishing and exploding gradients, measured
#
# Backpropagating from the last state to step $t$ multiplies the gradient by the transposed
# recurrent weights once per step, and by $\tanh$'s derivative, at most 1: with
# $\delta_t = \partial L / \partial h_t$ and a loss that depends on $h_T$ only,
#
# $$
# \delta_{t-1} = \big(\delta_t \odot (1 - h_t \odot h_t)\big)\, W_{hh}^\top .
# $$
#
# The article: if that factor is 0.9, the gradient reaching the first steps is nearly zero;
# if it is 1.1, it blows up.  To see the bare effect, take $W_{hh} = \lambda Q$ with $Q$
# orthogonal ($Q$ keeps every length) and a scale $\lambda$, zero inputs and a zero start: the
# state stays 0, $\tanh'(0) = 1$, and the gradient $k$ steps before the end must be exactly
#
# $$
# \lVert \delta_{T-k} \rVert = \lambda^k \, \lVert \delta_T \rVert .
# $$
#
# Here $T = 40$, $H = 16$ units, and $L = \sum_j w_j h_{T,j}$ for a fixed random row $w$.

# %%
T, units = 40, 16


def gradient_norms(cell, x, start_states):
    """||dL/dh_t|| for every t, with L = sum(w * h_T) for fixed random w."""
    states, hs = start_states, []
    for t in range(x.shape[1]):
        h, states = cell.step(mg.Tensor(x[:, t]), states)
        h.retain_grad()
        hs.append(h)
        states = [h, *states[1:]]
    w = np.random.default_rng(1).standard_normal(h.shape)
    (hs[-1] * w).sum().backward()
    return np.array([np.linalg.norm(h.grad) for h in hs])


norms = {}
for scale in (0.9, 1.1):
    mg.manual_seed(0)
    cell = layers.SimpleRNNCell(units, input_size=1)
    cell.recurrent_kernel.data[...] = scale * mg.init.orthogonal((units, units))
    norms[scale] = gradient_norms(cell, np.zeros((1, T, 1)), [mg.zeros(1, units)])
    k = np.arange(T)[::-1]  # steps from the end
    ratio = norms[scale] / norms[scale][-1]
    show(f"scale {scale}: ||dL/dh_t|| / ||dL/dh_T|| at t = 1, 10, 20, 30, 40", ratio[[0, 9, 19, 29, 39]])
    check(f"scale {scale}: the ratio is exactly {scale}^(T - t)", np.allclose(ratio, scale**k, rtol=1e-12))
plot(
    "gradient_norms.png",
    "the gradient reaching h_t, recurrent weights = scale x orthogonal, zero inputs",
    list(range(1, T + 1)),
    {
        "0.9^(T-t)": 0.9 ** (T - np.arange(1, T + 1)),
        "1.1^(T-t)": 1.1 ** (T - np.arange(1, T + 1)),
        "||dL/dh_t||, scale 0.9": norms[0.9] / norms[0.9][-1],
        "||dL/dh_t||, scale 1.1": norms[1.1] / norms[1.1][-1],
    },
    "time step t",
    "||dL/dh_t|| / ||dL/dh_T||",
    log_y=True,
    dashed=("0.9^(T-t)", "1.1^(T-t)"),
)
check(
    "0.9 vanishes: after 39 steps the gradient is below 2% of its size", norms[0.9][0] / norms[0.9][-1] < 0.02
)
check("1.1 explodes: after 39 steps it is over 40 times larger", norms[1.1][0] / norms[1.1][-1] > 40)

# %% [markdown]
# *The figure:* on a logarithmic axis, the norm of $\partial L / \partial h_t$ relative to its
# value at $t = T = 40$, against $t$.  With scale 0.9 the measured points fall on the dashed
# line $0.9^{T-t}$, down to about 0.016 at $t = 1$; with scale 1.1 they rise along $1.1^{T-t}$
# to about 41.

# %% [markdown]
# With real inputs the state moves away from 0, $\tanh'$ drops below 1 and the gradient
# shrinks even faster than $\lambda^k$.  What matters for learning is the gradient that
# reaches the *input* of an early step, $\partial L / \partial x_t$.
#
# An LSTM (the article's input, forget and output gates, and the cell as the "main
# storyline" memory) computes, with $\sigma$ the logistic sigmoid and $\odot$ the elementwise
# product,
#
# $$
# \begin{aligned}
# i_t &= \sigma(x_t W_{xi} + h_{t-1} W_{hi} + b_i), &
# f_t &= \sigma(x_t W_{xf} + h_{t-1} W_{hf} + b_f), &
# o_t &= \sigma(x_t W_{xo} + h_{t-1} W_{ho} + b_o), \\
# \tilde c_t &= \tanh(x_t W_{xc} + h_{t-1} W_{hc} + b_c), &
# c_t &= f_t \odot c_{t-1} + i_t \odot \tilde c_t, &
# h_t &= o_t \odot \tanh(c_t).
# \end{aligned}
# $$

# %%
diagrams.lstm_cell()

# %% [markdown]
# *The figure:* one LSTM step.  Along the top the cell state runs from $c_{t-1}$ to $c_t$,
# touched only by a multiplication with the forget gate $f_t$ and the addition of
# $i_t \odot \tilde c_t$.  Below, the gates $f_t$, $i_t$, $o_t$ (sigmoids) and the candidate
# $\tilde c_t$ (tanh) are computed from $h_{t-1}$ and $x_t$; on the right
# $h_t = o_t \odot \tanh(c_t)$ leaves the cell.
#
# So the LSTM has a second road back in time, through its cell state:
#
# $$
# \frac{\partial L}{\partial c_{t-1}} = \frac{\partial L}{\partial c_t} \odot f_t
# + (\text{the paths through } h_{t-1}).
# $$
#
# At Keras's initialisation the forget bias is 1, $f_t \approx \sigma(1) = 0.73$, and
# $0.73^{39} \approx 5 \times 10^{-6}$: at the start the LSTM's gradient vanishes too.  The
# difference is that $f_t$ is a gate the network learns: once the forget gate opens (here the
# bias set to 3, $f_t \approx \sigma(3) = 0.95$), the gradient reaching step 1 is as large as at
# step $T$.  A plain RNN has no such knob.

# %%
title("the gradient reaching each input: tanh RNN against LSTM")


def input_gradient_norms(cell, x, start_states):
    """||dL/dx_t|| for every t, with L = sum(w * h_T)."""
    states, xs = start_states, []
    for t in range(x.shape[1]):
        x_t = mg.Tensor(x[:, t], requires_grad=True)
        xs.append(x_t)
        h, states = cell.step(x_t, states)
    (h * np.random.default_rng(1).standard_normal(h.shape)).sum().backward()
    norms_ = np.array([np.linalg.norm(x_t.grad) for x_t in xs])
    return norms_ / norms_[-1]


x = np.random.default_rng(2).standard_normal((1, T, 1))
mg.manual_seed(0)
real = {"tanh RNN": input_gradient_norms(layers.SimpleRNNCell(units, input_size=1), x, [mg.zeros(1, units)])}
for forget_bias in (1.0, 3.0):
    mg.manual_seed(0)
    lstm_cell = layers.LSTMCell(units, input_size=1)
    lstm_cell.bias.data[units : 2 * units] = forget_bias
    real[f"LSTM, forget bias {forget_bias:g}"] = input_gradient_norms(
        lstm_cell, x, [mg.zeros(1, units), mg.zeros(1, units)]
    )
for name, ratio in real.items():
    show(f"{name}: ||dL/dx_1|| / ||dL/dx_T||", ratio[0])
plot(
    "input_gradients.png",
    "the gradient reaching x_t, random inputs: tanh RNN against LSTM",
    list(range(1, T + 1)),
    real,
    "time step t",
    "||dL/dx_t|| / ||dL/dx_T||",
    log_y=True,
)
check("tanh RNN: the gradient reaching step 1 has all but vanished (< 1%)", real["tanh RNN"][0] < 0.01)
check(
    "LSTM at Keras's initialisation (f = 0.73): it vanishes too (< 1%)", real["LSTM, forget bias 1"][0] < 0.01
)
check(
    "LSTM with the forget gate open (f = 0.95): step 1 gets at least 10% of step T's gradient",
    real["LSTM, forget bias 3"][0] > 0.1,
)

# %% [markdown]
# *The figure:* on a logarithmic axis, the norm of $\partial L / \partial x_t$ relative to its
# value at $t = T$, against $t$, for the tanh RNN and the LSTM with forget bias 1 and 3.  The
# tanh RNN and the LSTM with forget bias 1 fall by orders of magnitude towards $t = 1$; the
# LSTM with forget bias 3 still has more than a tenth of it at $t = 1$.

# %% [markdown]
# # The long-range memory experiment
#
# The article's story: "Today I am cooking braised pork ribs; first prepare the ribs, then
# ..., and finally the dish is ready.  What did I cook?"  The key fact stands at the very
# start of a long sequence.  Here: the first step carries one of two keys, every later
# step is loud random noise (8 channels, standard deviation 2), and the model must name the
# key at the end.  Both models have 32 units and train on the same data with the same budget
# (10 epochs of 4096 sequences, Adam with learning rate 0.005); the distance to the key grows.

# %%
title("remembering the key across a growing distance")


def key_task(n, length, rng):
    keys = rng.integers(0, 2, n)
    x = 2.0 * rng.standard_normal((n, length, 8))
    x[:, 0] = 0
    x[np.arange(n), 0, keys] = 3.0  # the key, on one of two channels
    return x, keys


def accuracy_after_training(kind, length, seed=0):
    rng = np.random.default_rng(seed)
    x_train, y_train = key_task(4096, length, rng)
    x_test, y_test = key_task(256, length, rng)
    mg.manual_seed(seed)
    model = layers.Sequential([(layers.SimpleRNN if kind == "RNN" else layers.LSTM)(32), layers.Dense(2)])
    model(x_train[:1])
    model.fit(
        x_train,
        y_train,
        loss="cross_entropy",
        optimizer=mg.optim.Adam(model.parameters(), lr=0.005),
        epochs=10,
        batch_size=32,
        verbose=0,
    )
    return model.evaluate(x_test, y_test, return_dict=True)["accuracy"]


distances = [5, 10, 20, 30]
accuracy = {kind: [accuracy_after_training(kind, d) for d in distances] for kind in ("RNN", "LSTM")}
plot(
    "memory_vs_distance.png",
    "test accuracy against the distance to the key (seed 0)",
    distances,
    accuracy,
    "distance to the key (steps)",
    "test accuracy",
)
print(f"{'distance':>10}{'RNN':>8}{'LSTM':>8}")
for i, d in enumerate(distances):
    print(f"{d:>10}{accuracy['RNN'][i]:>8.3f}{accuracy['LSTM'][i]:>8.3f}")

# %% [markdown]
# *The figure:* test accuracy of the plain RNN and the LSTM (seed 0) against the distance
# from the key to the end of the sequence, 5 to 30 steps; 0.5 is chance.  The table above
# gives the same numbers.

# %% [markdown]
# One training run near the edge can go either way: the result depends on the seed, and even
# on the last bits of rounding (the numpy twins of the kernels round differently from the
# Numba loops).  So the claims at distances 10 and 20 are made over several seeds.  Measured
# along four floating-point paths (the Numba kernels, their numpy twins, every initial
# weight 1 ulp up, another processor's OpenBLAS kernels), both models scored 0.996-1.0 at
# distance 10 and the plain RNN 0.46-0.54 at distance 20 (seeds 0-2).  The LSTM at distance
# 20 varies: over seeds 0-4 it learned the key in 16 runs of 20 (0.957-1.0) and stayed near
# chance in 4 (0.48-0.78: seeds 0 and 4 on the numpy twins, 1 and 2 on the other
# processor's kernels), 3 to 5 seeds of 5 on each path.  So it gets five seeds, the claim
# asks for one, and "most seeds" is the honest summary, not a verdict.

# %%
title("distances 10 and 20, three seeds (five for the LSTM at distance 20)")
seeds = {  # (kind, distance) -> accuracy for seeds 0 (trained above), 1 and 2
    (kind, d): [accuracy[kind][distances.index(d)], *(accuracy_after_training(kind, d, s) for s in (1, 2))]
    for d in (10, 20)
    for kind in ("RNN", "LSTM")
}
seeds["LSTM", 20] += [accuracy_after_training("LSTM", 20, s) for s in (3, 4)]
for (kind, d), values in seeds.items():
    print(f"{kind:>5}, distance {d}: " + "  ".join(f"{v:.3f}" for v in values))
at_10 = {kind: seeds[kind, 10] for kind in ("RNN", "LSTM")}
check(
    "at distance 10 both models remember the key on every seed (accuracy > 0.95)",
    min(min(values) for values in at_10.values()) > 0.95,
    at_10,
    "> 0.95 on every seed",
)
check(
    "at distance 20 the plain RNN stays near chance for every seed (< 0.7)",
    max(seeds["RNN", 20]) < 0.7,
    seeds["RNN", 20],
    "< 0.7 on every seed",
)
check(
    "and the LSTM learns it (> 0.9) for at least one seed of five",
    max(seeds["LSTM", 20]) > 0.9,
    seeds["LSTM", 20],
    "> 0.9 on at least 1 of 5 seeds",
)

# %% [markdown]
# The LSTM's advantage is about how easily the long path can be *learned*.  Near the edge
# the result depends on the seed and the budget: with quieter noise (standard deviation 1)
# the plain RNN also learns distance 20, and at distance 30 the LSTM succeeds for some seeds
# and not for others.  The gates give the gradient a road that does not shrink at every
# step; they do not give unlimited memory.

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {
    "norms": {str(scale): n for scale, n in norms.items()},
    "seeds": {f"{kind}/{d}": values for (kind, d), values in seeds.items()},
}

# %% [markdown]
# # Summary
#
# - An RNN's output depends on the order of its inputs; the same layer serves many-to-one,
#   one-to-many and many-to-many shapes.
# - The gradient reaching step 1 from step $T$ passes through $T - 1$ multiplications by the
#   recurrent Jacobian: with a factor 0.9 it shrinks like $0.9^{T-t}$, with 1.1 it grows like
#   $1.1^{T-t}$.
# - An LSTM whose forget gate is open keeps a path, $c_{t-1} \to c_t$ scaled by $f_t$, along
#   which the gradient does not shrink; it learns the key across distances where the plain RNN
#   fails, but not without limit.
#
# # Exercises
#
# 1. Repeat the gradient-norm experiment with ReLU instead of $\tanh$: which factor do you see?
# 2. Give the plain RNN twice the units: how much further does it remember the key?
# 3. Start the LSTM with forget bias 0 instead of 1 and repeat the memory experiment.
