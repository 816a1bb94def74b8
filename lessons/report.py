"""How a lesson talks: quantities with their shapes, one verdict per checked claim, pictures.

A failed check raises ``ClaimFailed``, so a lesson whose numbers are wrong cannot pass
quietly.  Pictures are PNG files when matplotlib is installed (the ``lessons`` extra) and a
printed table otherwise; they go to the folder named by ``MINIGRAD_LESSON_OUTPUT``
(default ``lesson_output`` in the current folder).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class ClaimFailed(AssertionError):
    """A lesson's claim did not hold."""


def title(text: str) -> None:
    print(f"\n=== {text} ===")


def show(name: str, value: Any) -> None:
    """Print a quantity: its shape (for arrays) and its value; a tuple of ints is a shape."""
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        print(f"{name}: {value}")
        return
    array = np.asarray(value.data if hasattr(value, "data") else value)
    if array.ndim == 0:
        print(f"{name} = {array.item():.6g}")
    else:
        body = np.array2string(array, precision=6, suppress_small=True, max_line_width=100)
        print(f"{name} {array.shape} =\n{body}" if array.ndim > 1 else f"{name} {array.shape} = {body}")


def measured_text(values: Any) -> str:
    """Measured values on one line: a number to 4 significant digits, a list or array as
    ``[a, b]``, a dict as ``name: value`` pairs (its values formatted the same way)."""
    if isinstance(values, dict):
        return ", ".join(f"{name}: {measured_text(value)}" for name, value in values.items())
    if isinstance(values, str):
        return values
    array = np.asarray(values)
    if array.ndim == 0:
        item = array.item()
        return f"{item:.4g}" if isinstance(item, float) else str(item)
    return "[" + ", ".join(measured_text(value) for value in array.reshape(-1)) + "]"


def check(claim: str, holds: bool | np.bool_, measured: Any = None, threshold: str | None = None) -> None:
    """State a claim and its verdict; a claim that does not hold stops the lesson.

    Parameters
    ----------
    claim : str
        The claim, as the reader should read it.
    holds : bool
        Whether it held.
    measured : number, array, list or dict of name -> value(s), optional
        What the verdict was decided on (a trained claim: the value on every seed); printed
        beside the verdict and carried by the failure, so that a failure on another machine
        can be reported with its numbers.
    threshold : str, optional
        The limit the measured values were held against, e.g. ``">= 0.9 on every seed"``.
    """
    detail = ""
    if measured is not None or threshold is not None:
        parts = [f"measured: {measured_text(measured)}"] if measured is not None else []
        parts += [f"threshold: {threshold}"] if threshold is not None else []
        detail = f" ({'; '.join(parts)})"
    if not bool(holds):
        print(f"  [FAILED] {claim}{detail}")
        raise ClaimFailed(f"{claim}{detail}")
    print(f"  [ok] {claim}{detail}")


def close(a: Any, b: Any, tol: float = 1e-10) -> bool:
    """True when two arrays agree to ``tol`` in every element (absolute)."""
    a = np.asarray(a.data if hasattr(a, "data") else a, dtype=np.float64)
    b = np.asarray(b.data if hasattr(b, "data") else b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol))


def _cell_text(value: Any) -> str:
    return value if isinstance(value, str) else measured_text(value)


