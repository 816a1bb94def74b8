"""The Tensor itself: construction, dtypes, mixing with numbers and arrays, graph semantics."""

import gc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor


def test_float64_by_default_and_float32_stays_float32():
    assert Tensor([1, 2]).dtype == np.float64
    assert Tensor(np.array([True, False])).dtype == np.float64
    assert Tensor(np.ones(3, dtype=np.float32)).dtype == np.float32
    assert Tensor(np.ones(3), dtype=np.float32).dtype == np.float32


def test_tensor_copies_its_data():
    source = np.zeros(3)
    t = Tensor(source)
    t.data += 1
    assert source.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object(), 1]), [1 + 2j]])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError, match="Tensor needs numeric data"):
        Tensor(bad)


def test_attributes():
    data = np.arange(12.0).reshape(3, 4)
    t = Tensor(data, requires_grad=True)
    assert t.shape == (3, 4) and t.ndim == 2 and t.numel() == 12 and len(t) == 3
    assert t.grad is None
    np.testing.assert_array_equal(t.numpy(), data)
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert "requires_grad=True" in repr(t)


def test_numbers_and_arrays_on_either_side():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = 2 * x + np.array([1.0, 1.0]) - 1 / x + x / 4 - (3 - x) + np.ones(2) * x
    (y.sum()).backward()
    # dy/dx = 2 + 1/x^2 + 1/4 + 1 + 1
    np.testing.assert_allclose(x.grad, 4.25 + 1 / np.array([1.0, 4.0]))
    assert isinstance(np.ones(2) + x, Tensor)


def test_python_numbers_keep_float32():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1.0) ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_accumulate_until_reset():
    x = Tensor([3.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [18.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0])


def test_a_tensor_used_twice_gets_both_gradients():
    x = Tensor([2.0], requires_grad=True)
    y = x * x * x  # d(x^3)/dx = 3 x^2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [12.0])


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph():
    x = Tensor([2.0], requires_grad=True)
    y = x * x.detach()  # only the first factor is differentiated: dy/dx = x.detach() = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_backward_needs_a_gradient_for_non_scalars():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"one-element tensor, got shape \(2, 2\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected \(2, 2\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 2), 2.0))
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 6.0))


def test_backward_frees_the_graph_unless_retained():
    x = Tensor([1.0], requires_grad=True)
    y = (x * 2).exp()
    middle = weakref.ref(y.grad_fn.parents[0])  # x * 2, held only by the graph
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4 * np.exp(2.0)])
    gc.collect()
    assert middle() is None  # freed by the second backward
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_retain_grad_keeps_an_intermediate_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])
    assert x.grad is not None


def test_backward_through_a_chain_of_100000_ops():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-5
    y = y * 2
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_detect_anomaly_names_the_forward_op():
    x = Tensor([-1.0, 1.0], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match="forward of Log"):
        with np.errstate(invalid="ignore"):
            x.log()


def test_detect_anomaly_names_the_backward_op_and_writes_no_gradient():
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = (x**0.5).sum()  # d sqrt(x)/dx = inf at 0
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match="backward of Pow"):
            y.backward()
    assert x.grad is None


def test_anomaly_checks_are_off_by_default():
    with np.errstate(invalid="ignore"):
        y = Tensor([-1.0]).log()
    assert np.isnan(y.item())


def test_manual_seed_makes_draws_repeatable():
    mg.manual_seed(7)
    a = mg.randn(3, 2).numpy()
    mg.manual_seed(7)
    b = mg.randn(3, 2).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, mg.randn(3, 2).numpy())
    assert mg.rand(2, dtype=np.float32).dtype == np.float32


def test_requires_grad_only_changes_leaves():
    x = Tensor([1.0]).requires_grad_()
    assert x.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_a_custom_function_with_a_wrong_backward_is_caught():
    class Double(mg.Function):
        def forward(self, a):
            return 2 * a

        def backward(self, g):
            return (np.ones(3),)  # wrong shape

    x = Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Double.backward returned a gradient of shape \(3,\)"):
        Double.apply(x).sum().backward()


