#!/usr/bin/python3
"""PyTorch side of bench/train_epoch.ts: one epoch of the seed-003 LeNet on
Fashion-MNIST with torch.utils.data.DataLoader (TensorDataset, shuffle,
batch 100, no augmentation), Adam, then the test-set evaluation. Reading the
IDX files is not timed. Prints one JSON line:
{"train_s": ..., "eval_s": ..., "test_acc": ..., "train_samples": N}
"""
import argparse
import gzip
import json
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = [struct.unpack(">I", data[4 + 4 * i:8 + 4 * i])[0] for i in range(magic & 0xFF)]
    return torch.frombuffer(bytearray(data[4 + 4 * len(dims):]), dtype=torch.uint8).reshape(dims)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{ROOT}/{prefix}-images-idx3-ubyte.gz").float().div_(255).unsqueeze(1)
    y = read_idx(f"{ROOT}/{prefix}-labels-idx1-ubyte.gz").long()
    return x, y


def stratified_fraction(y, f, seed):
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in range(10):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        keep.append(idx[: round(len(idx) * f)])
    return torch.cat(keep).sort().values


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding="same")
        self.conv2 = nn.Conv2d(32, 64, 5, padding="same")
        self.fc1 = nn.Linear(3136, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load("train")
    xte, yte = load("test")
    if a.fraction < 1:
        i = stratified_fraction(ytr, a.fraction, a.seed)
        xtr, ytr = xtr[i], ytr[i]
        j = stratified_fraction(yte, a.fraction, a.seed)
        xte, yte = xte[j], yte[j]
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=a.batch, shuffle=True)
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xte, yte), batch_size=500)
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    t0 = time.perf_counter()
    model.train()
    for x, y in train:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    t1 = time.perf_counter()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in test:
            correct += (model(x).argmax(1) == y).sum().item()
    t2 = time.perf_counter()
    print(json.dumps({"train_s": t1 - t0, "eval_s": t2 - t1, "test_acc": correct / len(yte), "train_samples": len(ytr)}))


if __name__ == "__main__":
    main()
