"""RNN(cell) and StackedRNNCells: any cell as a layer; zero_output_for_mask on every layer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers
import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays

KINDS = {"SimpleRNN": (layers.SimpleRNN, layers.SimpleRNNCell), "LSTM": (layers.LSTM, layers.LSTMCell),
         "GRU": (layers.GRU, layers.GRUCell)}  # fmt: skip


class TanhCell:
    """A cell of one's own, as a student writes it: not a Module, weights given."""

    def __init__(self, W, U):
        self.W, self.U = W, U
        self.state_size = U.shape[0]

    def __call__(self, x, states):
        h = (x @ self.W + states[0] @ self.U).tanh()
        return h, [h]


def tanh_loop(x, W, U, mask=None, zero_output=False):
    """The same RNN in plain numpy: masked steps keep the state and repeat (or zero) the output."""
    h = np.zeros((x.shape[0], U.shape[0]))
    previous, outputs = h.copy(), []
    for t in range(x.shape[1]):
        new = np.tanh(x[:, t] @ W + h @ U)
        keep = np.ones((x.shape[0], 1), bool) if mask is None else mask[:, t, None]
        h = np.where(keep, new, h)
        out = np.where(keep, new, 0.0 if zero_output else previous)
        previous = out
        outputs.append(out)
    return np.stack(outputs, axis=1), h


def random_mask(rng, batch, time):
    mask = rng.random((batch, time)) > 0.3
    mask[:, 0] = True
    return mask


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", ["autograd", "fused"])
def test_rnn_over_a_built_in_cell_gives_the_built_in_layers_numbers(kind, impl):
    layer_class, cell_class = KINDS[kind]
    rng = np.random.default_rng(0)
    x, mask = rng.standard_normal((3, 5, 2)), random_mask(rng, 3, 5)
    options = {"return_sequences": True, "return_state": True, "go_backwards": True}
    reference = layer_class(4, input_size=2, impl="autograd", **options)
    wrapped = layers.RNN(cell_class(4, input_size=2), **options)
    wrapped.set_weights(reference.get_weights())
    wrapped.cell.impl = impl  # the cell owns its fast path; RNN runs it where the cell allows
    initial = [rng.standard_normal((3, 4)) for _ in range(len(reference.state_labels))]
    for got, want in zip(wrapped(x, initial_state=initial, mask=mask), reference(x, initial_state=initial, mask=mask),
                         strict=True):  # fmt: skip
        np.testing.assert_allclose(got.data, want.data, atol=1e-12)


def test_a_cell_of_ones_own_runs_as_a_layer_with_masks_and_states():
    rng = np.random.default_rng(1)
    x, W, U = rng.standard_normal((2, 6, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 4)) * 0.5
    mask = random_mask(rng, 2, 6)
    layer = layers.RNN(TanhCell(mg.Tensor(W, requires_grad=True), mg.Tensor(U, requires_grad=True)),
                       return_sequences=True, return_state=True)  # fmt: skip
    outputs, state = layer(x, mask=mask)
    expected_outputs, expected_state = tanh_loop(x, W, U, mask)
    np.testing.assert_allclose(outputs.data, expected_outputs, atol=1e-12)
    np.testing.assert_allclose(state.data, expected_state, atol=1e-12)
    assert len(layer.parameters()) == 2  # the cell's weights, so an optimizer trains them


@settings(max_examples=20)
@given(data=st.data(), zero_output=st.booleans(), backwards=st.booleans())
def test_gradients_through_rnn_of_a_cell_of_ones_own(data, zero_output, backwards):
    batch, time, features, units = (data.draw(st.integers(1, 3)) for _ in range(4))
    x = data.draw(arrays(shape=(batch, time, features)))
    W, U = data.draw(arrays(shape=(features, units))), data.draw(arrays(shape=(units, units)))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=batch * time, max_size=batch * time))).reshape(
        batch, time
    )

    def run(x, W, U):
        layer = layers.RNN(TanhCell(W, U), return_sequences=True, go_backwards=backwards,
                           zero_output_for_mask=zero_output)  # fmt: skip
        return layer(x, mask=mask)

    gradcheck(run, [x, W, U])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", ["autograd", "fused"])
