"""The lessons' diagrams: drawn from the graph minigrad records, labelled, and written as PNGs."""

import numpy as np
import pytest

import minigrad as mg
from lessons import diagrams, report

pytest.importorskip("matplotlib")


def rnn_graph_dot() -> tuple[str, mg.Tensor, mg.Tensor]:
    """DOT text of a 3-step RNN's graph, and its two weights."""
    W_xh = mg.Tensor(np.full((2, 3), 0.1), requires_grad=True)
    W_hh = mg.Tensor(np.eye(3) * 0.5, requires_grad=True)
    h = mg.zeros(1, 3)
    for t in range(3):
        h = (mg.Tensor(np.array([[1.0, float(t)]])) @ W_xh + h @ W_hh).tanh()
    return mg.graph.to_dot(h.sum(), {"W_xh": W_xh, "W_hh": W_hh}), W_xh, W_hh


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The figures handed to report.save, by file name (also written to tmp_path)."""
    figures = {}
    save = report.save

    def keep(fig, filename, heading):
        figures[filename] = fig
        return save(fig, filename, heading)

    monkeypatch.setenv("MINIGRAD_LESSON_OUTPUT", str(tmp_path))
    monkeypatch.setattr(report, "save", keep)
    return figures


def test_the_parsed_graph_has_every_node_and_edge_of_the_dot_text():
    dot, W_xh, W_hh = rnn_graph_dot()
    nodes, edges = diagrams._parse_dot(dot)
    assert len(edges) == dot.count("->")
    # 3 steps x (2 MatMul + Add + Tanh) ops and the final Sum
    assert sorted(label for label, kind in nodes.values() if kind == "op").count("MatMul") == 6
    assert sum(kind == "op" for _, kind in nodes.values()) == 3 * 4 + 1
    assert nodes[f"t{id(W_xh)}"] == ("W_xh\n(2, 3)", "tensor")
    assert sum(source == f"t{id(W_hh)}" for source, _ in edges) == 3


def test_the_layout_runs_left_to_right_with_no_two_nodes_in_one_place():
    dot, W_xh, _ = rnn_graph_dot()
    nodes, edges = diagrams._parse_dot(dot)
    where = diagrams._layers(nodes, edges)
    assert set(where) == set(nodes)
    assert all(where[source][0] < where[target][0] for source, target in edges)
    assert len(set(where.values())) == len(where)
    first_use = min(where[target][0] for source, target in edges if source == f"t{id(W_xh)}")
    assert where[f"t{id(W_xh)}"][0] == first_use - 1  # a weight sits just before its first use


def test_every_diagram_is_written_as_a_png_with_a_title(drawn, tmp_path):
    dot, _, _ = rnn_graph_dot()
    diagrams.unrolled_rnn("unrolled.png")
    diagrams.computation_graph(dot, "graph.png", "a graph")
    diagrams.lstm_cell("lstm.png")
    diagrams.encoder_decoder(["a", "b"], ["x", "y", "z"], "plain.png")
    diagrams.encoder_decoder(["a", "b"], ["x", "y", "z"], "attending.png", attention=True)
    for name in ("unrolled.png", "graph.png", "lstm.png", "plain.png", "attending.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
        assert drawn[name].axes[0].get_title()
    texts = [t.get_text() for t in drawn["attending.png"].axes[0].texts]
    assert any("alpha" in t for t in texts) and not any("alpha" in t for t in (
        t.get_text() for t in drawn["plain.png"].axes[0].texts))  # fmt: skip


def test_a_chart_of_panels_has_a_title_labelled_axes_and_a_legend_in_every_panel(drawn):
    panels = {"first": {"a": [1.0, 2.0], "base": [1.5, 1.5]}, "second": {"b": [2.0, 1.0], "base": [1.5, 1.5]}}
    diagrams.line_panels(
        "panels.png", "two groups", [1, 2], panels, "epoch", "error", log_y=True, dashed=("base",)
    )
    figure = drawn["panels.png"]
    assert figure.get_suptitle() == "two groups"
    assert [ax.get_title() for ax in figure.axes] == ["first", "second"]
    assert figure.axes[0].get_ylabel() == "error"
    for ax, series in zip(figure.axes, panels.values(), strict=True):
        assert ax.get_xlabel() == "epoch" and ax.get_yscale() == "log"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == list(series)
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), next(iter(series.values())))
        assert ax.lines[1].get_linestyle() == "--"


def test_without_matplotlib_a_diagram_says_so_and_a_chart_prints_its_numbers(monkeypatch, capsys):
    monkeypatch.setattr(diagrams, "_pyplot", lambda: None)
    diagrams.lstm_cell()
    assert "one step of an LSTM cell: a diagram (install the 'lessons' extra" in capsys.readouterr().out
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    diagrams.line_panels("p.png", "errors", [1, 2], {"tanh": {"seed 0": [0.25, 0.125]}}, "epoch", "error")
    printed = capsys.readouterr().out
    assert "errors: tanh" in printed and "0.125" in printed
