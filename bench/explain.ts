// The explanation methods' cost on ResNet-20 for CIFAR (3x32x32, 10
// classes, random fixed weights; batch 32, one target per image: the
// predicted class):
// 1. Grad-CAM at the automatic layer (layer3.2.relu2) through slimnet's
//    registry against the same computation in PyTorch (bench/explain_pytorch.py:
//    a forward hook on the same block, torch.autograd.grad), ms per batch;
// 2. integrated gradients (Gauss–Legendre, 50 steps, internal batch 64,
//    baseline 0, the completeness check's two forwards included) against the
//    same path integral in PyTorch (Captum's chunking), ms per batch;
// 3. LIME and KernelSHAP: perturbed images evaluated per second (at their
//    `batch` parameter, 128) against plain model.forward throughput at the
//    same batch size — what the methods' own work (superpixels, masking,
//    softmax, read-backs, the least-squares solve) costs on top of the
//    forwards; slimnet only;
// 4. memory: Grad-CAM on batch 1, `memIters` (1,000) calls in a loop, each
//    outside any tidy scope with its map disposed by the caller: live native
//    handles before, at 100 and at the end (must come back to the start: the
//    method frees what it allocates and releases its hooks), and RSS.
//
// Before timing, both sides compute Grad-CAM and IG on the same weights,
// batch and targets (slimnet's tensors loaded into PyTorch by key, strictly)
// and must agree (1e-4 / 1e-3 relative to the largest value of the map).
// Rounds alternate: slimnet's timed calls in this process, then a fresh
// python process (its warm-up and timed calls; start-up, model loading and
// warm-up excluded). Both sides run with slimnet's getNumThreads().
// `--quick`: fewer rounds, calls and perturbations (a check that it works, noisy).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { engineInfo, getNumThreads, keep, liveNativeTensors, manualSeed, noGrad, randn, saveTensors, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { Model } from '../src/graph/index.js';
import { buildArch } from '../src/models/index.js';
import { autoTargetLayer, explainer, resolveExplainParams, resolveTargets, type ExplainInput } from '../src/explain/index.js';
import { fmt, median, parseArgs, rssMb } from './lib/stats.js';

export const description = 'Grad-CAM and integrated gradients (resnet20, batch 32) vs PyTorch; LIME / KernelSHAP throughput vs forward; memory over 1,000 Grad-CAMs';

const DEFAULTS = {
  rounds: 5,
  batch: 32,
  classes: 10,
  /** Grad-CAM calls per round and side: warm-up, then timed. */
  warmup: 2,
  iters: 5,
  /** Timed IG calls per round and side (the warm-up is a 2-step IG: one chunk). */
  igIters: 1,
  steps: 50,
  internalBatch: 64,
  /** Images LIME and KernelSHAP explain, and their samples (the methods' defaults). */
  perturbImages: 2,
  limeSamples: 1000,
  shapSamples: 2048,
  perturbBatch: 128,
  /** Batches of plain forward timed for the throughput reference. */
  forwardIters: 10,
  memIters: 1000,
  seed: 0,
  python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3',
  /** No new comparison round starts after this many seconds (at least 2 rounds run). */
  maxSeconds: 300,
  quick: false,
};
type Options = typeof DEFAULTS;
const QUICK: Partial<Options> = { rounds: 2, warmup: 1, iters: 3, perturbImages: 1, limeSamples: 512, shapSamples: 512, forwardIters: 4 };

const script = fileURLToPath(new URL('./explain_pytorch.py', import.meta.url));