def test_zero_output_for_mask_zeroes_masked_steps_and_keeps_the_states(kind, impl):
    layer_class, _ = KINDS[kind]
    rng = np.random.default_rng(2)
    x, mask = rng.standard_normal((3, 5, 2)), random_mask(rng, 3, 5)
    mask[0, -1] = False  # the last step of sample 0 is masked: its last output is zero too
    zeroing = layer_class(4, input_size=2, impl=impl, return_sequences=True, return_state=True,
                          zero_output_for_mask=True)  # fmt: skip
    repeating = layer_class(4, input_size=2, impl="autograd", return_sequences=True, return_state=True)
    repeating.set_weights(zeroing.get_weights())
    zeroed, *states = zeroing(x, mask=mask)
    repeated, *expected_states = repeating(x, mask=mask)
    np.testing.assert_allclose(zeroed.data, np.where(mask[:, :, None], repeated.data, 0.0), atol=1e-12)
    for got, want in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(got.data, want.data, atol=1e-12)
    last = layer_class(4, input_size=2, impl=impl, zero_output_for_mask=True)
    last.set_weights(zeroing.get_weights())
    np.testing.assert_array_equal(last(x, mask=mask).data[0], 0.0)


def test_zero_output_for_mask_matches_a_numpy_loop():
    rng = np.random.default_rng(3)
    x, W, U = rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    mask = random_mask(rng, 2, 5)
    layer = layers.RNN(TanhCell(mg.Tensor(W), mg.Tensor(U)), return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_allclose(
        layer(x, mask=mask).data, tanh_loop(x, W, U, mask, zero_output=True)[0], atol=1e-12
    )


@pytest.mark.parametrize("impl", ["autograd", "auto"])
def test_stacked_cells_equal_two_stacked_layers(impl):
    rng = np.random.default_rng(4)
    x, mask = rng.standard_normal((2, 4, 3)), random_mask(rng, 2, 4)
    first = layers.LSTM(5, input_size=3, return_sequences=True, return_state=True, impl="autograd")
    second = layers.GRU(2, input_size=5, impl="autograd")
    cells = layers.StackedRNNCells([layers.LSTMCell(5, input_size=3), layers.GRUCell(2, input_size=5)])
    stacked = layers.RNN(cells, return_state=True)
    assert cells.state_size == [5, 5, 2] and stacked.output_size == 2
    stacked.set_weights(first.get_weights() + second.get_weights())
    for cell in cells.cells:
        cell.impl = impl
    output, h1, c1, h2 = stacked(x, mask=mask)
    between, first_h, first_c = first(x, mask=mask)
    expected = second(between, mask=mask)
    for got, want in ((output, expected), (h2, expected), (h1, first_h), (c1, first_c)):
        np.testing.assert_allclose(got.data, want.data, atol=1e-12)


def test_a_stack_refuses_a_cell_set_to_run_fused():
    # a stack steps its cells one at a time, so a cell's whole-sequence kernel cannot run there
    with pytest.raises(ValueError, match=r"cell 1 \(GRUCell\) has impl='fused'"):
        layers.StackedRNNCells(
            [layers.LSTMCell(5, input_size=3), layers.GRUCell(2, input_size=5, impl="fused")]
        )
    cells = layers.StackedRNNCells([layers.LSTMCell(5, input_size=3), layers.GRUCell(2, input_size=5)])
    stacked = layers.RNN(cells)
    x = np.ones((2, 4, 3))
    before = stacked(x).data
    cells.cells[0].impl = "fused"
    with pytest.raises(ValueError, match=r"cell 0 \(LSTMCell\) has impl='fused'"):
        stacked(x)
    cells.cells[0].impl = "auto"
    np.testing.assert_array_equal(stacked(x).data, before)


class NoStateSize:
    def __call__(self, x, states):
        return x, states


class WrongShapes:
    state_size = 3

    def __init__(self, output_width, state_width, count=1):
        self.output_width, self.state_width, self.count = output_width, state_width, count

    def __call__(self, x, states):
        batch = x.shape[0]
        return mg.zeros(batch, self.output_width), [mg.zeros(batch, self.state_width)] * self.count


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.RNN(NoStateSize()), "NoStateSize has no state_size"),
        (
            lambda: layers.RNN(type("Bad", (), {"state_size": 0, "__call__": lambda s, x, st: None})()),
            "state_size must be a positive int",
        ),
        (lambda: layers.StackedRNNCells([]), "needs at least one cell"),
    ],
)
def test_cells_that_cannot_work_are_refused_when_wrapped(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            WrongShapes(2, 3),
            r"the cell's output must be a float64 Tensor of shape \(2, 3\), got a float64 Tensor of shape \(2, 2\)",
        ),
        (
            WrongShapes(3, 4),
            r"the cell's new state 0 must be a float64 Tensor of shape \(2, 3\), got a float64 Tensor of shape \(2, 4\)",
        ),
        (WrongShapes(3, 3, count=2), "the cell returned 2 states, its state_size says 1"),
    ],
)
def test_a_cell_whose_outputs_have_the_wrong_shape_is_named(cell, message):
    layer = layers.RNN(cell, stateful=True)
    with pytest.raises(ValueError, match=message):
        layer(np.ones((2, 4, 3)))
    assert layer.states is None  # nothing was kept


