// What pruning costs and what it gains, on ResNet-56 for CIFAR (3x32x32, 10
// classes, random data):
//
// 1. Cost: one Taylor scoring + pruning step against one training step, both
//    on a batch of 64. The pruning step is what one step of the pruning loop
//    (src/prune/protocol.ts) does: build the dependency graph of the current
//    model, score it with the first-order Taylor criterion on ONE batch
//    (forward + backward with activation and gradient capture), turn the
//    contributions into channel scores, select 5 % of the removable channels
//    globally (L2-normalised per group) and physically remove them, giving a
//    new, smaller model (disposed untimed). The training step is forward +
//    cross-entropy + backward + Adam update. Steps alternate (train, prune,
//    train, prune, ...) so load drift on a shared machine hits both alike;
//    medians are reported, and `score_step_ratio` = prune step / train step
//    (scoring must not dominate a prune-and-retrain loop).
//
// 2. Gain: resnet56 with 50 % of its removable channels removed in one step
//    (L1 filter magnitude, global, L2 norm). Params and MACs before/after,
//    the MAC-predicted speed-up (`macs_x`) and the measured one: onnxruntime
//    (CPU) at batch 1 and 64, slimnet's engine at 64, via compareLatency
//    (interleaved rounds, medians). `speedup_vs_macs_b64` = measured
//    onnxruntime speed-up at batch 64 / macs_x (1 = the MAC count predicts
//    the real gain; below 1 = memory traffic and per-layer overheads eat part
//    of it).
//
// `--quick` uses fewer repeats and latency runs: a check that it works.
import { availableParallelism, loadavg } from 'node:os';
import { Model, summarize } from '../src/graph/index.js';
import { compareLatency } from '../src/measure/index.js';
import { buildArch } from '../src/models/index.js';
import { DependencyGraph, criterion, removeChannels, scoreChannels, selectChannels } from '../src/prune/index.js';
import { F, engineInfo, getNumThreads, keep, manualSeed, randint, randn, setNumThreads, type Tensor } from '../src/tensor/index.js';
import { Adam } from '../src/train/optim/index.js';
import type { Batch } from '../src/train/index.js';
import { timedTrainStep } from './lib/step.js';
import { fmt, median, parseArgs } from './lib/stats.js';

export const description = 'resnet56: one Taylor score + prune step vs one training step, and measured vs MAC-predicted speed-up of a 50 %-pruned model';

const DEFAULTS = {
  arch: 'resnet56',
  batch: 64,
  /** Timed repeats of each step (train and prune, alternating). */
  repeats: 5,
  /** Untimed repeats of each step first. */
  warmup: 2,
  /** Share of the removable channels one Taylor pruning step removes. */
  stepFraction: 0.05,
  /** Share of the removable channels the pruned model for the latency comparison loses. */
  pruneFraction: 0.5,
  /** Channel counts of the 50 %-pruned model kept at multiples of this (16: onnxruntime's blocked layout on AVX-512). */
  roundTo: 1,
  /** Timed latency calls per model and batch size (split over the interleaved rounds). */
  runs: 30,
  rounds: 3,
  /** Untimed latency calls per model and batch size before the first round. */
  latencyWarmup: 5,
  lr: 1e-3,
  seed: 0,
  /** Intra-op threads; 0 keeps the engine's default. */
  threads: 0,
  /** Fewer repeats and latency runs (a check that it works, under a minute). */
  quick: false,
};
type Options = typeof DEFAULTS;

const QUICK: Partial<Options> = { repeats: 2, warmup: 1, runs: 6, rounds: 2, latencyWarmup: 1 };

interface PruneParts {
  dependency: number;
  score: number;
  select: number;
  remove: number;
}

interface Net {
  model: Model;
  optimizer: Adam;
}

function trainStep(net: Net, x: Tensor, y: Tensor): number {
  return timedTrainStep(net.optimizer, () => F.crossEntropy(net.model.forward(x, { training: true }), y));
}

