"""Receptive fields stored with the activations (the patches of Figs. 2, 4-6):
convergent.torch.dump_activations writes "<layer>.receptive_field" for the
conv layers it can follow, the stored field of a subsampled grid still
equals a gradient check of the kept positions, and `convergent compare
--images` uses the stored field when --receptive-field does not name the
layer (the patches are then the same as with the option); disagreeing or
malformed stored fields are clear errors."""
import json
from collections import OrderedDict

import numpy as np
import pytest

from conftest import run_cli

torch = pytest.importorskip("torch")
nn = torch.nn

SIDE = 16


def model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 4, 5, padding=2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(4, 4, 3, padding=1, stride=2)), ("relu2", nn.ReLU()),
        ("flat", nn.Flatten()), ("fc", nn.Linear(4 * 4 * 4, 5))]))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((40, 1, SIDE, SIDE)).astype(np.float32)


def dump(ct, tmp, name, images, seed=0, **kw):
    path = tmp / f"{name}.npz"
    info = ct.dump_activations(model(seed), ["relu1", "relu2", "fc"], torch.from_numpy(images), str(path), **kw)
    return path, info


def test_stored_fields_equal_the_chain_and_a_gradient_check(convergent, tmp_path, images):
    import convergent.torch as ct
    path, info = dump(ct, tmp_path, "a", images, max_positions_per_side=3)
    with np.load(path) as z:
        members = set(z.files)
        stored = {k[: -len(".receptive_field")]: tuple(int(v) for v in z[k]) for k in z.files
                  if k.endswith(".receptive_field")}
        assert z["relu2.receptive_field"].dtype == np.float64
    # Conv layers get a field, the dense one none.
    assert members == {"relu1", "relu2", "fc", "relu1.receptive_field", "relu2.receptive_field"}
    chain = ct.receptive_fields(model(0))
    for layer in ("relu1", "relu2"):
        h, w = info[layer]["source_hw"]
        assert stored[layer] == ct.subsampled_field(chain[layer], h, w, max_positions_per_side=3)
        assert info[layer]["receptive_field"] == stored[layer]
    assert info["fc"]["receptive_field"] is None
    # The stored field of the subsampled grid, checked by the gradient of a
    # kept position: its nonzero input pixels are the crop the field gives.
    m = model(0)
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.constant_(mod.weight, 1.0), nn.init.constant_(mod.bias, 1.0)
    m.pool1 = nn.AvgPool2d(2)  # every input of the window gets gradient
    rows = info["relu2"]["rows"]
    size, stride, padding = stored["relu2"]
    assert len(rows) == 2  # a 4 x 4 map, at most 3 per side: rows 0 and 2
    for i, j in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        x = torch.ones(1, 1, SIDE, SIDE, requires_grad=True)
        out = m[:5](x)  # up to relu2
        out[0, 0, rows[i], rows[j]].backward()
        g = x.grad[0, 0].abs().numpy()
        r, c = np.nonzero(g.sum(axis=1))[0], np.nonzero(g.sum(axis=0))[0]
        top, left = i * stride - padding, j * stride - padding
        assert (r.min(), r.max()) == (max(0, top), min(SIDE - 1, top + size - 1))
        assert (c.min(), c.max()) == (max(0, left), min(SIDE - 1, left + size - 1))


def test_dump_without_fields_and_directory_output(convergent, tmp_path, images):
    import convergent.torch as ct
    path, info = dump(ct, tmp_path, "plain", images, store_receptive_fields=False)
    with np.load(path) as z:
        assert set(z.files) == {"relu1", "relu2", "fc"}
    d = tmp_path / "dir_net"
    ct.dump_activations(model(0), ["relu1", "fc"], torch.from_numpy(images), str(d))
    assert sorted(p.name for p in d.iterdir()) == ["fc.npy", "relu1.npy", "relu1.receptive_field.npy"]
    assert tuple(np.load(d / "relu1.receptive_field.npy")) == ct.receptive_fields(model(0))["relu1"]


def compare(tmp, nets, images_path, *extra, check=True):
    compare.runs = getattr(compare, "runs", 0) + 1
    out = tmp / f"out{compare.runs}"
    proc = run_cli("compare", *nets, "--out", out, "--overwrite", "--images", images_path, "--no-mi",
                   "--no-sparse", "--no-clusters", "--no-similarity-indices", *extra, check=check)
    return proc, out