def table(heading: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Show a table: an HTML table in a notebook (and so in the book), aligned text otherwise.

    Parameters
    ----------
    heading : str
        What the table holds; its caption.
    columns : sequence of str
        The column names.
    rows : sequence of sequences, each as long as ``columns``
        The cells: a string as it is, a number to 4 significant digits (``measured_text``).
    """
    texts = [[_cell_text(value) for value in row] for row in rows]
    if any(len(row) != len(columns) for row in texts):
        raise ValueError(f"table {heading!r}: every row needs {len(columns)} cells, one per column")
    numeric = [all(not isinstance(row[j], str) for row in rows) for j in range(len(columns))]
    widths = [max([len(name)] + [len(row[j]) for row in texts]) for j, name in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    plain = "\n".join([heading, line(columns), line(["-" * w for w in widths]), *map(line, texts)])
    if not in_notebook():
        print(plain)
        return
    from IPython.display import display

    display({"text/plain": plain, "text/html": _table_html(heading, columns, texts, numeric)}, raw=True)


def _table_html(heading: str, columns: Sequence[str], texts: list[list[str]], numeric: list[bool]) -> str:
    """A table's HTML, in a box of its own that scrolls sideways when the page is narrower."""
    from html import escape

    head = "".join(f"<th>{escape(name)}</th>" for name in columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"number" if right else "text"}">{escape(cell)}</td>'
            for cell, right in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in texts
    )
    return (
        f'<div class="table-scroll"><table class="lesson-table"><caption>{escape(heading)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def output_dir() -> Path:
    folder = Path(os.environ.get("MINIGRAD_LESSON_OUTPUT", "lesson_output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(fig: Any, filename: str, heading: str, alt: str | None = None) -> Path:
    """Write a matplotlib figure to the output folder as a PNG and close it; in a notebook
    (an IPython kernel) show it inline too, else say where it went.

    ``alt`` says in words what the figure shows (``heading`` unless given); the PNG carries it
    as its ``Description``, which the book gives the figure as alt text."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = output_dir() / filename
    fig.savefig(path, dpi=100, metadata={"Title": heading, "Description": alt or heading})
    plt.close(fig)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    else:
        print(f"{heading}: picture written to {path}")
    return path


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where pictures can be shown inline."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def plot(
    filename: str,
    heading: str,
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    log_y: bool = False,
    dashed: Sequence[str] = (),
) -> None:
    """Draw lines of ``series`` against ``x`` to a PNG (``filename`` in the output folder), or
    print them as a table without matplotlib.  Series named in ``dashed`` (predictions, say)
    are wide dashed lines under the others.  The figure's alt text names its axes and series."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{heading} (install the 'lessons' extra for a picture)")
        print(f"{xlabel:>12} " + " ".join(f"{name:>14}" for name in series))
        for i, xi in enumerate(x):
            print(f"{xi:>12.6g} " + " ".join(f"{values[i]:>14.6g}" for values in series.values()))
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in series.items():
        if name in dashed:
            ax.plot(x, values, linestyle="--", linewidth=4, alpha=0.4, label=name)
        else:
            ax.plot(x, values, marker="o", markersize=3, label=name)
    ax.set(title=heading, xlabel=xlabel, ylabel=ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    scale = ", on a log scale" if log_y else ""
    lines = "; ".join(series)
    save(
        fig, filename, heading, alt=f"{heading}: {ylabel}{scale} against {xlabel}, one line each for {lines}"
    )


def heatmap(
    filename: str,
    heading: str,
    values: np.ndarray,
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    xlabel: str,
    ylabel: str,
) -> None:
    """Draw a matrix (rows: ``ylabels``, columns: ``xlabels``) as a PNG heatmap (``filename`` in
    the output folder), or print it as a table without matplotlib."""
    values = np.asarray(values)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{heading} (install the 'lessons' extra for a picture)")
        print(f"{'':>8} " + " ".join(f"{x:>6}" for x in xlabels))
        for label, row in zip(ylabels, values, strict=True):
            print(f"{label:>8} " + " ".join(f"{v:>6.2f}" for v in row))
        return
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(xlabels), 1 + 0.5 * len(ylabels)))
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(xlabels)), labels=list(xlabels))
    ax.set_yticks(range(len(ylabels)), labels=list(ylabels))
    ax.set(title=heading, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax, shrink=0.8)
    shape = f"{len(ylabels)} rows ({ylabel}) by {len(xlabels)} columns ({xlabel})"
    save(fig, filename, heading, alt=f"{heading}: a heatmap of {shape}, values from 0 to 1")
