"""Vocab, tokenizing, padding and batches."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import data


def test_tokenize():
    assert data.tokenize("Elle aime la Chine.") == ["elle", "aime", "la", "chine", "."]
    assert data.tokenize("hello", level="char") == list("hello")
    with pytest.raises(ValueError, match="level must be"):
        data.tokenize("x", level="byte")


def test_vocab_round_trip_and_reserved_ids():
    vocab = data.Vocab.from_texts(["She loves China.", "He loves tea."])
    assert vocab.itos[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    ids = vocab.encode(data.tokenize("She loves tea."), add_start=True, add_end=True)
    assert ids[0] == vocab.start_id and ids[-1] == vocab.end_id
    assert vocab.decode(ids) == ["she", "loves", "tea", "."]
    assert vocab.encode(["unseen"]) == [vocab.unknown_id]
    assert vocab.decode([4, 2, 5]) == ["she"]  # stops at the end token
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([99])


def test_pad_batch():
    ids, mask = data.pad_batch([[5, 6, 7], [8]])
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])
    with pytest.raises(ValueError, match="no sequences"):
        data.pad_batch([])
    with pytest.raises(ValueError, match="shorter than the longest"):
        data.pad_batch([[1, 2]], length=1)


def test_batches_cover_every_sample_once():
    mg.manual_seed(0)
    x, y = np.arange(10), np.arange(10) * 2
    seen = []
    for xb, yb in data.batches(x, y, batch_size=3):
        np.testing.assert_array_equal(yb, xb * 2)
        seen.extend(xb)
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    with pytest.raises(ValueError, match="different lengths"):
        next(data.batches(x, y[:3]))
    with pytest.raises(ValueError, match="empty"):
        next(data.batches(x[:0]))


def test_load_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\nUn\tOne\n\nDeux\tTwo\n", encoding="utf-8")
    assert data.load_pairs(path) == [("Un", "One"), ("Deux", "Two")]
    path.write_text("only one field\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1 .* has 1 fields"):
        data.load_pairs(path)


def test_teacher_forcing_shifts_the_target_by_one():
    src, tgt_in, tgt_out, mask = data.teacher_forcing([[5, 6], [7]], [[8, 9, 10], [11]])
    np.testing.assert_array_equal(src, [[5, 6], [7, 0]])
    np.testing.assert_array_equal(tgt_in, [[1, 8, 9, 10], [1, 11, 2, 0]])
    np.testing.assert_array_equal(tgt_out, [[8, 9, 10, 2], [11, 2, 0, 0]])
    np.testing.assert_array_equal(mask, [[True] * 4, [True, True, False, False]])