def test_compare_uses_the_stored_field(convergent, tmp_path, images):
    import convergent.torch as ct
    a, _ = dump(ct, tmp_path, "a", images, seed=0)
    b, _ = dump(ct, tmp_path, "b", images, seed=1)
    images_path = tmp_path / "images.npy"
    np.save(images_path, images)
    chain = ct.receptive_fields(model(0))
    _, out = compare(tmp_path, [a, b], images_path)
    top = json.loads((out / "summary.json").read_text())["layers"]["relu2"]["top_patches"]
    size, stride, padding = chain["relu2"]
    assert top["receptive_field"] == {"size": size, "stride": stride, "padding": padding}
    assert top["receptive_field_origin"] == "activation files"
    assert top["patch"]["height"] == size
    stored_png = (out / "relu2" / "a.patches.png").read_bytes()
    fc = json.loads((out / "summary.json").read_text())["layers"]["fc"]["top_patches"]
    assert fc["receptive_field"] is None and fc["receptive_field_origin"] is None
    # The same patches as with the field given explicitly.
    _, out = compare(tmp_path, [a, b], images_path, "--receptive-field", ct.receptive_field_option(chain))
    top = json.loads((out / "summary.json").read_text())["layers"]["relu2"]["top_patches"]
    assert top["receptive_field_origin"] == "option"
    assert (out / "relu2" / "a.patches.png").read_bytes() == stored_png
    # An explicit field wins over the stored one.
    _, out = compare(tmp_path, [a, b], images_path, "--receptive-field", "relu2=3,1,1")
    top = json.loads((out / "summary.json").read_text())["layers"]["relu2"]["top_patches"]
    assert top["receptive_field"]["size"] == 3 and top["receptive_field_origin"] == "option"
    assert top["patch"]["height"] == 3


def rewrite(src, dst, **changes):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(dst, **arrays)
    return dst


def test_disagreeing_and_malformed_fields_are_errors(convergent, tmp_path, images):
    import convergent.torch as ct
    a, _ = dump(ct, tmp_path, "a", images, seed=0)
    b, _ = dump(ct, tmp_path, "b", images, seed=1)
    images_path = tmp_path / "images.npy"
    np.save(images_path, images)
    other = rewrite(b, tmp_path / "other.npz", relu2__receptive_field=np.array([7.0, 2.0, 1.0]))
    proc, out = compare(tmp_path, [a, other], images_path, check=False)
    assert proc.returncode != 0 and not out.exists()
    assert "layer 'relu2'" in proc.stderr and "other.npz" in proc.stderr and "7,2,1" in proc.stderr
    assert "--receptive-field" in proc.stderr
    # The option settles a disagreement.
    proc, out = compare(tmp_path, [a, other], images_path, "--receptive-field", "relu2=7,2,1")
    assert json.loads((out / "summary.json").read_text())["layers"]["relu2"]["top_patches"]["receptive_field"][
        "size"] == 7
    for bad, message in [(np.array([5.0, 1.0]), "3 values"), (np.array([5.5, 1.0, 0.0]), "not an integer"),
                         (np.array([0.0, 1.0, 0.0]), "size >= 1")]:
        broken = rewrite(b, tmp_path / "broken.npz", relu2__receptive_field=bad)
        proc, out = compare(tmp_path, [a, broken], images_path, check=False)
        assert proc.returncode != 0 and not out.exists(), message
        assert "broken.npz" in proc.stderr and "relu2.receptive_field" in proc.stderr and message in proc.stderr
    orphan = rewrite(b, tmp_path / "orphan.npz", conv9__receptive_field=np.array([3.0, 1.0, 1.0]))
    proc, out = compare(tmp_path, [a, orphan], images_path, check=False)
    assert proc.returncode != 0 and "conv9" in proc.stderr and "does not have" in proc.stderr


def test_bundled_example_stores_its_fields(convergent, tmp_path):
    """The bundled nets carry the fields receptive_fields.txt lists, and
    compare --images uses them without the option."""
    from conftest import SOURCE_DIR
    example = SOURCE_DIR / "examples" / "fashion_mnist"
    items = (example / "receptive_fields.txt").read_text().strip().split(",")
    listed = {}
    for i in range(0, len(items), 3):
        name, size = items[i].split("=")
        listed[name] = {"size": int(size), "stride": int(items[i + 1]), "padding": int(items[i + 2])}
    out = tmp_path / "fm"
    run_cli("compare", example / "nets" / "net1.npz", example / "nets" / "net2.npz", "--out", out,
            "--images", example / "images.npy", "--layers", "conv1,conv3", "--no-mi", "--no-sparse",
            "--no-clusters", "--no-similarity-indices")
    layers = json.loads((out / "summary.json").read_text())["layers"]
    for layer in ("conv1", "conv3"):
        top = layers[layer]["top_patches"]
        assert top["receptive_field"] == listed[layer] and top["receptive_field_origin"] == "activation files"
        assert top["patch"]["height"] == listed[layer]["size"]
