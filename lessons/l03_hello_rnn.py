"""A character RNN on "hello", BPTT as a sum over time, a sentiment classifier, clipping and gates.

Article: "Fundamentals of Deep Learning - Introduction to Recurrent Neural Networks"
(translated and annotated: 深度学习基础 - 循环神经网络入门).
"""

# %% [markdown]
# # Predicting the next letter of "hello"
#
# The vocabulary is $\{h, e, l, o\}$; each letter enters as a one-hot vector of $D = 4$
# numbers, and the state has $H = 3$ numbers.  The article multiplies column vectors,
# $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)$, $y_t = W_{hy} h_t$, so its input weights are
# $3 \times 4$ and its $y_t$ are the output scores.  In the book's notation (rows; see the
# notation page) the same network reads
#
# $$
# h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h), \qquad o_t = h_t W_{hq}, \qquad
# \hat y_t = \mathrm{softmax}(o_t), \quad
# \mathrm{softmax}(o)_k = \frac{e^{o_k}}{\sum_j e^{o_j}},
# $$
#
# with our $W_{xh}$ ($4 \times 3$) the article's transposed, and our $W_{hq}$ its $W_{hy}$
# transposed.  Its $W_{xh}$ and $W_{hy}$ values were pictures and are lost; this lesson draws
# them with a fixed seed, in the article's shapes, and transposes them.  It keeps the two
# numbers the text does give: a recurrent weight 0.427043 and a bias 0.56700.
#
# **The article's shape mistake.**  It calls $W_{hh}$ a $1 \times 1$ matrix, multiplies it with a
# previous state it writes as [0, 0, 0, 0] (4 numbers) and adds a 1 x 1 bias: that product
# is not defined, and its result would not match the 3 numbers of $W_{xh} x_t$.  (Its
# translator noticed this.)  The state has 3 numbers, so $W_{hh}$ must be $3 \times 3$.  A
# single number $w$ multiplying the state is the same as the $3 \times 3$ matrix $w I$, which
# is what we use: $h_{t-1} (w I) = w\, h_{t-1}$.

# %%

import numpy as np

import layers
import minigrad as mg
from lessons import DATA
from lessons.report import check, close, show, title
from minigrad import data
from minigrad import functional as F

vocab = ["h", "e", "l", "o"]
one_hot = np.eye(4)
rng = np.random.default_rng(0)
W_xh = rng.uniform(-1, 1, (3, 4)).T  # drawn in the article's shape (3, 4); ours is (D, H) = (4, 3)
W_hq = rng.uniform(-1, 1, (4, 3)).T  # the article's W_hy (4, 3); ours is (H, Q) = (3, 4)
w, bias = 0.427043, 0.56700
W_hh = w * np.eye(3)
b_h = np.full(3, bias)

title("why W_hh has to be 3 x 3")
h_prev = np.array([0.3, -0.2, 0.5])
check(
    "a scalar 0.427043 times a 3-state equals the 3 x 3 matrix 0.427043 I times it",
    np.allclose(w * h_prev, h_prev @ W_hh),
)
try:
    np.ones((1, 1)) @ np.zeros((4, 1)) + np.ones((1, 1))
except ValueError as error:
    print(f"1x1 @ 4x1 as written in the article: ValueError: {error}")
    check("the article's 1 x 1 @ 4 x 1 product is undefined", "mismatch" in str(error))

# %% [markdown]
# ## The seven steps, for the inputs "h" then "e"
#
# With $h_0 = 0$: (1) $x_1 W_{xh}$, (2) $h_0 W_{hh} + b_h$, (3) $h_1 = \tanh$ of their sum;
# (4) both terms again for "e", (5) $h_2$, (6) the scores $o_2 = h_2 W_{hq}$ and (7)
# $\hat y_2 = \mathrm{softmax}(o_2)$, the predicted probabilities of the next letter.

# %%
title("seven steps by hand")
step1 = one_hot[0] @ W_xh  # 1: the input term for "h"
step2 = np.zeros(3) @ W_hh + b_h  # 2: the recurrent term; there is no state before "h"
h1 = np.tanh(step1 + step2)  # 3: the state after "h"
step4 = (one_hot[1] @ W_xh, h1 @ W_hh + b_h)  # 4: both terms for "e"
h2 = np.tanh(step4[0] + step4[1])  # 5: the state after "e"
o2 = h2 @ W_hq  # 6: the output scores after "e"
p2 = np.exp(o2) / np.exp(o2).sum()  # 7: softmax over {h, e, l, o}
for name, value in [
    ("1. x_h W_xh", step1),
    ("2. h_0 W_hh + b_h", step2),
    ("3. h_1", h1),
    ("4a. x_e W_xh", step4[0]),
    ("4b. h_1 W_hh + b_h", step4[1]),
    ("5. h_2", h2),
    ("6. o_2 = h_2 W_hq", o2),
    ("7. softmax(o_2)", p2),
]:
    show(name, value)
