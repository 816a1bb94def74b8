"""Every primitive op: forward against numpy, backward against central differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import ops
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays, broadcastable_shapes, shapes

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), shapes_=broadcastable_shapes())
def test_binary_ops_broadcast_in_every_direction(name, data, shapes_):
    op, reference = BINARY[name]
    a = data.draw(arrays(shape=shapes_[0]))
    b = data.draw(arrays(shape=shapes_[1], positive=name == "div"))
    out = op(mg.Tensor(a), mg.Tensor(b))
    np.testing.assert_allclose(out.data, reference(a, b))
    gradcheck(op, [a, b])


UNARY = {
    "neg": (lambda x: -x, np.negative, {}),
    "exp": (lambda x: x.exp(), np.exp, {}),
    "log": (lambda x: x.log(), np.log, {"positive": True}),
    "tanh": (lambda x: x.tanh(), np.tanh, {}),
    "sigmoid": (lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), {}),
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), {"avoid": (0.0,)}),
    "square": (lambda x: x**2, np.square, {}),
    "sqrt": (lambda x: x**0.5, np.sqrt, {"positive": True}),
    "reciprocal": (lambda x: x**-1, np.reciprocal, {"positive": True}),
    "abs": (lambda x: x.abs(), np.abs, {"avoid": (0.0,)}),
    "sqrt method": (lambda x: x.sqrt(), np.sqrt, {"positive": True}),
    "clamp": (lambda x: x.clamp(min=-0.5, max=1.0), lambda a: np.clip(a, -0.5, 1.0), {"avoid": (-0.5, 1.0)}),
    "clone": (lambda x: x.clone(), np.copy, {}),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_ops(name, data):
    op, reference, options = UNARY[name]
    a = data.draw(arrays(**options))
    np.testing.assert_allclose(op(mg.Tensor(a)).data, reference(a), rtol=1e-12)
    gradcheck(op, [a])


@st.composite
def array_and_axis(draw, **options):
    """An array and an axis argument for it: None, one axis (maybe negative) or a tuple."""
    a = draw(arrays(shape=shapes(min_dims=1), **options))
    axes = draw(st.lists(st.integers(0, a.ndim - 1), unique=True, min_size=1, max_size=a.ndim))
    axis = draw(st.sampled_from([None, axes[0] - a.ndim, tuple(axes)]))
    return a, axis


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
@given(case=array_and_axis(distinct=True), keepdims=st.booleans())
def test_reductions_over_each_axis(name, case, keepdims):
    a, axis = case
    out = getattr(mg.Tensor(a), name)(axis, keepdims)
    expected = getattr(np, name[1:] if name in ("amax", "amin") else name)(a, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected)
    gradcheck(lambda t: getattr(t, name)(axis, keepdims), [a])


def test_max_shares_the_gradient_between_ties():
    x = mg.Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


MATMUL_SHAPES = [
    ((3, 4), (4, 2)),
    ((2, 5, 3), (3, 4)),
    ((2, 2, 3, 4), (4, 3)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
@given(data=st.data())
def test_matmul(shape_a, shape_b, data):
    a, b = data.draw(arrays(shape=shape_a)), data.draw(arrays(shape=shape_b))
    np.testing.assert_allclose((mg.Tensor(a) @ mg.Tensor(b)).data, a @ b)
    gradcheck(lambda x, y: x @ y, [a, b])


@given(a=arrays(shape=shapes(min_dims=1, max_dims=4)), data=st.data())
def test_reshape_and_transpose(a, data):
    new_shape = data.draw(st.sampled_from([(-1,), (a.size, 1), (1, *a.shape)]))
    perm = tuple(data.draw(st.permutations(range(a.ndim))))
    np.testing.assert_array_equal(mg.Tensor(a).reshape(*new_shape).data, a.reshape(new_shape))
    np.testing.assert_array_equal(mg.Tensor(a).permute(*perm).data, a.transpose(perm))
    np.testing.assert_array_equal(mg.Tensor(a).T.data, a.T)
    gradcheck(lambda t: t.reshape(new_shape) * 1.5, [a])
    gradcheck(lambda t: t.transpose(perm), [a])
    gradcheck(lambda t: t.T, [a])


@st.composite
def array_and_index(draw):
    a = draw(arrays(shape=shapes(min_dims=2, max_dims=3)))
    n = a.shape[0]
    kind = draw(st.sampled_from(["int", "slice", "none", "repeated", "tuple", "mask", "negative"]))
    if kind == "int":
        index = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        index = (slice(draw(st.integers(0, n - 1)), None, draw(st.integers(1, 2))), Ellipsis, 0)
    elif kind == "none":
        index = (None, slice(None), 0)
    elif kind == "repeated":  # integer arrays may pick a row several times
        index = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)))
    elif kind == "negative":
        index = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8)))
    elif kind == "tuple":
        rows = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
        cols = draw(st.lists(st.integers(0, a.shape[1] - 1), min_size=len(rows), max_size=len(rows)))
        index = (np.array(rows), np.array(cols))
    else:
        index = a > 0
    return a, index


@given(case=array_and_index())
def test_getitem(case):
    a, index = case
    np.testing.assert_array_equal(mg.Tensor(a)[index].data, a[index])
    gradcheck(lambda t: t[index], [a])


def test_getitem_repeated_index_accumulates():
    x = mg.Tensor(np.zeros((3, 2)), requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [[3, 3], [0, 0], [1, 1]])


@given(data=st.data(), shape=shapes(max_dims=3), count=st.integers(1, 4))
def test_stack(data, shape, count):
    parts = [data.draw(arrays(shape=shape)) for _ in range(count)]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    np.testing.assert_array_equal(
        mg.stack([mg.Tensor(p) for p in parts], axis=axis).data, np.stack(parts, axis=axis)
    )
    gradcheck(lambda *ts: mg.stack(list(ts), axis=axis), parts)


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3), count=st.integers(1, 4))
def test_concatenate(data, shape, count):
    axis = data.draw(st.integers(0, len(shape) - 1))
    parts = []
    for _ in range(count):
        own = list(shape)
        own[axis] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(shape=tuple(own))))
    np.testing.assert_array_equal(
        mg.concatenate([mg.Tensor(p) for p in parts], axis=axis).data,
        np.concatenate(parts, axis=axis),
    )
    gradcheck(lambda *ts: mg.concatenate(list(ts), axis=axis), parts)


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3), chunks=st.integers(1, 4))
def test_chunk(data, shape, chunks):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(arrays(shape=shape))
    n = shape[axis]
    size = -(-n // chunks)  # PyTorch's blocks: ceil(n / chunks) each, the last what is left
    expected = [np.take(a, range(start, min(start + size, n)), axis=axis) for start in range(0, n, size)]
    got = mg.Tensor(a).chunk(chunks, dim=axis)
    assert len(got) == len(expected)
    for block, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(block.data, want)

    def weighted(t):  # every block reaches the loss, each with its own weight
        return mg.concatenate([b * (k + 1.0) for k, b in enumerate(t.chunk(chunks, dim=axis))], axis=axis)

    gradcheck(weighted, [a])


def test_chunk_blocks_share_their_input_memory_and_refuse_bad_counts():
    x = mg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    left, right = x.chunk(2, dim=1)
    loss = (right * right).sum()  # only the second block reaches the loss: the first sends zeros
    loss.backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 4.0], [0.0, 0.0, 10.0]])
    with mg.no_grad():
        left.detach().add_(1)
    assert x._version == 1 and right._version == 1
    with pytest.raises(ValueError, match="chunks must be a positive integer, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match="axis 0 of the tensor of shape"):
        mg.Tensor(np.ones((0, 2))).chunk(2)


@given(data=st.data(), shapes_=broadcastable_shapes(num_shapes=3))
def test_where(data, shapes_):
    condition = data.draw(arrays(shape=shapes_[0])) > 0
    a, b = data.draw(arrays(shape=shapes_[1])), data.draw(arrays(shape=shapes_[2]))
    np.testing.assert_array_equal(
        mg.where(condition, mg.Tensor(a), mg.Tensor(b)).data, np.where(condition, a, b)
    )
    gradcheck(lambda x, y: mg.where(condition, x, y), [a, b])


# --- bad input ---
def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        mg.Tensor(np.ones((2, 3))) * mg.Tensor(np.ones(4))


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        mg.Tensor(np.ones((2, 3))) @ mg.Tensor(np.ones((4, 5)))


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda t: t.sum(axis=2), "sum: axis 2 is out of range"),
        (lambda t: t.amax((0, 0)), "max: repeated axis"),
        (lambda t: t.reshape(5), r"reshape: cannot reshape a tensor of shape \(2, 3\)"),
        (lambda t: t.transpose(0, 2), "transpose: axis 2 is out of range"),
        (lambda t: t.transpose(0), "transpose: 1 axes given"),
        (lambda t: mg.stack([t, t.reshape(3, 2)]), r"stack: all tensors need the same shape"),
        (lambda t: mg.concatenate([t, mg.Tensor(np.ones((2, 2)))], axis=0), "concatenate: all"),
        (lambda t: mg.stack([]), "stack: needs at least one tensor"),
        (lambda t: t ** mg.Tensor(2.0), None),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    t = mg.Tensor(np.ones((2, 3)))
    if message is None:
        with pytest.raises(TypeError, match="exponent must be a number"):
            call(t)
    else:
        with pytest.raises(ValueError, match=message):
            call(t)


def test_unbroadcast_sums_added_and_stretched_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(ops.unbroadcast(g, ()), g.sum())


# --- PyTorch's names ---
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=array_and_axis(distinct=True), keepdim=st.booleans())
def test_reductions_take_pytorchs_dim_and_keepdim(name, case, keepdim):
    a, axis = case
    out = getattr(mg.Tensor(a), name)(dim=axis, keepdim=keepdim)
    np.testing.assert_allclose(out.data, getattr(np, name)(a, axis=axis, keepdims=keepdim))
    gradcheck(lambda t: getattr(t, name)(dim=axis, keepdim=keepdim), [a])


SHAPE_METHODS = {
    "view": (lambda t: t.view(-1), lambda a: a.reshape(-1)),
    "flatten from 1": (lambda t: t.flatten(1), lambda a: a.reshape(a.shape[0], -1)),
    "unsqueeze(0)": (lambda t: t.unsqueeze(0), lambda a: a[None]),
    "unsqueeze(-1)": (lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    "squeeze": (lambda t: t.squeeze(), np.squeeze),
    "permute": (lambda t: t.permute(*reversed(range(t.ndim))), np.transpose),
    "softmax": (lambda t: t.softmax(dim=-1), lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    "log_softmax": (lambda t: t.log_softmax(dim=0), lambda a: a - np.log(np.exp(a).sum(0, keepdims=True))),
}


@pytest.mark.parametrize("name", SHAPE_METHODS)
@given(a=arrays(shape=shapes(min_dims=2, max_dims=3)))
def test_pytorchs_shape_and_softmax_methods(name, a):
    method, reference = SHAPE_METHODS[name]
    out = method(mg.Tensor(a))
    assert out.shape == reference(a).shape
    np.testing.assert_allclose(out.data, reference(a), rtol=1e-12, atol=1e-14)
    gradcheck(method, [a])


def test_comparisons_give_masks_and_tensors_stay_hashable():
    x, y = mg.tensor([1.0, -2.0, 3.0]), mg.tensor([1.0, 0.0, 4.0])
    np.testing.assert_array_equal(x > 0, [True, False, True])
    np.testing.assert_array_equal(x == y, [True, False, False])
    np.testing.assert_array_equal(x <= y, [True, True, True])
    assert len({x, y, x}) == 2  # identity, as before
    np.testing.assert_array_equal(mg.where(x > 0, x, 0.0).data, [1.0, 0.0, 3.0])


def test_pytorchs_factories_and_small_methods():
    assert mg.tensor([[1, 2]], requires_grad=True).requires_grad and mg.tensor([1]).dtype == np.float64
    np.testing.assert_array_equal(mg.arange(3).data, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(mg.arange(1, 2, 0.5).data, [1.0, 1.5])
    assert mg.zeros((2, 3)).shape == mg.zeros(2, 3).shape == mg.ones((2, 3)).shape == (2, 3)
    assert mg.randn((2, 3)).shape == mg.rand(2, 3).shape == (2, 3)
    x = mg.tensor([[1.0, 5.0], [7.0, 2.0]], dtype=np.float32)
    assert mg.zeros_like(x).dtype == np.float32 and mg.ones_like(x).data.sum() == 4
    np.testing.assert_array_equal(x.argmax(dim=1), [1, 0])
    assert x.tolist() == [[1.0, 5.0], [7.0, 2.0]]
    assert mg.cat([x, x], dim=1).shape == (2, 4)
    assert x.matmul(x).shape == (2, 2)
    clone = x.clone()
    clone.data[0, 0] = 9.0
    assert x.data[0, 0] == 1.0  # a copy, not a view
    with pytest.raises(TypeError, match="give axis or dim, not both"):
        x.sum(axis=0, dim=0)


@given(a=arrays(shape=shapes(min_dims=2, max_dims=3)), data=st.data())
def test_transpose_of_two_dims_swaps_them_as_in_pytorch(a, data):
    first, second = data.draw(st.integers(-a.ndim, a.ndim - 1)), data.draw(st.integers(-a.ndim, a.ndim - 1))
    out = mg.Tensor(a).transpose(first, second)
    np.testing.assert_array_equal(out.data, np.swapaxes(a, first, second))
    gradcheck(lambda t: t.transpose(first, second), [a])


def test_transpose_of_a_matrix_with_zero_and_one_is_its_transpose():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.transpose(0, 1).data, x.data.T)  # numpy's meaning would change nothing


# --- max(dim) and min(dim): (values, indices), as in PyTorch ---
@pytest.mark.parametrize("name", ["max", "min"])
@given(a=arrays(shape=shapes(min_dims=1, max_dims=3), distinct=True), data=st.data(), keepdim=st.booleans())
def test_max_and_min_with_a_dim_give_values_and_indices(name, a, data, keepdim):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    result = getattr(mg.Tensor(a), name)(dim=dim, keepdim=keepdim)
    values, indices = result
    np.testing.assert_array_equal(values.data, getattr(np, name)(a, axis=dim, keepdims=keepdim))
    arg = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(indices, arg(a, axis=dim, keepdims=keepdim))
    assert indices.dtype == np.int64 and result[0] is values and result.values is values
    assert result.indices is indices
    # positional dim and numpy's axis mean the same
    np.testing.assert_array_equal(getattr(mg.Tensor(a), name)(dim, keepdim)[0].data, values.data)
    gradcheck(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)[0], [a])


def test_max_of_a_dim_in_the_idioms_of_the_issue():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(x.max(dim=1)[0].data, [5.0, 7.0])  # not the first row's maximum
    np.testing.assert_array_equal(x.min(dim=-1)[0].data, [1.0, 0.0])
    _, pred = x.max(1)  # a batch of 2: the indices, not the two rows
    np.testing.assert_array_equal(pred, [1, 0])
    assert x.max().shape == () and x.max().item() == 7.0 and x.min().item() == 0.0


def test_max_of_a_dim_sends_the_gradient_to_the_picked_element():
    # PyTorch's max(dim) backward goes through the indices: the first of tied maxima here
    x = mg.tensor([[1.0, 3.0, 3.0], [4.0, 2.0, 4.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    np.testing.assert_array_equal(indices, [1, 0])
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    x.grad = None
    x.amax(dim=1).sum().backward()  # amax shares between ties, as PyTorch's does
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda x: x - x.max(dim=1, keepdim=True), TypeError, r"return \(values, indices\)"),
        (lambda x: x.max(dim=1) * 2, TypeError, r"take \.values"),
        (lambda x: np.asarray(x.min(1)), TypeError, r"amax\(dim\) / amin\(dim\)"),
        (lambda x: x.max(dim=(0, 1)), TypeError, r"amax\(dim=\(0, 1\)\)"),
        (lambda x: x.min(axis=(0,)), TypeError, r"amin\(dim=\(0,\)\)"),
        (lambda x: x.max(x), TypeError, "no elementwise maximum"),
        (lambda x: x.max(dim=2), ValueError, "axis 2 is out of range"),
        (lambda x: mg.zeros(2, 0).max(dim=1), ValueError, "no elements along dim 1"),
    ],
)
def test_max_and_min_refuse_what_would_answer_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call(mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    with pytest.raises(error, match=message):
        call(mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True))


def test_argmin_and_argmax_take_dim_as_in_pytorch():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(x.argmin(dim=1), [0, 1])
    np.testing.assert_array_equal(x.argmin(0, keepdim=True), [[0, 1, 0]])
    assert x.argmax() == 3 and x.argmin() == 4


# --- tensors as indices: a boolean tensor is a mask, a float one is refused ---
@given(a=arrays(shape=shapes(min_dims=1, max_dims=3)), data=st.data())
def test_a_boolean_tensor_index_is_a_mask(a, data):
    rows = np.array(data.draw(st.lists(st.booleans(), min_size=a.shape[0], max_size=a.shape[0])))
    mask = mg.tensor(rows.tolist())
    assert mask.dtype == bool
    np.testing.assert_array_equal(mg.Tensor(a)[mask].data, a[rows])
    np.testing.assert_array_equal(mg.Tensor(a)[mask, ...].data, a[rows, ...])
    np.testing.assert_array_equal(mg.Tensor(a)[mg.tensor(a > 0)].data, a[a > 0])
    gradcheck(lambda t: t[mask], [a])


def test_the_mask_of_the_issue_picks_two_rows():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    picked = x[mg.tensor([True, False, True])]
    np.testing.assert_array_equal(picked.data, [[1.0, 2.0], [5.0, 6.0]])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(x[[True, False, True]].data, picked.data)  # a list of bools too


@pytest.mark.parametrize(
    "index",
    [
        lambda: mg.tensor([1.0, 0.0, 1.0]),
        lambda: mg.tensor([0, 2]),  # integers become floats in a tensor
        lambda: (mg.tensor([0.0, 1.0]), 0),
        lambda: mg.tensor(1.0),
    ],
)
def test_a_float_tensor_index_is_an_index_error(index):
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(
        IndexError, match=r"must hold booleans .* got a float64 tensor .* numpy integer array"
    ):
        x[index()]
    np.testing.assert_array_equal(x[np.array([0, 2])].data, [[1.0, 2.0], [5.0, 6.0]])  # the way that works


# --- the sweep: calls that used to answer wrong without a word ---
def test_squeeze_of_several_dims_squeezes_each_of_size_one():
    x = mg.Tensor(np.zeros((1, 3, 1, 1)))
    assert x.squeeze((0, 2)).shape == (3, 1)  # used to squeeze dim 0 only
    assert x.squeeze((1, -1)).shape == (1, 3, 1)  # dim 1 has size 3: left alone, as in PyTorch
    assert x.squeeze(1).shape == (1, 3, 1, 1) and x.squeeze().shape == (3,)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda t: t.unsqueeze((0, 1)), r"unsqueeze: dim must be one int, got \(0, 1\)"),
        (lambda t: t.flatten((0, 1)), "flatten: dim must be one int"),
        (lambda t: t.flatten(2, 0), "flatten: start_dim 2 comes after end_dim 0"),
    ],
)
def test_methods_of_one_dim_refuse_others(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call(mg.Tensor(np.zeros((2, 1, 3))))


def test_the_gradient_of_a_zeroth_power_is_zero_even_at_zero():
    x = mg.tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])  # 0 * 0 ** -1 used to give nan


def test_where_wants_a_boolean_condition():
    x = mg.tensor([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(mg.where(mg.tensor([True, False, True]), x, 0.0).data, [1.0, 0.0, 3.0])
    with pytest.raises(TypeError, match=r"condition must hold booleans .* got dtype float64"):
        mg.where(mg.tensor([0.5, 0.0, 1.0]), x, 0.0)  # 0.5 used to count as true
    with pytest.raises(TypeError, match="condition must hold booleans"):
        mg.where(np.array([1, 0, 1]), x, 0.0)


@pytest.mark.parametrize("axis", [1.0, True, (0, 1.5), "1"])
def test_axes_must_be_integers(axis):
    with pytest.raises(TypeError, match="axes must be integers"):
        mg.Tensor(np.ones((2, 3))).sum(axis)  # 1.0 and True used to mean axis 1


def test_a_list_of_tensors_that_require_grad_is_stacked_not_copied():
    a, b = mg.tensor(1.0, requires_grad=True), mg.tensor(2.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"cut them from the graph; mg.stack\(tensors\)"):
        mg.tensor([a, b])
    with pytest.raises(TypeError, match="cut them from the graph"):
        mg.functional.mse_loss(mg.tensor([1.0, 2.0]), [a, b])  # lifting the list would drop both gradients
    assert mg.tensor([mg.tensor(1.0), 2.0]).tolist() == [1.0, 2.0]  # without gradients: the values
    (mg.stack([a, b]) * mg.tensor([3.0, 4.0])).sum().backward()
    assert a.grad == 3.0 and b.grad == 4.0


def test_stack_and_concatenate_take_pytorchs_dim():
    a, b = np.ones((2, 3)), np.zeros((2, 3))
    np.testing.assert_array_equal(mg.stack([a, b], dim=1).data, np.stack([a, b], axis=1))
    np.testing.assert_array_equal(mg.concatenate([a, b], dim=-1).data, np.concatenate([a, b], axis=-1))
    with pytest.raises(TypeError, match="give axis or dim, not both"):
        mg.stack([a, b], 1, dim=0)


EVERY_PRIMITIVE = [
    lambda x: x + 1.0,
    lambda x: x - 1.0,
    lambda x: x * x,
    lambda x: x / 2.0,
    lambda x: x @ x.T,
    lambda x: x[0] @ x.T,
    lambda x: -x,
    lambda x: x**2,
    lambda x: x.exp(),
    lambda x: x.log(),
    lambda x: x.tanh(),
    lambda x: x.sigmoid(),
    lambda x: x.relu(),
    lambda x: x.abs(),
    lambda x: x.sum(0),
    lambda x: x.amax(1),
    lambda x: x.max(dim=1).values,
    lambda x: x.float(),
    lambda x: x.reshape(3, 2),
    lambda x: x.T,
    lambda x: x[np.array([0, 0, 1])],
    lambda x: mg.stack([x, x]),
    lambda x: mg.concatenate([x, x]),
    lambda x: mg.concatenate(list(x.chunk(2, dim=1)), axis=1),
    lambda x: mg.where(x.data > 2, x, x),
]


def ops_in_graph(out):
    found, stack = set(), [out]
    while stack:
        t = stack.pop()
        if t.grad_fn is not None:
            found.add(type(t.grad_fn))
            stack.extend(t.grad_fn.parents)
    return found


def test_no_primitive_writes_into_its_incoming_gradient(monkeypatch):
    # The engine hands the primitives their incoming gradients without read-only views; here
    # every op gets the views, so a backward that wrote into its g would raise.
    monkeypatch.setattr(ops.Primitive, "leaves_grads_unchanged", False)
    x = mg.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    seen = set()
    for use in EVERY_PRIMITIVE:
        out = use(x)
        seen |= ops_in_graph(out)
        out.backward(np.ones(out.shape))
    assert seen == set(ops.Primitive.__subclasses__())


def test_only_ops_that_read_their_output_have_it_checked():
    # An op that says it never reads its output gives the same gradient when that output was
    # changed in place (through detach) before its backward, and backward lets the change
    # pass, as PyTorch does; the ops that read it refuse.  (A view of x is skipped: changing
    # it changes x, which every op's input check refuses.)
    seen = set()
    for use in EVERY_PRIMITIVE:
        x, fresh = (mg.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True) for _ in range(2))
        expected = use(fresh)
        expected.backward(np.ones(expected.shape))
        out = use(x)
        if np.may_share_memory(out.data, x.data):
            continue
        op = type(out.grad_fn)
        out.detach().mul_(7.0)
        if op.reads_outputs:
            seen.add(op)
            with pytest.raises(RuntimeError, match=rf"{op.__name__}.backward: output 0 .* changed in place"):
                out.backward(np.ones(out.shape))
        else:
            out.backward(np.ones(out.shape))
            np.testing.assert_allclose(x.grad, fresh.grad, rtol=1e-12)
    assert seen == {ops.Exp, ops.Tanh, ops.Sigmoid}


def test_a_matrix_product_of_vectors_and_matrices_sends_gradients_of_their_shapes():
    rng = np.random.default_rng(0)
    for shape_a, shape_b in [((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)), ((2, 3), (3, 4))]:
        a0, b0 = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        a, b = mg.Tensor(a0, requires_grad=True), mg.Tensor(b0, requires_grad=True)
        g = rng.standard_normal(np.shape(a0 @ b0))
        (a @ b).backward(g)
        a2, b2 = a0.reshape(-1, shape_a[-1]), b0.reshape(shape_b[0], -1)  # the vectors as matrices
        g2 = g.reshape(a2.shape[0], b2.shape[1])
        np.testing.assert_allclose(a.grad, (g2 @ b2.T).reshape(shape_a), rtol=1e-12)
        np.testing.assert_allclose(b.grad, (a2.T @ g2).reshape(shape_b), rtol=1e-12)