@settings(max_examples=15)
@given(data=st.data())
def test_gradients_through_stacked_cells_of_ones_own(data):
    batch, time, features, first, second = (data.draw(st.integers(1, 3)) for _ in range(5))
    x = data.draw(arrays(shape=(batch, time, features)))
    shapes = [(features, first), (first, first), (first, second), (second, second)]
    weights = [data.draw(arrays(shape=shape)) for shape in shapes]
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=batch * time, max_size=batch * time))).reshape(
        batch, time
    )

    def run(x, W1, U1, W2, U2):
        cells = layers.StackedRNNCells([TanhCell(W1, U1), TanhCell(W2, U2)])
        output, h1, h2 = layers.RNN(cells, return_sequences=True, return_state=True)(x, mask=mask)
        return [output, h1, h2]

    gradcheck(run, [x, *weights])


class Holder:
    """A plain object a cell keeps its recurrent weights in."""

    def __init__(self, U):
        self.U = U


class WeightsEverywhere:
    """A cell of one's own that keeps its weights in a Dense, a list, a dict and a plain
    object, shares one weight twice, refers to itself and holds a constant."""

    def __init__(self, rng, features, units):
        self.state_size = units
        self.input = layers.Dense(units, input_size=features)
        self.scales = [mg.Tensor(rng.uniform(0.5, 1.5, units), requires_grad=True)]
        self.biases = {"b": mg.Tensor(rng.standard_normal(units) * 0.1, requires_grad=True)}
        self.recurrent = Holder(mg.Tensor(rng.standard_normal((units, units)) * 0.4, requires_grad=True))
        self.same_scales = (self.scales[0],)  # shared: one parameter
        self.me = self  # a cycle
        self.constant = mg.Tensor(np.ones(units))  # no requires_grad: not a weight

    def weights(self):
        """Every weight, in the order the cell declares them."""
        return [self.input.kernel, self.input.bias, self.scales[0], self.biases["b"], self.recurrent.U]

    def __call__(self, x, states):
        z = self.input(x) * self.scales[0] + states[0] @ self.recurrent.U + self.biases["b"] * self.constant
        h = z.tanh()
        return h, [h]


