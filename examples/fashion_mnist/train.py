#!/usr/bin/env python3
"""Train four small AlexNet-shaped CNNs on Fashion-MNIST and dump their activations.

A CPU-sized stand-in for the setup of Li et al., *Convergent Learning*, Sec. 2:
four nets with one architecture, trained on the same data in the same order,
differing only in the random initialisation (seeds 1..4). Afterwards the
post-ReLU activations of conv1..conv5, fc6 and fc7 on a fixed slice of the test
set are written with python/convergent_torch.py to nets/net1.npz .. net4.npz,
the input of `convergent compare`.

Regenerate (from the repository root, with Debian's python3):

    /usr/bin/python3 examples/fashion_mnist/train.py

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist);
override with --data-dir. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
from convergent_torch import dump_activations  # noqa: E402

# AlexNet's widths (96, 256, 384, 384, 256, 4096, 4096) scaled down for 28x28
# grey images and a CPU budget: conv layers by 1/3..1/4, fc layers by 1/16.
WIDTHS = {"conv1": 32, "conv2": 64, "conv3": 96, "conv4": 96, "conv5": 64, "fc6": 256, "fc7": 256}
LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
# Module hooked for each layer: its ReLU, so the stored activations are post-ReLU (Sec. 2).
HOOKED_MODULE = {"conv1": "relu1", "conv2": "relu2", "conv3": "relu3", "conv4": "relu4",
                 "conv5": "relu5", "fc6": "relu6", "fc7": "relu7"}
DATA_ORDER_SEED = 0  # one fixed generator for the data order, shared by all nets
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics


class SmallAlexNet(nn.Module):
    """conv1..conv5 + fc6, fc7, fc8 in AlexNet's order, sized for 28x28 inputs.

    Like the paper's nets (Sec. 2) there is no grouped connectivity and the
    local response normalisation follows the pooling. Dropout is left out so
    that the init seed is the only thing that differs between the four nets.
    """

    def __init__(self, widths=WIDTHS, classes=10):
        super().__init__()
        w = widths
        self.conv1 = nn.Conv2d(1, w["conv1"], 5, padding=2)            # 28x28
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)                                      # -> 14x14
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        self.conv2 = nn.Conv2d(w["conv1"], w["conv2"], 3, padding=1)    # 14x14
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)                                      # -> 7x7
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        self.conv3 = nn.Conv2d(w["conv2"], w["conv3"], 3, padding=1)    # 7x7
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(w["conv3"], w["conv4"], 3, padding=1)    # 7x7
        self.relu4 = nn.ReLU()
        self.conv5 = nn.Conv2d(w["conv4"], w["conv5"], 3, padding=1)    # 7x7
        self.relu5 = nn.ReLU()
        self.pool5 = nn.MaxPool2d(2)                                      # -> 3x3
        self.fc6 = nn.Linear(w["conv5"] * 3 * 3, w["fc6"])
        self.relu6 = nn.ReLU()
        self.fc7 = nn.Linear(w["fc6"], w["fc7"])
        self.relu7 = nn.ReLU()
        self.fc8 = nn.Linear(w["fc7"], classes)

    def forward(self, x):
        x = self.norm1(self.pool1(self.relu1(self.conv1(x))))
        x = self.norm2(self.pool2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = torch.flatten(x, 1)
        x = self.relu6(self.fc6(x))
        x = self.relu7(self.fc7(x))
        return self.fc8(x)


def read_idx(path: str) -> np.ndarray:
    """Reads a (gzipped) IDX file: big-endian magic 0x0000 <type> <ndim>, dims, data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - offset != count:
        raise ValueError(f"{path}: {len(raw) - offset} data bytes for shape {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_split(data_dir: str, split: str):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(((images.astype(np.float32) / 255.0 - MEAN) / STD)[:, None])
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def train_one(seed: int, x: torch.Tensor, y: torch.Tensor, args) -> tuple:
    torch.manual_seed(seed)  # the ONLY per-net difference: the initial weights
    model = SmallAlexNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(x) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    # Linear decay to 10% of the initial rate over the run.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 - 0.9 * s / max(1, total_steps))
    order = torch.Generator().manual_seed(DATA_ORDER_SEED)  # same sequence of batches for every net
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=order)
        t0, loss_sum, seen = time.time(), 0.0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss) * len(idx)
            seen += len(idx)
        history.append({"epoch": epoch + 1, "train_loss": round(loss_sum / seen, 5),
                        "seconds": round(time.time() - t0, 2)})
        print(f"  net seed {seed} epoch {epoch + 1}: loss {loss_sum / seen:.4f} ({time.time() - t0:.1f} s)", flush=True)
    return model, history


