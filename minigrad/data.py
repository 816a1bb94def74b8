"""Text to ids and back, padding with masks, and mini-batches."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.random import generator
from minigrad.tensor import Tensor

PAD, START, END, UNKNOWN = "<pad>", "<start>", "<end>", "<unk>"


def tokenize(text: str, level: str = "word", lower: bool = True) -> list[str]:
    """Characters, or words with punctuation split off: "She loves China." -> she loves china .

    The text is first put in Unicode's composed form (NFC), and a combining mark (an accent,
    a vowel sign, a virama) always stays with the letter before it, so "café" is one word
    whether its "é" is one code point or "e" plus an accent, and at ``level="char"`` each
    character comes with its marks.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    if level not in ("char", "word"):
        raise ValueError(f"tokenize: level must be 'char' or 'word', got {level!r}")
    text = unicodedata.normalize("NFC", text.lower() if lower else text)
    if level == "char":
        return _glued(list(text), joins=lambda previous, piece: _is_mark(piece[0]))
    pieces = _glued(
        _WORD_SYMBOL_OR_SPACE.findall(text),
        joins=lambda previous, piece: (
            not previous.isspace()
            and (
                _is_mark(piece[0])
                or (_is_word(previous[0]) and _is_mark(previous[-1]) and _is_word(piece[0]))
            )
        ),
    )
    return [piece for piece in pieces if not piece.isspace()]


_WORD_SYMBOL_OR_SPACE = re.compile(r"\w+|[^\w\s]|\s+")


def _is_mark(char: str) -> bool:
    """A combining mark (an accent, a vowel sign, a virama): it belongs to the letter before it."""
    return unicodedata.category(char).startswith("M")


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _glued(pieces: list[str], joins: Callable[[str, str], bool]) -> list[str]:
    """The pieces in order, each glued to the one before it where ``joins(previous, piece)``."""
    out: list[str] = []
    for piece in pieces:
        if out and joins(out[-1], piece):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def as_ids(values: Any, owner: str, limit: int | None = None) -> np.ndarray:
    """``values`` as an int64 array of token ids, or a ValueError naming the first bad id.

    Integers are ids, and so are floats that are whole numbers (arrays built with a float
    padding value); 1.5, inf, nan, booleans, strings and None are not.  With ``limit``, every
    id must lie in [0, limit); without it, in int64's range.
    """
    array = np.asarray(values.data if isinstance(values, Tensor) else values)
    where = f" in [0, {limit})" if limit is not None else ""
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: expected integer ids{where}, got an array of dtype {array.dtype}")
    if array.dtype.kind == "f":
        fractional = ~np.isfinite(array) | (array != np.round(array))
        if fractional.any():
            raise ValueError(f"{owner}: expected integer ids{where}, got {_first(array, fractional)}")
    low, high = (0, limit) if limit is not None else (-(2**63), 2**63)
    outside = (array < low) | (array >= high)
    if outside.any():
        span = f"[0, {limit})" if limit is not None else "int64's range"
        raise ValueError(
            f"{owner}: ids must lie in {span}, got values from {array.min()} to {array.max()} "
            f"(first bad: {_first(array, outside)})"
        )
    return array.astype(np.int64)


def _first(array: np.ndarray, bad: np.ndarray) -> str:
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{array[position].item()!r} at position {position if array.ndim != 1 else position[0]}"


def _integer(owner: str, name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (of at least ``minimum``), or a ValueError: 2.5, True and "3" are refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (minimum is not None and value < minimum)
    ):
        at_least = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{owner}: {name} must be an integer{at_least}, got {value!r}")
    return int(value)


def _refuse_text(owner: str, value: Any, expected: str) -> None:
    """A lone string where a list of them belongs would be read one character at a time."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{owner}: expected {expected}, got a single {type(value).__name__} {value[:20]!r}")


class Vocab:
    """A two-way map between tokens and ids, with ids 0-3 reserved for padding, start,
    end and unknown tokens (padding is 0, so that ``Embedding(mask_zero=True)`` masks it)."""

    pad_id, start_id, end_id, unknown_id = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str]) -> None:
        _refuse_text("Vocab", tokens, "a list of tokens (for the tokens of a text: Vocab(tokenize(text)))")
        self.itos: list[str] = [PAD, START, END, UNKNOWN]
        seen = set(self.itos)
        for position, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(
                    f"Vocab: tokens must be strings, got {token!r} ({type(token).__name__}) "
                    f"at position {position}"
                )
            if token not in seen:
                seen.add(token)
                self.itos.append(token)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: str = "word", lower: bool = True) -> Vocab:
        """Every token of the texts, in order of first appearance."""
        _refuse_text("Vocab.from_texts", texts, "a list of texts")
        return cls(token for text in texts for token in tokenize(text, level, lower))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str], add_start: bool = False, add_end: bool = False) -> list[int]:
        """The ids of the tokens (the unknown id for tokens not in the vocabulary)."""
        _refuse_text("Vocab.encode", tokens, "a list of tokens (for a text: encode(tokenize(text)))")
        tokens = list(tokens)
        for position, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(
                    f"Vocab.encode: tokens must be strings, got {token!r} ({type(token).__name__}) "
                    f"at position {position}"
                )
        ids = [self.stoi.get(t, self.unknown_id) for t in tokens]
        return [self.start_id] * add_start + ids + [self.end_id] * add_end

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Tokens of the ids (a 1-D sequence, integers in [0, len(vocab))); with
        ``strip_special``, stop at the end token and drop pad/start."""
        ids = as_ids(
            list(ids) if not isinstance(ids, (np.ndarray, Tensor)) else ids, "Vocab.decode", len(self)
        )
        if ids.ndim != 1:
            raise ValueError(f"Vocab.decode: expected a 1-D sequence of ids, got shape {ids.shape}")
        out = []
        for i in ids.tolist():
            if strip_special and i == self.end_id:
                break
            if strip_special and i in (self.pad_id, self.start_id):
                continue
            out.append(self.itos[i])
        return out


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              length: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pad id lists at the end to one length (as PyTorch's ``pad_sequence``; Keras's
    ``pad_sequences`` pads at the front by default).

    Returns ids (batch, time) int64 and mask (batch, time), True at real tokens.  Ids must
    be integers (or whole-number floats); anything else is a ValueError naming it.
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch: got no sequences")
    pad_id = _integer("pad_batch", "pad_id", pad_id)
    rows = _id_rows(sequences, "pad_batch")
    longest = max(len(r) for r in rows)
    length = longest if length is None else _integer("pad_batch", "length", length, 0)
    if length < longest:
        raise ValueError(f"pad_batch: length {length} is shorter than the longest sequence ({longest})")
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=bool)
    for row, r in enumerate(rows):
        ids[row, : len(r)] = r
        mask[row, : len(r)] = True
    return ids, mask