print(f"after 'h', 'e' the untrained network predicts {vocab[int(p2.argmax())]!r} (the answer is 'l')")
check("step 2 is the bias alone, since h_0 = 0", np.allclose(step2, 0.567))
check("the probabilities are positive and sum to 1", np.all(p2 > 0) and abs(p2.sum() - 1) < 1e-12)

# %% [markdown]
# minigrad computes the same thing with Keras's names: the SimpleRNN's `kernel` is
# $W_{xh}$, its `recurrent_kernel` $W_{hh}$, its `bias` $b_h$, and the output layer's `kernel`
# is $W_{hq}$.

# %%
rnn = layers.SimpleRNN(3, return_sequences=True, input_size=4)
rnn.set_weights([W_xh, W_hh, b_h])
head = layers.Dense(4, use_bias=False, input_size=3)
head.set_weights([W_hq])
states = rnn(one_hot[None, [0, 1]])
check(
    "SimpleRNN's states after 'h' and 'e' equal h_1 and h_2", close(states.data[0], np.stack([h1, h2]), 1e-14)
)
check("softmax of its output equals step 7", close(F.softmax(head(states)).data[0, 1], p2, 1e-14))

# %% [markdown]
# ## Training until "hell" is followed by "o"
#
# Inputs h, e, l, l; targets e, l, l, o: one prediction at every step (many to many).  The
# loss of the sequence is the **sum over time** of the cross entropy of each step, and the
# gradient of that sum is the sum of the gradients of each step's loss:
#
# $$
# L = \sum_{t=1}^{T} \ell_t, \quad \ell_t = -\log \hat y_{t, y_t}, \qquad
# \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \frac{\partial \ell_t}{\partial W_{hh}}.
# $$
#
# This is all that backpropagation through time means (lesson l05 writes each term out).

# %%
title("BPTT is the sum over time of each step's gradient")
x = one_hot[None, [0, 1, 2, 2]]
targets = np.array([[1, 2, 2, 3]])
# the scores are (batch, time, classes), with 4 steps and 4 classes: class_axis=-1 says which
# axis holds the classes (PyTorch's layout would put them on axis 1)
whole = F.cross_entropy(head(rnn(x)), targets, reduction="sum", class_axis=-1)
whole.backward()
total_grad = rnn.cell.recurrent_kernel.grad.copy()
per_step = np.zeros_like(total_grad)
for t in range(4):
    rnn.zero_grad()
    head.zero_grad()
    F.cross_entropy(head(rnn(x))[:, t], targets[:, t], reduction="sum").backward()
    per_step += rnn.cell.recurrent_kernel.grad
show("dL/dW_hh of the summed loss", total_grad)
check("it equals the sum of the four per-step gradients", close(total_grad, per_step, 1e-14))

title("training, three seeds")


