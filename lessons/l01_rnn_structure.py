"""Why RNNs, the X-U-S-W-V-O structure, and the encoder-decoder.

Article: "Why RNNs / RNN structure / Encoder-Decoder" (为什么需要RNN / RNN结构 / Encoder-Decoder).

Reproduces the article's numpy forward loop (100 steps, 32 inputs, 64 units) with its
NameError fixed, shows that minigrad's SimpleRNN computes the same sequence, and trains the
encoder-decoder it describes until "Elle aime la Chine." becomes "She loves China.", once with
C = h_T and once with C = the mean of h_1..h_T.
"""

# %% [markdown]
# # The structure of an RNN
#
# The article names the parts X, U, S, W, V, O: the input, the input weights, the hidden
# state, the recurrent weights, the output weights and the output.  It multiplies column
# vectors, $s_t = \tanh(U x_t + W s_{t-1} + b)$.  This book writes one sample's vectors as
# rows, as Keras and minigrad store them (the notation page has every symbol with its shape):
# the article's $X, S, O$ are our $x_t, h_t, o_t$, and its $U, W, V$ are our $W_{xh}^\top,
# W_{hh}^\top, W_{hq}^\top$.  A fully connected network has only the input and output
# weights; the RNN adds $W_{hh}$, so that the state depends on the current input *and* on the
# previous state:
#
# $$
# h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h), \qquad o_t = h_t W_{hq} + b_q.
# $$
#
# The same weights serve every step.  Unrolled over the steps of a sequence, the loop becomes
# a chain of copies of one cell.

# %%
import numpy as np

import layers
import minigrad as mg
from lessons import DATA, diagrams
from lessons.report import check, close, show, title
from lessons.tasks import digit_sequences, reversals, train_reverser
from minigrad import data
from minigrad import functional as F

diagrams.unrolled_rnn()

# %% [markdown]
# *The figure:* on the left the RNN folded, one cell $h_t$ fed by $x_t$ through $W_{xh}$ and by
# itself through the loop $W_{hh}$, giving $o_t$ through $W_{hq}$; on the right the same cell
# unrolled over three steps, $h_0 \to h_1 \to h_2 \to h_3$, each step reading $x_t$ and
# producing $o_t$, whose loss $\ell_t$ against the target $y_t$ is summed into $L$.
#
# The article's code for this loop does not run: it names the size `out_features` where it
# is defined and `output_features` everywhere it is used, so Python stops at the first use
# with `NameError: name 'output_features' is not defined`.  Below it is written again with
# one name, and with a seeded generator so that the numbers can be checked.

# %%
title("the article's mistake, in two lines")
try:
    exec("out_features = 64\nstate = [0.0] * output_features", {})
except NameError as error:
    print(f"NameError: {error}")
    check("using a name other than the one defined raises NameError", "output_features" in str(error))

# %%
title("the forward loop, corrected")
timesteps, input_features, output_features = 100, 32, 64
rng = np.random.default_rng(0)
inputs = rng.random((timesteps, input_features))
U = rng.random((output_features, input_features))  # the article's U (input -> state): our W_xh^T
W = rng.random((output_features, output_features))  # the article's W (state -> state): our W_hh^T
b = rng.random(output_features)
state = np.zeros(output_features)
outputs = []
for x_t in inputs:
    state = np.tanh(U @ x_t + W @ state + b)
    outputs.append(state)
sequence = np.stack(outputs)
show("shape of the output sequence", sequence.shape)
show("first 4 values of h_1", sequence[0, :4])
check("one state of 64 numbers per step: (100, 64)", sequence.shape == (100, 64))

# %% [markdown]
# Every weight here is drawn from $[0, 1)$, so every pre-activation is a sum of positive
# terms: about 8 from $U x_t$ alone.  $\tanh$ of such numbers is 1 to many digits: the
# network is *saturated*, and its local gradients $\tanh'(a) = 1 - h_t^2$ are nearly zero.
# This is why real initializers are centred on zero and scaled (Keras: glorot_uniform and
# orthogonal).

# %%
show("smallest state value over all steps", sequence.min())
check("the article's initialisation saturates tanh: every state > 0.99", sequence.min() > 0.99)

# %% [markdown]
# ## The same sequence from minigrad's SimpleRNN
#
# Keras and minigrad write the step with rows, $h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$:
# the layer's `kernel` $W_{xh}$ is the article's $U$ transposed and its `recurrent_kernel`
# $W_{hh}$ is the article's $W$ transposed.