def weights_everywhere_numpy(x, cells):
    """The stack of WeightsEverywhere cells in plain numpy, from the weights' current values."""
    h = [np.zeros((x.shape[0], cell.state_size)) for cell in cells]
    for t in range(x.shape[1]):
        inputs = x[:, t]
        for k, cell in enumerate(cells):
            kernel, bias, scale, b, U = (w.data for w in cell.weights())
            h[k] = np.tanh((inputs @ kernel + bias) * scale + h[k] @ U + b)
            inputs = h[k]
    return inputs


@pytest.mark.parametrize("stacked", [False, True])
def test_a_plain_cells_weights_are_parameters_wherever_it_keeps_them(stacked, tmp_path):
    rng = np.random.default_rng(5)

    def make():
        cells = (
            [WeightsEverywhere(rng, 3, 4), WeightsEverywhere(rng, 4, 2)]
            if stacked
            else [WeightsEverywhere(rng, 3, 4)]
        )
        return layers.RNN(layers.StackedRNNCells(cells) if stacked else cells[0]), cells

    layer, cells = make()
    expected = [w for cell in cells for w in cell.weights()]
    assert [id(p) for p in layer.parameters()] == [id(w) for w in expected]  # each once, in order
    names = [name for name, _ in layer.named_parameters()]
    assert names[:5] == [f"cell{'.cells.0' if stacked else ''}.{n}" for n in
                         ("input.kernel", "input.bias", "scales.0", "biases.b", "recurrent.U")]  # fmt: skip

    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(layer(x).data, weights_everywhere_numpy(x, cells), atol=1e-12)
    before = [w.data.copy() for w in expected]
    optimizer = mg.optim.SGD(layer.parameters(), lr=0.1)
    (layer(x) ** 2).sum().backward()
    optimizer.step()
    assert all(not np.array_equal(w.data, b) for w, b in zip(expected, before, strict=True))  # all trained

    mg.save(layer, tmp_path / "cell.npz")
    other, other_cells = make()  # other random weights
    assert not np.allclose(other(x).data, layer(x).data)
    other.load_state_dict(mg.load(tmp_path / "cell.npz"))
    np.testing.assert_array_equal(other(x).data, layer(x).data)
    np.testing.assert_allclose(other(x).data, weights_everywhere_numpy(x, other_cells), atol=1e-12)


def test_a_frozen_plain_cells_weights_stay_parameters(tmp_path):
    rng = np.random.default_rng(6)
    W, U = (mg.Tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((3, 2), (2, 2)))
    layer, x = layers.RNN(TanhCell(W, U)), rng.standard_normal((2, 4, 3))
    layer.trainable = False
    assert list(layer.state_dict()) == ["cell.W", "cell.U"] and layer.count_params(trainable=False) == 10
    mg.save(layer, tmp_path / "frozen.npz")
    other = layers.RNN(TanhCell(*(mg.Tensor(np.zeros(s), requires_grad=True) for s in ((3, 2), (2, 2)))))
    other.load_state_dict(mg.load(tmp_path / "frozen.npz"))
    np.testing.assert_array_equal(other(x).data, layer(x).data)
    layer.trainable = True
    assert W.requires_grad and U.requires_grad and layer.count_params(trainable=True) == 10


def test_a_module_inside_a_plain_cell_follows_train_and_eval():
    class DroppingCell:
        state_size = 3

        def __init__(self):
            self.dropout = layers.Dropout(0.5)

        def __call__(self, x, states):
            h = self.dropout(x[:, :3]) + states[0] * 0
            return h, [h]

    layer = layers.RNN(DroppingCell())
    x = np.ones((4, 2, 3))
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, 1.0)  # no dropout in evaluation mode
    assert not layer.cell.dropout.training


class StepCounter(TanhCell):
    """A cell of one's own with a 'step' attribute of its own: a counter."""

    def __init__(self, W, U):
        super().__init__(W, U)
        self.step = 0

    def __call__(self, x, states):
        self.step += 1
        return super().__call__(x, states)


