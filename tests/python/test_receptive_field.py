"""convergent.torch.receptive_fields against a gradient check: the input
pixels whose gradient is nonzero for one output position of a layer are
exactly the receptive-field crop [y*stride - padding, y*stride - padding +
size) clipped to the image (weights set to 1 so no gradient cancels)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def small_model():
    return nn.Sequential()  # replaced below


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1, stride=2)
        self.pool2 = nn.AvgPool2d(3, stride=1, padding=1)
        self.conv3 = nn.Conv2d(2, 2, 3, dilation=2)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        outs = {}
        x = self.conv1(x); outs["conv1"] = x
        x = self.pool1(self.relu1(x)); outs["pool1"] = x
        x = self.conv2(x); outs["conv2"] = x
        x = self.pool2(x); outs["pool2"] = x
        x = self.conv3(x); outs["conv3"] = x
        return outs


def gradient_extent(model, layer, y, x, size=40):
    inp = torch.zeros(1, 1, size, size, requires_grad=True)
    # Distinct positive inputs: max-pool picks a unique winner, so use avg-like check via ones instead
    out = model(inp + 1.0)[layer]
    out[0, 0, y, x].backward()
    g = inp.grad[0, 0].abs().numpy()
    rows = np.nonzero(g.sum(axis=1))[0]
    cols = np.nonzero(g.sum(axis=0))[0]
    return rows.min(), rows.max(), cols.min(), cols.max()


@pytest.mark.parametrize("layer,y,x", [("conv1", 3, 7), ("conv1", 0, 0), ("conv2", 2, 3), ("conv2", 0, 0),
                                       ("pool2", 4, 1), ("conv3", 1, 2)])
def test_receptive_field_equals_gradient_extent(convergent, layer, y, x):
    import convergent.torch as ct
    torch.manual_seed(0)
    model = Chain()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, 0.0)
    # Max-pool passes gradient to one input of each window: replace it by the
    # window's full extent with an average pool of the same geometry for the check.
    model.pool1 = nn.AvgPool2d(2)
    fields = ct.receptive_fields(Chain())
    size, stride, padding = fields[layer]
    size_img = 40
    top, left = y * stride - padding, x * stride - padding
    expected = (max(0, top), min(size_img - 1, top + size - 1), max(0, left), min(size_img - 1, left + size - 1))
    assert gradient_extent(model, layer, y, x, size_img) == expected


def test_fields_of_the_chain(convergent):
    import convergent.torch as ct
    f = ct.receptive_fields(Chain())
    assert f["conv1"] == (5, 1, 2)
    assert f["pool1"] == (6, 2, 2)
    assert f["conv2"] == (10, 4, 4)
    assert "fc" not in f
    assert ct.receptive_field_option({"conv1": f["conv1"], "conv2": f["conv2"]}) == "conv1=5,1,2,conv2=10,4,4"


def test_fashion_mnist_fields(convergent):
    import importlib.util
    from conftest import SOURCE_DIR
    import convergent.torch as ct
    spec = importlib.util.spec_from_file_location("fm_train", SOURCE_DIR / "examples" / "fashion_mnist" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f = ct.receptive_fields(module.SmallAlexNet(), ["conv1", "conv2", "conv3", "conv4", "conv5"])
    assert f == {"conv1": (5, 1, 2), "conv2": (10, 2, 4), "conv3": (20, 4, 8), "conv4": (28, 4, 12),
                 "conv5": (36, 4, 16)}


def test_subsampled_field_of_the_fashion_mnist_grid(convergent):
    import convergent.torch as ct
    # conv1: a 28 x 28 map kept on a 2 x 2 grid (max_positions_per_side=2): rows 6 and 20.
    assert ct.subsampled_field((5, 1, 2), 28, 28, max_positions_per_side=2) == (5, 14, -4)
    # kept position 1 is map row 20, whose crop starts at 20 - 2 = 18 = 1 * 14 - (-4)
    assert ct.subsampled_field((10, 2, 4), 14, 14, max_positions_per_side=2) == (10, 14, -2)
