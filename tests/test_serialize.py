"""Checkpoints: bit-for-bit round trips, no pickles, atomic writes, clear errors."""

import io
import os
import signal
import stat
import subprocess
import sys
import zipfile

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


def test_loading_part_of_a_model_with_strict_false_reports_what_was_left(tmp_path):
    encoder = layers.Sequential([layers.Embedding(5, 3), layers.LSTM(4, input_size=3)])
    model = layers.Sequential(
        [layers.Embedding(5, 3), layers.LSTM(4, input_size=3), layers.Dense(2, input_size=4)]
    )
    encoder_state = {**encoder.state_dict(), "extra": np.zeros(2)}
    dense_before = model.layers[2].get_weights()
    missing, unexpected = model.load_state_dict(encoder_state, strict=False)
    assert missing == ["layers.2.kernel", "layers.2.bias"] and unexpected == ["extra"]
    for name, value in encoder.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    for a, b in zip(dense_before, model.layers[2].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # what the state lacks is left as it was
    assert model.load_state_dict(model.state_dict()) == ([], [])
    with pytest.raises(ValueError, match=r"missing 'layers.2.kernel'"):
        model.load_state_dict(encoder_state)  # strict by default, and nothing changes
    wrong = {**encoder_state, "layers.0.embeddings": np.zeros((6, 3))}
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"'layers.0.embeddings' has shape \(6, 3\), expected \(5, 3\)"):
        model.load_state_dict(wrong, strict=False)  # a wrong shape is an error either way
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="strict must be True or False, got 'no'"):
        model.load_state_dict(encoder_state, strict="no")


def test_keys_named_like_savez_arguments_are_kept(tmp_path):
    arrays = {"allow_pickle": np.arange(3.0), "file": np.ones((2, 2)), "args": np.array([1, 2])}
    mg.save(arrays, tmp_path / "odd.npz")
    loaded = mg.load(tmp_path / "odd.npz")
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)


NASTY_KEYS = [
    "w", "w.npy", "w.npy.npy", "W", "", ".", "..", "../escape", "/absolute", "a/b", "a\\b",
    "nul\x00byte", "100%", "%41", "a%2Fb", "space in name", "é 漢字", "tab\there", "lone \ud800 surrogate",
    "encoder.rnn.kernel",
]  # fmt: skip


def test_any_key_round_trips(tmp_path):
    arrays = {key: np.full((i % 3 + 1,), float(i)) for i, key in enumerate(NASTY_KEYS)}
    mg.save(arrays, tmp_path / "nasty.npz")
    loaded = mg.load(tmp_path / "nasty.npz")
    assert sorted(loaded) == sorted(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=repr(key))
    # a Module's names are stored as they are, so numpy reads them too
    with np.load(tmp_path / "nasty.npz") as archive:
        np.testing.assert_array_equal(archive["encoder.rnn.kernel"], arrays["encoder.rnn.kernel"])


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_checkpoint_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        mg.save({"w": np.zeros(2)}, tmp_path / "new.npz")
        np.save(tmp_path / "numpy.npy", np.zeros(2))  # what numpy gives, for comparison
        assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == mode
        assert stat.S_IMODE((tmp_path / "numpy.npy").stat().st_mode) == mode
        (tmp_path / "new.npz").chmod(0o640)
        mg.save({"w": np.ones(2)}, tmp_path / "new.npz")
        assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o640
    finally:
        os.umask(old)


HANG_MID_SAVE = """
import sys, time
import numpy as np
import minigrad as mg

def write_half(member, array, **options):
    member.write(b"x" * 100_000)
    print("writing", flush=True)
    time.sleep(600)

np.lib.format.write_array = write_half
mg.save({"w": np.zeros(3)}, sys.argv[1])
"""


