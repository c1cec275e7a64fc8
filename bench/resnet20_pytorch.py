#!/usr/bin/python3
"""PyTorch side of bench/resnet20.ts: trains ResNet-20 for CIFAR with the same
architecture as slimnet's zoo model (src/models/resnet_cifar.ts) and the same
settings, and reports its own throughput for the timed steps only
(interpreter start-up, imports, model creation and warm-up are excluded).

    /usr/bin/python3 bench/resnet20_pytorch.py --threads 2 --warmup 2 --steps 5

The model is ResNetCifar from bench/resnet_cifar_pytorch.py (shared with the
other PyTorch sides; n = 3, width 1): slimnet's architecture with
torchvision's module names, so state_dict keys equal slimnet's tensor keys
(less BN's num_batches_tracked, which slimnet does not keep).

Modes:
  default         time training steps; one JSON line on stdout:
                  {"img_s", "step_ms", "cpu_ms_per_step", "user_ms_per_step", "sys_ms_per_step",
                   "minor_faults_per_step", "parts_ms": {...}, "threads", "torch", "params"}
  --describe      print {"params": N, "tensors": {key: shape}} and exit (no timing)
  --check FILE    load FILE (safetensors written by bench/resnet20.ts: the
                  slimnet model's tensors plus 'input' and 'output' = slimnet's
                  eval-mode forward of 'input'), run the same forward here and
                  print {"max_abs_diff": ..., "max_abs_output": ...}
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

from resnet_cifar_pytorch import ResNetCifar, load_weights, read_safetensors


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--batches", type=int, default=2, help="distinct random batches, cycled")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--describe", action="store_true")
    ap.add_argument("--check", default=None)
    return ap.parse_args()


def tensor_shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def check(model, path):
    t = read_safetensors(path)
    x, expected = t.pop("input"), t.pop("output")
    load_weights(model, t)
    model.eval()
    with torch.no_grad():
        y = model(x)
    return {"max_abs_diff": float((y - expected).abs().max()), "max_abs_output": float(expected.abs().max())}


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = ResNetCifar(classes=a.classes)
    params = sum(p.numel() for p in model.parameters())
    if a.describe:
        print(json.dumps({"params": params, "tensors": tensor_shapes(model)}))
        return
    if a.check:
        print(json.dumps(check(model, a.check)))
        return

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    data = [(torch.randn(a.batch, 3, 32, 32), torch.randint(0, a.classes, (a.batch,))) for _ in range(a.batches)]
    parts = {"zero_grad": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def step(i, timed):
        x, y = data[i % len(data)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if not torch.isfinite(loss):
            raise SystemExit(f"loss became {loss.item()} at step {i}")
        if timed:
            parts["zero_grad"] += t1 - t0
            parts["forward"] += t2 - t1
            parts["backward"] += t3 - t2
            parts["optimizer"] += t4 - t3

    for i in range(a.warmup):
        step(i, False)
    t0 = time.perf_counter()
    c0 = os.times()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(a.steps):
        step(a.warmup + i, True)
    elapsed = time.perf_counter() - t0
    c1 = os.times()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    user, system = c1.user - c0.user, c1.system - c0.system
    cpu = user + system
    img_s = a.steps * a.batch / elapsed
    result = {
        "img_s": img_s,
        "step_ms": elapsed / a.steps * 1e3,
        "cpu_ms_per_step": cpu / a.steps * 1e3,
        "user_ms_per_step": user / a.steps * 1e3,
        "sys_ms_per_step": system / a.steps * 1e3,
        "minor_faults_per_step": faults / a.steps,
        "parts_ms": {k: v / a.steps * 1e3 for k, v in parts.items()},
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "params": params,
    }
    print(f"pytorch {torch.__version__}: {img_s:.1f} images/s ({result['step_ms']:.1f} ms/step, "
          f"{torch.get_num_threads()} threads)", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
