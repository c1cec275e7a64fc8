// Data-parallel training throughput: resnet20 on CIFAR-shaped data, global
// batch 128, with 2 processes × 1 thread (slimnet: the Trainer with
// DataParallel over c10d's Gloo; PyTorch: DistributedDataParallel over gloo,
// bench/ddp_pytorch.py on /usr/bin/python3) and with 1 process × 1 thread,
// in the same run. Reports images/s, slimnet / PyTorch (target ≥ 0.9 at 2
// processes), the scaling of 2 processes against 1 for each, and the share
// of slimnet's step time spent in the gradient allreduce (which runs after
// the backward, not overlapped with it). `--quick` is a smoke run (few steps).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/util/net.js';
import { parseArgs } from './lib/stats.js';

export const description = 'resnet20 data-parallel training, 2 processes × 1 thread vs 1: slimnet (Gloo) vs PyTorch DistributedDataParallel';

const WORKER = fileURLToPath(new URL('./lib/ddp-worker.ts', import.meta.url));
const PY = fileURLToPath(new URL('./ddp_pytorch.py', import.meta.url));

interface Timing {
  imagesPerSecond: number;
  seconds: number;
  allReduceShare?: number;
}

function runRanks(cmd: string, args: string[], world: number): Promise<Timing> {
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        let first: Timing | undefined;
        let pending = world;
        let err = '';
        for (let rank = 0; rank < world; rank++) {
          const env = { ...process.env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(world), RANK: String(rank), LOCAL_RANK: String(rank), SLIMNET_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
          const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('close', (code) => {
            if (code !== 0) return reject(new Error(`${cmd} rank ${rank} exited with ${code}:\n${err}`));
            if (rank === 0) first = JSON.parse(out.trim().split('\n').pop()!) as Timing;
            if (--pending === 0) resolve(first!);
          });
        }
      }),
  );
}

export async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const o = parseArgs(argv.filter((a) => a !== '--quick'), { batch: 128, warmup: quick ? 1 : 3, steps: quick ? 3 : 20, python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3' });
  const args = [String(o.batch), String(o.warmup), String(o.steps)];
  const slim = (world: number) => runRanks(process.execPath, ['--import', 'tsx', WORKER, ...args], world);
  const torch = (world: number) => runRanks(String(o.python), [PY, ...args], world);
  // One configuration at a time, alternating sides, so they do not compete for the cores.
  const s1 = await slim(1);
  const p1 = await torch(1);
  const s2 = await slim(2);
  const p2 = await torch(2);
  const f = (x: number) => x.toFixed(1);
  process.stdout.write(
    `resnet20, global batch ${o.batch}, ${o.steps} timed steps after ${o.warmup} warm-up, 1 thread per process\n` +
      `  slimnet  1 process  ${f(s1.imagesPerSecond)} img/s   2 processes ${f(s2.imagesPerSecond)} img/s   scaling ${(s2.imagesPerSecond / s1.imagesPerSecond).toFixed(2)}x   allreduce ${(100 * (s2.allReduceShare ?? 0)).toFixed(1)} % of the step time\n` +
      `  PyTorch  1 process  ${f(p1.imagesPerSecond)} img/s   2 processes ${f(p2.imagesPerSecond)} img/s   scaling ${(p2.imagesPerSecond / p1.imagesPerSecond).toFixed(2)}x (DDP overlaps allreduce with backward)\n` +
      `  slimnet / PyTorch at 2 processes: ${(s2.imagesPerSecond / p2.imagesPerSecond).toFixed(2)} (target >= 0.9)\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      bench: 'ddp',
      quick,
      batch: o.batch,
      steps: o.steps,
      slimnet_1proc_img_s: s1.imagesPerSecond,
      slimnet_2proc_img_s: s2.imagesPerSecond,
      pytorch_1proc_img_s: p1.imagesPerSecond,
      pytorch_2proc_img_s: p2.imagesPerSecond,
      ratio_2proc: s2.imagesPerSecond / p2.imagesPerSecond,
      slimnet_scaling: s2.imagesPerSecond / s1.imagesPerSecond,
      pytorch_scaling: p2.imagesPerSecond / p1.imagesPerSecond,
      slimnet_allreduce_share: s2.allReduceShare ?? 0,
    })}\n`,
  );
}
