"""Tests of python/convergent_torch.py (the PyTorch activation dumper).

Run: /usr/bin/python3 -m pytest -q tests/python/test_torch_helper.py
The oracle is a direct forward pass through the same modules, step by step.
"""

import math
import os
import sys
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

SOURCE_DIR = os.environ.get("CONVERGENT_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))
import convergent_torch as ct  # noqa: E402

torch.set_num_threads(1)

LAYERS = ["relu1", "relu2", "relu3"]


class TinyNet(nn.Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)   # 9x7
        self.relu1 = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(4, 5, 3, stride=2)    # 4x3
        self.relu2 = nn.ReLU(inplace=inplace)
        self.fc = nn.Linear(5 * 4 * 3, 6)
        self.relu3 = nn.ReLU(inplace=inplace)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        x = self.relu3(self.fc(torch.flatten(x, 1)))
        return self.out(x)


def reference(model, x):
    """The activations, computed without hooks, in float64 numpy."""
    with torch.no_grad():
        a1 = torch.relu(model.conv1(x))
        a2 = torch.relu(model.conv2(a1))
        a3 = torch.relu(model.fc(torch.flatten(a2, 1)))
    return {"relu1": a1.double().numpy(), "relu2": a2.double().numpy(), "relu3": a3.double().numpy()}


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = TinyNet()
    m.train()  # the dump must switch to eval and back
    return m


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(11, 3, 9, 7, generator=g)


def load_dir(path):
    return {f[:-4]: np.load(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".npy")}


def load_npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_directory_output_equals_forward_pass(model, inputs, tmp_path):
    out = tmp_path / "net_a"
    info = ct.dump_activations(model, LAYERS, inputs, str(out), batch_size=4)  # 11 = 4 + 4 + 3
    got = load_dir(str(out))
    ref = reference(model, inputs)
    # The conv layers' receptive fields are stored beside them (dense layers have none).
    assert sorted(got) == sorted(LAYERS + ["relu1.receptive_field", "relu2.receptive_field"])
    assert tuple(got["relu1.receptive_field"]) == info["relu1"]["receptive_field"] == ct.receptive_fields(model)["relu1"]
    assert got["relu1"].shape == (11, 4, 9, 7) and got["relu2"].shape == (11, 5, 4, 3)
    assert got["relu3"].shape == (11, 6)
    for name in LAYERS:
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-5, atol=1e-6)
        assert tuple(info[name]["shape"]) == got[name].shape
    assert (got["relu1"] == 0).any() and (got["relu1"] > 0).any()  # rectified, not trivial
    assert info["relu1"]["source_hw"] == (9, 7) and info["relu3"]["source_hw"] is None
    assert model.training, "train/eval mode must be restored"
    assert all(not m._forward_hooks for m in model.modules()), "hooks must be removed"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")], "temporary files left behind"


