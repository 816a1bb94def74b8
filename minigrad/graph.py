"""The recorded computation graph as Graphviz DOT text, for pictures of reverse mode."""

from __future__ import annotations

from minigrad.tensor import Tensor


def to_dot(output: Tensor, names: dict[str, Tensor] | None = None) -> str:
    """DOT text of every tensor and op that ``output`` was computed from.

    Tensors are ellipses labelled with their shape (and their name, when ``names`` gives
    one); ops are boxes labelled with the op's class.  Call it before ``backward``, which
    frees the graph.  ``dot -Tpng graph.dot -o graph.png`` draws it.
    """
    label_of = {id(t): name for name, t in (names or {}).items()}
    lines = ["digraph minigrad {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    seen: set[int] = set()
    stack = [output]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        name = label_of.get(id(t), "").replace("\\", "\\\\").replace('"', '\\"')
        text = f"{name}\\n{t.shape}" if name else str(t.shape)
        lines.append(f'  t{id(t)} [label="{text}", shape=ellipse];')
        if t.grad_fn is not None:
            op = t.grad_fn
            if op.released:
                raise RuntimeError(
                    f"to_dot: the graph was freed by backward() (at {type(op).__name__}); draw it "
                    "before backward, or pass retain_graph=True to backward"
                )
            lines.append(f'  op{id(op)} [label="{type(op).__name__}", shape=box];')
            lines.append(f"  op{id(op)} -> t{id(t)};")
            for parent in op.parents:
                lines.append(f"  t{id(parent)} -> op{id(op)};")
                stack.append(parent)
    lines.append("}")
    return "\n".join(lines)
