#!/usr/bin/python3
"""PyTorch side of bench/explain.ts: Grad-CAM and integrated gradients on
ResNet-20 for CIFAR, written as a PyTorch user writes them (a forward hook on
the target module and torch.autograd.grad; Captum's chunked path integral),
on the weights, batch and targets slimnet's side saved, and its own time for
the timed calls only (interpreter start-up, imports, model creation, loading
and warm-up are excluded).

    /usr/bin/python3 bench/explain_pytorch.py --data FILE --threads 2 --warmup 1 --iters 3

FILE (safetensors from bench/explain.ts): the model's tensors by slimnet's
keys (`<node>.<param>`, equal to the state_dict keys of the ResNetCifar
in bench/resnet_cifar_pytorch.py), `x` [B, 3, 32, 32], `targets` [B] (int64, one class per image) and,
for --check, slimnet's raw maps `gradcam` [B, 8, 8] and `ig` [B, 32, 32].

The definitions are those of src/explain/methods/gradcam.ts and ig.ts:

  gradcam  A = the output of layer3[2] (the last basic block, after its final
           ReLU: slimnet's node layer3.2.relu2, the automatic target layer),
           G = d(sum over images of the target logit)/dA (the images do not
           interact in eval mode); w = mean_hw G; map = relu(sum_c w_c A_c),
           raw, at the layer's 8x8 resolution.
  ig       baseline 0; Gauss-Legendre quadrature on [0, 1] with `steps` nodes
           (numpy's leggauss mapped from [-1, 1]); the B x steps path points
           step-major (all images at alpha_1, then alpha_2, ...) cut into
           chunks of `internal_batch` (Captum's internal_batch_size: with
           B = 32 and 64, two whole steps per chunk); per chunk one forward
           and one torch.autograd.grad w.r.t. the points, the weighted
           gradients summed into their images; attributions = sum x (x - x'),
           summed over channels; then f(x) and f(x') for the completeness gap
           (Captum's return_convergence_delta), as slimnet's explainer does.

Modes:
  --check   compute both maps here and print
            {"gradcam_max_rel_diff", "ig_max_rel_diff", "ig_completeness_gap", "zero_cams"}
            (relative: max |slimnet - pytorch| / max |pytorch|)
  default   time both (Grad-CAM after --warmup calls, IG after one 2-step
            call); one JSON line {"gradcam_ms", "ig_ms", "gradcam_cpu_ms",
            "ig_cpu_ms", "gradcam_faults", "ig_faults", "threads", "torch"}
            (wall-clock and process CPU ms, minor page faults, per call)
"""
import argparse
import json
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from resnet_cifar_pytorch import ResNetCifar, load_weights, read_safetensors


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3, help="timed Grad-CAM calls")
    ap.add_argument("--ig-iters", type=int, default=1, help="timed integrated-gradients calls")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--internal-batch", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--check", action="store_true")
    return ap.parse_args()


def target_logits(logits, targets):
    return logits.gather(1, targets.unsqueeze(1)).squeeze(1)


class GradCam:
    """Grad-CAM with a forward hook on the target module, registered once (as pytorch-grad-cam's ActivationsAndGradients)."""

    def __init__(self, model, module):
        self.model = model
        self.acts = None
        module.register_forward_hook(self._keep)

    def _keep(self, _m, _i, out):
        self.acts = out

    def __call__(self, x, targets):
        logits = self.model(x)
        a, self.acts = self.acts, None
        (g,) = torch.autograd.grad(target_logits(logits, targets).sum(), [a])
        with torch.no_grad():
            w = g.mean((2, 3))
            return F.relu((w[:, :, None, None] * a).sum(1))


def gauss_legendre(n):
    z, w = np.polynomial.legendre.leggauss(n)
    return ((z + 1) / 2).tolist(), (w / 2).tolist()


def integrated_gradients(model, x, targets, steps, internal_batch):
    b = x.shape[0]
    nodes, weights = gauss_legendre(steps)
    base = torch.zeros_like(x)
    diff = x - base
    total = torch.zeros_like(x)
    n = b * steps
    for s in range(0, n, internal_batch):
        e = min(n, s + internal_batch)
        idx = torch.arange(s, e)
        images = idx % b
        k = (idx // b).tolist()
        alphas = torch.tensor([nodes[i] for i in k], dtype=x.dtype).view(-1, 1, 1, 1)
        ws = torch.tensor([weights[i] for i in k], dtype=x.dtype).view(-1, 1, 1, 1)
        points = (base[images] + diff[images] * alphas).requires_grad_()
        (g,) = torch.autograd.grad(target_logits(model(points), targets[images]).sum(), [points])
        total.index_add_(0, images, g * ws)
    with torch.no_grad():
        maps = (total * diff).sum(1)
        # Completeness (Captum's convergence delta): two forwards.
        fx = target_logits(model(x), targets)
        fb = target_logits(model(base), targets)
        gap = (maps.sum((1, 2)) - (fx - fb)).abs()
    return maps, gap


def load_model(t, classes):
    model = ResNetCifar(classes=classes)
    load_weights(model, {k: v for k, v in t.items() if k not in ("x", "targets", "gradcam", "ig")})
    return model.eval()


def rel(ours, ref):
    return float((ours - ref).abs().max() / max(float(ref.abs().max()), 1e-30))


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    t = read_safetensors(a.data)
    model = load_model(t, a.classes)
    x, targets = t["x"], t["targets"]
    cam = GradCam(model, model.layer3[2])

    if a.check:
        g = cam(x, targets)
        ig, gap = integrated_gradients(model, x, targets, a.steps, a.internal_batch)
        print(json.dumps({
            "gradcam_max_rel_diff": rel(t["gradcam"], g),
            "ig_max_rel_diff": rel(t["ig"], ig),
            "ig_completeness_gap": float(gap.max()),
            "zero_cams": int((g.flatten(1).amax(1) <= 0).sum()),
        }))
        return

    def timed(fn, warmup, iters):
        """Wall-clock and process CPU (all threads) ms and minor page faults per timed call."""
        for _ in range(warmup):
            fn()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(iters):
            fn()
        wall, cpu = (time.perf_counter() - t0) / iters * 1e3, (time.process_time() - c0) / iters * 1e3
        return wall, cpu, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / iters

    gradcam_ms, gradcam_cpu, gradcam_faults = timed(lambda: cam(x, targets), a.warmup, a.iters)
    # IG's warm-up: a 2-step path (one chunk of internal_batch points), as slimnet's side.
    integrated_gradients(model, x, targets, 2, a.internal_batch)
    ig_ms, ig_cpu, ig_faults = timed(lambda: integrated_gradients(model, x, targets, a.steps, a.internal_batch), 0, a.ig_iters)
    result = {"gradcam_ms": gradcam_ms, "ig_ms": ig_ms, "gradcam_cpu_ms": gradcam_cpu, "ig_cpu_ms": ig_cpu,
              "gradcam_faults": gradcam_faults, "ig_faults": ig_faults,
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print(f"pytorch {torch.__version__}: gradcam {gradcam_ms:.1f} ms, ig {ig_ms:.1f} ms ({torch.get_num_threads()} threads)", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
