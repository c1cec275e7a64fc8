// A distillation set-up: the teacher, the student, the losses with their
// resolved parameters, the feature pairs and their adapters, turned into what
// the one Trainer takes — a step context (the teacher's outputs, computed
// once per step whatever the number of losses), student hooks that collect
// the paired features in the same forward, one loss term per distillation
// loss, the weighted cross-entropy as the main loss, and the adapters as
// auxiliary modules. Nothing here loops over data: the trainer does.
import { F, keep, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { inputShape, type Hooks, type Model } from '../graph/index.js';
import type { AuxiliaryModule, BatchSource, LossContext, LossFn, LossTerm, StepContextFn } from '../train/index.js';
import { distillLoss, resolveLossParams, type DistillLoss, type FeaturePairTensors } from './losses/index.js';
import { pairFeatures, type FeaturePair, type Pairing } from './pairs.js';
import { applyAdapter, createAdapters, type Adapter } from './adapters.js';
import { TeacherRunner, classCount } from './teacher.js';
import { DistillError } from './errors.js';

export interface DistillLossSpec {
  name: string;
  /** Overrides of the loss's parameters (weight, temperature, ...). */
  params?: Readonly<Record<string, number>>;
}

export interface DistillationOptions {
  teacher: Model;
  student: Model;
  losses: readonly DistillLossSpec[];
  /** Factor of the student's cross-entropy; default: the smallest `ceWeight` of the losses' anchors (KD's 0.1 with kd). */
  ceWeight?: number;
  /** Label smoothing of that cross-entropy (the seed-002 recipe distills without). */
  labelSmoothing?: number;
  /** Feature pairs by node name; default: stage outputs, by name or by spatial size (pairs.ts). */
  pairs?: readonly { student: string; teacher: string }[];
}

/** A loss as the run uses it: its name and every parameter's value (written to config.json). */
export interface ResolvedLoss {
  name: string;
  params: Record<string, number>;
}

/** What a step's losses read from the teacher. */
export interface TeacherOutputs {
  logits: Tensor;
  /** Outputs of the paired teacher nodes (empty when only logit losses run). */
  features: Map<string, Tensor>;
}

/** The teacher's logits for a whole data set, computed once (logit-only losses without augmentation). */
export class CachedLogits {
  private constructor(
    /** float32 [N, K], owned until dispose(). */
    readonly logits: Tensor,
    readonly seconds: number,
  ) {}

  /** Runs the teacher over `source` (unshuffled, deterministic transform: its batch indices address the rows). */
  static async compute(teacher: Model, source: BatchSource, samples: number, signal?: AbortSignal): Promise<CachedLogits> {
    const t0 = performance.now();
    const classes = classCount(teacher.graph);
    const rows = new Float32Array(samples * classes);
    const filled = new Uint8Array(samples);
    for await (const b of source.epoch(0)) {
      try {
        const out = tidy(() => noGrad(() => teacher.forward(b.x, { training: false })).data<'float32'>());
        b.indices.forEach((idx, r) => {
          rows.set(out.subarray(r * classes, (r + 1) * classes), idx * classes);
          filled[idx] = 1;
        });
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
      if (signal?.aborted) break;
    }
    if (!signal?.aborted && filled.some((f) => f === 0)) throw new DistillError(`caching teacher logits: ${filled.filter((f) => f === 0).length} of ${samples} samples were never seen`);
    return new CachedLogits(keep(tensor(rows, [samples, classes])), (performance.now() - t0) / 1000);
  }

  rows(indices: Int32Array): Tensor {
    return this.logits.indexSelect(0, Array.from(indices));
  }

  dispose(): void {
    this.logits.dispose();
  }
}

export class Distillation {
  readonly losses: ResolvedLoss[];
  readonly ceWeight: number;
  readonly labelSmoothing: number;
  /** Feature pairs (null when every loss reads logits only). */
  readonly pairing: Pairing | null;
  readonly adapters: Adapter[];
  readonly runner: TeacherRunner;
  private readonly defs: DistillLoss[];
  private readonly studentFeatures = new Map<string, Tensor>();
  private cache: CachedLogits | null = null;

  constructor(readonly o: DistillationOptions) {
    if (o.losses.length === 0) throw new DistillError('give at least one distillation loss');
    const names = o.losses.map((l) => l.name);
    if (new Set(names).size !== names.length) throw new DistillError(`a distillation loss is listed twice: ${names.join(', ')}`);
    this.defs = o.losses.map((l) => distillLoss(l.name));
    this.losses = o.losses.map((l, i) => ({ name: l.name, params: resolveLossParams(this.defs[i]!, l.params) }));
    this.ceWeight = o.ceWeight ?? Math.min(...this.defs.map((d) => d.ceWeight));
    if (!(this.ceWeight >= 0 && Number.isFinite(this.ceWeight))) throw new DistillError(`the cross-entropy weight must be >= 0, got ${this.ceWeight}`);
    this.labelSmoothing = o.labelSmoothing ?? 0;

    const kt = classCount(o.teacher.graph);
    const ks = classCount(o.student.graph);
    if (kt !== ks) throw new DistillError(`the teacher has ${kt} classes and the student ${ks}: they must predict the same classes`);
    const it = inputShape(o.teacher.graph).join(', ');
    const is = inputShape(o.student.graph).join(', ');
    if (it !== is) throw new DistillError(`the teacher takes [${it}] per sample and the student [${is}]: they must read the same images`);

    const needsFeatures = this.defs.some((d) => d.needs === 'features');
    this.pairing = needsFeatures ? pairFeatures(o.student.graph, o.teacher.graph, { given: o.pairs, sameSpatial: this.defs.some((d) => d.sameSpatial) }) : null;
    if (!needsFeatures && o.pairs?.length) throw new DistillError(`feature pairs were given, but ${names.join(', ')} read${names.length === 1 ? 's' : ''} logits only`);
    this.adapters = this.defs.some((d) => d.adapt) && this.pairing ? createAdapters(this.pairing.pairs) : [];
    this.runner = new TeacherRunner(o.teacher, this.pairing?.pairs.map((p) => p.teacher) ?? []);
  }

  get pairs(): readonly FeaturePair[] {
    return this.pairing?.pairs ?? [];
  }

  /** Whether the teacher's logits can be cached for the whole training set (every loss reads logits only). */
  get logitsOnly(): boolean {
    return this.pairing === null;
  }

  /** Use cached teacher logits instead of running the teacher each step (logit-only losses, deterministic training inputs). */
  useCache(cache: CachedLogits): void {
    if (!this.logitsOnly) throw new DistillError('teacher logits can be cached only when every loss reads logits (kd, logits, dkd)');
    this.cache = cache;
  }

  /** The auxiliary modules to hand to the trainer (and whose parameters the optimizer must update). */
  get auxiliary(): AuxiliaryModule[] {
    return this.adapters.map((a) => a.module);
  }

  /** Everything the Trainer needs: main loss, loss terms, step context, student hooks, auxiliary modules. */
  trainerOptions(): { loss: LossFn; extraLosses: LossTerm<TeacherOutputs>[]; stepContext: StepContextFn<TeacherOutputs>; hooks: Hooks; auxiliary: AuxiliaryModule[] } {
    const ce = this.ceWeight;
    const ls = this.labelSmoothing;
    const studentNodes = new Set(this.pairs.map((p) => p.student));
    const hooks: Hooks = {
      onOutput: (node, out) => {
        if (studentNodes.has(node.name)) this.studentFeatures.set(node.name, out.share());
        return undefined;
      },
    };
    const stepContext: StepContextFn<TeacherOutputs> = (input) => {
      // The previous step's handles were released with its scope.
      this.studentFeatures.clear();
      if (this.cache) return { logits: this.cache.rows(input.indices), features: new Map() };
      return this.runner.run(input.x);
    };
    const adapterOf = new Map(this.adapters.map((a) => [a.pair, a.module]));
    const extraLosses: LossTerm<TeacherOutputs>[] = this.defs.map((def, i) => {
      const params = this.losses[i]!.params;
      const weight = params.weight!;
      return {
        name: def.name,
        fn: (ctx: LossContext<TeacherOutputs>) => {
          const teacher = ctx.context!;
          const pairs: FeaturePairTensors[] =
            def.needs === 'features'
              ? this.pairs.map((p, k) => {
                  const s = this.studentFeatures.get(p.student);
                  const t = teacher.features.get(p.teacher);
                  if (!s || !t) throw new DistillError(`feature pair ${p.student}:${p.teacher}: the ${s ? 'teacher' : 'student'} node produced no output in this forward`);
                  const adapter = def.adapt ? adapterOf.get(k) : undefined;
                  return { student: p.student, teacher: p.teacher, s: adapter ? applyAdapter(adapter, s) : s, t };
                })
              : [];
          const value = def.compute({ studentLogits: ctx.logits, teacherLogits: teacher.logits, y: ctx.y, pairs, epoch: ctx.epoch }, params);
          return weight === 1 ? value : value.mul(weight);
        },
      };
    });
    const loss: LossFn = (logits, y) => {
      const l = F.crossEntropy(logits, y, { labelSmoothing: ls });
      return ce === 1 ? l : l.mul(ce);
    };
    return { loss, extraLosses, stepContext, hooks, auxiliary: this.auxiliary };
  }

  /** The set-up as config.json records it. */
  describe(): { losses: ResolvedLoss[]; ceWeight: number; labelSmoothing: number; pairing: PairingRecord | null; adapters: { pair: number; name: string; from: number; to: number }[] } {
    return {
      losses: this.losses,
      ceWeight: this.ceWeight,
      labelSmoothing: this.labelSmoothing,
      pairing: this.pairing ? { mode: this.pairing.mode, pairs: this.pairing.pairs.map((p) => ({ student: p.student, teacher: p.teacher, studentShape: [...p.studentShape], teacherShape: [...p.teacherShape] })) } : null,
      adapters: this.adapters.map((a) => ({ pair: a.pair, name: a.module.name, from: this.pairs[a.pair]!.studentShape[0]!, to: this.pairs[a.pair]!.teacherShape[0]! })),
    };
  }

  dispose(): void {
    this.studentFeatures.clear();
    for (const a of this.adapters) a.module.dispose();
    this.cache?.dispose();
  }
}

export interface PairingRecord {
  mode: Pairing['mode'];
  pairs: { student: string; teacher: string; studentShape: number[]; teacherShape: number[] }[];
}

/**
 * Share of samples whose top-1 class is the same for teacher and student
 * (eval mode), over `source`.
 */
export async function agreement(teacher: Model, student: Model, source: BatchSource, signal?: AbortSignal): Promise<{ agree: number; count: number; rate: number }> {
  let agree = 0;
  let count = 0;
  for await (const b of source.epoch(0)) {
    try {
      agree += tidy(() =>
        noGrad(() => {
          const a = teacher.forward(b.x, { training: false }).argmax(1);
          const s = student.forward(b.x, { training: false }).argmax(1);
          return a.eq(s).sum().item() as number;
        }),
      );
      count += b.x.size(0);
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
    if (signal?.aborted) break;
  }
  return { agree, count, rate: count ? agree / count : 0 };
}
