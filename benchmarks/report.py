"""The tables of one benchmark run: ``results.txt`` and the README's figures.

A time is shown as median [first quartile-third quartile] of its repeats; a ratio is
minigrad's time over PyTorch's, the median [quartiles] of the repeats' paired ratios
(below 1: minigrad is faster).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

README_START = "<!-- benchmark figures: `python benchmarks/run.py --write-readme` rewrites this part -->"
README_END = "<!-- end of the benchmark figures -->"
FUSED_TORCH = {"SimpleRNN": "nn.RNN", "LSTM": "nn.LSTM", "GRU": "nn.GRU"}


def number(value: float) -> str:
    """Three significant digits, whole numbers from 1000 up."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def spread(q: dict[str, float], ratio: bool = False) -> str:
    """'median [q1-q3]'."""
    show = (lambda v: f"{v:.2f}") if ratio else number
    return f"{show(q['median'])} [{show(q['q1'])}-{show(q['q3'])}]"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain columns, two spaces apart, each as wide as its widest cell."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]
    )


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(r) + " |" for r in lines)


def split_case(case: str) -> tuple[str, str, str]:
    """'LSTM (50, 32, 64, 128) float32' -> ('LSTM', '(50, 32, 64, 128)', 'float32')."""
    kind, rest = case.split(" ", 1)
    size, dtype = rest.rsplit(" ", 1)
    return kind, size, dtype


def fused_table(section: list[dict[str, Any]]) -> str:
    rows = []
    for case in section:
        kind, size, dtype = split_case(case["case"])
        for phase, s in case["phases"].items():
            t = s["times"]
            rows.append(
                [
                    kind,
                    size,
                    dtype,
                    phase,
                    spread(t["minigrad"]),
                    spread(t["torch"]),
                    spread(s["ratios"]["minigrad/torch"], True),
                ]
            )
    return table(["layer", "(T, B, I, U)", "dtype", "phase", "minigrad ms", "PyTorch nn.* ms", "ratio"], rows)


def autograd_table(section: list[dict[str, Any]]) -> str:
    rows = []
    for case in section:
        _, size, dtype = split_case(case["case"])
        for phase, s in case["phases"].items():
            t, r = s["times"], s["ratios"]
            rows.append(
                [
                    size,
                    dtype,
                    phase,
                    spread(t["minigrad"]),
                    spread(t["torch"]),
                    spread(t["nn.LSTM"]),
                    spread(r["minigrad/torch"], True),
                    spread(r["minigrad/nn.LSTM"], True),
                ]
            )
    headers = [
        "(T, B, I, U)",
        "dtype",
        "phase",
        "minigrad ms",
        "eager loop ms",
        "nn.LSTM ms",
        "ratio to loop",
        "ratio to nn.LSTM",
    ]
    return table(headers, rows)


def pair_table(section: list[dict[str, Any]], unit: str) -> str:
    rows = []
    for case in section:
        for s in case["phases"].values():
            t = s["times"]
            rows.append(
                [
                    case["case"],
                    spread(t["minigrad"]),
                    spread(t["torch"]),
                    spread(s["ratios"]["minigrad/torch"], True),
                ]
            )
    return table(["case", f"minigrad {unit}", f"PyTorch {unit}", "ratio"], rows)


def settings_lines(run: dict[str, Any]) -> list[str]:
    """What the timing process's libraries took, as read inside it."""
    s = run["settings"]
    omp = s["openmp"]
    lines = [
        f"{run['threads']} thread(s): PyTorch {s['torch_threads']}, Numba {s['numba_threads']} thread(s); "
        f"OpenMP OMP_WAIT_POLICY={omp['OMP_WAIT_POLICY']} GOMP_SPINCOUNT={omp['GOMP_SPINCOUNT']}"
    ]
    for pool in s["pools"]:
        timeout = "" if pool["spin_timeout"] is None else f", thread timeout {pool['spin_timeout']}"
        lines.append(f"    {pool['library']} ({pool['api']}): {pool['threads']} thread(s){timeout}")
    return lines