function python<T>(o: Options, file: string, threads: number, extra: string[]): T {
  const args = [script, '--data', file, '--threads', String(threads), '--classes', String(o.classes), '--steps', String(o.steps), '--internal-batch', String(o.internalBatch), ...extra];
  const r = spawnSync(o.python, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`cannot run ${o.python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${o.python} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

interface PyCheck {
  gradcam_max_rel_diff: number;
  ig_max_rel_diff: number;
  ig_completeness_gap: number;
  zero_cams: number;
}

interface PyTimes {
  gradcam_ms: number;
  ig_ms: number;
  gradcam_cpu_ms: number;
  ig_cpu_ms: number;
  gradcam_faults: number;
  ig_faults: number;
  threads: number;
  torch: string;
}

/** A full garbage collection (and a turn of the event loop for finalizers), so that handle counts only hold what is still referenced. */
async function collect(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
}

const signed = (v: number, digits = 1): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** Runs one explainer call and disposes its maps; returns the warnings. */
function explainOnce(name: string, input: ExplainInput, params: Record<string, number>): string[] {
  const e = explainer(name);
  const r = e.explain(input, params);
  if (r instanceof Promise) throw new Error(`${name} is asynchronous; the bench times synchronous calls`);
  r.maps.dispose();
  return r.warnings;
}

/** Wall-clock and process CPU (all threads, user + system) ms and minor page faults per timed call, after the warm-up. */
function msPerCall(fn: () => void, warmup: () => void, iters: number): { wall: number; cpu: number; faults: number } {
  warmup();
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  const wall = (performance.now() - t0) / iters;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / iters, faults: (process.resourceUsage().minorPageFault - f0) / iters };
}

/** Plain eval-mode forward throughput at `batch`, images/s. */
function forwardThroughput(model: Model, batch: number, iters: number): number {
  const x = keep(randn([batch, 3, 32, 32]));
  try {
    const once = () => tidy(() => noGrad(() => void model.forward(x, { training: false }).sum().item()));
    once();
    once();
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) once();
    return (iters * batch) / ((performance.now() - t0) / 1000);
  } finally {
    x.dispose();
  }
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv, DEFAULTS);
  // --quick lowers the defaults; options given explicitly still win.
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
  const o: Options = parsed.quick ? { ...parsed, ...Object.fromEntries(Object.entries(QUICK).filter(([k]) => !given.has(k))) } : parsed;
  const threads = getNumThreads();
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`explain: resnet20, 3x32x32, ${o.classes} classes, random fixed weights (seed ${o.seed}), batch ${o.batch}, predicted targets${o.quick ? '; --quick' : ''}`);
  console.log(`libtorch ${engineInfo().torchVersion}, ${threads} intra-op threads on both sides; load average ${load()}`);

  manualSeed(o.seed);
  const model = Model.create(buildArch('resnet20', { classes: o.classes })).eval();
  const layer = autoTargetLayer(model.graph);
  const x = keep(randn([o.batch, 3, 32, 32]));
  const targets = resolveTargets(model, x, 'predicted');
  const input: ExplainInput = { model, x, targets, layer, seed: o.seed };
  const igParams = resolveExplainParams(explainer('ig'), { steps: o.steps, internalBatch: o.internalBatch });
  const igWarm = resolveExplainParams(explainer('ig'), { steps: 2, internalBatch: o.internalBatch });
  console.log(`target layer ${layer} (automatic); targets ${targets.join(' ')}`);

  const dir = mkdtempSync(join(tmpdir(), 'slimnet-bench-explain-'));
  const file = join(dir, 'data.safetensors');
  const slimCam: number[] = [];
  const slimIg: number[] = [];
  const pyCam: number[] = [];
  const pyIg: number[] = [];
  // CPU time of the whole process per call (all its threads): less sensitive than wall-clock time to other jobs on the machine.
  const cpu = { slimCam: [] as number[], pyCam: [] as number[], slimIg: [] as number[], pyIg: [] as number[] };
  // Minor page faults per call: slimnet's addon fixes glibc's mmap threshold (native/src/runtime.cc), stock PyTorch does not.
  const faults = { slimCam: [] as number[], pyCam: [] as number[], slimIg: [] as number[], pyIg: [] as number[] };
  let torchVersion = '';
  let check: PyCheck;
  let camWarnings: string[] = [];
  try {
    // 0. The same maps on both sides.
    tidy(() => {
      const cam = explainer('gradcam').explain(input, {});
      const ig = explainer('ig').explain(input, igParams);
      if (cam instanceof Promise || ig instanceof Promise) throw new Error('gradcam / ig are expected to be synchronous');
      camWarnings = cam.warnings;
      const weights = noGrad(() => Object.fromEntries(model.namedTensors().map(([k, t]) => [k, t.detach()])));
      const t = tensor(BigInt64Array.from(targets, (v) => BigInt(v)), [targets.length]);
      saveTensors(file, { ...weights, x, targets: t, gradcam: cam.maps, ig: ig.maps });
      if (ig.warnings.length) console.log(`slimnet ig: ${ig.warnings.join('; ')}`);
    });
    check = python<PyCheck>(o, file, threads, ['--check']);
    console.log(`same maps on both sides: Grad-CAM max |slimnet − pytorch| / max |pytorch| ${check.gradcam_max_rel_diff.toExponential(2)} (target <= 1e-4; ${camWarnings.length} of ${o.batch} CAMs all-zero in slimnet, ${check.zero_cams} in pytorch); IG ${check.ig_max_rel_diff.toExponential(2)} (target <= 1e-3; pytorch's completeness gap ${check.ig_completeness_gap.toExponential(2)})`);
    if (!(check.gradcam_max_rel_diff <= 1e-4)) throw new Error(`slimnet and PyTorch compute different Grad-CAM maps (max relative difference ${check.gradcam_max_rel_diff})`);
    if (!(check.ig_max_rel_diff <= 1e-3)) throw new Error(`slimnet and PyTorch compute different IG maps (max relative difference ${check.ig_max_rel_diff})`);

    // 1 + 2. Grad-CAM and IG, interleaved rounds.
    console.log(`\n${o.rounds} rounds; per side and round Grad-CAM ${o.warmup} warm-up + ${o.iters} timed, IG (${o.steps} steps, internal batch ${o.internalBatch}) a 2-step warm-up + ${o.igIters} timed`);
    console.log('round   gradcam ms: slimnet   pytorch   ratio     ig ms: slimnet   pytorch   ratio');
    const started = performance.now();
    for (let r = 0; r < o.rounds; r++) {
      if (r >= 2 && (performance.now() - started) / 1000 > o.maxSeconds) {
        console.log(`(stopping after ${r} rounds: over --max-seconds ${o.maxSeconds}; the machine is slow or loaded)`);
        break;
      }
      const cam = msPerCall(
        () => void explainOnce('gradcam', input, {}),
        () => {
          for (let i = 0; i < o.warmup; i++) explainOnce('gradcam', input, {});
        },
        o.iters,
      );
      const ig = msPerCall(() => void explainOnce('ig', input, igParams), () => void explainOnce('ig', input, igWarm), o.igIters);
      const p = python<PyTimes>(o, file, threads, ['--warmup', String(o.warmup), '--iters', String(o.iters), '--ig-iters', String(o.igIters)]);
      if (p.threads !== threads) throw new Error(`python ran with ${p.threads} threads, slimnet with ${threads}`);
      torchVersion = p.torch;
      slimCam.push(cam.wall);
      slimIg.push(ig.wall);
      pyCam.push(p.gradcam_ms);
      pyIg.push(p.ig_ms);
      cpu.slimCam.push(cam.cpu);
      cpu.slimIg.push(ig.cpu);
      cpu.pyCam.push(p.gradcam_cpu_ms);
      cpu.pyIg.push(p.ig_cpu_ms);
      faults.slimCam.push(cam.faults);
      faults.slimIg.push(ig.faults);
      faults.pyCam.push(p.gradcam_faults);
      faults.pyIg.push(p.ig_faults);
      console.log(
        `${String(r + 1).padStart(5)}   ${fmt(cam.wall).padStart(19)}   ${fmt(p.gradcam_ms).padStart(7)}   ${fmt(p.gradcam_ms / cam.wall, 3).padStart(5)}   ${fmt(ig.wall).padStart(14)}   ${fmt(p.ig_ms).padStart(7)}   ${fmt(p.ig_ms / ig.wall, 3).padStart(5)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const camS = median(slimCam);
  const camP = median(pyCam);
  const igS = median(slimIg);
  const igP = median(pyIg);
  console.log(`median  ${fmt(camS).padStart(19)}   ${fmt(camP).padStart(7)}   ${fmt(camP / camS, 3).padStart(5)}   ${fmt(igS).padStart(14)}   ${fmt(igP).padStart(7)}   ${fmt(igP / igS, 3).padStart(5)}   (pytorch ${torchVersion})`);
  const cpuCam = median(cpu.pyCam) / median(cpu.slimCam);
  const cpuIg = median(cpu.pyIg) / median(cpu.slimIg);
  console.log(`ratios (pytorch ms / slimnet ms): Grad-CAM ${fmt(camP / camS, 3)}, IG ${fmt(igP / igS, 3)} (target >= 0.95 each); load average ${load()}`);
  console.log(`process CPU ms per call (median; slimnet / pytorch): Grad-CAM ${fmt(median(cpu.slimCam))} / ${fmt(median(cpu.pyCam))} (ratio ${fmt(cpuCam, 3)}), IG ${fmt(median(cpu.slimIg))} / ${fmt(median(cpu.pyIg))} (ratio ${fmt(cpuIg, 3)})`);
  console.log(`minor page faults per call (median; slimnet / pytorch): Grad-CAM ${fmt(median(faults.slimCam), 0)} / ${fmt(median(faults.pyCam), 0)}, IG ${fmt(median(faults.slimIg), 0)} / ${fmt(median(faults.pyIg), 0)}`);

  // 3. LIME and KernelSHAP against plain forward throughput at their batch size.
  const px = tidy(() => x.narrow(0, 0, o.perturbImages).contiguous());
  const pInput: ExplainInput = { model, x: px, targets: targets.slice(0, o.perturbImages), layer, seed: o.seed };
  const limeParams = resolveExplainParams(explainer('lime'), { samples: o.limeSamples, batch: o.perturbBatch });
  const shapParams = resolveExplainParams(explainer('kernelshap'), { samples: o.shapSamples, batch: o.perturbBatch });
  const fwd1 = forwardThroughput(model, o.perturbBatch, o.forwardIters);
  let t0 = performance.now();
  explainOnce('lime', pInput, limeParams);
  const limeS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  explainOnce('kernelshap', pInput, shapParams);
  const shapS = (performance.now() - t0) / 1000;
  const fwd2 = forwardThroughput(model, o.perturbBatch, o.forwardIters);
  px.dispose();
  const fwd = (fwd1 + fwd2) / 2;
  // KernelSHAP evaluates its plan (`samples` coalitions while 2^k − 2 exceeds it) plus the full and the empty coalition.
  const limeRate = (o.limeSamples * o.perturbImages) / limeS;
  const shapRate = ((o.shapSamples + 2) * o.perturbImages) / shapS;
  console.log(`\nperturbations (batch ${o.perturbBatch}, ${o.perturbImages} image${o.perturbImages === 1 ? '' : 's'}): plain forward ${fmt(fwd, 0)} img/s (${fmt(fwd1, 0)} before, ${fmt(fwd2, 0)} after)`);
  console.log(`  LIME        ${o.limeSamples} samples/image: ${fmt(limeS, 2)} s, ${fmt(limeRate, 0)} perturbed img/s = ${fmt(limeRate / fwd, 3)} of forward`);
  console.log(`  KernelSHAP  ${o.shapSamples} + 2 coalitions/image: ${fmt(shapS, 2)} s, ${fmt(shapRate, 0)} perturbed img/s = ${fmt(shapRate / fwd, 3)} of forward`);

  // 4. Memory: Grad-CAM on batch 1, in a loop, no enclosing scope.
  const singles = Array.from({ length: 8 }, (_, i) => tidy(() => x.narrow(0, i, 1).contiguous()));
  const one = (i: number) => explainOnce('gradcam', { model, x: singles[i % singles.length]!, targets: [targets[i % singles.length]!], layer, seed: o.seed }, {});
  for (let i = 0; i < 10; i++) one(i); // lazily created state (kernels, caches) before the count starts
  await collect(); // earlier sections' unreferenced tensors are finalized now, not during the loop
  const h0 = liveNativeTensors();
  const rss0 = rssMb();
  let h100 = h0;
  let rss100 = rss0;
  t0 = performance.now();
  for (let i = 0; i < o.memIters; i++) {
    one(i);
    if (i + 1 === 100) {
      h100 = liveNativeTensors();
      rss100 = rssMb();
    }
  }
  const memS = (performance.now() - t0) / 1000;
  const h1 = liveNativeTensors(); // before any collection: what the calls disposed themselves
  const rss1 = rssMb();
  await collect();
  const h1gc = liveNativeTensors();
  for (const s of singles) s.dispose();
  console.log(`\nmemory: ${o.memIters} Grad-CAM calls on batch 1, no enclosing scope, maps disposed by the caller (${fmt((memS * 1000) / o.memIters, 2)} ms each)`);
  console.log(`  live native handles: ${h0.handles} at the start, ${h100.handles} after 100, ${h1.handles} after ${o.memIters} (${signed(h1.handles - h0.handles, 0)}, ${signed(h1.bytes - h0.bytes, 0)} bytes; ${h1gc.handles} after a garbage collection)`);
  console.log(`  RSS: ${fmt(rss0)} MB at the start, ${fmt(rss100)} MB after 100, ${fmt(rss1)} MB after ${o.memIters} (${signed(rss1 - rss100)} MB from 100 to ${o.memIters})`);
  if (h1.handles !== h0.handles) throw new Error(`${signed(h1.handles - h0.handles, 0)} native handles over ${o.memIters} Grad-CAM calls`);

  x.dispose();
  model.dispose();
  console.log(`load average at the end ${load()} (other processes on the machine skew wall-clock figures)`);
  console.log(
    JSON.stringify({
      bench: 'explain',
      quick: o.quick,
      batch: o.batch,
      rounds: slimCam.length,
      threads,
      gradcam_slimnet_ms: +camS.toFixed(2),
      gradcam_pytorch_ms: +camP.toFixed(2),
      gradcam_ratio: +(camP / camS).toFixed(4),
      ig_slimnet_ms: +igS.toFixed(2),
      ig_pytorch_ms: +igP.toFixed(2),
      ig_ratio: +(igP / igS).toFixed(4),
      gradcam_cpu_ratio: +cpuCam.toFixed(4),
      ig_cpu_ratio: +cpuIg.toFixed(4),
      gradcam_max_rel_diff: +check.gradcam_max_rel_diff.toExponential(3),
      ig_max_rel_diff: +check.ig_max_rel_diff.toExponential(3),
      forward_img_s: +fwd.toFixed(1),
      lime_img_s: +limeRate.toFixed(1),
      lime_vs_forward: +(limeRate / fwd).toFixed(4),
      kernelshap_img_s: +shapRate.toFixed(1),
      kernelshap_vs_forward: +(shapRate / fwd).toFixed(4),
      mem_iters: o.memIters,
      handles_growth: h1.handles - h0.handles,
      rss_mb_100: +rss100.toFixed(1),
      rss_mb_end: +rss1.toFixed(1),
      rss_growth_mb: +(rss1 - rss100).toFixed(1),
      load_average: +loadavg()[0]!.toFixed(2),
    }),
  );
}
