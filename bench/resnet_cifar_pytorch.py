"""ResNet for CIFAR in PyTorch, as slimnet's zoo builds it
(src/models/resnet_cifar.ts), shared by the PyTorch sides of the benchmarks
(bench/resnet20_pytorch.py, bench/distill_pytorch.py,
bench/explain_pytorch.py), plus the safetensors reader and state-dict
loading they use. The scripts run as `/usr/bin/python3 bench/<script>.py`,
so this folder is on sys.path and they import it by its module name.

The architecture: conv1 3x3 in_channels->16 (no bias) + bn1 + relu; three
stages (layer1..layer3) of n basic blocks with 16, 32, 64 maps, the first
block of layer2 and layer3 with stride 2; a basic block is conv1 3x3
(stride) + bn1 + relu, conv2 3x3 + bn2, plus the shortcut, then relu; the
shortcut is the identity, or where the resolution or width changes a
projection (option B: downsample.0 = 1x1 conv with the stride, no bias,
downsample.1 = BN); global average pool; fc 64->classes with bias. Module
names follow torchvision, so state_dict keys equal slimnet's tensor keys
(less BN's num_batches_tracked, which slimnet does not keep).

`width` scales every layer's channel count as slimnet's widthMultiplier
(src/models/registry.ts scaled(): Math.max(1, Math.round(c * w))); at
width 1 every count is unchanged.
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled(c, w):
    # slimnet: Math.max(1, Math.round(c * w)): round half up (Python's round() is
    # half-even). floor(x + 0.5) equals Math.round(x) for every x >= 0.5; below
    # that both give at most 1, so with the max(1, ...) the counts always agree.
    return max(1, int(math.floor(c * w + 0.5)))


def conv_bn(cin, cout, k, stride):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=False), nn.BatchNorm2d(cout)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, planes, 3, stride)
        self.conv2, self.bn2 = conv_bn(planes, planes, 3, 1)
        self.downsample = nn.Sequential(*conv_bn(cin, planes, 1, stride)) if stride != 1 or cin != planes else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = self.downsample(x) if self.downsample is not None else x
        return F.relu(y + s)


class ResNetCifar(nn.Module):
    def __init__(self, n=3, classes=10, in_channels=3, width=1.0):
        super().__init__()
        cin = scaled(16, width)
        self.conv1, self.bn1 = conv_bn(in_channels, cin, 3, 1)
        for stage, planes in enumerate([16, 32, 64]):
            planes = scaled(planes, width)
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, planes, 2 if i == 0 and stage > 0 else 1))
                cin = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = x.mean((2, 3))  # slimnet global_avgpool: mean over H, W
        return self.fc(x)


ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """Reads a safetensors file by the format's definition (no extra package needed)."""
    with open(path, "rb") as f:
        buf = f.read()
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8:8 + n])
    data = memoryview(buf)[8 + n:]
    out = {}
    for k, e in header.items():
        if k == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=ST_DTYPES[e["dtype"]]).reshape(e["shape"]).copy())
    return out


def load_weights(model, state, name=None):
    """Loads slimnet's tensors (state_dict keys without num_batches_tracked) into
    model; any other missing or unexpected key ends the script."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        what = f"{name} state dict" if name else "state dict"
        raise SystemExit(f"{what} mismatch: missing {missing}, unexpected {unexpected}")
