"""Text to ids and back, padding with masks, and mini-batches."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.random import generator

PAD, START, END, UNKNOWN = "<pad>", "<start>", "<end>", "<unk>"


def tokenize(text: str, level: str = "word", lower: bool = True) -> list[str]:
    """Characters, or words with punctuation split off: "She loves China." -> she loves china ."""
    if lower:
        text = text.lower()
    if level == "char":
        return list(text)
    if level == "word":
        return re.findall(r"\w+|[^\w\s]", text)
    raise ValueError(f"tokenize: level must be 'char' or 'word', got {level!r}")


class Vocab:
    """A two-way map between tokens and ids, with ids 0-3 reserved for padding, start,
    end and unknown tokens (padding is 0, so that ``Embedding(mask_zero=True)`` masks it)."""

    pad_id, start_id, end_id, unknown_id = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = [PAD, START, END, UNKNOWN]
        for token in tokens:
            if token not in self.itos:
                self.itos.append(token)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: str = "word", lower: bool = True) -> Vocab:
        """Every token of the texts, in order of first appearance."""
        return cls(token for text in texts for token in tokenize(text, level, lower))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str], add_start: bool = False, add_end: bool = False) -> list[int]:
        ids = [self.stoi.get(t, self.unknown_id) for t in tokens]
        return [self.start_id] * add_start + ids + [self.end_id] * add_end

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Tokens of the ids; with ``strip_special``, stop at the end token and drop pad/start."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"Vocab.decode: id {i} is outside [0, {len(self.itos)})")
            if strip_special and i == self.end_id:
                break
            if strip_special and i in (self.pad_id, self.start_id):
                continue
            out.append(self.itos[i])
        return out


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              length: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pad id lists at the end to one length.

    Returns ids (batch, time) int64 and mask (batch, time), True at real tokens.
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch: got no sequences")
    longest = max(len(s) for s in sequences)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"pad_batch: length {length} is shorter than the longest sequence ({longest})")
    ids = np.full((len(sequences), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for row, s in enumerate(sequences):
        ids[row, : len(s)] = s
        mask[row, : len(s)] = True
    return ids, mask


def teacher_forcing(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]],
    start_id: int = Vocab.start_id, end_id: int = Vocab.end_id,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Padded arrays for training an encoder-decoder with teacher forcing.

    Returns src (batch, src_time), the decoder's input <start> y_1 .. y_n (batch, tgt_time),
    the outputs it should give y_1 .. y_n <end> (batch, tgt_time), and the mask of the real
    positions of those outputs.
    """
    if len(sources) != len(targets):
        raise ValueError(f"teacher_forcing: {len(sources)} sources but {len(targets)} targets")
    src, _ = pad_batch(sources)
    tgt, tgt_mask = pad_batch([[start_id, *t, end_id] for t in targets])
    return src, tgt[:, :-1], tgt[:, 1:], tgt_mask[:, 1:]


def batches(*arrays: Any, batch_size: int = 32, shuffle: bool = True) -> Iterator[tuple[Any, ...]]:
    """Mini-batches of arrays that share their first axis, shuffled with the project's generator."""
    if not arrays:
        raise ValueError("batches: give at least one array")
    count = len(arrays[0])
    if any(len(a) != count for a in arrays):
        raise ValueError(f"batches: the arrays have different lengths {[len(a) for a in arrays]}")
    if count == 0:
        raise ValueError("batches: the arrays are empty")
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be positive, got {batch_size}")
    order = generator().permutation(count) if shuffle else np.arange(count)
    for start in range(0, count, batch_size):
        index = order[start : start + batch_size]
        yield tuple(a[index] for a in arrays)


def load_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Tab-separated sentence pairs, one a line; lines starting with # are comments."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"load_pairs: line {number} of {path} has {len(parts)} fields, expected 2")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs
