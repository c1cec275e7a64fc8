// Training throughput of ResNet-20 for CIFAR (3x32x32, batch 128, SGD with
// momentum 0.9, lr 0.1, random images and labels, train mode) through the
// slimnet graph executor — Model.forward on buildArch('resnet20') — against
// PyTorch (bench/resnet20_pytorch.py, torch.nn modules of the same
// architecture) on the same libtorch with the same number of intra-op
// threads. Before timing, the two models are checked to be the same network:
// equal tensor keys and shapes (so equal parameter counts), and equal
// eval-mode outputs when PyTorch loads slimnet's weights. Rounds alternate:
// slimnet in-process, then a fresh python process running the same steps;
// each side times its timed steps only (python start-up, warm-up and data
// creation excluded). Besides images/s it reports, per step, the time of
// each part (zero_grad, forward, backward, optimizer), user and system CPU
// time and minor page faults on both sides, and the ops the graph runs.
//
// Allocator: the native addon fixes glibc's mmap threshold (1 MiB unless
// SLIMNET_MMAP_THRESHOLD is set when the process starts, see
// native/src/runtime.cc), so every larger tensor — each activation and
// gradient of this network — is a fresh mmap whose pages fault in on first
// touch; PyTorch keeps glibc's dynamic threshold and reuses heap memory. The
// page-fault and system-time rows show that cost; run with
// SLIMNET_MMAP_THRESHOLD=33554432 to measure slimnet without it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { F, engineInfo, getNumThreads, setNumThreads, keep, manualSeed, noGrad, randint, randn, saveTensors, tidy, type Tensor } from '../src/tensor/index.js';
import { Model } from '../src/graph/index.js';
import { buildArch } from '../src/models/index.js';
import { SGD } from '../src/train/optim/index.js';
import { median, parseArgs } from './lib/stats.js';
import { partsLines, roundHeader, roundLine, summaryLines, timeRound, timedTrainStep, type Parts, type RoundTimes, type SideRow } from './lib/step.js';

export const description = 'training images/s of ResNet-20 (CIFAR, SGD momentum, batch 128) via the graph executor, slimnet vs PyTorch';

const DEFAULTS = {
  rounds: 5,
  warmup: 2,
  steps: 5,
  batch: 128,
  batches: 2,
  lr: 0.1,
  momentum: 0.9,
  classes: 10,
  python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3',
  seed: 0,
  /** Intra-op threads for both sides; 0 keeps the engine's default. */
  threads: 0,
  /** No new round starts after this many seconds (at least 2 rounds run): keeps a loaded machine's run short. */
  maxSeconds: 120,
};
type Options = typeof DEFAULTS;

interface PySide {
  img_s: number;
  step_ms: number;
  cpu_ms_per_step: number;
  user_ms_per_step: number;
  sys_ms_per_step: number;
  minor_faults_per_step: number;
  parts_ms: Parts;
  threads: number;
  torch: string;
  params: number;
}

const script = fileURLToPath(new URL('./resnet20_pytorch.py', import.meta.url));

