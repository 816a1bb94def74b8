"""The encoder-decoder: gradients, context choices, digit reversal and the shipped pairs."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import bind

import layers
import minigrad as mg
from minigrad import data
from minigrad import functional as F
from minigrad.testing import gradcheck

PAIRS = Path(__file__).resolve().parent.parent / "lessons" / "data" / "fr_en.tsv"


def train(model, src, tgt_in, tgt_out, out_mask, epochs, lr=0.01, batch_size=16):
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for s, ti, to, m in data.batches(src, tgt_in, tgt_out, out_mask, batch_size=batch_size):
            loss = F.cross_entropy(model(s, ti), to, mask=m)
            opt.zero_grad()
            loss.backward()
            opt.step()


def exact_match(model, src, targets, vocab_ends=(1, 2), max_len=12):
    out = model.translate(src, max_len, *vocab_ends)
    return np.mean([o == t for o, t in zip(out, targets, strict=True)])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("context", ["last", "mean"])
@settings(max_examples=5)  # each example is a whole model's worth of central differences
@given(seed=st.integers(0, 100))
def test_tiny_seq2seq_gradients_end_to_end(cell, context, seed):
    mg.manual_seed(seed)
    model = layers.Seq2Seq(6, 5, embed_dim=2, units=3, cell=cell, context=context, impl="autograd")
    src = np.array([[4, 5, 0], [5, 4, 4]])
    tgt_in, tgt_out = np.array([[1, 3], [1, 4]]), np.array([[3, 2], [4, 2]])
    params = model.parameters()

    def fn(*weights):  # the model with its parameters replaced by gradcheck's copies
        bind(model, weights)
        return F.cross_entropy(model(src, tgt_in), tgt_out)

    gradcheck(fn, [p.data for p in params], atol=1e-6, rtol=1e-5)


def digit_reversal(n, rng):
    """Sequences of 2-5 digits (ids 4-13) and their reversals, with start 1 and end 2."""
    sources, targets = [], []
    for _ in range(n):
        digits = list(rng.integers(4, 14, rng.integers(2, 6)))
        sources.append(digits)
        targets.append(digits[::-1])
    return sources, targets


def test_seq2seq_learns_to_reverse_digits():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    train_set, test_set = digit_reversal(1500, rng), digit_reversal(200, rng)
    model = layers.Seq2Seq(14, 14, embed_dim=16, units=96, cell="gru")
    train(model, *data.teacher_forcing(*train_set), epochs=25, lr=0.01, batch_size=64)
    src, *_ = data.teacher_forcing(*test_set)
    accuracy = exact_match(model, src, test_set[1])
    assert accuracy > 0.8, accuracy


@pytest.mark.parametrize("context", ["last", "mean"])
def test_seq2seq_translates_every_shipped_pair(context):
    pairs = data.load_pairs(PAIRS)
    src_vocab = data.Vocab.from_texts(p[0] for p in pairs)
    tgt_vocab = data.Vocab.from_texts(p[1] for p in pairs)
    sources = [src_vocab.encode(data.tokenize(p[0])) for p in pairs]
    targets = [tgt_vocab.encode(data.tokenize(p[1])) for p in pairs]
    mg.manual_seed(0)
    model = layers.Seq2Seq(len(src_vocab), len(tgt_vocab), 32, 64, cell="gru", context=context)
    train(model, *data.teacher_forcing(sources, targets), epochs=120)
    src, *_ = data.teacher_forcing(sources, targets)
    assert exact_match(model, src, targets) == 1.0
    first = model.translate(src[:1], 10, tgt_vocab.start_id, tgt_vocab.end_id)[0]
    assert " ".join(tgt_vocab.decode(first)) == "she loves china ."


def test_seq2seq_errors():
    model = layers.Seq2Seq(5, 5, 2, 3)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\)"):
        model(np.array([[9]]), np.array([[1]]))
    with pytest.raises(ValueError, match="at least one token that is not padding"):
        model(np.array([[0, 0]]), np.array([[1]]))
    with pytest.raises(ValueError, match="cell must be one of"):
        layers.Seq2Seq(5, 5, 2, 3, cell="transformer")
    with pytest.raises(ValueError, match="context must be one of"):
        layers.Seq2Seq(5, 5, 2, 3, context="attention")


def test_translate_refuses_bad_input_and_a_failure_leaves_the_mode_alone():
    model = layers.Seq2Seq(6, 7, embed_dim=3, units=4)
    model.train()
    with pytest.raises(ValueError, match=r"src_ids must be \(batch, src_time\), got shape \(3,\)"):
        model.translate(np.array([1, 2, 3]), max_len=4, start_id=1, end_id=2)
    with pytest.raises(ValueError, match=r"end_id must be a token id in \[0, 7\)"):
        model.translate([[1, 2]], max_len=4, start_id=1, end_id=9)
    with pytest.raises(ValueError, match="at least one token that is not padding"):
        model.translate([[0, 0]], max_len=4, start_id=1, end_id=2)  # fails inside the decoding
    with pytest.raises(ValueError, match="at least one token that is not padding"):
        model.translate(np.zeros((1, 0), dtype=int), max_len=4, start_id=1, end_id=2)  # an empty sentence
    with pytest.raises(ValueError, match=r"translate: expected integer ids in \[0, 6\), got 1\.5"):
        model.translate([[1.5, 2]], max_len=4, start_id=1, end_id=2)
    with pytest.raises(ValueError, match="max_len must be a positive integer, got 0"):
        model.translate([[1, 2]], max_len=0, start_id=1, end_id=2)
    with pytest.raises(ValueError, match=r"start_id must be a token id in \[0, 7\), got True"):
        model.translate([[1, 2]], max_len=4, start_id=True, end_id=2)
    assert model.training and model.encoder.rnn.training


@pytest.mark.parametrize("attention", ["dot", "additive"])
@settings(max_examples=3)
@given(seed=st.integers(0, 100))
def test_attending_seq2seq_gradients_end_to_end(attention, seed):
    mg.manual_seed(seed)
    model = layers.Seq2Seq(6, 5, embed_dim=2, units=3, cell="gru", attention=attention, impl="autograd")
    src = np.array([[4, 5, 0], [5, 4, 4]])  # the padding of the first source gets no attention
    tgt_in, tgt_out = np.array([[1, 3], [1, 4]]), np.array([[3, 2], [4, 2]])

    def fn(*weights):
        bind(model, weights)
        return F.cross_entropy(model(src, tgt_in), tgt_out)

    gradcheck(fn, [p.data for p in model.parameters()], atol=1e-6, rtol=1e-5)


def sequence_score(model, src, tokens, start_id=1, end_id=2):
    """Log-probability per token of ``tokens`` then end_id, by teacher forcing (independent of
    translate's search)."""
    with mg.no_grad():
        full = [*tokens, end_id]
        logits = model(np.array([src]), np.array([[start_id, *full[:-1]]]))
        log_probs = F.log_softmax(logits, axis=-1).data[0]
    return sum(log_probs[t, token] for t, token in enumerate(full)) / len(full)


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
@settings(max_examples=8)
@given(seed=st.integers(0, 1000))
def test_a_beam_never_scores_below_greedy_and_width_one_is_greedy(attention, seed):
    mg.manual_seed(seed)
    model = layers.Seq2Seq(7, 6, embed_dim=3, units=4, attention=attention)
    sources = [[4, 5, 6, 0], [6, 6, 3, 5]]
    greedy = model.translate(sources, 6, 1, 2)
    assert model.translate(sources, 6, 1, 2, beam_width=1) == greedy
    beam = model.translate(sources, 6, 1, 2, beam_width=3)
    for src, g, b in zip(sources, greedy, beam, strict=True):
        if len(g) < 6 and len(b) < 6:  # both ended at end_id: their scores compare
            assert sequence_score(model, src, b) >= sequence_score(model, src, g) - 1e-12


def test_greedy_translation_equals_a_step_by_step_argmax_written_here():
    mg.manual_seed(3)
    model = layers.Seq2Seq(7, 6, embed_dim=3, units=4, attention="dot")
    src = [4, 5, 6, 3]
    tokens = []
    with mg.no_grad():
        for _ in range(5):
            logits = model(np.array([src]), np.array([[1, *tokens]]))
            nxt = int(logits.data[0, -1].argmax())
            if nxt == 2:
                break
            tokens.append(nxt)
    assert model.translate([src], 5, 1, 2) == [tokens]


def test_translate_returns_the_attention_of_the_chosen_output():
    mg.manual_seed(4)
    model = layers.Seq2Seq(7, 6, embed_dim=3, units=4, attention="additive")
    sources = [[4, 5, 0, 0], [6, 6, 3, 5]]
    for width in (1, 3):
        outputs, attention = model.translate(sources, 5, 1, 2, beam_width=width, return_attention=True)
        for out, weights, src in zip(outputs, attention, sources, strict=True):
            assert weights.shape == (len(out), 4)
            np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
            np.testing.assert_array_equal(weights[:, np.array(src) == 0], 0.0)  # no weight on padding
    plain = layers.Seq2Seq(7, 6, embed_dim=3, units=4)
    assert plain.translate(sources, 5, 1, 2, return_attention=True)[1] == [None, None]


def test_attention_and_beam_settings_are_checked():
    with pytest.raises(ValueError, match="attention must be one of"):
        layers.Seq2Seq(6, 5, 2, 3, attention="general")
    model = layers.Seq2Seq(6, 5, 2, 3, attention="dot")
    with pytest.raises(ValueError, match="beam_width must be a positive integer, got 0"):
        model.translate([[4, 5]], 4, 1, 2, beam_width=0)


def test_source_masks_and_batches_are_checked_before_use():
    mg.manual_seed(0)
    model = layers.Seq2Seq(8, 6, embed_dim=3, units=4)
    src, tgt_in = np.array([[4, 5, 0], [6, 7, 7]]), np.array([[1, 3], [1, 4]])
    half = np.full((2, 3), 0.5)  # would have been read as True everywhere
    with pytest.raises(ValueError, match=r"src_mask must hold True/False \(or 1/0\), got float64"):
        model(src, tgt_in, src_mask=half)
    with pytest.raises(ValueError, match=r"src_mask must hold True/False"):
        model.translate(src, 3, 1, 2, src_mask=half)
    with pytest.raises(ValueError, match=r"src_mask must have src_ids' shape \(2, 3\), got \(2, 2\)"):
        model(src, tgt_in, src_mask=np.ones((2, 2), bool))
    with pytest.raises(
        ValueError, match=r"same batch size, got src_ids of shape \(2, 3\) and tgt_in_ids of shape \(1, 2\)"
    ):
        model(src, tgt_in[:1])
    ones = np.array([[1, 1, 0], [1, 1, 1]])  # 1/0 masks are read as booleans
    np.testing.assert_array_equal(model(src, tgt_in, src_mask=ones).data, model(src, tgt_in).data)


def test_loading_a_checkpoint_of_another_shape_names_key_and_shapes_and_changes_nothing(tmp_path):
    mg.manual_seed(0)
    mg.save(layers.Seq2Seq(8, 6, embed_dim=3, units=4), tmp_path / "small.npz")
    for other in (layers.Seq2Seq(9, 6, embed_dim=3, units=4), layers.Seq2Seq(8, 6, 3, 4, cell="lstm")):
        before = other.state_dict()
        with pytest.raises(ValueError, match=r"cannot load weights: .*has shape \(\d+, \d+\), expected"):
            other.load_state_dict(mg.load(tmp_path / "small.npz"))
        for name, value in other.state_dict().items():
            np.testing.assert_array_equal(value, before[name], err_msg=name)
    with pytest.raises(
        ValueError, match=r"encoder\.embedding\.embeddings' has shape \(8, 3\), expected \(9, 3\)"
    ):
        layers.Seq2Seq(9, 6, embed_dim=3, units=4).load_state_dict(mg.load(tmp_path / "small.npz"))


def _score_by_teacher_forcing(model, src, tokens, done, start_id, end_id):
    """Log-probability per token of one output, from the teacher-forced logits."""
    target = [*tokens, end_id] if done else list(tokens)
    logits = model(src, np.array([[start_id, *target[:-1]]])).data[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return sum(log_probs[t, token] for t, token in enumerate(target)) / max(len(target), 1)


def test_a_beam_wider_than_the_vocabulary_finds_the_best_of_every_possible_output():
    mg.manual_seed(3)
    vocab, start_id, end_id, max_len = 4, 1, 2, 3
    model = layers.Seq2Seq(6, vocab, embed_dim=3, units=4, impl="autograd")
    model.eval()
    src = np.array([[4, 5, 3]])
    others = [t for t in range(vocab) if t != end_id]
    candidates = [(tokens, True) for n in range(max_len) for tokens in itertools.product(others, repeat=n)]
    candidates += [(tokens, False) for tokens in itertools.product(others, repeat=max_len)]
    scores = {c: _score_by_teacher_forcing(model, src, *c, start_id, end_id) for c in candidates}
    best = max(scores, key=scores.get)
    for width in (vocab**max_len, 100):  # wider than the vocabulary: every output stays in the beam
        found = model.translate(src, max_len, start_id, end_id, beam_width=width)[0]
        assert tuple(found) == best[0]