def test_summing_gradients_in_place_never_touches_an_array_an_op_handed_back():
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a.retain_grad()
    s = a + a  # Add hands the same gradient array to both of its inputs
    s.retain_grad()
    t = s + a
    t.backward(np.ones(2))
    np.testing.assert_array_equal(s.grad, [1.0, 1.0])
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_indexing_gradients_add_up_with_dense_ones_in_any_order_and_layout():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = rng.standard_normal((3, 4))
    rows = np.array([0, 0, 2, -1])
    a = x * 1.0
    loss = (a.T * w).sum() + (a.T * w).sum() + (a[rows] * 2).sum() + a[1:3].sum() + a[rows].sum()
    loss.backward()
    expected = 2 * w.T  # the two transposed uses, each a Fortran-ordered gradient
    for r in rows:  # repeated and negative rows add up: 2 + 1 per pick
        expected[r] += 3
    expected[1:3] += 1
    np.testing.assert_allclose(x.grad, expected, atol=1e-12)


def test_a_zero_dim_gradient_summed_from_several_uses_is_an_array():
    x = mg.Tensor(2.0, requires_grad=True)
    (x * x + x).backward()  # three uses of x: d/dx (x^2 + x) = 2x + 1
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == () and x.grad == 5.0
    (x * x).backward()  # accumulated into the existing 0-d gradient: 5 + 4
    assert isinstance(x.grad, np.ndarray) and x.grad == 9.0


def test_backward_through_a_weight_changed_in_place_raises_naming_the_op():
    x = mg.Tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.Tensor(np.full((3, 2), 0.5), requires_grad=True)
    loss = (x @ w).sum()
    w.grad = np.ones((3, 2))
    mg.optim.SGD([w], lr=0.1).step()  # changes w in place after MatMul used it
    with pytest.raises(
        RuntimeError, match=r"MatMul.backward: input 1 \(shape \(3, 2\)\) was changed in place"
    ):
        loss.backward()
    assert x.grad is None  # nothing was written


def test_a_backward_that_edits_its_incoming_gradient_is_stopped_before_it_corrupts_another():
    class Doubling(mg.Function):
        def forward(self, a):
            return 2 * a

        def backward(self, g):
            g *= 2  # in place: g is also what Add sent to the other input
            return g

    a, b = mg.Tensor([1.0, 2.0], requires_grad=True), mg.Tensor([3.0, 4.0], requires_grad=True)
    total = a + b  # Add hands the same gradient array to both inputs
    out = Doubling.apply(total) + total
    with pytest.raises(RuntimeError, match=r"Doubling\.backward changed its incoming gradient in place"):
        out.sum().backward()
    assert a.grad is None and b.grad is None


class SplitScale(mg.Function):
    """A test op with two outputs: (2 x, x^2), counting its backward calls."""

    calls = 0

    def forward(self, x):
        self.x = x
        return 2 * x, x * x

    def backward(self, g_double, g_square):
        SplitScale.calls += 1
        return 2 * g_double + 2 * self.x * g_square


@pytest.mark.parametrize("uses", ["both", "first", "second", "both twice"])
def test_an_op_with_several_outputs_runs_its_backward_once_with_every_outputs_gradient(uses):
    x0 = np.array([0.5, -1.5, 2.0])
    x = Tensor(x0, requires_grad=True)
    double, square = SplitScale.apply(x)
    assert double.grad_fn is square.grad_fn and (double.output_index, square.output_index) == (0, 1)
    loss = {
        "both": (double * 3.0).sum() + square.sum(),
        "first": (double * 3.0).sum(),
        "second": square.sum(),
        "both twice": (double * square).sum() + double.sum(),
    }[uses]
    SplitScale.calls = 0
    loss.backward()
    expected = {  # dL/dx written out: d(2x)/dx = 2, d(x^2)/dx = 2x
        "both": 3.0 * 2 + 2 * x0,
        "first": np.full(3, 6.0),
        "second": 2 * x0,
        "both twice": 2 * x0**2 + 2 * x0 * 2 * x0 + 2,
    }[uses]
    np.testing.assert_allclose(x.grad, expected, rtol=1e-15)
    assert SplitScale.calls == 1
