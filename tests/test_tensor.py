"""The Tensor itself: construction, dtypes, mixing with numbers and arrays, graph semantics."""

import copy
import gc
import pickle
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor


def test_float64_by_default_and_float32_stays_float32():
    assert Tensor([1, 2]).dtype == np.float64
    assert Tensor(np.array([True, False])).dtype == bool  # a mask stays a mask
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


# --- in place, as in PyTorch ---
def test_an_sgd_step_in_place_under_no_grad_changes_the_parameters():
    rng = np.random.default_rng(0)
    w0, b0, x = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))
    w, b = Tensor(w0, requires_grad=True), Tensor(b0, requires_grad=True)
    parameters = [w, b]
    ((x @ w + b) ** 2).sum().backward()
    lr = 0.1
    with mg.no_grad():
        for p in parameters:
            p -= lr * p.grad
    # the gradients written out by hand: d/dw sum((xw + b)^2) = 2 x^T (xw + b)
    residual = x @ w0 + b0
    np.testing.assert_allclose(w.data, w0 - lr * 2 * x.T @ residual)
    np.testing.assert_allclose(b.data, b0 - lr * 2 * residual.sum(axis=0))
    assert parameters[0] is w and w.requires_grad and w.is_leaf


def test_augmented_assignment_changes_the_object_itself():
    x = Tensor([1.0, 2.0, 4.0])
    y = x
    x += 1
    x -= np.array([0.5, 0.5, 0.5])
    x *= Tensor([2.0, 2.0, 2.0])
    x /= 4
    x **= 2
    assert y is x
    np.testing.assert_allclose(y.data, ((np.array([1.0, 2.0, 4.0]) + 0.5) * 2 / 4) ** 2)
    f32 = Tensor(np.ones(2, dtype=np.float32))
    f32 += np.array([0.5, 1.5])  # a float64 value is written into float32 memory
    assert f32.dtype == np.float32 and f32.tolist() == [1.5, 2.5]


def test_in_place_methods_against_numpy():
    a = np.array([[1.0, -2.0], [3.0, 0.5]])
    t = Tensor(a)
    assert t.add_(Tensor([1.0, 1.0]), alpha=2) is t
    expected = a + 2
    np.testing.assert_allclose(t.data, expected)
    t.sub_(1.0, alpha=0.5).mul_(3).div_(np.array([2.0, 4.0]))
    expected = (expected - 0.5) * 3 / np.array([2.0, 4.0])
    np.testing.assert_allclose(t.data, expected)
    t.clamp_(min=0.0, max=2.0)
    np.testing.assert_allclose(t.data, np.clip(expected, 0.0, 2.0))
    t.copy_(np.array([5.0, 6.0]))  # broadcast, as torch's copy_
    np.testing.assert_array_equal(t.data, [[5.0, 6.0], [5.0, 6.0]])
    t.fill_(7.5)
    np.testing.assert_array_equal(t.data, np.full((2, 2), 7.5))
    t.zero_()
    np.testing.assert_array_equal(t.data, np.zeros((2, 2)))
    t[0] = Tensor([1.0, 2.0])
    t[t > 1.5] = -1.0
    np.testing.assert_array_equal(t.data, [[1.0, -1.0], [0.0, 0.0]])
    t[0] += 10  # a view changed, then written back, as in PyTorch
    np.testing.assert_array_equal(t.data, [[11.0, 9.0], [0.0, 0.0]])
    mask = mg.tensor([True, False])
    assert mask.zero_().tolist() == [False, False] and mask.dtype == bool


def test_in_place_on_a_leaf_that_requires_grad_raises_pytorchs_error():
    w = Tensor([1.0, 2.0], requires_grad=True)
    for change in (
        lambda: w.__iadd__(1),
        lambda: w.mul_(2),
        lambda: w.zero_(),
        lambda: w.__setitem__(0, 5.0),
    ):
        with pytest.raises(
            RuntimeError, match="a leaf Tensor that requires grad is used in an in-place operation"
        ):
            change()
    assert w.tolist() == [1.0, 2.0] and w._version == 0


def test_in_place_on_a_tensor_an_op_made_raises_naming_the_out_of_place_way():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    with pytest.raises(RuntimeError, match=r"grad_fn=Exp.*y = y \+ 1"):
        y += 1
    with mg.no_grad(), pytest.raises(RuntimeError, match="an op made"):
        y.add_(1)
    np.testing.assert_array_equal(y.data, np.exp([1.0, 2.0]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]))


