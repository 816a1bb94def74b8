"""Vocab, tokenizing, padding and batches."""

import unicodedata

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
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 10\), .*99 at position 0"):
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
    path.write_text("\ufeffUn\tOne\n", encoding="utf-8")  # a byte-order mark is not text
    assert data.load_pairs(path) == [("Un", "One")]
    path.write_text("Un\tOne\nDeux\t \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2 .* has an empty sentence"):
        data.load_pairs(path)
    path.write_text("only one field\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1 .* has 1 fields"):
        data.load_pairs(path)


def test_teacher_forcing_shifts_the_target_by_one():
    src, tgt_in, tgt_out, mask = data.teacher_forcing([[5, 6], [7]], [[8, 9, 10], [11]])
    np.testing.assert_array_equal(src, [[5, 6], [7, 0]])
    np.testing.assert_array_equal(tgt_in, [[1, 8, 9, 10], [1, 11, 2, 0]])
    np.testing.assert_array_equal(tgt_out, [[8, 9, 10, 2], [11, 2, 0, 0]])
    np.testing.assert_array_equal(mask, [[True] * 4, [True, True, False, False]])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Café crème.", ["café", "crème", "."]),
        ("Grüße, naïve Zoë!", ["grüße", ",", "naïve", "zoë", "!"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # vowel signs and virama have no composed form
        ("שָׁלוֹם עולם", ["שָׁלוֹם", "עולם"]),  # Hebrew points
        ("한국어 문장.", ["한국어", "문장", "."]),  # NFD splits each syllable into jamo
        ("日本語です。", ["日本語です", "。"]),
    ],
)
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_tokenize_keeps_combining_marks_with_their_letter(text, words, form):
    decomposed_or_not = unicodedata.normalize(form, text)
    assert data.tokenize(decomposed_or_not) == [unicodedata.normalize("NFC", w) for w in words]
    chars = data.tokenize(decomposed_or_not, level="char")
    assert "".join(chars) == unicodedata.normalize("NFC", text.lower())
    assert not any(unicodedata.category(c[0]).startswith("M") for c in chars)


def test_tokenize_char_level_keeps_spaces_and_refuses_non_text():
    assert data.tokenize("a b", level="char") == ["a", " ", "b"]
    with pytest.raises(TypeError, match="expected a str, got bytes"):
        data.tokenize(b"bytes")


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        ([[1.5, 2.7]], r"sequence 0: expected integer ids, got 1.5 at position 0"),
        ([[1], [2, float("inf")]], r"sequence 1: expected integer ids, got inf at position 1"),
        ([[float("nan")]], r"got nan"),
        ([[True, False]], r"expected integer ids, got an array of dtype bool"),
        ([["a", "b"]], r"expected integer ids, got an array of dtype <U1"),
        ([[1e20]], r"ids must lie in int64's range.*1e\+20"),
        (
            [1, 2, 3],
            r"sequence 0 must be a 1-D sequence of ids, got shape \(\) \(for one sequence, pass \[ids\]\)",
        ),
        ("abc", r"expected a list of id sequences, got a single str"),
    ],
)
def test_pad_batch_refuses_what_is_not_an_id(ids, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.pad_batch(ids)


def test_pad_batch_takes_whole_floats_as_embedding_does_and_checks_its_options():
    ids, mask = data.pad_batch([np.array([4.0, 5.0]), []])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [[4, 5], [0, 0]])
    np.testing.assert_array_equal(mask, [[True, True], [False, False]])
    np.testing.assert_array_equal(data.pad_batch([[]])[0], np.zeros((1, 0)))
    np.testing.assert_array_equal(data.pad_batch([[7]], pad_id=-1, length=3)[0], [[7, -1, -1]])
    for options, match in [
        ({"pad_id": 0.5}, "pad_id must be an integer, got 0.5"),
        ({"length": 2.5}, "length must be an integer >= 0, got 2.5"),
        ({"length": True}, "length must be an integer >= 0, got True"),
    ]:
        with pytest.raises(ValueError, match=match):
            data.pad_batch([[1]], **options)