/** One Taylor scoring + pruning step; returns the channels removed and the time of each part. */
async function taylorPruneStep(model: Model, x: Tensor, y: Tensor, o: Options, seed: number): Promise<{ removed: number; parts: PruneParts }> {
  // The criterion disposes each batch it reads: give it copies (made untimed).
  const batch: Batch = { x: keep(x.clone()), y: keep(y.clone()), indices: new Int32Array(x.size(0)) };
  const batches = async function* (): AsyncGenerator<Batch> {
    yield batch;
  };
  const t0 = performance.now();
  const dep = new DependencyGraph(model.graph);
  const t1 = performance.now();
  const scores = await criterion('taylor').score({ model, dep, seed, batches });
  const t2 = performance.now();
  const chosen = selectChannels(dep, scoreChannels(dep, scores), { scope: 'global', norm: 'l2', amount: { fraction: o.stepFraction } });
  const t3 = performance.now();
  const { model: pruned } = removeChannels(model, dep, chosen);
  const t4 = performance.now();
  pruned.dispose();
  if (!batch.x.isDisposed) batch.x.dispose();
  if (!batch.y.isDisposed) batch.y.dispose();
  return { removed: chosen.length, parts: { dependency: t1 - t0, score: t2 - t1, select: t3 - t2, remove: t4 - t3 } };
}

const sumParts = (p: PruneParts): number => p.dependency + p.score + p.select + p.remove;
const ratio = (a: number, b: number): number => +(a / b).toFixed(4);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