function python<T>(o: Options, threads: number, extra: string[]): T {
  const args = [script, '--threads', String(threads), '--batch', String(o.batch), '--classes', String(o.classes), '--seed', String(o.seed), ...extra];
  const r = spawnSync(o.python, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`cannot run ${o.python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${o.python} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

interface Net {
  model: Model;
  optimizer: SGD;
}

interface Batch {
  x: Tensor;
  y: Tensor;
}

function trainStep(net: Net, b: Batch, parts?: Parts): number {
  return timedTrainStep(net.optimizer, () => F.crossEntropy(net.model.forward(b.x), b.y), parts);
}

/** Same network on both sides: tensor keys and shapes, then outputs with slimnet's weights loaded into PyTorch. */
function checkSameArchitecture(o: Options, threads: number, model: Model, probe: Tensor): { params: number; pyParams: number; maxAbsDiff: number; maxAbsOutput: number } {
  const entries = Model.entries(model.graph);
  const params = entries.filter((e) => e.kind === 'param').reduce((a, e) => a + e.spec.shape.reduce((x, y) => x * y, 1), 0);
  const py = python<{ params: number; tensors: Record<string, number[]> }>(o, threads, ['--describe']);
  const ours = Object.fromEntries(entries.map((e) => [e.key, [...e.spec.shape]]));
  const problems: string[] = [];
  for (const [k, s] of Object.entries(ours)) {
    if (!py.tensors[k]) problems.push(`'${k}' [${s.join(', ')}] only in slimnet`);
    else if (py.tensors[k].join() !== s.join()) problems.push(`'${k}': slimnet [${s.join(', ')}], pytorch [${py.tensors[k].join(', ')}]`);
  }
  for (const k of Object.keys(py.tensors)) if (!(k in ours)) problems.push(`'${k}' only in pytorch`);
  if (problems.length || py.params !== params) {
    throw new Error(`slimnet's resnet20 and the PyTorch model differ (params ${params} vs ${py.params}):\n  ${problems.join('\n  ')}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-bench-resnet20-'));
  try {
    const file = join(dir, 'weights.safetensors');
    tidy(() => {
      const out = noGrad(() => model.eval().forward(probe));
      model.train();
      saveTensors(file, { ...Object.fromEntries(model.namedTensors()), input: probe, output: out });
    });
    const c = python<{ max_abs_diff: number; max_abs_output: number }>(o, threads, ['--check', file]);
    if (!(c.max_abs_diff <= 1e-4 * Math.max(1, c.max_abs_output))) {
      throw new Error(`eval-mode outputs differ: max |slimnet - pytorch| = ${c.max_abs_diff} (max |output| ${c.max_abs_output})`);
    }
    return { params, pyParams: py.params, maxAbsDiff: c.max_abs_diff, maxAbsOutput: c.max_abs_output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function main(argv: string[]): void {
  const o = parseArgs(argv, DEFAULTS);
  if (o.threads > 0) setNumThreads(o.threads);
  const threads = getNumThreads();
  const info = engineInfo();
  console.log(`resnet20: CIFAR shape 3x32x32, batch ${o.batch}, SGD lr ${o.lr} momentum ${o.momentum}, train mode, random data`);
  console.log(`${o.rounds} rounds of ${o.warmup} warm-up + ${o.steps} timed steps per side; libtorch ${info.torchVersion}, ${threads} intra-op threads on both sides`);
  const mmap = process.env.SLIMNET_MMAP_THRESHOLD;
  console.log(`slimnet allocator: SLIMNET_MMAP_THRESHOLD ${mmap === undefined ? "unset (the native addon's default)" : `= ${mmap} bytes`}`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  manualSeed(o.seed);
  const graph = buildArch('resnet20', { classes: o.classes });
  const model = Model.create(graph);
  const net: Net = { model, optimizer: new SGD(model.parameters(), { lr: o.lr, momentum: o.momentum }) };
  const data: Batch[] = Array.from({ length: o.batches }, () => ({ x: keep(randn([o.batch, 3, 32, 32])), y: keep(randint(0, o.classes, [o.batch])) }));

  // One training step first, so the check covers updated weights and BN statistics.
  trainStep(net, data[0]!);
  const probe = keep(randn([8, 3, 32, 32]));
  const check = checkSameArchitecture(o, threads, model, probe);
  probe.dispose();
  const kinds = new Map<string, number>();
  for (const n of graph.nodes) if (n.kind !== 'input') kinds.set(n.kind, (kinds.get(n.kind) ?? 0) + 1);
  const ops = [...kinds].map(([k, c]) => `${c} ${k}`).join(', ');
  console.log(`same network on both sides: ${Model.entries(graph).length} tensors with equal keys and shapes; forward runs ${graph.nodes.length - 1} ops (${ops}) + cross-entropy`);
  console.log(`parameters: slimnet ${check.params.toLocaleString('en-US')}, pytorch ${check.pyParams.toLocaleString('en-US')}`);
  console.log(`eval-mode outputs with slimnet's weights in PyTorch: max abs difference ${check.maxAbsDiff.toExponential(2)} (max |output| ${check.maxAbsOutput.toFixed(3)})`);

  const ours: RoundTimes[] = [];
  const theirs: PySide[] = [];
  let step = 1;

  console.log(roundHeader);
  const started = performance.now();
  for (let r = 0; r < o.rounds; r++) {
    if (r >= 2 && (performance.now() - started) / 1000 > o.maxSeconds) {
      console.log(`(stopping after ${r} rounds: over --max-seconds ${o.maxSeconds}; the machine is slow or loaded)`);
      break;
    }
    for (let i = 0; i < o.warmup; i++) trainStep(net, data[step++ % data.length]!);
    const t = timeRound(o.steps, o.batch, (parts) => trainStep(net, data[step++ % data.length]!, parts));
    if (!Number.isFinite(t.loss)) throw new Error(`slimnet loss became ${t.loss}`);

    const p = python<PySide>(o, threads, ['--warmup', String(o.warmup), '--steps', String(o.steps), '--batches', String(o.batches), '--lr', String(o.lr), '--momentum', String(o.momentum)]);
    if (p.threads !== threads) throw new Error(`python ran with ${p.threads} threads, slimnet with ${threads}`);
    ours.push(t);
    theirs.push(p);
    console.log(roundLine(r, t.img_s, p.img_s));
  }
  net.optimizer.dispose();
  model.dispose();
  for (const b of data) {
    b.x.dispose();
    b.y.dispose();
  }

  const slim = ours.map((t) => t.img_s);
  const py = theirs.map((x) => x.img_s);
  const s = median(slim);
  const p = median(py);
  const ratio = s / p;
  for (const line of summaryLines(slim, py, theirs.at(-1)!.torch)) console.log(line);
  const labels = { zero_grad: 'zeroGrad / zero_grad(set_to_none=True)', forward: 'forward (graph executor / nn.Module) + CE', backward: 'backward', optimizer: 'SGD step (momentum)' };
  const extra: SideRow[] = [
    ['process CPU time per step (all threads)', ours.map((t) => t.cpu_ms), theirs.map((x) => x.cpu_ms_per_step)],
    ['  of which user', ours.map((t) => t.user_ms), theirs.map((x) => x.user_ms_per_step)],
    ['  of which system (page faults, mmap/munmap)', ours.map((t) => t.sys_ms), theirs.map((x) => x.sys_ms_per_step)],
    ['minor page faults per step (count)', ours.map((t) => t.minor_faults), theirs.map((x) => x.minor_faults_per_step), 0],
  ];
  for (const line of partsLines(labels, ours.map((t) => t.parts), theirs.map((x) => x.parts_ms), o.batch, slim, py, extra)) console.log(line);
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes on the machine skew wall-clock figures)`);

  console.log(JSON.stringify({ bench: 'resnet20', slimnet_img_s: +s.toFixed(2), pytorch_img_s: +p.toFixed(2), ratio: +ratio.toFixed(4), threads, params: check.params, slimnet_mmap_threshold: mmap === undefined ? null : Number(mmap) }));
}