def test_vocab_decode_refuses_fractional_ids_and_takes_whole_floats():
    vocab = data.Vocab(["a", "b"])
    with pytest.raises(ValueError, match=r"Vocab.decode: expected integer ids in \[0, 6\), got 4.7"):
        vocab.decode([4.7])
    with pytest.raises(ValueError, match="got an array of dtype bool"):
        vocab.decode([True])
    with pytest.raises(ValueError, match=r"expected a 1-D sequence of ids, got shape \(1, 2\)"):
        vocab.decode([[4, 5]])
    assert vocab.decode(np.array([4.0, 5.0])) == ["a", "b"]
    assert vocab.decode(mg.tensor([5, 4])) == ["b", "a"]


def test_vocab_refuses_tokens_that_are_not_strings():
    with pytest.raises(TypeError, match=r"tokens must be strings, got None \(NoneType\) at position 1"):
        data.Vocab(["a", None])
    with pytest.raises(TypeError, match="got a single str 'hello'"):
        data.Vocab("hello")
    with pytest.raises(TypeError, match="expected a list of texts"):
        data.Vocab.from_texts("She loves China.")
    vocab = data.Vocab(["a"])
    with pytest.raises(TypeError, match=r"encode\(tokenize\(text\)\)"):
        vocab.encode("a")
    with pytest.raises(TypeError, match=r"tokens must be strings, got 4 \(int\) at position 0"):
        vocab.encode([4])


def test_teacher_forcing_checks_ids_and_options():
    with pytest.raises(
        ValueError, match=r"teacher_forcing targets: sequence 0: expected integer ids, got 6\.5"
    ):
        data.teacher_forcing([[5]], [[6.5]])
    with pytest.raises(ValueError, match="teacher_forcing sources: sequence 0: expected integer ids"):
        data.teacher_forcing([[5.5]], [[6]])
    with pytest.raises(ValueError, match=r"end_id must be an integer >= 0, got 2\.0"):
        data.teacher_forcing([[5]], [[6]], end_id=2.0)
    _, tgt_in, tgt_out, _ = data.teacher_forcing([[5]], [[]])
    np.testing.assert_array_equal(tgt_in, [[1]])
    np.testing.assert_array_equal(tgt_out, [[2]])


def test_batches_shuffle_is_fixed_by_the_seed_at_the_call():
    x = np.arange(10)
    mg.manual_seed(3)
    first = data.batches(x, batch_size=4)
    mg.rand(5)  # other draws between the call and the first batch change nothing
    mg.manual_seed(3)
    second = data.batches(x, batch_size=4)
    expected = np.random.default_rng(3).permutation(10)
    for one, other in ((first, expected), (second, expected)):
        np.testing.assert_array_equal(np.concatenate([b for (b,) in one]), other)


def test_batches_last_partial_batch_and_drop_last():
    x = np.arange(10)
    sizes = [len(b) for (b,) in data.batches(x, batch_size=4, shuffle=False)]
    assert sizes == [4, 4, 2]
    kept = [b for (b,) in data.batches(x, batch_size=4, shuffle=False, drop_last=True)]
    assert [list(b) for b in kept] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="drop_last with 3 samples and batch_size 4 leaves no batch"):
        data.batches(x[:3], batch_size=4, drop_last=True)


def test_batches_checks_everything_at_the_call_and_takes_lists():
    x = np.arange(6)
    for options, match in [
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5"),
        ({"batch_size": True}, "batch_size must be an integer >= 1, got True"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"shuffle": "yes"}, "shuffle must be True or False"),
    ]:
        with pytest.raises(ValueError, match=match):
            data.batches(x, **options)  # no next(): the call itself refuses
    with pytest.raises(ValueError, match="different lengths"):
        data.batches(x, x[:2])
    with pytest.raises(ValueError, match="array 1 has no first axis"):
        data.batches(x, np.float64(1.0))
    ragged = [[1], [2, 3], [4, 5, 6]]
    batch = list(data.batches(ragged, np.arange(3), batch_size=2, shuffle=False))
    assert batch[0][0] == [[1], [2, 3]] and batch[1][0] == [[4, 5, 6]]
