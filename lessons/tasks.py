"""The tasks the lessons train on.

The digit-reversal task (lessons l01 and l07, encoder-decoders): sources are sequences of
digits 0-9 (token ids 4-13; 0 is padding, 1 and 2 start and end the target); the target is
the source reversed.  Every source digit must reach the output, and the first one is needed
last, so the task shows how much of the source a context holds.

The marked-key task (lesson l06, GRU against SimpleRNN): one of two keys arrives on its
channel at a step marked on a channel of its own, every other step carries loud noise on the
key channels, and the model names the key at the end.
"""

from __future__ import annotations

import numpy as np

import layers
import minigrad as mg
from minigrad import data
from minigrad import functional as F

START, END = 1, 2


def digit_sequences(count: int, rng: np.random.Generator, shortest: int, longest: int) -> list[list[int]]:
    """``count`` sequences of digit ids, each of a length drawn from shortest..longest."""
    return [list(rng.integers(4, 14, rng.integers(shortest, longest + 1))) for _ in range(count)]


def pad(sequences: list[list[int]], width: int) -> np.ndarray:
    """Right-padded with 0: (len(sequences), width)."""
    out = np.zeros((len(sequences), width), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = sequence
    return out


def train_reverser(seed: int, longest: int, context: str = "last", attention: str | None = None,
                   epochs: int = 15) -> layers.Seq2Seq:  # fmt: skip
    """A Seq2Seq (32 GRU units) trained by teacher forcing on 1,500 sequences of 2..longest
    digits: Adam at 0.01, batches of 64, gradients clipped to norm 1."""
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    sources = digit_sequences(1500, rng, 2, longest)
    targets = [s[::-1] for s in sources]
    src = pad(sources, longest)
    tgt_in = pad([[START, *t] for t in targets], longest + 1)
    tgt_out = pad([[*t, END] for t in targets], longest + 1)
    model = layers.Seq2Seq(14, 14, embed_dim=16, units=32, context=context, attention=attention)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for s, t_in, t_out in data.batches(src, tgt_in, tgt_out, batch_size=64):
            loss = F.cross_entropy(model(s, t_in), t_out, mask=t_out > 0, class_axis=-1)
            optimizer.zero_grad()
            loss.backward()
            mg.optim.clip_grad_norm(model.parameters(), 1.0)
            optimizer.step()
    return model


def reversals(model: layers.Seq2Seq, sources: list[list[int]], beam_width: int = 1) -> list[list[int]]:
    """The model's reversal of each source."""
    longest = max(len(s) for s in sources)
    return model.translate(pad(sources, longest), longest + 2, START, END, beam_width=beam_width)


def accuracy_by_length(sources: list[list[int]], outputs: list[list[int]]) -> dict[int, float]:
    """Exact-match accuracy of the reversals, by source length."""
    hits: dict[int, list[bool]] = {}
    for source, output in zip(sources, outputs, strict=True):
        hits.setdefault(len(source), []).append(output == source[::-1])
    return {length: float(np.mean(hits[length])) for length in sorted(hits)}


KEY_STEPS, KEY_NOISE, KEY_VALUE = 30, 2.0, 3.0


def marked_key(gaps: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of KEY_STEPS steps whose key stands ``gaps`` steps before the last one.

    Features (9): channels 0-7 carry noise N(0, KEY_NOISE^2) at every step but the key's, where
    they are zero but for KEY_VALUE on channel 0 or 1 (the key); channel 8 is 1 at the key's
    step (the marker) and 0 elsewhere.

    Returns
    -------
    x : (len(gaps), KEY_STEPS, 9) float64
    keys : (len(gaps),) int64, 0 or 1
    """
    n = len(gaps)
    keys = rng.integers(0, 2, n)
    x = np.zeros((n, KEY_STEPS, 9))
    x[:, :, :8] = KEY_NOISE * rng.standard_normal((n, KEY_STEPS, 8))
    rows, at = np.arange(n), KEY_STEPS - 1 - np.asarray(gaps)
    x[rows, at, :8] = 0.0
    x[rows, at, keys] = KEY_VALUE
    x[rows, at, 8] = 1.0
    return x, keys


def train_key_reader(kind: str, seed: int) -> layers.Sequential:
    """A GRU or SimpleRNN (32 units) and a Dense(2), trained on 2,048 marked-key sequences with
    gaps drawn from 0..KEY_STEPS-1: 5 epochs, batches of 32, Adam at 0.005."""
    rng = np.random.default_rng(seed)
    x, keys = marked_key(rng.integers(0, KEY_STEPS, 2048), rng)
    mg.manual_seed(seed)
    recurrent = {"GRU": layers.GRU, "SimpleRNN": layers.SimpleRNN}[kind](32)
    model = layers.Sequential([recurrent, layers.Dense(2)])
    model(x[:1])
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    model.fit(x, keys, loss="cross_entropy", optimizer=optimizer, epochs=5, batch_size=32, verbose=0)
    return model


def accuracy_by_gap(
    predicted: np.ndarray, keys: np.ndarray, gaps: np.ndarray, width: int = 10
) -> list[float]:
    """The fraction of keys named right, by gap: gaps 0..width-1, width..2 width-1, ...

    predicted, keys, gaps : (n,) int arrays
    """
    right = predicted == keys
    return [float(right[(gaps >= low) & (gaps < low + width)].mean()) for low in range(0, KEY_STEPS, width)]