def memory_rows(probes: list[dict[str, Any]]) -> list[list[str]]:
    """[case, minigrad and PyTorch MB and ratio by RSS, the same by allocator] per pair."""
    by = {(p["kind"], p["impl"]): p for p in probes}
    pairs = [((k, "fused"), (k, "torch"), f"{k} fused / {FUSED_TORCH[k]}") for k in FUSED_TORCH]
    pairs.append((("LSTM", "autograd"), ("LSTM", "torch-loop"), "LSTM autograd / eager loop"))
    rows = []
    for ours, theirs, label in pairs:
        a, b = by[ours], by[theirs]
        rows.append(
            [label]
            + [
                f"{a[m]:.1f} / {b[m]:.1f} ({a[m] / b[m]:.2f})" if b[m] > 0 else f"{a[m]:.1f} / {b[m]:.1f}"
                for m in ("rss_mb", "allocated_mb")
            ]
        )
    return rows


STARTUP_INTRO = (
    "Start-up, CPU seconds of new one-thread processes (`benchmarks/startup.py`): importing, the "
    "first training step of `layers.LSTM(32, dtype=float32)` under a Dense head (what a first lesson "
    "waits for), and every kernel of both dtypes; a cold cache compiles, a warm one loads:"
)


def startup_rows(figures: dict[str, float]) -> list[list[str]]:
    """CPU seconds of one-thread processes, as ``startup.py`` says; cold: an empty Numba cache."""
    return [
        ["import minigrad and layers, warm (s)", f"{figures['warm_import_s']:.2f}"],
        ["first training step of a float32 LSTM, cold cache (s)", f"{figures['cold_first_lstm_step_s']:.1f}"],
        ["first training step of a float32 LSTM, warm cache (s)", f"{figures['warm_first_lstm_step_s']:.2f}"],
        ["every kernel, cold cache: compiled (s)", f"{figures['cold_compile_s']:.1f}"],
        ["every kernel, warm cache: loaded (s)", f"{figures['warm_kernel_load_s']:.2f}"],
        ["cache files written by a second process", str(figures["files_written_when_warm"])],
    ]


def heading(results: dict[str, Any]) -> str:
    kind = (
        "quick run (tiny sizes, 3 repeats: the figures prove the code, not the speed)"
        if results["quick"]
        else "full run"
    )
    label = f"; {results['label']}" if results.get("label") else ""
    return f"{kind}{label}, {time.strftime('%Y-%m-%d', time.gmtime())}, {results['seconds']:.0f} s"


def results_text(results: dict[str, Any]) -> str:
    """Every table of the run, one per section and thread count."""
    parts = [
        f"minigrad against PyTorch (CPU): {heading(results)}",
        __doc__.split("\n\n", 1)[1].strip(),
        "Thread settings read inside each timing process (benchmarks/quiet.py):",
    ]
    for run in results["runs"]:
        parts.append("\n".join(settings_lines(run)))
    titles = {
        "fused": ("Fused layers against PyTorch's", fused_table),
        "autograd_lstm": (
            "Autograd LSTM against the same ops in PyTorch's eager mode, and nn.LSTM",
            autograd_table,
        ),
        "ops": (
            "Autograd ops, forward and backward, microseconds (chain: 40 ops and a sum)",
            lambda s: pair_table(s, "us"),
        ),
        "char_lm": ("Character language model, training step", lambda s: pair_table(s, "ms")),
    }
    for name, (title, make) in titles.items():
        for run in results["runs"]:
            section = run["sections"][name]
            repeats = section[0]["phases"][next(iter(section[0]["phases"]))]["repeats"]
            parts.append(f"== {title}: {run['threads']} thread(s), {repeats} repeats ==\n{make(section)}")
    parts.append(
        "== Peak memory of one float32 training step at (50, 32, 64, 128), MB: minigrad / PyTorch "
        "(ratio); benchmarks/memory.py says how each is measured ==\n"
        + table(["case", "resident set growth", "allocated, peak"], memory_rows(results["memory"]))
    )
    parts.append(
        "== Start-up (benchmarks/startup.py) ==\n"
        + table(["figure", "value"], startup_rows(results["startup"]))
    )
    return "\n\n".join(parts) + "\n"