def test_npz_output_with_dict_layers_and_stride(model, inputs, tmp_path):
    out = tmp_path / "net_b.npz"
    layers = {"conv1": "relu1", "conv2": model.relu2, "fc6": "relu3"}
    info = ct.dump_activations(model, layers, inputs, str(out), batch_size=5, spatial_stride=2)
    got = load_npz(str(out))
    ref = reference(model, inputs)
    assert sorted(got) == ["conv1", "conv1.receptive_field", "conv2", "conv2.receptive_field", "fc6"]
    # On the stride-2 grid the field's stride doubles (subsampled_field).
    size, stride, padding = ct.receptive_fields(model)["relu1"]
    assert tuple(got["conv1.receptive_field"]) == (size, 2 * stride, padding)
    assert got["conv1"].shape == (11, 4, 5, 4)
    np.testing.assert_allclose(got["conv1"], ref["relu1"][:, :, ::2, ::2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["conv2"], ref["relu2"][:, :, ::2, ::2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["fc6"], ref["relu3"], rtol=1e-5, atol=1e-6)  # dense: never subsampled
    assert info["conv1"]["rows"] == [0, 2, 4, 6, 8] and info["conv1"]["cols"] == [0, 2, 4, 6]
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["conv1.npy", "conv1.receptive_field.npy", "conv2.npy",
                                         "conv2.receptive_field.npy", "fc6.npy"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())


def test_max_positions_per_side_is_a_centred_strided_slice(model, inputs, tmp_path):
    out = tmp_path / "net_c.npz"
    ct.dump_activations(model, LAYERS, inputs, str(out), max_positions_per_side=2, compress=False)
    got = load_npz(str(out))
    ref = reference(model, inputs)
    # relu1 is 9x7: stride ceil(9/2)=5 starting at (8 % 5)//2 = 1 -> rows 1, 6;
    # stride ceil(7/2)=4 starting at (6 % 4)//2 = 1 -> cols 1, 5.
    np.testing.assert_allclose(got["relu1"], ref["relu1"][:, :, 1::5, 1::4], rtol=1e-5, atol=1e-6)
    assert got["relu1"].shape == (11, 4, 2, 2)
    # relu2 is 4x3: rows stride 2 from (3 % 2)//2 = 0 -> 0, 2; cols stride 2 from 0 -> 0, 2.
    np.testing.assert_allclose(got["relu2"], ref["relu2"][:, :, 0::2, 0::2], rtol=1e-5, atol=1e-6)
    for length in range(1, 60):
        for k in range(1, 9):
            kept = list(range(length))[ct.spatial_grid(length, 1, max_positions_per_side=k)[0]]
            stride = math.ceil(length / k)
            assert 1 <= len(kept) <= k
            assert len(kept) == length if length <= k else len(kept) >= min(k, 2)
            assert np.all(np.diff(kept) == stride)
            assert 0 <= (length - 1 - kept[-1]) - kept[0] <= 1, "grid is centred"


def test_explicit_positions(model, inputs, tmp_path):
    out = tmp_path / "net_d"
    ct.dump_activations(model, ["relu1", "relu3"], inputs, str(out),
                        positions={"relu1": ([0, 4, 8], slice(1, None, 3))})
    got = load_dir(str(out))
    ref = reference(model, inputs)
    np.testing.assert_allclose(got["relu1"], ref["relu1"][:, :, [0, 4, 8]][:, :, :, 1::3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ct.ActivationDumpError, match="out of range"):
        ct.dump_activations(model, ["relu1"], inputs, str(tmp_path / "bad"), positions=([0, 9], [0]))


def test_float16_storage(model, inputs, tmp_path):
    out = tmp_path / "net_e.npz"
    ct.dump_activations(model, LAYERS, inputs, str(out), dtype=np.float16, spatial_stride=(3, 2))
    got = load_npz(str(out))
    ref = reference(model, inputs)
    assert got["relu1"].dtype == np.float16 and got["relu3"].dtype == np.float16
    with zipfile.ZipFile(out) as zf, zf.open("relu1.npy") as f:
        assert b"'descr': '<f2'" in f.read(256)
    np.testing.assert_allclose(got["relu1"].astype(np.float64), ref["relu1"][:, :, ::3, ::2], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got["relu3"].astype(np.float64), ref["relu3"], rtol=1e-3, atol=1e-4)


def test_dataloader_input_matches_tensor_input(model, inputs, tmp_path):
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(inputs, torch.zeros(len(inputs))), batch_size=3, shuffle=False)
    ct.dump_activations(model, LAYERS, loader, str(tmp_path / "a.npz"))
    ct.dump_activations(model, LAYERS, inputs.numpy(), str(tmp_path / "b.npz"), batch_size=7)
    a, b = load_npz(str(tmp_path / "a.npz")), load_npz(str(tmp_path / "b.npz"))
    for name in LAYERS:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_hook_sees_output_before_a_later_inplace_op(inputs, tmp_path):
    torch.manual_seed(0)
    m = TinyNet(inplace=True)
    ct.dump_activations(m, ["conv1", "relu1"], inputs, str(tmp_path / "n.npz"))
    got = load_npz(str(tmp_path / "n.npz"))
    assert (got["conv1"] < 0).any(), "conv1 output must be captured before the in-place ReLU"
    np.testing.assert_allclose(np.maximum(got["conv1"], 0), got["relu1"], rtol=1e-6, atol=1e-7)


def test_overwrite_rules(model, inputs, tmp_path):
    out = tmp_path / "net"
    out.mkdir()
    (out / "stale.npy").write_bytes(b"x")
    ct.dump_activations(model, ["relu3"], inputs, str(out))
    assert sorted(os.listdir(out)) == ["relu3.npy"], "a directory of .npy files is replaced as a whole"
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ct.ActivationDumpError, match="refusing"):
        ct.dump_activations(model, ["relu3"], inputs, str(out))
    assert (out / "notes.txt").exists()
    npz = tmp_path / "x.npz"
    npz.write_bytes(b"old")
    ct.dump_activations(model, ["relu3"], inputs, str(npz))
    assert load_npz(str(npz))["relu3"].shape == (11, 6)


def test_unknown_layer_is_a_clear_error(model, inputs, tmp_path):
    with pytest.raises(ct.ActivationDumpError, match=r"'conv9' is not a module of TinyNet.*'conv1'"):
        ct.dump_activations(model, ["relu1", "conv9"], inputs, str(tmp_path / "n.npz"))
    with pytest.raises(ct.ActivationDumpError, match="not part of the model"):
        ct.dump_activations(model, {"x": nn.ReLU()}, inputs, str(tmp_path / "n.npz"))
    assert not os.listdir(tmp_path)


def test_output_that_is_not_2d_or_4d_is_a_clear_error(inputs, tmp_path):
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)
            self.flat = nn.Flatten(2)  # (N, C, H*W): 3-D

        def forward(self, x):
            return self.flat(self.conv(x)).mean(2)

    with pytest.raises(ct.ActivationDumpError, match=r"'flat'.*\(11, 2, 63\).*2-D.*4-D"):
        ct.dump_activations(Seq(), ["conv", "flat"], inputs, str(tmp_path / "n.npz"), batch_size=100)
    assert not os.listdir(tmp_path), "a failed dump must leave nothing behind"


