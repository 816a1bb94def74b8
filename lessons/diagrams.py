"""The lessons' pictures of networks, and charts of several panels, drawn with matplotlib.

Each public function draws one figure and hands it to ``report.save``: a PNG in the lessons'
output folder, shown inline in a notebook.  The letters are the book's notation (see
``notation.md``).  Without matplotlib a diagram prints one line saying what it would show,
and a chart prints its numbers as tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lessons import report

NODE = re.compile(r'^\s*(\w+) \[label="(.*)", shape=(\w+)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")
COLOURS = {"tensor": "#dbe9f6", "named": "#c7e9c0", "op": "#fde0c5", "gate": "#fdd0a2", "plain": "white"}


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend, or None when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _canvas(plt: Any, width: float, height: float, heading: str) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_axis_off()
    ax.set_title(heading)
    return fig, ax


def _node(ax: Any, xy: tuple[float, float], text: str, kind: str = "tensor", size: float = 11) -> None:
    """A labelled node: a rounded box for an op or gate, an ellipse-like round box otherwise."""
    style = "round,pad=0.3" if kind in ("op", "gate") else "round4,pad=0.35"
    ax.text(
        *xy,
        text,
        ha="center",
        va="center",
        fontsize=size,
        zorder=3,
        bbox={"boxstyle": style, "facecolor": COLOURS[kind], "edgecolor": "#444444"},
    )


def _arrow(
    ax: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    bend: float = 0.0,
    colour: str = "#333333",
    width: float = 1.2,
    shrink: float = 14,
) -> None:
    """An arrow from ``start`` to ``end`` (curved by ``bend``), with an optional label at its middle."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        zorder=2,
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "lw": width,
            "shrinkA": shrink,
            "shrinkB": shrink,
            "connectionstyle": f"arc3,rad={bend}",
        },
    )
    if label:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(
            *middle,
            label,
            fontsize=10,
            ha="center",
            va="center",
            zorder=4,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )


def _without_matplotlib(heading: str) -> None:
    print(f"{heading}: a diagram (install the 'lessons' extra to draw it)")


def unrolled_rnn(filename: str = "unrolled_rnn.png", steps: int = 3) -> None:
    """The simple RNN folded (one cell with a loop) and unrolled over ``steps`` steps: inputs
    x_t, states h_t, outputs o_t, per-step losses l_t summed into L; every step reuses the
    same W_xh, W_hh and W_hq."""
    heading = f"a simple RNN, folded and unrolled over {steps} steps"
    plt = _pyplot()
    if plt is None:
        return _without_matplotlib(heading)
    fig, ax = _canvas(plt, 2.4 + 2.1 * steps, 5.2, heading)
    _node(ax, (0, 0), "$x_t$", "plain")
    _node(ax, (0, 1.5), "$h_t$")
    _node(ax, (0, 3), "$o_t$", "plain")
    _arrow(ax, (0, 0), (0, 1.5), "$W_{xh}$")
    _arrow(ax, (0, 1.5), (0, 3), "$W_{hq}$")
    ax.annotate(
        "",
        xy=(-0.25, 1.62),
        xytext=(0.25, 1.62),
        arrowprops={
            "arrowstyle": "-|>",
            "lw": 1.2,
            "connectionstyle": "arc3,rad=2.2",
            "shrinkA": 6,
            "shrinkB": 6,
        },
    )
    ax.text(0, 2.25, "$W_{hh}$", ha="center", fontsize=10)
    ax.text(1.1, 1.5, "=", fontsize=22, ha="center", va="center")
    _node(ax, (1.9, 1.5), "$h_0$")
    for t in range(1, steps + 1):
        x = 1.9 + 2.0 * t
        _node(ax, (x, 0), f"$x_{t}$", "plain")
        _node(ax, (x, 1.5), f"$h_{t}$")
        _node(ax, (x, 3), f"$o_{t}$", "plain")
        _node(ax, (x, 4.2), rf"$\ell_{t}$", "op")
        _arrow(ax, (x - 2.0, 1.5), (x, 1.5), "$W_{hh}$")
        _arrow(ax, (x, 0), (x, 1.5), "$W_{xh}$")
        _arrow(ax, (x, 1.5), (x, 3), "$W_{hq}$")
        _arrow(ax, (x, 3), (x, 4.2), f"$y_{t}$")
        _arrow(ax, (x, 4.2), (1.9 + 2.0 * steps + 1.4, 4.2), bend=0.0 if t == steps else -0.25, width=0.8)
    _node(ax, (1.9 + 2.0 * steps + 1.4, 4.2), r"$L=\sum_t \ell_t$", "op")
    ax.set(xlim=(-0.8, 2.0 * steps + 4.6), ylim=(-0.6, 4.9))
    report.save(fig, filename, heading)