class OwnStepMethod(TanhCell):
    """A cell of one's own whose step method has another signature than the built-in cells'."""

    def step(self, x, h):
        return (x @ self.W + h @ self.U).tanh()

    def __call__(self, x, states):
        h = self.step(x, states[0])
        return h, [h]


@pytest.mark.parametrize("cell_class", [StepCounter, OwnStepMethod])
def test_a_cell_of_ones_own_with_a_step_attribute_runs_through_its_call(cell_class):
    rng = np.random.default_rng(6)
    x, W, U = rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    cell = cell_class(mg.Tensor(W), mg.Tensor(U))
    np.testing.assert_allclose(layers.RNN(cell)(x).data, tanh_loop(x, W, U)[0][:, -1], atol=1e-12)
    if cell_class is StepCounter:
        assert cell.step == 4


class NumpyOutput:
    state_size = 4

    def __call__(self, x, states):
        return np.zeros((x.shape[0], 4)), states


class Float32Output:
    state_size = 4

    def __call__(self, x, states):
        return mg.zeros(x.shape[0], 4, dtype=np.float32), states


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            NumpyOutput(),
            r"must be a float64 Tensor of shape \(3, 4\), got a numpy array of shape \(3, 4\) \(a numpy array carries no gradient",
        ),
        (
            Float32Output(),
            r"must be a float64 Tensor of shape \(3, 4\), got a float32 Tensor of shape \(3, 4\)",
        ),
    ],
)
def test_a_cell_output_of_the_wrong_kind_is_named(cell, message):
    with pytest.raises(ValueError, match=message):
        layers.RNN(cell)(np.ones((3, 2, 2)))


@pytest.mark.parametrize("output_size", [0, -1, 2.7, True, "3"])
def test_an_output_size_that_is_not_a_positive_integer_is_refused(output_size):
    cell = type(
        "Cell", (), {"state_size": 2, "output_size": output_size, "__call__": lambda s, x, st: (st[0], st)}
    )()
    with pytest.raises(
        ValueError, match=f"RNN: the cell's output_size must be a positive integer, got {output_size!r}"
    ):
        layers.RNN(cell)


def test_a_cell_dtype_other_than_float32_or_float64_is_refused():
    cell = type("Cell", (), {"state_size": 2, "dtype": np.int64, "__call__": lambda s, x, st: (st[0], st)})()
    with pytest.raises(
        ValueError, match=r"RNN \(the cell's dtype\): dtype must be float32 or float64, got int64"
    ):
        layers.RNN(cell)


class BuildingCell:
    """A cell of one's own that makes its weights in build(input_size)."""

    def __init__(self, units):
        self.state_size, self.built = units, False

    def build(self, input_size):
        rng = np.random.default_rng(input_size)
        self.W = mg.Tensor(rng.standard_normal((input_size, self.state_size)), requires_grad=True)
        self.U = mg.Tensor(rng.standard_normal((self.state_size, self.state_size)) * 0.5, requires_grad=True)
        self.built = True

    def __call__(self, x, states):
        return TanhCell.__call__(self, x, states)


def test_a_stack_builds_each_cell_for_the_output_of_the_one_before():
    stack = layers.StackedRNNCells([BuildingCell(4), layers.GRUCell(3), BuildingCell(2)])
    layer = layers.RNN(stack)
    with pytest.raises(ValueError, match=r"not built yet"):
        layer.parameters()
    x = np.random.default_rng(7).standard_normal((2, 5, 6))
    output = layer(x)
    first, _, last = stack.cells
    assert first.W.shape == (6, 4) and stack.cells[1].input_size == 4 and last.W.shape == (3, 2)
    assert len(layer.parameters()) == 2 + 3 + 2
    # the stack by hand: the numpy loop of the first cell, the GRU layer, the numpy loop of the last
    gru = layers.GRU(3, input_size=4, return_sequences=True, impl="autograd")
    gru.set_weights([p.data for p in stack.cells[1].parameters()])
    between, _ = tanh_loop(x, first.W.data, first.U.data)
    _, expected = tanh_loop(gru(between).data, last.W.data, last.U.data)
    np.testing.assert_allclose(output.data, expected, atol=1e-12)