def test_in_place_with_a_value_that_requires_grad_raises():
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot carry its gradient; write x = x \\+ y"):
        x += w
    with pytest.raises(RuntimeError, match=r"build the tensor with mg\.stack, mg\.cat or mg\.where"):
        x[0] = w[1]
    assert x.tolist() == [1.0, 2.0]
    with mg.no_grad():
        x += w  # no gradient is wanted here
    assert x.tolist() == [4.0, 6.0]


@pytest.mark.parametrize(
    "change,error,message",
    [
        (
            lambda x: x.__iadd__(np.ones((2, 2))),
            ValueError,
            r"shape \(2, 2\) cannot be written into .* \(2,\)",
        ),
        (lambda x: x.copy_(np.ones(3)), ValueError, r"shape \(3,\) cannot be written"),
        (lambda x: x.fill_(np.ones(2)), ValueError, "fill_ takes one number"),
        (lambda x: x.__imatmul__(x), TypeError, r"write x = x @ y"),
        (lambda x: x.__ipow__(Tensor(2.0)), TypeError, "exponent must be a number"),
        (lambda x: x.clamp_(), ValueError, "give min, max or both"),
        (lambda x: x.__iadd__(np.array(["a", "b"])), TypeError, None),
    ],
)
def test_a_failed_in_place_call_changes_nothing(change, error, message):
    x = Tensor([1.0, 2.0])
    with pytest.raises(error, match=message):
        change(x)
    assert x.tolist() == [1.0, 2.0] and x._version == 0


def test_changing_a_saved_tensor_in_place_makes_backward_raise():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    loss = (x * w).sum()  # Mul keeps x for w's gradient
    x += 1
    with pytest.raises(RuntimeError, match=r"Mul.backward: input 0 .* was changed in place"):
        loss.backward()
    assert w.grad is None


@pytest.mark.parametrize(
    "change",
    [
        lambda w: w.detach().zero_(),  # detach shares the memory, and the version counter
        lambda w: w.detach().reshape(2, 1).add_(1),  # so does a view of it
        lambda w: w[0:1].mul_(2),  # under no_grad a slice is a view too
    ],
)
def test_a_change_through_shared_memory_is_seen(change):
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with mg.no_grad():
        change(w)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="was changed in place"):
        loss.backward()


def test_changing_an_ops_output_through_detach_makes_backward_raise():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.tanh()  # Tanh's backward uses its output
    y.detach().add_(1)
    with pytest.raises(RuntimeError, match=r"Tanh.backward: output 0 .* changed in place"):
        y.sum().backward()


def test_changes_elsewhere_after_forward_leave_backward_alone():
    # any in-place change moves the global count, which sends every op to its own counters;
    # a change to a tensor the graph never saw must not be taken for a change of its inputs
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    loss = (x * w).sum()
    Tensor([0.0]).add_(1)
    loss.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_a_change_before_forward_is_not_taken_for_one_after():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    x += 1  # before Mul saw it
    loss = (x * w).sum()
    Tensor([0.0]).add_(1)
    loss.backward()
    np.testing.assert_array_equal(w.grad, [4.0, 5.0])
    x2 = Tensor([3.0, 4.0])
    loss = (x2 * w).sum()
    x2 += 1  # after: still raises, with other changes around it
    Tensor([0.0]).add_(1)
    with pytest.raises(RuntimeError, match=r"Mul.backward: input 0 .* was changed in place"):
        loss.backward()


def test_an_intermediate_nothing_holds_is_freed_before_backward():
    # the graph holds an op's inputs weakly: x + 1 is needed by no backward (Tanh saves its
    # output), so its array goes as soon as the program drops it, as in PyTorch
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    shifted = x + 1
    dropped = weakref.ref(shifted)
    y = shifted.tanh()
    assert y.grad_fn.parents[0] is shifted  # while held, the graph gives the tensor itself
    del shifted
    gc.collect()
    assert dropped() is None
    stand_in = y.grad_fn.parents[0]
    assert stand_in is y.grad_fn.parents[0]  # one object stands in for it
    assert stand_in.shape == (2,) and stand_in.dtype == np.float64
    assert type(stand_in.grad_fn).__name__ == "Add" and stand_in.requires_grad
    with pytest.raises(RuntimeError, match=r"values of this float64 tensor of shape \(2,\), made by Add"):
        _ = stand_in.data
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh([1.5, 0.0]) ** 2)


def test_a_held_intermediate_keeps_its_values_and_its_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h.tanh() * 2).sum().backward()
    np.testing.assert_array_equal(h.data, [3.0, 6.0])
    np.testing.assert_allclose(h.grad, 2 * (1 - np.tanh([3.0, 6.0]) ** 2))


