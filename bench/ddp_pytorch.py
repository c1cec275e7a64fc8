"""PyTorch side of `npm run bench -- ddp`: resnet20 (bench/resnet_cifar_pytorch.py)
trained with DistributedDataParallel over gloo, one process per rank, each
with torch.set_num_threads(1) and its part (batch / world) of every global
batch of fixed random CIFAR-shaped data, SGD with momentum. Started once per
rank by bench/ddp.ts with torchrun's variables (MASTER_ADDR, MASTER_PORT,
WORLD_SIZE, RANK); WORLD_SIZE=1 trains without a process group.
argv: global_batch warmup_steps timed_steps. Rank 0 prints one JSON line."""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from resnet_cifar_pytorch import ResNetCifar


def main():
    batch, warmup, steps = (int(a) for a in sys.argv[1:4])
    torch.set_num_threads(int(os.environ.get("SLIMNET_NUM_THREADS", "1")))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = ResNetCifar(3)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    local = batch // world
    g = torch.Generator().manual_seed(100 + rank)
    data = [(torch.randn(local, 3, 32, 32, generator=g), torch.randint(0, 10, (local,), generator=g)) for _ in range(max(warmup, steps))]

    def run(n):
        t0 = time.perf_counter()
        for x, y in data[:n]:
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            loss.item()
        return time.perf_counter() - t0

    run(warmup)
    seconds = run(steps)
    if rank == 0:
        print(json.dumps({"rank": 0, "world": world, "steps": steps, "seconds": seconds, "imagesPerSecond": steps * local * world / seconds}))
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