# %%
title("minigrad's SimpleRNN with the same weights")
rnn = layers.SimpleRNN(output_features, return_sequences=True, input_size=input_features)
rnn.set_weights([U.T, W.T, b])
ours = rnn(inputs[None]).data[0]  # a batch of one sequence
check("SimpleRNN gives the article's sequence to 1e-12", close(ours, sequence, 1e-12))

# %% [markdown]
# # Encoder-decoder
#
# For translation the input and the output have different lengths.  The encoder RNN reads
# the whole source into its states (the article's text lost the subscript and prints
# "f(h_t - 1, x_t)"),
#
# $$
# h_t = f(h_{t-1}, x_t), \qquad t = 1, \dots, T,
# $$
#
# and keeps one fixed-size context $C$.  The article gives two choices:
#
# $$
# C = h_T \qquad \text{or} \qquad C = g(h_1, \dots, h_T),
# $$
#
# a summary of all the states; here $g$ is the mean over the real (not padding) tokens,
# $C = \frac{1}{T} \sum_{t=1}^{T} h_t$.  The decoder RNN starts from $s_0 = C$ and writes the
# target one token at a time,
#
# $$
# s_t = f(s_{t-1}, y_{t-1}), \qquad \hat y_t = \mathrm{softmax}(s_t W_{hq} + b_q),
# $$
#
# reading in training the true previous token $y_{t-1}$ ("teacher forcing"), and is trained
# on the cross entropy $L = -\sum_t \log \hat y_{t, y_t}$.  Here $f$ is a GRU cell (lesson l03
# shows its gates).  The project ships 40 French-English pairs written for this lesson around
# the article's example.

# %%
diagrams.encoder_decoder("Elle aime la Chine .".split(), "She loves China .".split(), "encoder_decoder.png")

# %% [markdown]
# *The figure:* the encoder (left) reads "Elle aime la Chine ." one token at a time into the
# states $h_1, \dots, h_5$; its last state becomes the context $C$; the decoder (right) starts
# from $C$ and, reading "<start>" then each previous English word, writes "She loves China ."
# through its states $s_1, \dots, s_4$.

# %%
PAIRS = DATA / "fr_en.tsv"
pairs = data.load_pairs(PAIRS)
src_vocab = data.Vocab.from_texts(p[0] for p in pairs)
tgt_vocab = data.Vocab.from_texts(p[1] for p in pairs)
sources = [src_vocab.encode(data.tokenize(p[0])) for p in pairs]
targets = [tgt_vocab.encode(data.tokenize(p[1])) for p in pairs]
src, tgt_in, tgt_out, out_mask = data.teacher_forcing(sources, targets)
print(f"{len(pairs)} pairs, {len(src_vocab)} French and {len(tgt_vocab)} English tokens")
show("source ids (batch, src_time)", src.shape)
show("decoder input ids (batch, tgt_time)", tgt_in.shape)


