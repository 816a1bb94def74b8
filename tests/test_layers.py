"""Module, Dense, Embedding and Dropout."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import layers
import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays, shapes


@given(x=arrays(shape=shapes(min_dims=1, max_dims=3)), units=st.integers(1, 4),
       activation=st.sampled_from([None, "tanh", "sigmoid"]), use_bias=st.booleans())  # fmt: skip
def test_dense(x, units, activation, use_bias):
    dense = layers.Dense(units, activation=activation, use_bias=use_bias)
    out = dense(x)
    z = x @ dense.kernel.data + (dense.bias.data if use_bias else 0)
    expected = {None: z, "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z))}[activation]
    np.testing.assert_allclose(out.data, expected, atol=1e-12)
    assert dense.kernel.shape == (x.shape[-1], units)

    def fn(x_, *weights):
        dense.kernel = weights[0]
        if use_bias:
            dense.bias = weights[1]
        return dense(x_)

    gradcheck(fn, [x, *dense.get_weights()])


@given(data=st.data(), vocab=st.integers(1, 6), dim=st.integers(1, 4))
def test_embedding_gathers_rows_and_scatter_adds_gradients(data, vocab, dim):
    ids = np.array(data.draw(st.lists(st.lists(st.integers(0, vocab - 1), min_size=3, max_size=3),
                                      min_size=1, max_size=4)))  # fmt: skip
    emb = layers.Embedding(vocab, dim)
    out = emb(ids)
    np.testing.assert_array_equal(out.data, emb.embeddings.data[ids])
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros((vocab, dim))
    for position, i in np.ndenumerate(ids):  # repeated ids add up
        expected[i] += g[position]
    np.testing.assert_allclose(emb.embeddings.grad, expected, atol=1e-12)


def test_embedding_mask_and_bad_ids():
    emb = layers.Embedding(5, 2, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask([[3, 0, 1]]), [[True, False, True]])
    assert layers.Embedding(5, 2).compute_mask([[1]]) is None
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\), got values from 0 to 7"):
        emb([[0, 7]])
    with pytest.raises(ValueError, match="expected integer ids"):
        emb(np.array([[0.5]]))


def test_dropout_only_in_training():
    mg.manual_seed(0)
    drop = layers.Dropout(0.5)
    x = np.ones((200, 50))
    out = drop(x).data
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 1) < 0.05  # the expectation is kept
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        layers.Dropout(1.0)


class TwoLayers(layers.Module):
    def __init__(self):
        self.rnn = layers.GRU(3, input_size=2)
        self.head = layers.Dense(1, input_size=3)
        self.drop = layers.Dropout(0.1)

    def forward(self, x):
        return self.head(self.drop(self.rnn(x)))


def test_module_parameters_state_dict_and_modes():
    model = TwoLayers()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["rnn.cell.kernel", "rnn.cell.recurrent_kernel", "rnn.cell.bias",
                     "head.kernel", "head.bias"]  # fmt: skip
    assert model.count_params() == 3 * (2 * 3 + 3 * 3 + 2 * 3) + 3 + 1
    model.eval()
    assert not model.rnn.training and not model.drop.training
    model.train()
    assert model.drop.training
    model(np.ones((1, 2, 2))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())

    state = model.state_dict()
    other = TwoLayers()
    other.load_state_dict(state)
    for name, p in other.named_parameters():
        np.testing.assert_array_equal(p.data, state[name])
    state["head.bias"][...] = 5
    assert model.head.bias.data[0] != 5  # state_dict hands out copies


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    model = TwoLayers()
    before = model.state_dict()
    bad = dict(before)
    del bad["head.bias"]
    bad["head.kernel"] = np.zeros((2, 1))
    bad["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as caught:
        model.load_state_dict(bad)
    message = str(caught.value)
    assert "missing 'head.bias'" in message
    assert "unexpected 'extra'" in message
    assert "'head.kernel' has shape (2, 1), expected (3, 1)" in message
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


def test_set_weights_before_build_says_so():
    with pytest.raises(ValueError, match="not built yet"):
        layers.LSTM(2).set_weights([np.zeros((1, 8))])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Dense(2.5), "Dense: units must be a positive integer, got 2.5"),
        (lambda: layers.Dense(0), "Dense: units must be a positive integer, got 0"),
        (lambda: layers.Embedding(3.7, 4), "Embedding: vocab_size must be a positive integer, got 3.7"),
        (lambda: layers.Embedding(10, True), "Embedding: dim must be a positive integer, got True"),
        (lambda: layers.LSTM(4.0), "LSTMCell: units must be a positive integer, got 4.0"),
    ],
)
def test_sizes_that_are_not_positive_integers_get_kerass_value_error(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_frozen_parameter_is_kept_everywhere_and_counted_as_non_trainable(tmp_path):
    model = layers.Sequential([layers.Dense(3, input_size=2), layers.Dense(1)])
    model(np.ones((1, 2)))
    first = model.layers[0]
    first.kernel.requires_grad = False  # frozen, as with Keras's trainable=False
    assert "layers.0.kernel" in model.state_dict() and len(model.get_weights()) == 4
    assert model.count_params() == 2 * 3 + 3 + 3 + 1 and model.count_params(trainable=False) == 6
    text = model.summary((2,), print_fn=lambda s: None)
    assert "Trainable params: 7" in text and "Non-trainable params: 6" in text
    mg.save(model, tmp_path / "frozen.npz")
    assert "layers.0.kernel" in mg.load(tmp_path / "frozen.npz")
    frozen_before, bias_before = first.kernel.data.copy(), first.bias.data.copy()
    sgd = mg.optim.SGD(model.parameters(), lr=0.1)
    model(np.ones((4, 2))).sum().backward()
    sgd.step()
    np.testing.assert_array_equal(first.kernel.data, frozen_before)
    assert not np.array_equal(first.bias.data, bias_before)


class Blocks(layers.Module):
    """A model of one's own keeping its weights and layers in a list and a dict."""

    def __init__(self, rng):
        self.scales = [mg.Tensor(rng.standard_normal(3), requires_grad=True) for _ in range(2)]
        self.parts = {
            "dense": layers.Dense(3, input_size=3),
            "shift": mg.Tensor(np.zeros(3), requires_grad=True),
        }

    def forward(self, x):
        return self.parts["dense"](x * self.scales[0] * self.scales[1]) + self.parts["shift"]