def test_a_tensor_in_the_graph_pickles_and_deep_copies():
    x = Tensor([0.5, 1.0], requires_grad=True)
    y = x * 2
    z = y.tanh()  # y is now held by the graph too
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(y)).data, [1.0, 2.0])
    copied = copy.deepcopy(z)
    copied_x = copied.grad_fn.parents[0].grad_fn.parents[0]
    copied.sum().backward()
    assert copied_x is not x and x.grad is None
    np.testing.assert_allclose(copied_x.grad, 2 * (1 - np.tanh([1.0, 2.0]) ** 2))


def test_backward_frees_each_op_once_its_backward_has_run():
    x = Tensor([0.5, 1.0], requires_grad=True)
    seen = []

    class Spy(mg.Function):
        def forward(self, a):
            return a.copy()

        def backward(self, g):
            seen.append(later.grad_fn.released)  # Tanh ran first, and is freed already
            return (g,)

    later = Spy.apply(x).tanh()
    later.sum().backward()
    assert seen == [True]
    np.testing.assert_allclose(x.grad, 1 - np.tanh([0.5, 1.0]) ** 2)


def test_backward_pauses_the_cycle_collector_and_restores_it():
    seen = []
    x = Tensor([1.0], requires_grad=True)

    class Spy(mg.Function):
        def forward(self, a):
            return a.copy()

        def backward(self, g):
            seen.append(gc.isenabled())
            if len(seen) == 2:
                raise ValueError("boom")
            return (g,)

    Spy.apply(x).sum().backward()
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        Spy.apply(x).sum().backward()
    assert gc.isenabled()  # back on after an error too
    gc.disable()
    try:
        Spy.apply(x).sum().backward()
        assert not gc.isenabled()  # left off when it was off
    finally:
        gc.enable()


# --- numpy's conversion protocol ---
def test_numpy_arrays_of_tensors_hold_the_floats():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    as_array = np.array(x)
    assert as_array.dtype == np.float64 and as_array.shape == (2, 2)
    np.testing.assert_array_equal(as_array, x.data)
    as_array[0, 0] = 9.0  # np.array copies
    assert x.data[0, 0] == 1.0
    assert np.asarray(x) is x.data  # np.asarray shares, as x.numpy()
    assert np.array(x, dtype=np.float32).dtype == np.float32
    assert np.array([Tensor(1.0), Tensor(2.5)]).tolist() == [1.0, 2.5]
    with pytest.raises(ValueError, match="cannot be converted without a copy"):
        np.asarray(x, dtype=np.float32, copy=False)


# --- dtypes: floats, and booleans for masks; integers refused ---
INTEGER_DTYPE_CALLS = {
    "zeros": lambda dt: mg.zeros(3, dtype=dt),
    "ones": lambda dt: mg.ones(2, 3, dtype=dt),
    "full": lambda dt: mg.full((2,), 4.0, dtype=dt),
    "tensor": lambda dt: mg.tensor([1, 2], dtype=dt),
    "Tensor": lambda dt: Tensor([1, 2], dtype=dt),
    "arange": lambda dt: mg.arange(3, dtype=dt),
    "randn": lambda dt: mg.randn(2, dtype=dt),
    "rand": lambda dt: mg.rand(2, dtype=dt),
    "zeros_like": lambda dt: mg.zeros_like(mg.ones(2), dtype=dt),
    "ones_like": lambda dt: mg.ones_like(mg.ones(2), dtype=dt),
}


@pytest.mark.parametrize("name", INTEGER_DTYPE_CALLS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, "uint8", np.float16])
def test_every_factory_refuses_a_dtype_it_cannot_hold(name, dtype):
    with pytest.raises(TypeError, match=r"hold float32 or float64 .* numpy array"):
        INTEGER_DTYPE_CALLS[name](dtype)


@pytest.mark.parametrize("name", INTEGER_DTYPE_CALLS)
def test_every_factory_honours_float32(name):
    assert INTEGER_DTYPE_CALLS[name](np.float32).dtype == np.float32


def test_full_and_the_likes():
    np.testing.assert_array_equal(mg.full((2, 3), 0.5).data, np.full((2, 3), 0.5))
    assert mg.full(3, 1.0).shape == (3,) and mg.full((2,), 1).dtype == np.float64
    assert mg.zeros_like(np.arange(3)).dtype == np.float64  # integers become floats, as Tensor()
    assert mg.ones_like(Tensor([True, False])).dtype == bool


def test_boolean_tensors_are_masks_that_count_as_zero_and_one_in_arithmetic():
    mask = mg.tensor([True, False, True])
    assert mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal((mask * 2.5).data, [2.5, 0.0, 2.5])  # not True * 2.5 = True
    np.testing.assert_array_equal((mask + 1).data, [2.0, 1.0, 2.0])
    assert mask.sum().item() == 2.0 and mask.sum().dtype == np.float64
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = x * mask  # float32 stays float32, as PyTorch promotes
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
    assert mask.float().dtype == np.float32 and mask.double().tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="only float tensors can require gradients"):
        mg.tensor([True], requires_grad=True)
    with pytest.raises(RuntimeError, match="only float tensors can require gradients"):
        mask.requires_grad_()


