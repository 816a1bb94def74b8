"""Every lesson runs, and its key numbers agree with computations made here, independently."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lessons import results
from lessons.__main__ import run
from lessons.report import output_dir

LESSONS = Path(__file__).resolve().parent.parent / "lessons"


@pytest.fixture(scope="session")
def lesson():
    """A lesson's RESULTS: saved by ``python -m lessons`` for this very code, or run here once."""
    folder = output_dir()

    def results_of(stem):
        found = results.load(stem, folder)
        if found is None:
            run(LESSONS / f"{stem}.py")  # runs the lesson and saves its RESULTS
            found = results.load(stem, folder)
        return found

    results_of.output = folder
    return results_of


def test_reverse_mode_lesson(lesson):
    g = lesson("l00_reverse_mode")
    t = math.tanh(0.5 * -1.5 + 2.0)
    assert g["a_grad"] == pytest.approx((1 - t * t) * -1.5 + 2.0, abs=1e-15)
    dot = (lesson.output / "rnn_3_steps.dot").read_text()
    assert dot.startswith("digraph") and dot.count("MatMul") == 6  # W and U at each of 3 steps


def test_rnn_structure_lesson(lesson):
    g = lesson("l01_rnn_structure")
    # the corrected loop, recomputed here with the same seed
    rng = np.random.default_rng(0)
    inputs = rng.random((100, 32))
    U, W, b = rng.random((64, 32)), rng.random((64, 64)), rng.random(64)
    state = np.zeros(64)
    for x_t in inputs:
        state = np.tanh(U @ x_t + W @ state + b)
    np.testing.assert_allclose(g["last_state"], state, atol=1e-14)
    assert g["translations"] == {context: ["she loves china ."] * 3 for context in ("last", "mean")}


def test_rnn_memory_lesson(lesson):
    g = lesson("l02_rnn_memory")
    steps_back = np.arange(40)[::-1]
    np.testing.assert_allclose(g["norms"]["0.9"] / g["norms"]["0.9"][-1], 0.9**steps_back, rtol=1e-10)
    np.testing.assert_allclose(g["norms"]["1.1"] / g["norms"]["1.1"][-1], 1.1**steps_back, rtol=1e-10)
    assert min(g["seeds"]["RNN/10"] + g["seeds"]["LSTM/10"]) > 0.95
    assert max(g["seeds"]["RNN/20"]) < 0.7
    assert len(g["seeds"]["LSTM/20"]) == 5 and max(g["seeds"]["LSTM/20"]) > 0.9


def test_hello_lesson(lesson):
    g = lesson("l03_hello_rnn")
    W_xh, b = g["W_xh"], np.full(3, 0.567)  # rows: x_t W_xh, so "h" (one-hot 0) picks row 0
    h1 = np.tanh(W_xh[0] + b)
    h2 = np.tanh(W_xh[1] + 0.427043 * h1 + b)
    o2 = h2 @ g["W_hq"]
    np.testing.assert_allclose(g["p2"], np.exp(o2) / np.exp(o2).sum(), atol=1e-14)
    assert g["predicted"] == "ello"
    assert len(g["rnn_held_out"]) == 3 and min(g["rnn_held_out"]) > 0.85
    # the held-out negated sentences, counted here from the data file itself
    lines = [line.split("\t") for line in (LESSONS / "data" / "sentiment.tsv").read_text().splitlines()
             if "\t" in line and not line.startswith("#")]  # fmt: skip
    assert len(g["negated"]) == sum(" not " in text for text, _ in lines[180:]) > 0
    assert sorted(g["bag"]) == sorted(g["rnn_negated"]) == ["0", "1", "2"]


def test_keras_simple_rnn_lesson(lesson):
    g = lesson("l04_keras_simple_rnn")
    kernel, recurrent = g["kernel"], g["recurrent"]
    h1 = np.tanh(np.array([1.0, 2.0]) @ kernel)
    h2 = np.tanh(np.array([2.0, 3.0]) @ kernel + h1 @ recurrent)
    np.testing.assert_allclose(g["last"][0], h2, atol=1e-14)
    assert "Total params: 15" in g["summary"]


