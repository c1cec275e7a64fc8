#!/usr/bin/python3
"""PyTorch side of bench/distill.ts: one knowledge-distillation step, as
RepDistiller writes it, on the same networks and batch as slimnet's side, and
its own time for the timed steps only (interpreter start-up, imports, model
creation and warm-up are excluded).

    /usr/bin/python3 bench/distill_pytorch.py --threads 2 --warmup 2 --steps 5

One step: zero_grad; the teacher's forward in eval mode under no_grad; the
student's forward in train mode; loss = 0.1 CE + 0.9 KD(T = 4) + 1000 AT(p = 2)
over the three stage outputs (the last block of layer1..layer3, captured by
forward hooks on those modules: no model rewriting); backward; SGD with
momentum; one read-back of the loss (slimnet reads its losses once per step).
KD is RepDistiller's DistillKL: KL(softmax(t/T) || softmax(s/T)) summed, x T^2,
divided by the batch. AT is RepDistiller's Attention: per sample the channel
mean of f^p, flattened and L2-normalised (F.normalize), then the mean of the
squared difference, summed over the pairs.

Networks: ResNet-20 for CIFAR as slimnet's zoo builds it (see
bench/resnet_cifar_pytorch.py: projection shortcuts, torchvision names, so the
state_dict keys equal slimnet's tensor keys), the teacher at width 1 and the
student at width 0.5 (every layer's channel count x 0.5, rounded, at least 1,
as slimnet's widthMultiplier).

Modes:
  default       time the steps; one JSON line {"step_ms", "img_s", "threads", "torch", "loss"}
  --check FILE  load FILE (safetensors from bench/distill.ts: teacher.* and
                student.* weights, x, y, and 'expected' = slimnet's [ce, kd, at]
                for that batch, unweighted), compute the same terms here and
                print {"ce", "kd", "at", "max_rel_diff"}
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from resnet_cifar_pytorch import ResNetCifar, load_weights, read_safetensors

CE_WEIGHT, KD_WEIGHT, AT_WEIGHT, T, P = 0.1, 0.9, 1000.0, 4.0, 2


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=2, help="distinct random batches, cycled")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--student-width", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", default=None)
    return ap.parse_args()


class Stages:
    """Forward hooks on the last block of each stage (slimnet's layerN.2.relu2 outputs)."""

    def __init__(self, model):
        self.out = []
        for layer in (model.layer1, model.layer2, model.layer3):
            layer[-1].register_forward_hook(lambda _m, _i, o: self.out.append(o))

    def take(self):
        o, self.out = self.out, []
        return o


def kd_loss(s, t):
    return F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="sum") * T * T / s.shape[0]


def attention(f):
    return F.normalize(f.pow(P).mean(1).view(f.size(0), -1))


def at_loss(fs, ft):
    return sum((attention(s) - attention(t)).pow(2).mean() for s, t in zip(fs, ft))


def terms(teacher, student, t_hooks, s_hooks, x, y):
    with torch.no_grad():
        t_logits = teacher(x)
    t_feats = t_hooks.take()
    s_logits = student(x)
    s_feats = s_hooks.take()
    return F.cross_entropy(s_logits, y), kd_loss(s_logits, t_logits), at_loss(s_feats, t_feats)


def load(model, tensors, prefix):
    load_weights(model, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, prefix[:-1])


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    teacher = ResNetCifar(classes=a.classes, width=1.0).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = ResNetCifar(classes=a.classes, width=a.student_width).train()
    t_hooks, s_hooks = Stages(teacher), Stages(student)

    if a.check:
        t = read_safetensors(a.check)
        load(teacher, t, "teacher.")
        load(student, t, "student.")
        ce, kd, at = (float(v) for v in terms(teacher, student, t_hooks, s_hooks, t["x"], t["y"]))
        exp = t["expected"].tolist()
        rel = max(abs(o - e) / max(1.0, abs(e)) for o, e in zip((ce, kd, at), exp))
        print(json.dumps({"ce": ce, "kd": kd, "at": at, "max_rel_diff": rel}))
        return

    opt = torch.optim.SGD(student.parameters(), lr=a.lr, momentum=a.momentum)
    data = [(torch.randn(a.batch, 3, 32, 32), torch.randint(0, a.classes, (a.batch,))) for _ in range(a.batches)]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad(set_to_none=True)
        ce, kd, at = terms(teacher, student, t_hooks, s_hooks, x, y)
        loss = CE_WEIGHT * ce + KD_WEIGHT * kd + AT_WEIGHT * at
        loss.backward()
        opt.step()
        v = loss.item()
        if not np.isfinite(v):
            raise SystemExit(f"loss became {v} at step {i}")
        return v

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    loss = float("nan")
    for i in range(a.steps):
        loss = step(a.warmup + i)
    elapsed = time.perf_counter() - t0
    result = {
        "step_ms": elapsed / a.steps * 1e3,
        "img_s": a.steps * a.batch / elapsed,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "loss": loss,
    }
    print(f"pytorch {torch.__version__}: {result['step_ms']:.1f} ms/step ({torch.get_num_threads()} threads)", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