def test_a_stack_of_float32_cells_runs_in_float32():
    cells = [
        layers.LSTMCell(3, input_size=2, dtype=np.float32),
        layers.GRUCell(2, input_size=3, dtype=np.float32),
    ]
    layer = layers.RNN(layers.StackedRNNCells(cells))
    as64 = layers.RNN(
        layers.StackedRNNCells([layers.LSTMCell(3, input_size=2), layers.GRUCell(2, input_size=3)])
    )
    as64.set_weights(layer.get_weights())
    x = np.random.default_rng(8).standard_normal((2, 4, 2))
    output = layer(x.astype(np.float32))
    assert output.dtype == np.float32
    np.testing.assert_allclose(output.data, as64(x).data, atol=1e-5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.StackedRNNCells([layers.LSTMCell(5, input_size=3), layers.GRUCell(2, input_size=4)]),
         r"cell 1 \(GRUCell\) takes 4 features, but cell 0 outputs 5"),
        (lambda: layers.StackedRNNCells([layers.LSTMCell(5, dtype=np.float32), layers.GRUCell(2)]),
         r"the cells need one dtype, got \['float32', 'float64'\]"),
        (lambda: layers.StackedRNNCells([layers.LSTMCell(5), layers.GRUCell(2)])(np.ones((1, 3)), [np.zeros((1, 5))] * 2),
         r"needs 3 states \(every cell's, in order\), got 2"),
    ],
)  # fmt: skip
def test_a_stack_that_cannot_run_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (layers.LSTMCell, r"expected a cell, got the class LSTMCell; make one: LSTMCell\(...\)"),
        (
            layers.GRU(2),
            r"expected a cell, got the layer GRU; give a cell such as layers.LSTMCell\(units\), or the layer's own .cell",
        ),
    ],
)
def test_a_class_or_a_layer_given_as_a_cell_is_named(cell, message):
    with pytest.raises(ValueError, match=message):
        layers.RNN(cell)
    with pytest.raises(ValueError, match=message):
        layers.StackedRNNCells([layers.GRUCell(2), cell])


def test_two_weights_of_one_name_are_refused_rather_than_one_left_out_of_checkpoints():
    cell = TanhCell(mg.Tensor(np.ones((2, 2)), requires_grad=True), mg.Tensor(np.eye(2), requires_grad=True))
    cell.extra = {
        "a.b": mg.Tensor(np.ones(2), requires_grad=True),
        "a": {"b": mg.Tensor(np.ones(2), requires_grad=True)},
    }
    with pytest.raises(ValueError, match=r"two different weights are named 'cell\.extra\.a\.b'"):
        layers.RNN(cell).state_dict()


# --- a built-in cell owns its fast path and its dropout ---
@pytest.mark.parametrize("kind", KINDS)
def test_a_built_in_cell_runs_its_fused_op_inside_rnn_or_unrolls_as_its_impl_says(kind):
    _, cell_class = KINDS[kind]
    rng = np.random.default_rng(5)
    x, mask = rng.standard_normal((3, 4, 2)), random_mask(rng, 3, 4)
    fused = layers.RNN(cell_class(3, input_size=2), return_sequences=True)
    unrolled = layers.RNN(cell_class(3, input_size=2, impl="autograd"), return_sequences=True)
    unrolled.set_weights(fused.get_weights())
    got, want = fused(x, mask=mask), unrolled(x, mask=mask)
    assert type(got.grad_fn).__name__ == f"Fused{kind}"
    assert not type(want.grad_fn).__name__.startswith("Fused")
    np.testing.assert_allclose(got.data, want.data, atol=1e-12)