def train_on_hell(seed: int) -> str:
    """A 3-unit RNN and a Dense layer trained for 300 Adam steps; its predictions reading 'hell'."""
    mg.manual_seed(seed)
    model = layers.Sequential([layers.SimpleRNN(3, return_sequences=True), layers.Dense(4)])
    model(x)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.05)
    for step in range(1, 301):
        loss = F.cross_entropy(model(x), targets, class_axis=-1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in (1, 50, 300):
            print(f"seed {seed}, step {step:>3}: mean cross-entropy {loss.item():.4f}")
    return "".join(vocab[i] for i in model(x).data[0].argmax(axis=1))


predictions = [train_on_hell(seed) for seed in (0, 1, 2)]
predicted = predictions[0]
print(f"reading 'hell' the networks predict {predictions}")
check(
    "after training the prediction after 'hell' is 'o', on every seed",
    all(p[-1] == "o" for p in predictions),
    [p[-1] for p in predictions],
)
check(
    "and every step predicts the next letter: 'ello', on every seed",
    set(predictions) == {"ello"},
    predictions,
)

# %% [markdown]
# # Many to one: the feeling of a sentence
#
# The article classifies 1.6 million tweets, which are not available offline.  The project
# ships 240 short reviews written for this lesson; some are negated ("the film was not
# good"), and the next section shows what that does to a model that ignores word order.
# The model reads the words
# through an Embedding (padding id 0 masked), a ReLU SimpleRNN as in the article,
# $h_t = \max(0,\, x_t W_{xh} + h_{t-1} W_{hh} + b_h)$, and a Dense layer on the last state
# only (many to one): $\hat y = \mathrm{softmax}(h_T W_{hq} + b_q)$ over {negative, positive}.

# %%
title("a sentiment classifier")
rows = data.load_pairs(DATA / "sentiment.tsv")
words = data.Vocab.from_texts(text for text, _ in rows)
ids, _ = data.pad_batch([words.encode(data.tokenize(text)) for text, _ in rows])
labels = np.array([label == "positive" for _, label in rows], dtype=np.int64)
split = 180
mg.manual_seed(0)
classifier = layers.Sequential(
    [
        layers.Embedding(len(words), 16, mask_zero=True),
        layers.SimpleRNN(32, activation="relu"),
        layers.Dense(2),
    ]
)
classifier.summary((ids.shape[1],))
optimizer = mg.optim.Adam(classifier.parameters(), lr=0.01)
history = classifier.fit(
    ids[:split],
    labels[:split],
    optimizer=optimizer,
    epochs=30,
    batch_size=16,
    validation_data=(ids[split:], labels[split:]),
    clip_norm=1.0,
    verbose=0,
)
print(f"train accuracy {history['accuracy'][-1]:.3f}, held-out accuracy {history['val_accuracy'][-1]:.3f}")
negated = [i for i in range(split, len(rows)) if " not " in rows[i][0]]
correct = classifier.predict(ids[negated]).argmax(axis=1) == labels[negated]
print(f"held-out negated sentences: {int(correct.sum())}/{len(negated)} right")

# %% [markdown]
# # What ignoring word order costs
#
# The simplest order-blind model gives every word a weight vector and adds them up: the
# score of a sentence is the sum of its words' weights.  It cannot get "good", "not good",
# "bad" and "not bad" all right: with one score for "positive", it would need
#
# $$
# w_{\text{good}} > 0, \qquad w_{\text{bad}} < 0, \qquad
# w_{\text{not}} + w_{\text{good}} < 0, \qquad w_{\text{not}} + w_{\text{bad}} > 0,
# $$
#
# so $w_{\text{not}} < -w_{\text{good}} < 0$ and at the same time
# $w_{\text{not}} > -w_{\text{bad}} > 0$: no weights do both (the XOR of "not" and the word's
# own feeling).  The RNN reads "not" *before* "good" and can
# carry it in its state.  Both are trained on the same 180 sentences, from three seeds.
# Measured on seeds 0-2 along four floating-point paths (the Numba kernels, their numpy
# twins, every initial weight 1 ulp up, another processor's OpenBLAS kernels), and for the
# bag on seeds 0-9, the bag fitted 0.74-0.78 of its training sentences and got 1 to 4 of
# the 15 held-out negated ones (0.07-0.27); the RNN got all 15, and every held-out
# sentence, in every run.

# %%
title("an order-blind baseline: the sum of word weights")


def bag_of_words(seed: int) -> tuple[float, float]:
    """Train sum-of-word-weights on the 180 sentences; (train accuracy, held-out negated accuracy)."""
    mg.manual_seed(seed)
    word_weights = mg.Tensor(mg.random.generator().normal(0, 0.1, (len(words), 2)), requires_grad=True)
    bias = mg.Tensor(np.zeros(2), requires_grad=True)

    def scores(batch_ids: np.ndarray) -> mg.Tensor:
        present = (batch_ids > 0)[:, :, None]  # padding adds nothing
        return (word_weights[batch_ids] * present).sum(axis=1) + bias

    bag_optimizer = mg.optim.Adam([word_weights, bias], lr=0.05)
    for _ in range(60):
        for batch_ids, batch_labels in data.batches(ids[:split], labels[:split], batch_size=16):
            loss = F.cross_entropy(scores(batch_ids), batch_labels)
            bag_optimizer.zero_grad()
            loss.backward()
            bag_optimizer.step()
    with mg.no_grad():
        fit = np.mean(scores(ids[:split]).data.argmax(axis=1) == labels[:split])
        held = np.mean(scores(ids[negated]).data.argmax(axis=1) == labels[negated])
    return float(fit), float(held)


def recurrent(seed: int) -> tuple[float, float]:
    """The RNN classifier above, from a seed: (held-out accuracy, held-out negated accuracy)."""
    mg.manual_seed(seed)
    model = layers.Sequential(
        [
            layers.Embedding(len(words), 16, mask_zero=True),
            layers.SimpleRNN(32, activation="relu"),
            layers.Dense(2),
        ]
    )
    model.fit(
        ids[:split],
        labels[:split],
        optimizer=mg.optim.Adam(model.parameters(), lr=0.01),
        epochs=30,
        batch_size=16,
        clip_norm=1.0,
        verbose=0,
    )
    right = model.predict(ids[split:]).argmax(axis=1) == labels[split:]
    return float(np.mean(right)), float(np.mean(right[np.array(negated) - split]))


bag = {seed: bag_of_words(seed) for seed in (0, 1, 2)}
rnn_scores = {seed: recurrent(seed) for seed in (0, 1, 2)}
rnn_negated = {seed: negated_right for seed, (_, negated_right) in rnn_scores.items()}
for seed in bag:
    fit, held = bag[seed]
    print(
        f"seed {seed}: the bag of words fits {fit:.3f} of its training sentences and gets {held:.3f} of "
        f"the {len(negated)} held-out negated ones; the RNN gets {rnn_negated[seed]:.3f}"
    )
check(
    "the bag of words cannot fit its own 180 training sentences (below 0.85 on every seed)",
    all(fit < 0.85 for fit, _ in bag.values()),
    [fit for fit, _ in bag.values()],
    "< 0.85 on every seed",
)
check(
    "on the held-out negated sentences the bag is right at most 40% of the time, on every seed",
    all(held <= 0.4 for _, held in bag.values()),
    [held for _, held in bag.values()],
    "<= 0.4 on every seed",
)
check(
    "and the RNN at least 90% of the time, on every seed",
    min(rnn_negated.values()) >= 0.9,
    list(rnn_negated.values()),
    ">= 0.9 on every seed",
)
held_out = [held for held, _ in rnn_scores.values()]
check(
    "the RNN's held-out accuracy is above 0.85 on every seed",
    min(held_out) > 0.85,
    held_out,
    "> 0.85 on every seed",
)

# %% [markdown]
# # Exploding gradients and the threshold cure
#
# The article: an exploding gradient can be fixed simply by a threshold.  Here a linear RNN
# whose recurrent weights have every singular value 1.5 runs 30 steps: the gradient reaching
# the weights is enormous and one plain SGD step ruins them.  Clipping the norm of the whole
# gradient $g$ (every parameter's gradient together) to a threshold $\theta$,
#
# $$
# g \leftarrow g \cdot \min\!\left(1, \frac{\theta}{\lVert g \rVert}\right),
# $$
#
# keeps its direction and caps its length; here $\theta = 1$.

# %%
title("exploding gradients and clipping")
mg.manual_seed(0)
x_long = mg.random.generator().standard_normal((4, 30, 2))
y_long = mg.random.generator().standard_normal((4, 3))


def exploding_model():
    mg.manual_seed(1)
    model = layers.SimpleRNN(3, activation="linear", input_size=2)
    model.cell.recurrent_kernel.data[...] = 1.5 * mg.init.orthogonal((3, 3))
    return model


results = {}
for clip in (None, 1.0):
    model = exploding_model()
    loss = F.mse_loss(model(x_long), y_long)
    loss.backward()
    norm = (
        mg.optim.clip_grad_norm(model.parameters(), clip)
        if clip
        else float(np.sqrt(sum(np.sum(p.grad**2) for p in model.parameters())))
    )
    mg.optim.SGD(model.parameters(), lr=0.01).step()
    with np.errstate(over="ignore", invalid="ignore"):
        after = F.mse_loss(model(x_long), y_long).item()
    results[clip] = (loss.item(), norm, after)
    print(f"clip={clip}: loss {loss.item():.3g}, gradient norm {norm:.3g}, loss after one step {after:.3g}")
check("the gradient norm is in the millions", results[None][1] > 1e6)
check(
    "without clipping one step makes the loss far worse (x1000)",
    not results[None][2] < 1000 * results[None][0],
)
check("with clipping the same step lowers the loss", results[1.0][2] < results[1.0][0])

# %% [markdown]
# # The gates of LSTM and GRU
#
# Both cells compute gates of one form, $\sigma(x_t W_{x\cdot} + h_{t-1} W_{h\cdot} + b_\cdot)$,
# numbers in $(0, 1)$ that scale what passes ($\sigma$ the logistic sigmoid, $\odot$ the
# elementwise product).  The LSTM has an input gate $i_t$, a forget gate $f_t$, an output gate
# $o_t$, a candidate $\tilde c_t$ and a cell state $c_t$:
#
# $$
# \begin{aligned}
# i_t &= \sigma(x_t W_{xi} + h_{t-1} W_{hi} + b_i), &
# f_t &= \sigma(x_t W_{xf} + h_{t-1} W_{hf} + b_f), \\
# o_t &= \sigma(x_t W_{xo} + h_{t-1} W_{ho} + b_o), &
# \tilde c_t &= \tanh(x_t W_{xc} + h_{t-1} W_{hc} + b_c), \\
# c_t &= f_t \odot c_{t-1} + i_t \odot \tilde c_t, &
# h_t &= o_t \odot \tanh(c_t).
# \end{aligned}
# $$
#
# The GRU (Keras's convention, `reset_after=True`) has an update gate $z_t$, a reset gate
# $r_t$ and a candidate $\tilde h_t$:
#
# $$
# \begin{aligned}
# z_t &= \sigma(x_t W_{xz} + h_{t-1} W_{hz} + b_z), \qquad
# r_t = \sigma(x_t W_{xr} + h_{t-1} W_{hr} + b_r), \\
# \tilde h_t &= \tanh\big(x_t W_{xh} + b_{xh} + r_t \odot (h_{t-1} W_{hh} + b_{hh})\big), \qquad
# h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t.
# \end{aligned}
# $$
#
# Keras keeps the gates' weights side by side in one `kernel` and one `recurrent_kernel`
# (LSTM: $i, f, \tilde c, o$; GRU: $z, r, \tilde h$).  One step of each cell, checked against
# the formulas in numpy.

# %%
title("one LSTM step and one GRU step, by hand")
mg.manual_seed(0)
x_t = mg.random.generator().standard_normal((1, 2))
h, c = mg.random.generator().standard_normal((2, 1, 3)) * 0.5


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


lstm = layers.LSTMCell(3, input_size=2)
kernel, recurrent, lstm_bias = lstm.get_weights()
a = x_t @ kernel + h @ recurrent + lstm_bias  # the four gates' pre-activations, side by side
i, f, c_tilde, o = sigmoid(a[:, :3]), sigmoid(a[:, 3:6]), np.tanh(a[:, 6:9]), sigmoid(a[:, 9:])
show("LSTM gates i, f, o", np.concatenate([i, f, o]))
out, (h_new, c_new) = lstm(x_t, [h, c])
check("LSTM: c_t = f_t * c_{t-1} + i_t * c~_t", close(c_new, f * c + i * c_tilde, 1e-14))
check("LSTM: h_t = o_t * tanh(c_t)", close(h_new, o * np.tanh(f * c + i * c_tilde), 1e-14))

gru = layers.GRUCell(3, input_size=2)
kernel, recurrent, gru_bias = gru.get_weights()
xp, hp = x_t @ kernel + gru_bias[0], h @ recurrent + gru_bias[1]
z, r = sigmoid(xp[:, :3] + hp[:, :3]), sigmoid(xp[:, 3:6] + hp[:, 3:6])
h_tilde = np.tanh(xp[:, 6:] + r * hp[:, 6:])
show("GRU gates z, r", np.concatenate([z, r]))
out, (h_gru,) = gru(x_t, [h])
check("GRU: h_t = z_t * h_{t-1} + (1 - z_t) * h~_t", close(h_gru, z * h + (1 - z) * h_tilde, 1e-14))

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {
    "W_xh": W_xh,
    "W_hq": W_hq,
    "p2": p2,
    "predicted": predicted,
    "val_accuracy": history["val_accuracy"],
    "negated": negated,
    "bag": bag,
    "rnn_negated": rnn_negated,
    "rnn_held_out": held_out,
}

# %% [markdown]
# # Summary
#
# - A character RNN reads one-hot letters and predicts the next; with 3 hidden units, the
#   recurrent weight $W_{hh}$ is $3 \times 3$, not the single number the article printed.
# - BPTT is the sum over time of each step's gradient,
#   $\partial L / \partial W_{hh} = \sum_t \partial \ell_t / \partial W_{hh}$, and training on
#   "hell" makes "o" the likeliest next letter.
# - A many-to-one RNN classifies a sentence from its last state; clipping the gradient's
#   norm keeps one steep step from throwing the weights away.
# - LSTM and GRU steps are a few gates of the same form,
#   $\sigma(x_t W_{x\cdot} + h_{t-1} W_{h\cdot} + b_\cdot)$, that scale what is kept, written
#   and shown.
#
# # Exercises
#
# 1. Train on "hello hello" and generate ten letters from "h".
# 2. Remove the clipping from the exploding-gradient run and watch the loss.
# 3. Compute one GRU step by hand with `reset_after=False`, where the candidate is
#    $\tanh(x_t W_{xh} + (r_t \odot h_{t-1}) W_{hh} + b_h)$, and compare with `layers.GRU`.