def _parse_dot(dot: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """The nodes (id -> (label, "op" or "tensor")) and edges of ``minigrad.graph.to_dot``'s text."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if found := NODE.match(line):
            node_id, label, shape = found.groups()
            nodes[node_id] = (label.replace("\\n", "\n"), "op" if shape == "box" else "tensor")
        elif found := EDGE.match(line):
            edges.append(found.groups())
    return nodes, edges


def _layers(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """A left-to-right layered layout: each node one column left of its leftmost consumer
    (so inputs sit just before their first use), and each column's nodes near the height of
    the nodes they feed."""
    consumers: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        consumers[source].append(target)
    depth: dict[str, int] = {}
    remaining = list(nodes)
    while remaining:  # the depth from the output, once every consumer has one
        for node in [n for n in remaining if all(c in depth for c in consumers[n])]:
            depth[node] = 1 + max((depth[c] for c in consumers[node]), default=-1)
            remaining.remove(node)
    height: dict[str, float] = {}
    for column in range(max(depth.values()) + 1):
        members = [n for n in nodes if depth[n] == column]
        wanted = {
            n: sum(height[c] for c in consumers[n]) / len(consumers[n]) if consumers[n] else 0.0
            for n in members
        }
        members.sort(key=lambda n: wanted[n])
        first = sum(wanted.values()) / len(members) - (len(members) - 1) / 2
        for slot, node in enumerate(members):
            height[node] = first + slot
    last = max(depth.values())
    return {n: (float(last - depth[n]), height[n]) for n in nodes}


def computation_graph(dot: str, filename: str, heading: str) -> None:
    """Draw the graph that ``minigrad.graph.to_dot`` recorded: tensors (shape, and name when
    given) as rounded boxes, named ones green, ops as orange boxes, data flowing left to
    right; an arrow that skips columns (a tensor reused later) is drawn curved."""
    plt = _pyplot()
    if plt is None:
        return _without_matplotlib(heading)
    nodes, edges = _parse_dot(dot)
    where = _layers(nodes, edges)
    xs, ys = [x for x, _ in where.values()], [y for _, y in where.values()]
    fig, ax = _canvas(plt, 1.2 + 0.75 * (max(xs) - min(xs)), 1.6 + 0.8 * (max(ys) - min(ys)), heading)
    for source, target in edges:
        skip = where[target][0] - where[source][0]
        _arrow(ax, where[source], where[target], bend=0.0 if skip <= 1 else -0.12, width=0.8, shrink=16)
    for node, (label, kind) in nodes.items():
        named = kind == "tensor" and "\n" in label
        _node(ax, where[node], label, "named" if named else kind, size=8)
    ax.set(xlim=(min(xs) - 0.7, max(xs) + 0.7), ylim=(min(ys) - 0.7, max(ys) + 0.7))
    report.save(fig, filename, heading)


def lstm_cell(filename: str = "lstm_cell.png") -> None:
    """One LSTM step: the cell line c_{t-1} -> c_t along the top, the gates f, i, o and the
    candidate computed from [h_{t-1}, x_t] below it, and h_t = o_t * tanh(c_t) leaving right."""
    heading = "one step of an LSTM cell"
    plt = _pyplot()
    if plt is None:
        return _without_matplotlib(heading)
    fig, ax = _canvas(plt, 8.5, 5.2, heading)
    ax.add_patch(plt.Rectangle((1.2, 0.4), 8.0, 5.2, facecolor="#f7f7f7", edgecolor="#999999", zorder=0))
    _node(ax, (0, 5), "$c_{t-1}$", "plain")
    _node(ax, (0, 0.9), "$h_{t-1}$", "plain")
    _node(ax, (2.0, -0.6), "$x_t$", "plain")
    _node(ax, (10.4, 5), "$c_t$", "plain")
    _node(ax, (10.4, 1.8), "$h_t$", "plain")
    multiply_forget, add, multiply_input = (3.0, 5), (5.5, 5), (5.5, 3.6)
    squash, multiply_output = (8.2, 3.6), (8.2, 1.8)
    for xy, text in (
        (multiply_forget, r"$\odot$"),
        (add, "$+$"),
        (multiply_input, r"$\odot$"),
        (multiply_output, r"$\odot$"),
    ):
        _node(ax, xy, text, "op", size=14)
    _node(ax, squash, r"$\tanh$", "op")
    _arrow(ax, (0, 5), multiply_forget)
    _arrow(ax, multiply_forget, add)
    _arrow(ax, add, (10.4, 5))
    _arrow(ax, (8.2, 5), squash, shrink=2)
    _arrow(ax, squash, multiply_output)
    _arrow(ax, multiply_output, (10.4, 1.8))
    _arrow(ax, multiply_input, add)
    ax.plot([0.4, 2.0, 7.3], [0.9, 0.9, 0.9], color="#333333", lw=1.2, zorder=1)
    ax.plot([2.0, 2.0], [-0.35, 0.9], color="#333333", lw=1.2, zorder=1)
    ax.text(4.6, 0.6, r"$[h_{t-1}, x_t]$", fontsize=10, ha="center")
    gates = {
        (3.0, 2.3): (r"$f_t=\sigma$", multiply_forget),
        (4.6, 2.3): (r"$i_t=\sigma$", multiply_input),
        (6.2, 2.3): (r"$\tilde c_t=\tanh$", multiply_input),
        (7.3, 1.8): (r"$o_t=\sigma$", multiply_output),
    }
    for xy, (text, into) in gates.items():
        _node(ax, xy, text, "gate", size=10)
        _arrow(ax, (xy[0], 0.9), xy, shrink=2)
        _arrow(ax, xy, into)
    ax.text(5.2, 5.75, "the cell state: the long-term memory", fontsize=9, ha="center", style="italic")
    ax.set(xlim=(-0.7, 11.0), ylim=(-1.1, 6.2))
    report.save(fig, filename, heading)


def encoder_decoder(
    source: Sequence[str], target: Sequence[str], filename: str, attention: bool = False
) -> None:
    """An encoder reading ``source`` into states h_1..h_T and a decoder writing ``target`` from
    states s_1, s_2, ...; without attention the decoder starts from one context C = h_T, with
    it the context C_t of one output step is a weighted sum of every h_s (drawn for step 2)."""
    heading = "encoder-decoder " + ("with attention" if attention else "with one context C")
    plt = _pyplot()
    if plt is None:
        return _without_matplotlib(heading)
    length, gap = len(source), 2.2
    fig, ax = _canvas(plt, 1.6 + 1.25 * (length + len(target)) + gap, 4.6, heading)
    encoder_x = [1.25 * s for s in range(length)]
    decoder_x = [encoder_x[-1] + gap + 1.25 * (t + 1) for t in range(len(target))]
    for s, (x, word) in enumerate(zip(encoder_x, source, strict=True)):
        _node(ax, (x, 0), word, "plain", size=10)
        _node(ax, (x, 1.3), f"$h_{s + 1}$")
        _arrow(ax, (x, 0), (x, 1.3))
        if s:
            _arrow(ax, (x - 1.25, 1.3), (x, 1.3))
    context_x = encoder_x[-1] + gap / 2 + 0.6
    _node(ax, (context_x, 1.3), "$C$", "named")
    _arrow(ax, (encoder_x[-1], 1.3), (context_x, 1.3))
    _arrow(ax, (context_x, 1.3), (decoder_x[0], 1.3))
    previous = ["<start>", *target[:-1]]
    for t, (x, word) in enumerate(zip(decoder_x, target, strict=True)):
        _node(ax, (x, 0), previous[t], "plain", size=10)
        _node(ax, (x, 1.3), f"$s_{t + 1}$")
        _node(ax, (x, 2.6), word, "plain", size=10)
        _arrow(ax, (x, 0), (x, 1.3))
        _arrow(ax, (x, 1.3), (x, 2.6))
        if t:
            _arrow(ax, (x - 1.25, 1.3), (x, 1.3))
    if attention:
        focus, where = decoder_x[1], (context_x, 3.5)
        _node(ax, where, r"$C_2=\sum_s \alpha_{2,s} h_s$", "named", size=10)
        for s, x in enumerate(encoder_x):
            _arrow(ax, (x, 1.3), where, rf"$\alpha_{{2,{s + 1}}}$", colour="#2b8cbe", width=1.0)
        _arrow(ax, (focus, 1.3), where, bend=-0.3, colour="#2b8cbe", width=1.0)
        _arrow(ax, where, (focus, 2.6), bend=-0.2, colour="#2b8cbe", width=1.0)
        ax.text(
            where[0],
            4.05,
            r"scores $e_{2,s}=s_2 h_s^\top$, "
            r"weights $\alpha_{2,s}=\mathrm{softmax}_s(e_{2,s})$",
            ha="center",
            fontsize=9,
            color="#2b8cbe",
        )
    ax.text(encoder_x[-1] / 2, -0.75, "encoder", ha="center", fontsize=11, style="italic")
    ax.text((decoder_x[0] + decoder_x[-1]) / 2, -0.75, "decoder", ha="center", fontsize=11, style="italic")
    ax.set(xlim=(-0.8, decoder_x[-1] + 0.8), ylim=(-1.1, 4.3 if attention else 3.1))
    report.save(fig, filename, heading)


def line_panels(
    filename: str,
    heading: str,
    x: Sequence[float],
    panels: dict[str, dict[str, Sequence[float]]],
    xlabel: str,
    ylabel: str,
    log_y: bool = False,
    dashed: Sequence[str] = (),
) -> None:
    """Lines of several groups side by side, one panel per group (title: the group's name),
    sharing the y axis; series named in ``dashed`` (a baseline, say) are wide dashed lines.
    Without matplotlib each panel prints as a table (``report.plot``'s fallback)."""
    plt = _pyplot()
    if plt is None:
        for name, series in panels.items():
            report.plot(filename, f"{heading}: {name}", x, series, xlabel, ylabel)
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for label, values in series.items():
            if label in dashed:
                ax.plot(x, values, linestyle="--", linewidth=3, alpha=0.5, color="black", label=label)
            else:
                ax.plot(x, values, marker="o", markersize=3, label=label)
        ax.set(title=name, xlabel=xlabel)
        if log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(heading)
    report.save(fig, filename, heading)
