// One knowledge-distillation step through slimnet's distillation set-up — a
// Distillation (kd + at) handing its step context, student hooks and loss
// terms to the Trainer — against the same step in PyTorch
// (bench/distill_pytorch.py, RepDistiller's DistillKL and Attention with
// forward hooks) on the same libtorch with the same number of threads.
//
// The step: the teacher's forward (ResNet-20, eval mode, no grad), the
// student's forward and backward (ResNet-20 at width 0.5, train mode), loss =
// 0.1 CE + 0.9 KD (T 4) + 1000 AT (p 2) on the three stage outputs
// (layer1.2.relu2, layer2.2.relu2, layer3.2.relu2), SGD with momentum 0.9;
// 3x32x32 random images, batch 64, 10 classes. Before timing, both sides
// compute CE, KD and AT on the same weights and batch (slimnet's weights
// loaded into PyTorch by key, strictly) and must agree, so the two sides run
// the same networks and the same losses.
//
// Rounds alternate: slimnet's timed steps in this process, then a fresh
// python process running its warm-up and timed steps; each side times its
// timed steps only (python start-up, model creation and warm-up excluded).
// slimnet's figure includes what its Trainer does per step (the batch copy
// a data source yields, the one read-back of the losses, the NaN check).
// `--quick`: fewer rounds and steps (a check that it works, noisy).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineInfo, getNumThreads, keep, manualSeed, noGrad, randint, randn, saveTensors, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { Model } from '../src/graph/index.js';
import { buildArch } from '../src/models/index.js';
import { Trainer, buildOptimizer, type Batch, type BatchSource, type LossContext } from '../src/train/index.js';
import { Distillation, type TeacherOutputs } from '../src/distill/index.js';
import { fmt, median, parseArgs } from './lib/stats.js';

export const description = 'one distillation step (ResNet-20 teacher, half-width student, KD + AT, SGD), slimnet vs PyTorch';

const DEFAULTS = {
  rounds: 5,
  warmup: 2,
  steps: 5,
  batch: 64,
  batches: 2,
  lr: 0.01,
  momentum: 0.9,
  classes: 10,
  studentWidth: 0.5,
  seed: 0,
  python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3',
  /** No new round starts after this many seconds (at least 2 rounds run). */
  maxSeconds: 180,
  quick: false,
};
type Options = typeof DEFAULTS;
const QUICK: Partial<Options> = { rounds: 2, warmup: 1, steps: 3 };

interface PySide {
  step_ms: number;
  img_s: number;
  threads: number;
  torch: string;
  loss: number;
}

const script = fileURLToPath(new URL('./distill_pytorch.py', import.meta.url));