export async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv, DEFAULTS);
  // --quick lowers the defaults; options given explicitly still win.
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
  const o: Options = parsed.quick ? { ...parsed, ...Object.fromEntries(Object.entries(QUICK).filter(([k]) => !given.has(k))) } : parsed;
  if (o.threads > 0) setNumThreads(o.threads);
  const threads = getNumThreads();
  const started = performance.now();
  console.log(`prune-speed: ${o.arch}, CIFAR shape 3x32x32, batch ${o.batch}, random data (seed ${o.seed})${o.quick ? ', --quick' : ''}`);
  console.log(`libtorch ${engineInfo().torchVersion}, ${threads} intra-op threads; load average ${load()}`);
  const cores = availableParallelism();
  if (threads > 1 && loadavg()[0]! + threads > cores + 0.5) {
    console.log(`note: load average ${loadavg()[0]!.toFixed(2)} + ${threads} threads on ${cores} cores: libtorch's threads wait for descheduled peers at every op,`);
    console.log('      which inflates the engine and training times many-fold; --threads 1 gives steadier figures on a busy machine');
  }

  // ---- 1. Taylor scoring + pruning step vs training step ------------------------
  manualSeed(o.seed);
  const graph = buildArch(o.arch);
  const model = Model.create(graph, { seed: o.seed }).train();
  const net: Net = { model, optimizer: new Adam(model.parameters(), { lr: o.lr }) };
  const x = keep(randn([o.batch, 3, 32, 32]));
  const y = keep(randint(0, 10, [o.batch]));
  const removable = new DependencyGraph(graph).removable.length;

  console.log(`\n1. one step on a batch of ${o.batch}: ${o.warmup} warm-up + ${o.repeats} timed repeats of each, alternating`);
  console.log(`   Taylor step removes ${fmt(100 * o.stepFraction, 0)} % of the ${removable} removable channels (global, l2 norm)`);
  const train: number[] = [];
  const prune: number[] = [];
  const parts: PruneParts[] = [];
  let removedPerStep = 0;
  let loss = NaN;
  for (let i = 0; i < o.warmup; i++) {
    loss = trainStep(net, x, y);
    await taylorPruneStep(model, x, y, o, o.seed + i);
  }
  console.log('   repeat   train step ms   taylor+prune step ms   ratio');
  for (let r = 0; r < o.repeats; r++) {
    const t0 = performance.now();
    loss = trainStep(net, x, y);
    const ms = performance.now() - t0;
    const p = await taylorPruneStep(model, x, y, o, o.seed + o.warmup + r);
    removedPerStep = p.removed;
    train.push(ms);
    prune.push(sumParts(p.parts));
    parts.push(p.parts);
    console.log(`   ${String(r + 1).padStart(6)}   ${fmt(ms).padStart(13)}   ${fmt(prune[r]!).padStart(20)}   ${fmt(prune[r]! / ms, 3)}`);
  }
  if (!Number.isFinite(loss)) throw new Error(`training loss became ${loss}`);
  net.optimizer.dispose();
  model.dispose();
  x.dispose();
  y.dispose();

  const trainMs = median(train);
  const pruneMs = median(prune);
  const scoreStepRatio = pruneMs / trainMs;
  console.log(`   median   ${fmt(trainMs).padStart(13)}   ${fmt(pruneMs).padStart(20)}   ${fmt(scoreStepRatio, 3)}   (${removedPerStep} channels removed per step)`);
  console.log('   taylor+prune step by part, ms (median):');
  const partRows: [string, keyof PruneParts][] = [
    ['dependency graph', 'dependency'],
    ['taylor score (forward + backward, capture)', 'score'],
    ['scoreChannels + selectChannels', 'select'],
    ['removeChannels (new smaller model)', 'remove'],
  ];
  for (const [label, k] of partRows) console.log(`     ${label.padEnd(44)} ${fmt(median(parts.map((p) => p[k])), 2).padStart(9)}`);

  // ---- 2. 50 %-pruned model: measured vs MAC-predicted speed-up -----------------
  const base = Model.create(graph, { seed: o.seed }).eval();
  const dep = new DependencyGraph(graph);
  const l1 = await criterion('l1').score({ model: base, dep, seed: o.seed });
  const chosen = selectChannels(dep, scoreChannels(dep, l1), { scope: 'global', norm: 'l2', amount: { fraction: o.pruneFraction }, roundTo: o.roundTo });
  const { model: pruned } = removeChannels(base, dep, chosen);
  pruned.eval();
  const before = summarize(graph).totals;
  const after = summarize(pruned.graph).totals;
  const paramsX = before.params / after.params;
  const macsX = before.macs / after.macs;

  console.log(`\n2. ${o.arch} with ${chosen.length} of ${removable} removable channels removed in one step (${fmt(100 * o.pruneFraction, 0)} % of those a group can lose while keeping one; L1, global, l2 norm${o.roundTo > 1 ? `, counts rounded to multiples of ${o.roundTo}` : ''})`);
  console.log(`   latency: compareLatency, ${o.runs} timed runs per model and batch in ${o.rounds} interleaved rounds, ${threads} threads`);
  const lat = await compareLatency(base, pruned, { batches: [1, 64], runs: o.runs, rounds: o.rounds, warmup: o.latencyWarmup, engine: true });
  base.dispose();
  pruned.dispose();
  const ort1 = lat.ort[1]!;
  const ort64 = lat.ort[64]!;
  const eng64 = lat.engine![64]!;
  const eng1 = lat.engine![1]!;

  const row = (label: string, b: string, a: string, x: string) => console.log(`   ${label.padEnd(28)} ${b.padStart(12)} ${a.padStart(12)} ${x.padStart(9)}`);
  row('', 'before', 'after', 'x');
  row('parameters', before.params.toLocaleString('en-US'), after.params.toLocaleString('en-US'), fmt(paramsX, 2));
  row('MACs per sample', before.macs.toLocaleString('en-US'), after.macs.toLocaleString('en-US'), fmt(macsX, 2));
  row('onnxruntime b1, ms', fmt(ort1.before.median_ms, 2), fmt(ort1.after.median_ms, 2), fmt(ort1.speedup, 2));
  row('onnxruntime b64, ms', fmt(ort64.before.median_ms, 1), fmt(ort64.after.median_ms, 1), fmt(ort64.speedup, 2));
  row('slimnet engine b1, ms', fmt(eng1.before.median_ms, 2), fmt(eng1.after.median_ms, 2), fmt(eng1.speedup, 2));
  row('slimnet engine b64, ms', fmt(eng64.before.median_ms, 1), fmt(eng64.after.median_ms, 1), fmt(eng64.speedup, 2));
  console.log(`   measured / MAC-predicted speed-up: onnxruntime b1 ${fmt(ort1.speedup / macsX, 3)}, b64 ${fmt(ort64.speedup / macsX, 3)}; engine b64 ${fmt(eng64.speedup / macsX, 3)}`);
  console.log(`\nload average at the end ${load()} (other processes on the machine skew wall-clock figures); ${fmt((performance.now() - started) / 1000)} s in all`);

  console.log(
    JSON.stringify({
      bench: 'prune-speed',
      arch: o.arch,
      batch: o.batch,
      train_step_ms: +trainMs.toFixed(2),
      taylor_prune_step_ms: +pruneMs.toFixed(2),
      score_step_ratio: ratio(pruneMs, trainMs),
      params_before: before.params,
      params_after: after.params,
      macs_before: before.macs,
      macs_after: after.macs,
      params_x: ratio(before.params, after.params),
      macs_x: ratio(before.macs, after.macs),
      speedup_ort_b1: ratio(ort1.before.median_ms, ort1.after.median_ms),
      speedup_ort_b64: ratio(ort64.before.median_ms, ort64.after.median_ms),
      speedup_engine_b64: ratio(eng64.before.median_ms, eng64.after.median_ms),
      speedup_vs_macs_b64: ratio(ort64.speedup, macsX),
      round_to: o.roundTo,
      threads,
      quick: o.quick,
    }),
  );
}