def test_weights_and_layers_in_lists_and_dicts_are_parameters_trained_saved_and_frozen(tmp_path):
    # as Keras tracks them: a plain list of weights must not be silently left untrained
    rng = np.random.default_rng(7)
    model, x = Blocks(rng), rng.standard_normal((4, 3))
    names = ["scales.0", "scales.1", "parts.dense.kernel", "parts.dense.bias", "parts.shift"]
    assert [name for name, _ in model.named_parameters()] == names
    before = [p.data.copy() for p in model.parameters()]
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1)
    (model(x) ** 2).sum().backward()
    optimizer.step()
    assert all(not np.array_equal(p.data, b) for p, b in zip(model.parameters(), before, strict=True))
    model.trainable = False  # frozen weights stay parameters: counted, saved, loaded
    assert [name for name, _ in model.named_parameters()] == names and model.count_params(trainable=True) == 0
    mg.save(model, tmp_path / "blocks.npz")
    other = Blocks(np.random.default_rng(8))
    other.load_state_dict(mg.load(tmp_path / "blocks.npz"))
    np.testing.assert_array_equal(other(x).data, model(x).data)
    model.trainable = True
    assert model.count_params(trainable=True) == 3 + 3 + 9 + 3 + 3


def test_a_shared_parameter_is_listed_counted_and_updated_once():
    first, second = (
        layers.Dense(2, input_size=2, use_bias=False),
        layers.Dense(2, input_size=2, use_bias=False),
    )
    second.kernel = first.kernel  # tied weights
    model = layers.Sequential([first, second])
    assert [id(p) for p in model.parameters()] == [id(first.kernel)] and model.count_params() == 4
    start = first.kernel.data.copy()
    x = np.array([[1.0, -2.0]])
    out = model(x).sum()
    out.backward()
    grad = first.kernel.grad.copy()
    # d/dW of sum(x W W) = x^T (1 W^T) + (x W)^T 1, summed over both uses, written here in numpy
    ones = np.ones((1, 2))
    np.testing.assert_allclose(grad, x.T @ (ones @ start.T) + (x @ start).T @ ones, atol=1e-12)
    mg.optim.SGD(model.parameters(), lr=0.5).step()
    np.testing.assert_allclose(first.kernel.data, start - 0.5 * grad, atol=1e-12)  # one step, not two
    with pytest.raises(ValueError, match="appears more than once"):
        mg.optim.SGD([first.kernel, second.kernel], lr=0.1)


# --- the package's structure ---
LAYERS_DIR = Path(layers.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(LAYERS_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_layers_modules(path: Path, known: set[str]) -> set[str]:
    """The modules of layers/ that a file imports anywhere in it (in a function too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from layers import losses`` imports the module layers.losses
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in found if name in known}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports in the graph, as the list of its modules, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_of_layers_imports_one_that_imports_it_back():
    files = sorted(LAYERS_DIR.rglob("*.py"))
    known = {_module_name(f) for f in files}
    graph = {_module_name(f): _imported_layers_modules(f, known) - {_module_name(f)} for f in files}
    graph["layers"] = set()  # the package's own __init__ imports its modules to list them
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    assert graph["layers.fused"] <= {name for name in known if name.startswith("layers.fused.")}
    assert graph["layers.rnn"].isdisjoint({"layers.fused", "layers.recurrent_cell"})


def test_each_module_of_layers_imports_on_its_own_in_a_fresh_interpreter():
    modules = sorted(_module_name(f) for f in LAYERS_DIR.rglob("*.py"))
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'layers' or m.startswith('layers.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
