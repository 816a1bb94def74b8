"""The recurrent layers against PyTorch on the same weights (skipped without torch)."""

import numpy as np
import pytest

import layers
import minigrad as mg

torch = pytest.importorskip("torch")

CASES = [
    (lambda: layers.SimpleRNN(5, return_sequences=True, return_state=True, input_size=3), torch.nn.RNN),
    (lambda: layers.LSTM(5, return_sequences=True, return_state=True, input_size=3), torch.nn.LSTM),
    (lambda: layers.GRU(5, return_sequences=True, return_state=True, input_size=3), torch.nn.GRU),
]


@pytest.mark.parametrize("impl", ["autograd", "fused"])
@pytest.mark.parametrize("make,torch_class", CASES)
def test_outputs_and_gradients_equal_torch(make, torch_class, impl):
    ours = make()
    ours.impl = impl
    ours.cell.bias.data[...] = np.random.default_rng(0).uniform(-0.5, 0.5, ours.cell.bias.shape)
    theirs = torch_class(3, 5, batch_first=True).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()})

    x = np.random.default_rng(1).standard_normal((4, 7, 3))
    g = np.random.default_rng(2).standard_normal((4, 7, 5))
    x_ours = mg.Tensor(x, requires_grad=True)
    out, *_ = ours(x_ours)
    out.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    out_t, _ = theirs(xt)
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x_ours.grad, xt.grad.numpy(), atol=1e-12)

    # our gradients in PyTorch's layout, through a layer that holds them as weights
    as_torch = make()
    as_torch.set_weights([p.grad for p in ours.parameters()])
    expected = as_torch.torch_state_dict()
    if torch_class is not torch.nn.GRU:  # one Keras bias feeds both PyTorch biases
        expected["bias_hh_l0"] = expected["bias_ih_l0"]
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(expected[name], p.grad.numpy(), atol=1e-12, err_msg=name)