def _start_hanging_save(path):
    child = subprocess.Popen(
        [sys.executable, "-c", HANG_MID_SAVE, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline() == "writing\n"
    return child


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(3.0)}, path)
    for _ in range(3):
        child = _start_hanging_save(path)
        child.kill()  # SIGKILL: no handler, no finally
        child.wait()
        child.stdout.close()
        # the checkpoint and one abandoned temporary: each save removed the one before it
        leftovers = [p for p in tmp_path.iterdir() if p.name != "ckpt.npz"]
        assert len(leftovers) == 1 and leftovers[0].stat().st_size >= 100_000
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(3.0))  # the old one, whole
    mg.save({"w": np.ones(2)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    np.testing.assert_array_equal(mg.load(path)["w"], np.ones(2))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_a_save_still_running_keeps_its_temporary(tmp_path):
    path = tmp_path / "ckpt.npz"
    child = _start_hanging_save(path)
    try:
        mg.save({"w": np.ones(2)}, path)  # must not delete the live writer's file
        names = sorted(p.name for p in tmp_path.iterdir())
        assert len(names) == 2 and names[0].startswith(".ckpt.npz.") and names[1] == "ckpt.npz"
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    mg.save({"w": np.ones(2)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_a_damaged_or_truncated_file_is_named_with_the_array(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"first": np.arange(3.0), "kernel": np.arange(1000.0)}, path)
    raw = bytearray(path.read_bytes())
    where = raw.find(np.arange(1000.0)[500:501].tobytes())
    raw[where] ^= 0xFF  # one flipped bit pattern inside the data of "kernel"
    (tmp_path / "flipped.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"flipped\.npz'?: the array 'kernel' is damaged or truncated"):
        mg.load(tmp_path / "flipped.npz")

    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:  # a member cut short, zip intact
        archive.writestr("kernel.npy", _npy_bytes(np.arange(4.0))[:-16])
    with pytest.raises(ValueError, match=r"short\.npz'?: the array 'kernel' is damaged or truncated"):
        mg.load(tmp_path / "short.npz")

    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:-40])  # the file cut short
    with pytest.raises(
        ValueError, match=r"cut\.npz' is not a readable \.npz checkpoint: the file is truncated"
    ):
        mg.load(tmp_path / "cut.npz")


def test_tensors_save_as_their_values_and_a_folder_is_not_a_file(tmp_path):
    mg.save({"t": mg.tensor([1.0, 2.0])}, tmp_path / "t.npz")
    np.testing.assert_array_equal(mg.load(tmp_path / "t.npz")["t"], [1.0, 2.0])
    with pytest.raises(IsADirectoryError, match="is a folder"):
        mg.save({"t": np.zeros(1)}, tmp_path)
    with pytest.raises(TypeError, match="under a string name"):
        mg.save({1: np.zeros(1)}, tmp_path / "x.npz")


def test_only_abandoned_temporaries_of_the_same_checkpoint_are_removed(tmp_path):
    earlier = tmp_path / ".ckpt.npz.k2x_9abq.tmp"  # named as earlier versions named them
    others = [
        tmp_path / ".ckpt.npz.x.npz.abc.tmp",
        tmp_path / ".other.npz.abc.tmp",
        tmp_path / "ckpt.npz.tmp",
    ]
    for p in [earlier, *others]:
        p.write_bytes(b"partial")
    mg.save({"w": np.zeros(1)}, tmp_path / "ckpt.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt.npz", *(p.name for p in others)])


def test_an_archive_that_save_cannot_have_written_is_refused_by_name(tmp_path):
    npy = _npy_bytes(np.zeros(2))
    with zipfile.ZipFile(tmp_path / "twice.npz", "w") as archive:
        archive.writestr("a.npy", npy)
        archive.writestr("%61.npy", npy)  # "a" percent-encoded: the same name twice
    with pytest.raises(ValueError, match="holds the array 'a' twice"):
        mg.load(tmp_path / "twice.npz")
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("readme.txt", b"hello")
    with pytest.raises(ValueError, match=r"holds 'readme.txt', which is not an array \(\.npy\)"):
        mg.load(tmp_path / "notes.npz")
