"""Checkpoints: bit-for-bit round trips, no pickles, atomic writes, clear errors."""

import numpy as np
import pytest

import layers
import minigrad as mg


def test_module_round_trip_is_bit_for_bit(tmp_path):
    mg.manual_seed(0)
    model = layers.LSTM(3, input_size=2)
    mg.save(model, tmp_path / "model.npz")
    mg.manual_seed(1)
    other = layers.LSTM(3, input_size=2)
    other.load_state_dict(mg.load(tmp_path / "model.npz"))
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_optimizer_round_trip(tmp_path):
    p = mg.Tensor([1.0, 2.0], requires_grad=True)
    p.grad = np.array([0.5, -0.5])
    opt = mg.optim.Adam([p])
    opt.step()
    mg.save(opt, tmp_path / "opt.npz")
    state = mg.load(tmp_path / "opt.npz")
    for key, value in opt.state_dict().items():
        np.testing.assert_array_equal(state[key], value)


def test_a_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled objects, which are refused"):
        mg.load(path)


def test_a_save_that_fails_halfway_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(3.0)}, path)

    def crash(member, array, **options):
        member.write(b"half an array")
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary left behind


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        mg.save({"w": np.zeros(1)}, tmp_path / "missing" / "x.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        mg.load(tmp_path / "nothing.npz")
    with pytest.raises(TypeError, match="numeric array"):
        mg.save({"w": np.array(["text"])}, tmp_path / "x.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        mg.load(tmp_path / "broken.npz")


def test_loading_a_wrong_checkpoint_lists_problems_and_keeps_the_module(tmp_path):
    model = layers.Dense(2, input_size=3)
    before = model.get_weights()
    mg.save({"kernel": np.zeros((4, 2)), "other": np.zeros(1)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match=r"missing 'bias'.*unexpected 'other'.*'kernel' has shape"):
        model.load_state_dict(mg.load(tmp_path / "x.npz"))
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_keys_named_like_savez_arguments_are_kept(tmp_path):
    arrays = {"allow_pickle": np.arange(3.0), "file": np.ones((2, 2)), "args": np.array([1, 2])}
    mg.save(arrays, tmp_path / "odd.npz")
    loaded = mg.load(tmp_path / "odd.npz")
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