def test_bptt_lesson(lesson):
    g = lesson("l05_bptt_derivation")
    # the two steps of the worked example, written out once more
    s1 = np.tanh([0.6, 0.5])
    s2 = np.tanh(s1 @ np.array([[0.1, 0.2], [0.3, 0.4]]) + 2 * np.array([0.5, 0.6]) + [0.1, -0.1])
    np.testing.assert_allclose(g["outputs"][0, :, 0], [s1 @ [1, 2] + 0.1, s2 @ [1, 2] + 0.1], atol=1e-14)
    # the truncated-BPTT section's 30 steps, recomputed in plain numpy
    h, states = np.zeros(4), []
    for x_t in g["x_long"][0]:
        h = np.tanh(x_t @ g["W_xh"] + h @ g["W_hh"] + g["b_h"])
        states.append(h)
    np.testing.assert_allclose(g["full_outputs"][0], states, atol=1e-12)
    assert not g["first_chunk_got_gradient"] and np.abs(g["full_gradient_of_first_inputs"]).max() > 0
    # answering 1 to a sum of two U(0, 1) numbers has a mean squared error of 2/12 = 1/6
    assert g["baseline"] == pytest.approx(1 / 6, abs=0.02)
    curves, seeds = g["curves"], range(5)
    assert sorted(curves) == [f"{name}/{seed}" for name in ("IRNN", "tanh RNN") for seed in seeds]
    ahead = [s for s in seeds if np.mean(curves[f"IRNN/{s}"][-3:]) < np.mean(curves[f"tanh RNN/{s}"][-3:])]
    assert ahead == g["irnn_ahead"]
    # the two claims, recounted from the curves
    assert max(min(curves[f"tanh RNN/{s}"]) for s in seeds) < g["baseline"] / 2
    assert min(min(curves[f"IRNN/{s}"]) for s in seeds) < min(min(curves[f"tanh RNN/{s}"]) for s in seeds) / 2


def gru_states(x, kernel, recurrent, bias):
    """A GRU (reset_after=False) over x (batch, time, features), written here in numpy."""
    u = recurrent.shape[0]
    h, states = np.zeros((len(x), u)), []
    for x_t in x.transpose(1, 0, 2):
        gates = 1 / (1 + np.exp(-(x_t @ kernel[:, : 2 * u] + h @ recurrent[:, : 2 * u] + bias[: 2 * u])))
        z, r = gates[:, :u], gates[:, u:]
        candidate = np.tanh(x_t @ kernel[:, 2 * u :] + (r * h) @ recurrent[:, 2 * u :] + bias[2 * u :])
        h = z * h + (1 - z) * candidate
        states.append(h)
    return np.stack(states, 1)