def _id_rows(sequences: Sequence[Sequence[int]], owner: str) -> list[np.ndarray]:
    """Each sequence as a 1-D int64 array of ids, or a ValueError naming the bad one."""
    _refuse_text(owner, sequences, "a list of id sequences")
    rows = [as_ids(sequence, f"{owner}: sequence {row}") for row, sequence in enumerate(sequences)]
    for row, ids in enumerate(rows):
        if ids.ndim != 1:
            raise ValueError(
                f"{owner}: sequence {row} must be a 1-D sequence of ids, got shape {ids.shape}"
                " (for one sequence, pass [ids])"
            )
    return rows


def teacher_forcing(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]],
    start_id: int = Vocab.start_id, end_id: int = Vocab.end_id,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Padded arrays for training an encoder-decoder with teacher forcing.

    Returns src (batch, src_time), the decoder's input <start> y_1 .. y_n (batch, tgt_time),
    the outputs it should give y_1 .. y_n <end> (batch, tgt_time), and the mask of the real
    positions of those outputs.
    """
    start_id = _integer("teacher_forcing", "start_id", start_id, 0)
    end_id = _integer("teacher_forcing", "end_id", end_id, 0)
    sources = _id_rows(sources, "teacher_forcing sources")
    targets = _id_rows(targets, "teacher_forcing targets")
    if len(sources) != len(targets):
        raise ValueError(f"teacher_forcing: {len(sources)} sources but {len(targets)} targets")
    src, _ = pad_batch(sources)
    tgt, tgt_mask = pad_batch([[start_id, *t, end_id] for t in targets])
    return src, tgt[:, :-1], tgt[:, 1:], tgt_mask[:, 1:]


def batches(
    *arrays: Any, batch_size: int = 32, shuffle: bool = True, drop_last: bool = False
) -> Iterator[tuple[Any, ...]]:
    """Mini-batches of arrays (numpy arrays, Tensors or lists) that share their first axis.

    The order is drawn from the project's generator when ``batches`` is called, so
    ``mg.manual_seed`` before the call fixes it.  The last batch holds what is left (fewer
    than ``batch_size``), or is dropped with ``drop_last``, as in PyTorch's DataLoader.
    Every argument is checked at the call, before any batch is made.
    """
    if not arrays:
        raise ValueError("batches: give at least one array")
    for position, a in enumerate(arrays):
        if not isinstance(a, (list, tuple)) and np.ndim(a) == 0:
            raise ValueError(
                f"batches: array {position} has no first axis (got {type(a).__name__} {a!r:.40})"
            )
    count = len(arrays[0])
    if any(len(a) != count for a in arrays):
        raise ValueError(f"batches: the arrays have different lengths {[len(a) for a in arrays]}")
    if count == 0:
        raise ValueError("batches: the arrays are empty")
    batch_size = _integer("batches", "batch_size", batch_size, 1)
    for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"batches: {name} must be True or False, got {flag!r}")
    stop = count - count % batch_size if drop_last else count
    if stop == 0:
        raise ValueError(
            f"batches: drop_last with {count} samples and batch_size {batch_size} leaves no batch"
        )
    order = generator().permutation(count) if shuffle else np.arange(count)
    return (
        tuple(_take(a, order[start : start + batch_size]) for a in arrays)
        for start in range(0, stop, batch_size)
    )


def _take(array: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a numpy array or Tensor, or items of a list (ragged id lists stay a list)."""
    if isinstance(array, (list, tuple)):
        return [array[i] for i in index]
    return array[index]


def load_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Tab-separated sentence pairs, one a line; lines starting with # are comments.  A
    byte-order mark at the start (as some editors write) is not part of the first sentence;
    a line with an empty side is a ValueError naming it."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"load_pairs: line {number} of {path} has {len(parts)} fields, expected 2")
        source, target = (part.strip() for part in parts)
        if not source or not target:
            raise ValueError(f"load_pairs: line {number} of {path} has an empty sentence: {line!r}")
        pairs.append((source, target))
    return pairs
