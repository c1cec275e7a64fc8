// Training throughput of the LeNet variant (bench/lib/lenet.ts), slimnet
// against PyTorch (bench/engine_pytorch.py) on the same libtorch, with the
// same number of intra-op threads. Rounds alternate: slimnet in-process,
// then a fresh python process running the same steps; each side times its
// timed steps only (python start-up, warm-up and data creation excluded).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getNumThreads, manualSeed, engineInfo } from '../src/tensor/index.js';
import { makeLeNet, randomBatches, trainStep } from './lib/lenet.js';
import { median, parseArgs } from './lib/stats.js';
import { partsLines, roundHeader, roundLine, summaryLines, timeRound, type Parts, type RoundTimes, type SideRow } from './lib/step.js';

export const description = 'training images/s of the LeNet variant (Adam, batch 100), slimnet vs PyTorch';

const DEFAULTS = {
  rounds: 5,
  warmup: 3,
  steps: 16,
  batch: 100,
  batches: 4,
  lr: 1e-4,
  python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3',
  seed: 0,
};

interface PySide {
  img_s: number;
  step_ms: number;
  cpu_ms_per_step: number;
  parts_ms: Parts;
  threads: number;
  torch: string;
}

function runPython(o: typeof DEFAULTS, threads: number, extra: string[] = []): PySide {
  const script = fileURLToPath(new URL('./engine_pytorch.py', import.meta.url));
  const args = [script, '--threads', String(threads), '--warmup', String(o.warmup), '--steps', String(o.steps),
    '--batch', String(o.batch), '--batches', String(o.batches), '--lr', String(o.lr), '--seed', String(o.seed), ...extra];
  const r = spawnSync(o.python, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error) throw new Error(`cannot run ${o.python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${o.python} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as PySide;
}

export function main(argv: string[]): void {
  const o = parseArgs(argv, DEFAULTS);
  const threads = getNumThreads();
  const info = engineInfo();
  console.log(`engine: LeNet variant, batch ${o.batch}, Adam lr ${o.lr}; ${o.rounds} rounds of ${o.warmup} warm-up + ${o.steps} timed steps per side`);
  console.log(`libtorch ${info.torchVersion}, ${threads} intra-op threads on both sides; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  manualSeed(o.seed);
  const net = makeLeNet(o.lr);
  const data = randomBatches(o.batches, o.batch);
  const ours: RoundTimes[] = [];
  const theirs: PySide[] = [];
  let step = 0;

  console.log(roundHeader);
  for (let r = 0; r < o.rounds; r++) {
    for (let i = 0; i < o.warmup; i++) trainStep(net, data[step++ % data.length]!);
    const t = timeRound(o.steps, o.batch, (parts) => trainStep(net, data[step++ % data.length]!, parts));
    const p = runPython(o, threads);
    if (p.threads !== threads) throw new Error(`python ran with ${p.threads} threads, slimnet with ${threads}`);
    ours.push(t);
    theirs.push(p);
    console.log(roundLine(r, t.img_s, p.img_s));
  }
  net.dispose();
  for (const b of data) {
    b.x.dispose();
    b.y.dispose();
  }

  const slim = ours.map((t) => t.img_s);
  const py = theirs.map((p) => p.img_s);
  const s = median(slim);
  const p = median(py);
  const ratio = s / p;
  for (const line of summaryLines(slim, py, theirs.at(-1)!.torch, true)) console.log(line);
  const labels = { zero_grad: 'zeroGrad / zero_grad(set_to_none=True)', forward: 'forward + cross-entropy', backward: 'backward', optimizer: 'Adam step' };
  const extra: SideRow[] = [['process CPU time per step (all threads)', ours.map((t) => t.cpu_ms), theirs.map((x) => x.cpu_ms_per_step)]];
  for (const line of partsLines(labels, ours.map((t) => t.parts), theirs.map((x) => x.parts_ms), o.batch, slim, py, extra)) console.log(line);
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes on the machine skew wall-clock figures)`);

  console.log(JSON.stringify({ bench: 'engine', slimnet_img_s: +s.toFixed(2), pytorch_img_s: +p.toFixed(2), ratio: +ratio.toFixed(4), threads }));
}