def conv1_match_sanity(path_a: str, path_b: str) -> dict:
    """Mean over net A's conv1 channels of the best |corr| with a net B channel.

    Between-net correlation (Sec. 2) with images x spatial positions as
    samples; the row-wise max is the semi-matching of Sec. 3.1. Dead
    (constant) channels have no correlation and are left out.
    """
    a = np.load(path_a)["conv1"].astype(np.float64)
    b = np.load(path_b)["conv1"].astype(np.float64)
    ca = a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)
    cb = b.transpose(1, 0, 2, 3).reshape(b.shape[1], -1)
    live_a, live_b = ca.std(1) > 0, cb.std(1) > 0
    corr = np.corrcoef(ca[live_a], cb[live_b])[:live_a.sum(), live_a.sum():]
    within = np.corrcoef(ca[live_a])
    np.fill_diagonal(within, -np.inf)
    return {"between_mean_rowwise_max": round(float(corr.max(1).mean()), 4),
            "between_median_rowwise_max": round(float(np.median(corr.max(1))), 4),
            "within_net_a_mean_rowwise_max_offdiag": round(float(within.max(1).mean()), 4),
            "dead_channels": [int((~live_a).sum()), int((~live_b).sum())],
            "samples": int(ca.shape[1])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out-dir", default=os.path.join(HERE, "nets"))
    p.add_argument("--log", default=os.path.join(HERE, "training_log.json"))
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on the first K training images (0 = all 60000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dump-images", type=int, default=1000, help="first K test images are dumped")
    p.add_argument("--max-positions-per-side", type=int, default=2,
                   help="conv maps are stored on a centred strided grid of at most k x k positions")
    p.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-weights", metavar="DIR", help="also torch.save each net's state_dict to DIR/netK.pt")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    t_start = time.time()
    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "t10k")
    if args.train_subset:
        x_train, y_train = x_train[:args.train_subset], y_train[:args.train_subset]
    print(f"data: {len(x_train)} train, {len(x_test)} test images ({time.time() - t_start:.1f} s)", flush=True)

    os.makedirs(args.out_dir, exist_ok=True)
    dump_x = x_test[:args.dump_images]
    nets, t_train_total = [], 0.0
    for k, seed in enumerate(args.seeds, start=1):
        t0 = time.time()
        model, history = train_one(seed, x_train, y_train, args)
        t_train = time.time() - t0
        t_train_total += t_train
        t1 = time.time()
        if args.save_weights:
            os.makedirs(args.save_weights, exist_ok=True)
            torch.save(model.state_dict(), os.path.join(args.save_weights, f"net{k}.pt"))
        accuracy = evaluate(model, x_test, y_test)
        t_eval = time.time() - t1
        dump_accuracy = evaluate(model, dump_x, y_test[:args.dump_images])
        out = os.path.join(args.out_dir, f"net{k}.npz")
        t2 = time.time()
        layout = dump_activations(model, {name: HOOKED_MODULE[name] for name in LAYERS}, dump_x, out,
                                  dtype=np.dtype(args.dtype), batch_size=250,
                                  max_positions_per_side=args.max_positions_per_side)
        t_dump = time.time() - t2
        print(f"net{k} (seed {seed}): test accuracy {100 * accuracy:.2f}%  train {t_train:.1f} s, "
              f"eval {t_eval:.1f} s, dump {t_dump:.1f} s -> {os.path.relpath(out, REPO)} "
              f"({os.path.getsize(out) / 1e6:.2f} MB)", flush=True)
        nets.append({"net": f"net{k}", "seed": seed, "test_accuracy": round(accuracy, 4),
                     "dump_subset_accuracy": round(dump_accuracy, 4), "history": history,
                     "train_seconds": round(t_train, 1), "dump_seconds": round(t_dump, 1),
                     "file": os.path.relpath(out, HERE), "bytes": os.path.getsize(out)})

    sanity = conv1_match_sanity(os.path.join(args.out_dir, "net1.npz"), os.path.join(args.out_dir, "net2.npz")) \
        if len(args.seeds) >= 2 else None
    shapes = {name: {"stored_shape": list(meta["shape"]), "dtype": meta["dtype"],
                     "map_hw": list(meta["source_hw"]) if meta["source_hw"] else None,
                     "rows": meta["rows"], "cols": meta["cols"], "hooked_module": HOOKED_MODULE[name]}
              for name, meta in layout.items()}
    log = {
        "description": "Four SmallAlexNet nets on Fashion-MNIST differing only in init seed (Li et al. Sec. 2 setup)",
        "command": "/usr/bin/python3 examples/fashion_mnist/train.py " + " ".join(sys.argv[1:]),
        "architecture": {"widths": WIDTHS, "classes": 10, "input": [1, 28, 28],
                         "notes": "conv1 5x5 + pool + LRN, conv2 3x3 + pool + LRN, conv3-5 3x3, pool, "
                                  "fc6, fc7, fc8; ReLU after every layer but fc8; no dropout"},
        "training": {"train_images": len(x_train), "epochs": args.epochs, "batch_size": args.batch_size,
                     "optimizer": "Adam", "lr": args.lr, "lr_schedule": "linear decay to 10%",
                     "data_order_seed": DATA_ORDER_SEED, "init_seeds": args.seeds,
                     "deterministic_algorithms": True, "threads": args.threads},
        "dump": {"images": "first %d images of t10k" % len(dump_x), "dtype": args.dtype,
                 "max_positions_per_side": args.max_positions_per_side, "layers": shapes},
        "nets": nets,
        "conv1_net1_vs_net2": sanity,
        "train_seconds_total": round(t_train_total, 1),
        "wall_seconds_total": round(time.time() - t_start, 1),
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    with open(args.log + ".tmp", "w") as f:
        json.dump(log, f, indent=2)
        f.write("\n")
    os.replace(args.log + ".tmp", args.log)
    print(f"accuracies: {', '.join('%.2f%%' % (100 * n['test_accuracy']) for n in nets)}")
    if sanity:
        print(f"conv1 net1 vs net2: mean row-wise max corr {sanity['between_mean_rowwise_max']} "
              f"(within net1, off-diagonal: {sanity['within_net_a_mean_rowwise_max_offdiag']})")
    print(f"total training {t_train_total:.1f} s, wall {time.time() - t_start:.1f} s; log -> {os.path.relpath(args.log, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