def test_gru_lesson(lesson):
    g = lesson("l06_gru")
    np.testing.assert_allclose(g["layer_states"], gru_states(g["x"], *g["weights"]), atol=1e-12)
    # the hand-set unit, run here over the 600 test sequences: its last state's sign is the key
    last = gru_states(g["x_test"], *g["hand_weights"])[:, -1, 0]
    np.testing.assert_allclose(g["hand_last_state"], last, atol=1e-12)
    assert np.array_equal(last > 0, g["keys_test"] == 1)
    # the accuracies by gap, recounted from the predictions, and the claims on them
    gaps, keys = g["test_gaps"], g["keys_test"]
    assert np.array_equal(np.bincount(gaps), np.full(30, 20))
    for kind in ("GRU", "SimpleRNN"):
        assert len(g["predicted"][kind]) == len(g["by_gap"][kind]) == 5
        for predicted, row in zip(g["predicted"][kind], g["by_gap"][kind], strict=True):
            right = np.asarray(predicted) == keys
            assert row == pytest.approx([right[gaps // 10 == b].mean() for b in range(3)])
    assert sum(row[2] >= 0.9 for row in g["by_gap"]["GRU"]) >= 4
    assert max(row[2] for row in g["by_gap"]["SimpleRNN"]) <= 0.7
    assert max(max(row) for row in g["by_gap"]["SimpleRNN"]) < 0.75


def test_attention_lesson_numbers_recount_from_its_translations(lesson):
    g = lesson("l07_attention")
    for name, per_seed in g["translations"].items():  # the accuracy table, recounted here
        for row, outputs in zip(g["accuracy"][name], per_seed, strict=True):
            for column, length in enumerate(range(2, 11)):
                hits = [
                    o == s[::-1] for o, s in zip(outputs, g["test_sources"], strict=True) if len(s) == length
                ]
                assert row[column] == pytest.approx(np.mean(hits))
    for name, (lowest, highest), lengths in (
        ("fixed C", (0.8, 1.0), (2, 3)),
        ("fixed C", (0.0, 0.3), (8, 9, 10)),
        ("attention", (0.5, 1.0), (8, 9, 10)),
    ):  # the pooled claims, recounted here
        for outputs in g["translations"][name]:
            hits = [
                o == s[::-1] for o, s in zip(outputs, g["test_sources"], strict=True) if len(s) in lengths
            ]
            assert lowest <= np.mean(hits) <= highest
    weights = g["weights"]
    assert weights.shape == (len(g["output"]), len(g["example"]))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)


def test_pictures_are_written_when_matplotlib_is_present(lesson):
    pytest.importorskip("matplotlib")
    lesson("l02_rnn_memory")  # run here or by python -m lessons: either writes the pictures
    for name in ("gradient_norms.png", "memory_vs_distance.png"):
        assert (lesson.output / name).read_bytes()[:4] == b"\x89PNG"


def test_the_runner_lists_and_rejects_bad_arguments():
    listing = subprocess.run([sys.executable, "-m", "lessons", "list"], capture_output=True, text=True)
    assert listing.returncode == 0 and len(listing.stdout.strip().splitlines()) == 8
    bad = subprocess.run([sys.executable, "-m", "lessons", "run", "99"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_a_failed_claim_stops_a_lesson():
    from lessons.report import ClaimFailed, check

    with pytest.raises(ClaimFailed, match="two is three"):
        check("two is three", 2 == 3)


def test_a_claim_prints_its_measured_values_beside_the_threshold(capsys):
    from lessons.report import ClaimFailed, check

    check("every seed learns", True, {"seed 0": 0.98765, "seed 1": [0.5, 1]}, ">= 0.9 on every seed")
    assert capsys.readouterr().out == (
        "  [ok] every seed learns (measured: seed 0: 0.9877, seed 1: [0.5, 1]; threshold: >= 0.9 on every seed)\n"
    )
    with pytest.raises(ClaimFailed) as failure:
        check("the error is small", False, np.array([0.0452, 0.0123]), "< 0.042 on every seed")
    assert (
        str(failure.value)
        == "the error is small (measured: [0.0452, 0.0123]; threshold: < 0.042 on every seed)"
    )
    assert capsys.readouterr().out.startswith("  [FAILED] the error is small (measured: [0.0452, 0.0123]")


BROKEN_LESSON = (
    '"""A broken lesson.\n\nFor the test."""\n\n# %%\nfrom lessons.report import check\n\n'
    'check("two is three", 2 == 3, [2.0, 2.5], "== 3 on every seed")\n'
)


def test_the_runner_names_the_lesson_the_claim_and_its_numbers(tmp_path, monkeypatch, capsys):
    from lessons import __main__ as runner

    lesson = tmp_path / "l98_broken.py"
    lesson.write_text(BROKEN_LESSON)
    monkeypatch.setattr(runner, "lesson_files", lambda: [lesson])
    monkeypatch.setenv("MINIGRAD_LESSON_OUTPUT", str(tmp_path))
    assert runner.main(["run", "0"]) == 1
    assert capsys.readouterr().err.strip() == (
        "l98_broken: a claim did not hold: two is three (measured: [2, 2.5]; threshold: == 3 on every seed)"
    )


def test_the_book_names_the_lesson_the_claim_and_its_numbers(tmp_path, monkeypatch):
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    from lessons.book import BookError, build

    lesson = tmp_path / "l98_broken.py"
    lesson.write_text(BROKEN_LESSON)
    monkeypatch.setenv("MINIGRAD_LESSON_OUTPUT", str(tmp_path))
    with pytest.raises(BookError) as failure:
        build([lesson], tmp_path / "book")
    assert str(failure.value) == (
        "l98_broken: the claim did not hold: two is three (measured: [2, 2.5]; threshold: == 3 on every seed)"
    )


def test_results_made_on_another_float_path_are_not_read(tmp_path, monkeypatch):
    for name in ("MINIGRAD_JIT", "MINIGRAD_INIT_NUDGE"):
        monkeypatch.delenv(name, raising=False)
    results.save("l99_example", {"value": 1.0}, tmp_path)
    monkeypatch.setenv("MINIGRAD_INIT_NUDGE", "1")
    assert results.load("l99_example", tmp_path) is None
    monkeypatch.setenv("MINIGRAD_INIT_NUDGE", "0")
    assert results.load("l99_example", tmp_path) == {"value": 1.0}


def test_lessons_use_only_the_public_api():
    for path in LESSONS.glob("l[0-9][0-9]_*.py"):
        assert "._" not in path.read_text(), f"{path.name} reaches for a private name"


def test_saved_results_round_trip_and_stale_ones_are_not_read(tmp_path):
    values = {"array": np.arange(3.0), "nested": {"1.1": [1, 2]}, "text": "ello", "flag": True}
    path = results.save("l99_example", values, tmp_path)
    loaded = results.load("l99_example", tmp_path)
    np.testing.assert_array_equal(loaded["array"], values["array"])
    assert loaded["nested"] == {"1.1": [1, 2]} and loaded["text"] == "ello" and loaded["flag"] is True
    path.write_text(path.read_text().replace(results.fingerprint(), "made by other code"))
    assert results.load("l99_example", tmp_path) is None  # the lesson will run again
    with pytest.raises(TypeError, match="not object"):
        results.save("l99_example", {"model": object()}, tmp_path)


def test_pictures_show_inline_in_a_notebook_and_are_still_saved(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    import types

    from lessons import report

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()  # pyplot settles its backend now, before the stand-in IPython
    axes.plot([0, 1], [0.0, 1.0])
    shown = []

    class ZMQInteractiveShell:  # what get_ipython() returns inside a Jupyter kernel
        pass

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell
    display = types.ModuleType("IPython.display")
    display.Image = lambda filename: filename
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setenv("MINIGRAD_LESSON_OUTPUT", str(tmp_path))
    path = report.save(figure, "inline.png", "a line")
    assert shown == [str(path)] and path.read_bytes()[:4] == b"\x89PNG"
    monkeypatch.delitem(sys.modules, "IPython")
    assert not report.in_notebook()  # a terminal: the picture's path is printed instead