def test_float_and_double_are_casts_in_the_graph():
    x = Tensor([0.5, -1.0], requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.double().dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, [1.0, -2.0])
    assert x.double() is x and y.float() is y  # no copy when the dtype is already right, as in PyTorch


def test_clone_copies_exactly_and_keeps_the_graph():
    x = Tensor([-0.0, 1.0], requires_grad=True)
    c = x.clone()
    assert np.signbit(c.data[0])  # -0.0 stays -0.0 (x + 0 would give +0.0)
    assert c.data is not x.data
    mask = mg.tensor([True, False])
    assert mask.clone().tolist() == [True, False] and mask.clone().data is not mask.data
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


# --- Python's protocols ---
def test_truth_length_iteration_and_numbers_as_in_pytorch():
    with pytest.raises(ValueError, match=r"bool\(\) of a tensor of shape \(2,\) is ambiguous"):
        bool(Tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(0,\) is ambiguous"):
        bool(Tensor([]))
    assert bool(Tensor([[2.0]])) and not bool(Tensor(0.0))
    with pytest.raises(TypeError, match="len"):
        len(Tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(Tensor(1.0))  # it used to give [] without a word
    rows = list(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3.7)) == 3
    with pytest.raises(ValueError, match="one element"):
        float(Tensor([1.0, 2.0]))


# --- initializers and the graph ---
def test_glorot_uniform_counts_fans_as_keras_does():
    mg.manual_seed(0)
    # a kernel (2, 3, 4, 5): receptive field 2 * 3, fan_in 4 * 6, fan_out 5 * 6
    limit = np.sqrt(6 / (4 * 6 + 5 * 6))
    kernel = mg.init.glorot_uniform((2, 3, 4, 5))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    bias_like = mg.init.glorot_uniform((7,))  # a vector: fan_in = fan_out = 7
    assert np.abs(bias_like).max() <= np.sqrt(6 / 14)


def test_initializers_refuse_integer_dtypes_and_wrong_shapes():
    with pytest.raises(TypeError, match="weights are float32 or float64, got dtype int64"):
        mg.init.glorot_uniform((3, 4), np.int64)  # used to truncate every draw to 0
    with pytest.raises(ValueError, match=r"identity: the shape must have 2 dims, got \(3,\)"):
        mg.init.identity((3,))  # used to give a (3, 3) matrix
    with pytest.raises(ValueError, match=r"identity: the shape must have 2 dims"):
        mg.init.identity((2, 3, 1))  # used to read 1 as the diagonal's offset
    q = mg.init.orthogonal((2, 3, 4))  # Keras's reading: a (6, 4) matrix with orthonormal columns
    flat = q.reshape(6, 4)
    np.testing.assert_allclose(flat.T @ flat, np.eye(4), atol=1e-12)


def test_the_graph_cannot_be_drawn_once_backward_has_freed_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert "Mul" in mg.graph.to_dot(y, names={'the "x"': x})
    assert '\\"x\\"' in mg.graph.to_dot(y, names={'the "x"': x})  # quotes escaped for DOT
    y.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        mg.graph.to_dot(y)  # used to draw the loss alone


def test_a_function_may_return_its_outputs_and_gradients_as_a_named_tuple():
    # a tuple subclass is still several outputs, and several gradients
    from collections import namedtuple

    Pair = namedtuple("Pair", "first second")

    class HalfAndDouble(mg.Function):
        def forward(self, a):
            return Pair(a / 2, a * 2)

        def backward(self, g_half, g_double):
            return g_half / 2 + g_double * 2

    x = Tensor(np.array([1.0, 4.0]), requires_grad=True)
    half, double = HalfAndDouble.apply(x)
    np.testing.assert_array_equal(half.data, [0.5, 2.0])
    np.testing.assert_array_equal(double.data, [2.0, 8.0])
    (half.sum() + double.sum()).backward()
    np.testing.assert_array_equal(x.grad, [2.5, 2.5])

    class Product(mg.Function):
        def forward(self, a, b):
            self.a, self.b = a, b
            return a * b

        def backward(self, g):
            return Pair(g * self.b, g * self.a)

    a, b = Tensor(np.array([3.0]), requires_grad=True), Tensor(np.array([5.0]), requires_grad=True)
    Product.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [5.0])
    np.testing.assert_array_equal(b.grad, [3.0])