function python<T>(o: Options, threads: number, extra: string[]): T {
  const args = [script, '--threads', String(threads), '--batch', String(o.batch), '--classes', String(o.classes), '--student-width', String(o.studentWidth), '--seed', String(o.seed), ...extra];
  const r = spawnSync(o.python, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`cannot run ${o.python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${o.python} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

/** `steps` batches per epoch, cycling through fixed random batches (copies: the trainer disposes what it gets). */
function cycling(data: readonly { x: Tensor; y: Tensor }[], steps: number): BatchSource {
  let next = 0;
  return {
    length: steps,
    epoch: async function* () {
      for (let i = 0; i < steps; i++) {
        const b = data[next++ % data.length]!;
        yield { x: keep(b.x.clone()), y: keep(b.y.clone()), indices: new Int32Array(b.x.size(0)) } satisfies Batch;
      }
    },
  };
}

/**
 * Slimnet's unweighted CE, KD and AT on one batch (student in train mode,
 * through the Distillation's own step context, hooks and terms), written to
 * `file` with the weights they were computed from (copied before the
 * forward: train mode moves BatchNorm's running statistics) and the batch.
 */
function slimnetTerms(d: Distillation, teacher: Model, student: Model, b: { x: Tensor; y: Tensor }, file: string): number[] {
  return tidy(() => {
    const weights = noGrad(() => ({
      ...Object.fromEntries(teacher.namedTensors().map(([k, t]) => [`teacher.${k}`, t.clone()])),
      ...Object.fromEntries(student.namedTensors().map(([k, t]) => [`student.${k}`, t.clone()])),
    }));
    const o = d.trainerOptions();
    const input = { model: student, x: b.x, y: b.y, indices: new Int32Array(b.x.size(0)), step: 0, epoch: 0, auxiliary: {} };
    const context = o.stepContext(input);
    const logits = student.forward(b.x, { training: true, hooks: o.hooks });
    const ctx: LossContext<TeacherOutputs> = { ...input, logits, context };
    const factors = [d.ceWeight, ...d.losses.map((l) => l.params.weight!)];
    const terms = [o.loss(logits, b.y, ctx as LossContext), ...o.extraLosses.map((t) => (typeof t === 'function' ? t(ctx) : t.fn(ctx)))];
    const values = terms.map((v, i) => (v.item() as number) / factors[i]!);
    saveTensors(file, { ...weights, x: b.x, y: b.y, expected: tensor(Float64Array.from(values), [values.length]) });
    return values;
  });
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv, DEFAULTS);
  // --quick lowers the defaults; options given explicitly still win.
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
  const o: Options = parsed.quick ? { ...parsed, ...Object.fromEntries(Object.entries(QUICK).filter(([k]) => !given.has(k))) } : parsed;
  const threads = getNumThreads();
  console.log(`distill: teacher resnet20, student resnet20 x${o.studentWidth}, 3x32x32, batch ${o.batch}, ${o.classes} classes; 0.1 CE + 0.9 KD (T 4) + 1000 AT (p 2, 3 stage outputs); SGD lr ${o.lr} momentum ${o.momentum}; random data${o.quick ? '; --quick' : ''}`);
  console.log(`${o.rounds} rounds of ${o.warmup} warm-up + ${o.steps} timed steps per side; libtorch ${engineInfo().torchVersion}, ${threads} intra-op threads on both sides`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  manualSeed(o.seed);
  const teacher = Model.create(buildArch('resnet20', { classes: o.classes }));
  teacher.freeze();
  teacher.eval();
  const student = Model.create(buildArch('resnet20', { classes: o.classes, widthMultiplier: o.studentWidth }));
  const d = new Distillation({ teacher, student, losses: [{ name: 'kd' }, { name: 'at' }] });
  const pairs = d.pairs.map((p) => `${p.student} [${p.studentShape.join('x')}] -> ${p.teacher} [${p.teacherShape.join('x')}]`);
  console.log(`pairs (${d.pairing!.mode}): ${pairs.join(', ')}; ce weight ${d.ceWeight}; ${d.losses.map((l) => `${l.name} ${JSON.stringify(l.params)}`).join(', ')}`);
  const data = Array.from({ length: o.batches }, () => ({ x: keep(randn([o.batch, 3, 32, 32])), y: keep(randint(0, o.classes, [o.batch])) }));

  // The same networks and losses on both sides.
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-bench-distill-'));
  let check: { ce: number; kd: number; at: number; max_rel_diff: number };
  let ours: number[];
  try {
    const file = join(dir, 'check.safetensors');
    ours = slimnetTerms(d, teacher, student, data[0]!, file);
    check = python(o, threads, ['--check', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`same step on both sides: CE ${fmt(ours[0]!, 5)} / ${fmt(check.ce, 5)}, KD ${fmt(ours[1]!, 5)} / ${fmt(check.kd, 5)}, AT ${ours[2]!.toExponential(4)} / ${check.at.toExponential(4)} (slimnet / pytorch); max relative difference ${check.max_rel_diff.toExponential(2)}`);
  if (!(check.max_rel_diff <= 1e-4)) throw new Error(`slimnet and PyTorch compute different losses (max relative difference ${check.max_rel_diff})`);

  const optimizer = buildOptimizer(student, { type: 'sgd', lr: o.lr, momentum: o.momentum }, d.auxiliary.flatMap((m) => m.parameters()));
  const trainer = new Trainer<TeacherOutputs>({ model: student, optimizer, ...d.trainerOptions() });
  let lastLoss = NaN;
  trainer.callbacks.push({ onStepEnd: (info) => void (lastLoss = info.loss) });
  const run = (steps: number) => trainer.fit(cycling(data, steps), { epochs: trainer.epoch + 1 });

  const slim: number[] = [];
  const py: number[] = [];
  let torchVersion = '';
  console.log('\nround   slimnet ms/step   pytorch ms/step   ratio (pytorch / slimnet)');
  const started = performance.now();
  for (let r = 0; r < o.rounds; r++) {
    if (r >= 2 && (performance.now() - started) / 1000 > o.maxSeconds) {
      console.log(`(stopping after ${r} rounds: over --max-seconds ${o.maxSeconds}; the machine is slow or loaded)`);
      break;
    }
    if (o.warmup > 0) await run(o.warmup);
    const forwards = d.runner.forwards;
    const t0 = performance.now();
    await run(o.steps);
    const ms = (performance.now() - t0) / o.steps;
    if (d.runner.forwards - forwards !== o.steps) throw new Error(`the teacher ran ${d.runner.forwards - forwards} times in ${o.steps} steps`);
    if (!Number.isFinite(lastLoss)) throw new Error(`slimnet loss became ${lastLoss}`);
    const p = python<PySide>(o, threads, ['--warmup', String(o.warmup), '--steps', String(o.steps), '--batches', String(o.batches), '--lr', String(o.lr), '--momentum', String(o.momentum)]);
    if (p.threads !== threads) throw new Error(`python ran with ${p.threads} threads, slimnet with ${threads}`);
    torchVersion = p.torch;
    slim.push(ms);
    py.push(p.step_ms);
    console.log(`${String(r + 1).padStart(5)}   ${fmt(ms).padStart(15)}   ${fmt(p.step_ms).padStart(15)}   ${fmt(p.step_ms / ms, 3)}`);
  }
  optimizer.dispose();
  d.dispose();
  student.dispose();
  teacher.dispose();
  for (const b of data) {
    b.x.dispose();
    b.y.dispose();
  }

  const s = median(slim);
  const p = median(py);
  const ratio = p / s;
  console.log(`median  ${fmt(s).padStart(15)}   ${fmt(p).padStart(15)}   ${fmt(ratio, 3)}   (pytorch ${torchVersion})`);
  console.log(`ratio (pytorch ms / slimnet ms): ${fmt(ratio, 3)} (target >= 0.95); load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes on the machine skew wall-clock figures)`);
  console.log(
    JSON.stringify({
      bench: 'distill',
      quick: o.quick,
      batch: o.batch,
      rounds: slim.length,
      steps: o.steps,
      slimnet_ms: +s.toFixed(2),
      pytorch_ms: +p.toFixed(2),
      ratio: +ratio.toFixed(4),
      threads,
      loss_check_max_rel_diff: +check.max_rel_diff.toExponential(3),
    }),
  );
}