def test_module_used_twice_and_unused_module_are_errors(inputs, tmp_path):
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.relu = nn.ReLU()
            self.unused = nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(self.relu(x)))

    with pytest.raises(ct.ActivationDumpError, match="more than once"):
        ct.dump_activations(Twice(), ["relu"], inputs, str(tmp_path / "n.npz"))
    with pytest.raises(ct.ActivationDumpError, match="no output"):
        ct.dump_activations(Twice(), ["conv", "unused"], inputs, str(tmp_path / "n.npz"))


def test_float16_overflow_and_bad_options(model, inputs, tmp_path):
    with pytest.raises(ct.ActivationDumpError, match="float16"):
        ct.dump_activations(model, ["relu1"], inputs * 1e6, str(tmp_path / "n.npz"), dtype=np.float16)
    with pytest.raises(ct.ActivationDumpError, match="dtype"):
        ct.dump_activations(model, ["relu1"], inputs, str(tmp_path / "n.npz"), dtype=np.int32)
    with pytest.raises(ct.ActivationDumpError, match="at most one"):
        ct.dump_activations(model, ["relu1"], inputs, str(tmp_path / "n.npz"), spatial_stride=2,
                            max_positions_per_side=3)
    with pytest.raises(ValueError, match="spatial_stride"):
        ct.dump_activations(model, ["relu1"], inputs, str(tmp_path / "n.npz"), spatial_stride=0)
    with pytest.raises(ct.ActivationDumpError, match="empty"):
        ct.dump_activations(model, ["relu1"], inputs[:0], str(tmp_path / "n.npz"))
    assert not os.listdir(tmp_path)


def test_command_line(model, inputs, tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny_factory_mod.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_torch_helper import TinyNet\n"
        "def make():\n    return TinyNet()\n" % os.path.dirname(os.path.abspath(__file__)))
    torch.save(model.state_dict(), str(tmp_path / "w.pt"))
    np.save(str(tmp_path / "x.npy"), inputs.numpy())
    monkeypatch.chdir(tmp_path)
    args = ["--model", "tiny_factory_mod:make", "--state-dict", "w.pt", "--inputs", "x.npy",
            "--out", "cli.npz", "--dtype", "float16", "--spatial-stride", "2", "--threads", "1"]
    assert ct._main(args + ["--layers", "conv1=relu1", "fc6=relu3"]) == 0
    got = load_npz(str(tmp_path / "cli.npz"))
    ref = reference(model, inputs)
    np.testing.assert_allclose(got["conv1"].astype(np.float64), ref["relu1"][:, :, ::2, ::2], rtol=1e-3, atol=1e-4)
    assert got["fc6"].shape == (11, 6)
    assert ct._main(args + ["--layers", "nope"]) == 1
    assert "'nope' is not a module" in capsys.readouterr().err
