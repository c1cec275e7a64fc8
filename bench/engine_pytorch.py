#!/usr/bin/python3
"""PyTorch side of bench/engine.ts: trains the same LeNet variant with the
same settings and reports its own throughput for the timed steps only
(interpreter start-up, imports, model creation and warm-up are excluded).

    /usr/bin/python3 bench/engine_pytorch.py --threads 2 --warmup 5 --steps 20

Prints human-readable figures on stderr and one JSON line on stdout:
{"img_s": ..., "step_ms": ..., "cpu_ms_per_step": ..., "parts_ms": {"zero_grad": ..., "forward": ...,
"backward": ..., "optimizer": ...}, "threads": N, "torch": "..."}

The network is written with torch.nn.functional over explicit parameter
tensors, exactly as the slimnet side is, and initialised like torch.nn's
default (kaiming_uniform with a=sqrt(5), bias U(-1/sqrt(fan_in), +)).
Gradients are cleared with zero_grad(set_to_none=True), which is what
slimnet's Optimizer.zeroGrad() does (PyTorch 1.13's default is False).
"""
import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--batches", type=int, default=4, help="distinct random batches, cycled")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--foreach", action="store_true", help="Adam(foreach=True): multi-tensor kernels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-steps", type=int, default=0,
                    help="instead of timing: run this many steps and report RSS after warm-up and at the end")
    return ap.parse_args()


def param(shape, fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound).requires_grad_(True)


def make_params():
    return [
        param((32, 1, 5, 5), 25), param((32,), 25),
        param((64, 32, 5, 5), 800), param((64,), 800),
        param((1024, 3136), 3136), param((1024,), 3136),
        param((10, 1024), 1024), param((10,), 1024),
    ]


def forward(p, x):
    h = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p[2], p[3], padding=2)), 2)
    h = F.relu(F.linear(h.flatten(1), p[4], p[5]))
    return F.linear(h, p[6], p[7])


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    params = make_params()
    opt = torch.optim.Adam(params, lr=a.lr, foreach=a.foreach)
    data = [(torch.randn(a.batch, 1, 28, 28), torch.randint(0, 10, (a.batch,))) for _ in range(a.batches)]
    parts = {"zero_grad": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def step(i, timed):
        x, y = data[i % len(data)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        loss = F.cross_entropy(forward(params, x), y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if timed:
            parts["zero_grad"] += t1 - t0
            parts["forward"] += t2 - t1
            parts["backward"] += t3 - t2
            parts["optimizer"] += t4 - t3

    if a.memory_steps:
        warm = min(100, a.memory_steps)
        for i in range(warm):
            step(i, False)
        rss_warm = rss_mb()
        peak = rss_warm
        for i in range(warm, a.memory_steps):
            step(i, False)
            if i % 50 == 0:
                peak = max(peak, rss_mb())
        rss_end = rss_mb()
        print(json.dumps({"steps": a.memory_steps, "rss_warm_mb": round(rss_warm, 1), "rss_end_mb": round(rss_end, 1),
                          "rss_peak_sampled_mb": round(max(peak, rss_end), 1),
                          "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
        return

    for i in range(a.warmup):
        step(i, False)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(a.steps):
        step(a.warmup + i, True)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    img_s = a.steps * a.batch / elapsed
    result = {
        "img_s": img_s,
        "step_ms": elapsed / a.steps * 1e3,
        "cpu_ms_per_step": cpu / a.steps * 1e3,
        "parts_ms": {k: v / a.steps * 1e3 for k, v in parts.items()},
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(f"pytorch {torch.__version__}: {img_s:.1f} images/s ({result['step_ms']:.1f} ms/step, "
          f"{torch.get_num_threads()} threads)", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