def train_translator(context: str, seed: int) -> tuple[layers.Seq2Seq, float]:
    """The encoder-decoder trained on the 40 pairs for 120 epochs: (model, last batch loss)."""
    mg.manual_seed(seed)
    model = layers.Seq2Seq(len(src_vocab), len(tgt_vocab), embed_dim=32, units=64, context=context)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(120):  # epochs
        for s, ti, to, m in data.batches(src, tgt_in, tgt_out, out_mask, batch_size=16):
            loss = F.cross_entropy(model(s, ti), to, mask=m, class_axis=-1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model, loss.item()


example = src_vocab.encode(data.tokenize("Elle aime la Chine."))
translations: dict[str, list[str]] = {}  # context -> the example's translation, by seed
for context in ("last", "mean"):
    title(f"training with C = {'h_T' if context == 'last' else 'mean of h_1..h_T'}, three seeds")
    exact = []
    for seed in (0, 1, 2):
        model, last_loss = train_translator(context, seed)
        predicted = model.translate(src, max_len=10, start_id=tgt_vocab.start_id, end_id=tgt_vocab.end_id)
        exact.append(sum(p == t for p, t in zip(predicted, targets, strict=True)))
        out = model.translate(np.array([example]), 10, tgt_vocab.start_id, tgt_vocab.end_id)[0]
        translations.setdefault(context, []).append(" ".join(tgt_vocab.decode(out)))
        print(
            f"seed {seed}: last batch loss {last_loss:.4f}, "
            f'{exact[-1]}/{len(pairs)} pairs translated exactly, "Elle aime la Chine." -> '
            f'"{translations[context][-1]}"'
        )
    check(
        f"context={context}: every training pair is translated exactly, on every seed",
        min(exact) == len(pairs),
        exact,
        f"{len(pairs)} of {len(pairs)} on every seed",
    )
    check(
        f'context={context}: "Elle aime la Chine." becomes "she loves china .", on every seed',
        set(translations[context]) == {"she loves china ."},
        translations[context],
    )

# %% [markdown]
# # What each context holds
#
# The 40 pairs are too few to tell the two contexts apart: each learns them all.  A task
# that needs the whole source does: reversing a sequence of 2 to 8 digits (the task of
# lesson l07).  The decoder writes the *newest* source digit first and the *oldest* last, so
# how often each comes out right shows what $C$ kept of it.  $h_T$ has just read the newest
# digit; the mean of the states gives it the same weight $1/T$ as every other step.
#
# Measured on seeds 0-2 along four floating-point paths (the Numba kernels, their numpy
# twins, every initial weight 1 ulp up, another processor's OpenBLAS kernels), $h_T$ gave back the
# newest digit 0.957-0.983 of the time and the mean 0.56-0.65; $h_T$ reversed 0.56-0.81 of
# the 4-6 digit sequences and the mean 0.16-0.30.  The thresholds below sit outside that
# spread.  (The 40 pairs above were translated exactly, and the example as "she loves
# china .", in every one of those runs.)

# %%
title("C = h_T against C = the mean, reversing 2-8 digits, three seeds")
held_out = digit_sequences(300, np.random.default_rng(100), 2, 8)
middle = [i for i, s in enumerate(held_out) if 4 <= len(s) <= 6]
contexts: dict[str, list[dict[str, float]]] = {"last": [], "mean": []}
for context, rows in contexts.items():
    for seed in (0, 1, 2):
        outputs = reversals(train_reverser(seed, 8, context=context), held_out)
        rows.append(
            {
                "newest digit": float(
                    np.mean([o[:1] == s[-1:] for s, o in zip(held_out, outputs, strict=True)])
                ),
                "oldest digit": float(
                    np.mean([o[len(s) - 1 : len(s)] == s[:1] for s, o in zip(held_out, outputs, strict=True)])
                ),
                "4-6 digits exact": float(np.mean([outputs[i] == held_out[i][::-1] for i in middle])),
            }
        )
        print(f"C = {context:<4}, seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[-1].items()))
newest = {context: [r["newest digit"] for r in rows] for context, rows in contexts.items()}
middle_exact = {context: [r["4-6 digits exact"] for r in rows] for context, rows in contexts.items()}
check(
    "C = h_T gives back the newest digit at least 90% of the time, on every seed",
    min(newest["last"]) >= 0.9,
    newest["last"],
    ">= 0.9 on every seed",
)
check(
    "C = the mean gives it back at most 75% of the time, on every seed",
    max(newest["mean"]) <= 0.75,
    newest["mean"],
    "<= 0.75 on every seed",
)
check(
    "and C = h_T reverses more of the 4-6 digit sequences than the mean, on every seed",
    all(a > b for a, b in zip(middle_exact["last"], middle_exact["mean"], strict=True)),
    {"h_T": middle_exact["last"], "mean": middle_exact["mean"]},
    "h_T > mean on every seed",
)

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {"last_state": sequence[-1], "translations": translations}

# %% [markdown]
# # Summary
#
# - An RNN is a fully connected layer plus the recurrent weights $W_{hh}$ that feed the
#   previous state back in: $h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$ (the article's
#   $s_t = \tanh(U x_t + W s_{t-1} + b)$, with column vectors).  The article's loop, with its
#   name fixed, and minigrad's SimpleRNN compute the same 100 states.
# - An encoder-decoder reads a source of any length into a context $C$ and writes a target of
#   any length from it.  $C = h_T$ and $C$ = the mean of the states both translate the 40
#   training pairs; on a task that needs the whole source, $h_T$ keeps the newest input almost
#   perfectly and the mean blurs it.  Lesson l07 shows where one fixed $C$ stops being enough.
#
# # Exercises
#
# 1. Run the corrected loop with `W = 0` ($W_{hh} = 0$): what does the RNN become?
# 2. Translate a sentence that is not in the training pairs and explain the result.
# 3. Give the model 4 units instead of 64: which context, last or mean, copes better?