OP_LABELS = {
    "matmul": "one op: (32, 64) @ (64, 128), float32",
    "tanh": "one op: tanh of (32, 128), float32",
    "add": "one op: (32, 128) + (32, 128), float32",
    "chain": "a chain of 40 ops, float32",
    "char LM": "character LM training step, Embedding -> LSTM",
    "char LM, EmbeddedRecurrent": "character LM training step, EmbeddedRecurrent",
}


def ratio_columns(
    results: dict[str, Any], section: str, ratio: str, phase: str
) -> dict[tuple, dict[str, str]]:
    """{(kind, size): {"dtype, N thread(s)": 'ratio [q1-q3]'}} for one section, phase and ratio;
    the cases without a size (ops, char LM) are keyed (case, '') and columned by threads only."""
    found: dict[tuple, dict[str, str]] = {}
    for run in results["runs"]:
        for case in run["sections"][section]:
            sized = case["case"].endswith(("float32", "float64"))
            kind, size, dtype = split_case(case["case"]) if sized else (case["case"], "", "")
            column = f"{dtype + ', ' if dtype else ''}{run['threads']} thread{'s' * (run['threads'] > 1)}"
            found.setdefault((kind, size), {})[column] = spread(case["phases"][phase]["ratios"][ratio], True)
    return found


def readme_table(first: str, columns: dict[tuple, dict[str, str]], name: Any = None) -> str:
    headers = sorted(next(iter(columns.values())))  # float32 before float64, 1 thread before 2
    rows = [
        [name(key) if name else " ".join(key).strip(), *(cells[h] for h in headers)]
        for key, cells in columns.items()
    ]
    return markdown([first, *headers], rows)


def readme_section(results: dict[str, Any]) -> str:
    """The README's figures, from one run's results."""
    fused = ratio_columns(results, "fused", "minigrad/torch", "train")
    to_loop = ratio_columns(results, "autograd_lstm", "minigrad/torch", "train")
    to_nn = ratio_columns(results, "autograd_lstm", "minigrad/nn.LSTM", "train")
    ops = ratio_columns(results, "ops", "minigrad/torch", "step")
    lm = ratio_columns(results, "char_lm", "minigrad/torch", "train")
    return "\n\n".join(
        [
            f"Measured by `python benchmarks/run.py --write-readme` ({heading(results)}).  Each figure is "
            "minigrad's time over PyTorch's (2.13, CPU, same weights, dtype and thread count): the median "
            "[interquartile range] of repeats taken in turns; below 1, minigrad is faster.  Each thread "
            "count ran in its own process whose idle thread pools sleep (`benchmarks/README.md` says how; "
            "`benchmarks/results.txt` has every time, forward passes too).",
            "Training step (forward, backward of the outputs' sum) of the fused layers against nn.RNN, "
            "nn.LSTM and nn.GRU:",
            readme_table("layer (T, B, I, U)", fused),
            "The autograd LSTM's training step against the same ops in PyTorch's eager mode, and against "
            "nn.LSTM (one fused op):",
            readme_table(
                "(T, B, I, U)",
                {
                    **{(k[1], "eager loop"): v for k, v in to_loop.items()},
                    **{(k[1], "nn.LSTM"): v for k, v in to_nn.items()},
                },
                name=lambda key: f"{key[0]} against {key[1]}",
            ),
            "The autograd engine op by op (forward and backward), and a whole model's training step:",
            readme_table("case", {**ops, **lm}, name=lambda key: OP_LABELS[key[0]]),
            "Peak memory of a float32 training step at (50, 32, 64, 128), MB, minigrad / PyTorch (ratio), "
            "measured as `benchmarks/memory.py` describes:",
            markdown(["case", "resident set growth", "allocated, peak"], memory_rows(results["memory"])),
            STARTUP_INTRO,
            markdown(["start-up", "figure"], startup_rows(results["startup"])),
        ]
    )


def write_readme(path: Path, results: dict[str, Any]) -> None:
    """Replace the figures between README_START and README_END in ``path``; raises
    ValueError, changing nothing, if the markers are not there once each in order."""
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if text.count(README_START) != 1 or text.count(README_END) != 1 or end < start:
        raise ValueError(
            f"{path}: expected the lines {README_START!r} and {README_END!r} once each, in order"
        )
    path.write_text(
        text[: start + len(README_START)] + "\n\n" + readme_section(results) + "\n\n" + text[end:]
    )