def test_fused_ops_are_named_by_the_cells_and_not_by_a_cell_of_ones_own():
    assert layers.LSTMCell(2).fused_op() is layers.fused.FusedLSTM
    assert layers.SimpleRNNCell(2).fused_op() is layers.fused.FusedSimpleRNN
    assert layers.GRUCell(2).fused_op() is layers.fused.FusedGRU
    assert layers.GRUCell(2, reset_after=False).fused_op() is layers.fused.FusedGRUResetBefore

    class PeepholeLSTMCell(layers.LSTMCell):  # other formulas: the LSTM kernel would be wrong
        pass

    cell = PeepholeLSTMCell(2, input_size=1)
    assert cell.fused_op() is None
    output = layers.RNN(cell)(np.ones((1, 3, 1)))
    assert not type(output.grad_fn).__name__.startswith("Fused")
    with pytest.raises(ValueError, match="impl='fused' needs"):
        PeepholeLSTMCell(2, impl="fused")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", ["autograd", "fused"])
def test_dropout_given_to_the_cell_is_the_layers_dropout(kind, impl):
    layer_class, cell_class = KINDS[kind]
    options = {"dropout": 0.3, "recurrent_dropout": 0.4, "input_size": 2, "impl": impl}
    layer = layer_class(3, return_sequences=True, **options)
    wrapped = layers.RNN(cell_class(3, **options), return_sequences=True)
    wrapped.set_weights(layer.get_weights())
    assert (layer.dropout, layer.recurrent_dropout, layer.impl) == (0.3, 0.4, impl)
    x = np.random.default_rng(6).standard_normal((4, 5, 2))
    mg.manual_seed(3)
    want = layer(x).data
    mg.manual_seed(3)
    np.testing.assert_allclose(wrapped(x).data, want, atol=1e-12)
    assert not np.allclose(wrapped.eval()(x).data, want)  # the masks were drawn: dropout was on


def test_a_cell_with_dropout_refuses_a_call_of_one_step():
    cell = layers.LSTMCell(3, dropout=0.5)
    with pytest.raises(ValueError, match="one mask per sequence"):
        cell(np.ones((2, 4)), [np.zeros((2, 3))] * 2)
    assert not cell.built


def test_options_bind_as_python_arguments_in_kerass_order():
    layer = layers.LSTM(4, "relu", "tanh", False)  # Keras's units, activation, recurrent_activation, use_bias
    assert layer.cell.activation_name == "relu" and layer.cell.recurrent_activation_name == "tanh"
    assert not layer.cell.use_bias
    with pytest.raises(TypeError, match="unexpected keyword argument 'reset_after'"):
        layers.LSTM(4, reset_after=True)
    with pytest.raises(TypeError, match="missing a required argument: 'units'"):
        layers.GRUCell()
    with pytest.raises(TypeError, match="unexpected keyword argument 'return_sequences'"):
        layers.SimpleRNNCell(2, return_sequences=True)


def test_setting_impl_on_a_layer_is_checked_by_its_cell():
    layer = layers.GRU(2, activation=lambda z: z.tanh())  # no fused op computes a callable
    with pytest.raises(ValueError, match="impl='fused' needs"):
        layer.impl = "fused"
    with pytest.raises(ValueError, match="impl must be one of"):
        layer.impl = "fast"
    assert layer.impl == layer.cell.impl == "auto"


def test_an_unrolled_sequence_pauses_the_cycle_collector_and_restores_it():
    import gc

    seen = []

    class Spy(TanhCell):
        def __call__(self, x, states):
            seen.append(gc.isenabled())
            if len(seen) == 5:
                raise ValueError("boom")
            return super().__call__(x, states)

    rng = np.random.default_rng(3)
    layer = layers.RNN(Spy(mg.Tensor(rng.standard_normal((2, 3))), mg.Tensor(rng.standard_normal((3, 3)))))
    layer(rng.standard_normal((1, 4, 2)))
    assert seen == [False] * 4 and gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        layer(rng.standard_normal((1, 4, 2)))
    assert gc.isenabled()  # back on after an error too
