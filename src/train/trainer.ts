// The training loop every later feature reuses (baseline training, pruning's
// fine-tuning, distillation, network slimming): forward, loss plus extra loss
// terms, backward, optional gradient clipping, optimizer and schedule steps,
// per-epoch validation, early stopping, callbacks, and a state that resumes a
// run bit for bit.
//
// Seams for what builds on it: a per-step context computed once per step and
// shared by every loss term (a teacher's outputs), auxiliary trainable modules
// updated and saved with the model (adapters), and callbacks around backward
// (a sub-gradient, gradient masking).
//
// Each step runs in one synchronous tidy scope (flat memory) and is followed
// by an await that yields to the event loop, so a progress bar can draw and a
// fit()'s AbortSignal (Ctrl-C) can stop it between steps. One value is read back
// per step (the losses and the correct count together), which is also where a
// NaN / infinite loss is caught, before backward and before any update.
import { F, getRngState, keep, noGrad, setRngState, tidy, type Tensor } from '../tensor/index.js';
import type { Model, Hooks } from '../graph/index.js';
import type { Optimizer, BaseHyper, OptimizerState } from './optim/index.js';
import { LrSchedule, type ScheduleState } from './schedules.js';
import { MetricAccumulator, type Metrics } from './metrics.js';
import { EarlyStopping, type EarlyStoppingOptions, type EarlyStoppingStateMeta } from './early-stopping.js';
import { clipGradNorm } from './clip.js';
import { SlimnetError } from '../util/errors.js';
import type { AuxiliaryModule } from './auxiliary.js';

// ---- data interface (structurally the DataLoader of src/data) --------------------

/** x float32 [B, C, H, W], y int64 [B]; the consumer disposes x and y. */
export interface Batch {
  x: Tensor;
  y: Tensor;
  indices: Int32Array;
}

/** Anything that yields batches per epoch: src/data's DataLoader, or an in-memory test source. */
export interface BatchSource {
  /** Batches per epoch. */
  readonly length: number;
  epoch(epochIndex: number): AsyncIterableIterator<Batch>;
}

// ---- losses and callbacks ---------------------------------------------------------

/**
 * A loss of (logits, labels). During training it also receives the step's
 * LossContext (a distillation loss reads the teacher's outputs from it);
 * in evaluation it gets none.
 */
export type LossFn = (logits: Tensor, y: Tensor, ctx?: LossContext) => Tensor;

/** Auxiliary modules by name (TrainerOptions.auxiliary). */
export type AuxiliaryModules = Readonly<Record<string, AuxiliaryModule>>;

/** What a step context is computed from: the batch, before the model's forward. */
export interface StepInput {
  model: Model;
  x: Tensor;
  y: Tensor;
  /** The batch's sample indices in its data set (cached per-sample values, e.g. a teacher's logits, are looked up by them). */
  indices: Int32Array;
  /** Global step (optimizer updates before this one). */
  step: number;
  epoch: number;
  auxiliary: AuxiliaryModules;
}

export interface LossContext<C = unknown> {
  model: Model;
  x: Tensor;
  y: Tensor;
  logits: Tensor;
  /** Global step (optimizer updates before this one). */
  step: number;
  epoch: number;
  /**
   * This step's context (TrainerOptions.stepContext), computed once and
   * shared by every term; undefined without one. (Optional only so that a
   * LossContext can be written by hand, e.g. to test a term; the trainer
   * always sets it and `auxiliary`.)
   */
  context?: C;
  auxiliary?: AuxiliaryModules;
}

/**
 * An extra term added to the loss (L1 on BatchNorm γ for network slimming,
 * a distillation term, ...). It returns a scalar tensor connected to the
 * graph; any weighting is the term's own. A named term is reported under its
 * name in the history, an unnamed one as `extra<i>`.
 */
export type LossTerm<C = unknown> = ((ctx: LossContext<C>) => Tensor) | { name: string; fn: (ctx: LossContext<C>) => Tensor };

/** A loss term as the trainer keeps it (method syntax: a Trainer<C> stays usable where a Trainer is expected). */
interface NamedTerm<C> {
  readonly name: string;
  fn(ctx: LossContext<C>): Tensor;
}

/**
 * Computes a step's context once, before the model's forward, inside the
 * step's memory scope: tensors it creates are released after the step. If
 * the context has a dispose() (or [Symbol.dispose]), the trainer calls it
 * after the step, also when the step fails.
 */
export type StepContextFn<C> = (input: StepInput) => C;

export interface StepInfo {
  epoch: number;
  /** Step within the epoch, 0-based. */
  stepInEpoch: number;
  stepsInEpoch: number;
  /** Global step count after this step. */
  globalStep: number;
  /** This step's total loss and its main (data) loss. */
  loss: number;
  dataLoss: number;
  batchSize: number;
  correct: number;
  /** Learning rate of the first parameter group (after the schedule moved). */
  lr: number;
  /** Each extra loss term's value, by name. */
  extra: Record<string, number>;
  /** Global gradient norm before clipping (only when gradClip is set). */
  gradNorm?: number;
}

/** What a callback may return: 'stop' ends training after the current step / epoch. */
export type CallbackResult = void | 'stop' | Promise<void | 'stop'>;

export interface Callback<C = unknown> {
  onTrainBegin?(trainer: Trainer<C>): void | Promise<void>;
  /**
   * After the loss is computed and found finite, before backward. Runs
   * inside the step's scope (synchronously); `loss` is the total loss.
   */
  onBeforeBackward?(loss: Tensor, ctx: LossContext<C>, trainer: Trainer<C>): void;
  /**
   * After backward, before gradient clipping and the optimizer step: the
   * place to add a sub-gradient (network slimming's λ·sign(γ)) or to mask
   * gradients. Runs inside the step's scope (synchronously).
   */
  onAfterBackward?(ctx: LossContext<C>, trainer: Trainer<C>): void;
  onStepEnd?(info: StepInfo, trainer: Trainer<C>): CallbackResult;
  onEpochEnd?(record: EpochRecord, trainer: Trainer<C>): CallbackResult;
  onTrainEnd?(history: EpochRecord[], trainer: Trainer<C>): void | Promise<void>;
}

export interface ProgressInfo {
  phase: 'train' | 'val';
  epoch: number;
  /** Epoch count fit() runs up to. */
  epochs: number;
  /** Batches done in this phase of this epoch, and its length. */
  step: number;
  steps: number;
  /** Running means over the phase so far. */
  loss: number;
  accuracy: number;
  lr: number;
}

// ---- records and errors ---------------------------------------------------------------

export interface TrainSummary {
  /** Mean total loss per sample (data loss plus extra terms). */
  loss: number;
  /** Mean of the main loss alone. */
  dataLoss: number;
  accuracy: number;
  /** Mean of each extra loss term, by name. */
  extra: Record<string, number>;
  samples: number;
  steps: number;
}

export interface EpochRecord {
  /** 0-based epoch index (what BatchSource.epoch received). */
  epoch: number;
  train: TrainSummary;
  /** Validation metrics (plain cross-entropy loss unless fit's validationLoss says otherwise). */
  val?: Metrics;
  /** Learning rate of the first group at the start of the epoch, and of every group. */
  lr: number;
  lrs: number[];
  seconds: number;
  /** False for an epoch cut short by stop(). */
  completed: boolean;
}

/** A loss (or gradient norm) became NaN or infinite; the step's update was not applied. */
export class NonFiniteLossError extends SlimnetError {
  constructor(
    readonly epoch: number,
    /** Step within the epoch (0-based). */
    readonly step: number,
    readonly globalStep: number,
    readonly value: number,
    /** 'loss', the name of an extra term, or 'gradient norm'. */
    readonly term: string,
  ) {
    super(`non-finite ${term} (${value}) at epoch ${epoch}, step ${step} (global step ${globalStep}); the update was not applied`);
    this.name = 'NonFiniteLossError';
  }
}

// ---- state ------------------------------------------------------------------------------

interface PartialEpoch {
  steps: number;
  lossSum: number;
  dataLossSum: number;
  correct: number;
  samples: number;
  extraSums: number[];
  seconds: number;
  lrs: number[];
}

export interface TrainerStateMeta {
  format: 'slimnet.trainer-state';
  version: 1;
  /** Next epoch to run (completed epochs). */
  epoch: number;
  globalStep: number;
  /** Accumulators of an epoch interrupted by stop(); resuming skips its finished batches. */
  partial: PartialEpoch | null;
  optimizer: { type: string; groups: OptimizerState['groups'] };
  schedule: ScheduleState | null;
  earlyStopping: EarlyStoppingStateMeta | null;
  history: EpochRecord[];
  /**
   * Names of the auxiliary modules whose tensors the state holds (absent in
   * states written before auxiliary modules existed, which had none).
   */
  auxiliary?: string[];
}

/**
 * Everything needed to resume: JSON-able `meta` and tensors named
 * `model.<key>`, `optimizer.<key>`, `auxiliary.<module>.<key>`,
 * `earlyStopping.best.<key>` and `rng`.
 * The tensors are copies the caller owns (disposeTrainerState releases them).
 */
export interface TrainerState {
  meta: TrainerStateMeta;
  tensors: Record<string, Tensor>;
}

export function disposeTrainerState(s: TrainerState): void {
  for (const t of Object.values(s.tensors)) t.dispose();
}

// ---- the trainer ----------------------------------------------------------------------------

/**
 * Training across processes (src/train/data-parallel.ts): what the trainer
 * awaits after each backward and around validation. Every participant must
 * run the same steps, so stopping is agreed here too.
 */
export interface TrainerCollective {
  /**
   * After backward and the onAfterBackward callbacks, before clipping and
   * the update: combine the gradients of `params` (this process's batch had
   * `batchSize` samples). `stop`: this process was asked to stop; resolves
   * true when any participant was, and then all stop after this step.
   */
  afterBackward(params: readonly Tensor[], batchSize: number, stop: boolean): Promise<boolean>;
  /** Validation: `run` evaluates this process's shard; the result is over every participant's. */
  evaluate(model: Model, run: () => Promise<Metrics>): Promise<Metrics>;
}

export interface TrainerOptions<C = unknown> {
  model: Model;
  /** Updates the model's parameters and every auxiliary module's (the trainer checks the latter). */
  optimizer: Optimizer<BaseHyper>;
  schedule?: LrSchedule;
  /** Main loss of (logits, labels, context); default cross-entropy with `labelSmoothing`. */
  loss?: LossFn;
  labelSmoothing?: number;
  extraLosses?: LossTerm<C>[];
  /** Computed once per step and handed to the main loss and every term as `context` (see StepContextFn). */
  stepContext?: StepContextFn<C>;
  /**
   * Trainable modules outside the model's graph (adapters). Their
   * parameters must be in the optimizer; their tensors are part of state()
   * and loadState(). The trainer does not own them (the caller disposes).
   */
  auxiliary?: readonly AuxiliaryModule[];
  callbacks?: Callback<C>[];
  /** Clip gradients to this global L2 norm (or { maxNorm, normType }) before each update. */
  gradClip?: number | { maxNorm: number; normType?: number };
  /** Forward hooks used during training steps. */
  hooks?: Hooks;
  /** Yield to the event loop every this many steps (default 1). */
  yieldEvery?: number;
  /** Data-parallel training: gradients combined across processes after each backward (see TrainerCollective). */
  collective?: TrainerCollective;
}

export interface FitOptions {
  /** Train up to this epoch count (epochs startEpoch .. epochs-1). */
  epochs: number;
  validation?: BatchSource;
  /** Loss reported for validation; default plain cross-entropy (no label smoothing). */
  validationLoss?: LossFn;
  earlyStopping?: EarlyStopping | EarlyStoppingOptions;
  /** First epoch to run; defaults to the trainer's epoch (0, or where loadState left it). */
  startEpoch?: number;
  /** Aborting stops fit() after the current step, like stop('interrupted'); the interrupted epoch resumes from state(). */
  signal?: AbortSignal;
  onProgress?(info: ProgressInfo): void;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Trainer<C = unknown> {
  readonly model: Model;
  readonly optimizer: Optimizer<BaseHyper>;
  readonly schedule: LrSchedule | undefined;
  readonly callbacks: Callback<C>[];
  /** Auxiliary modules by name. */
  readonly auxiliary: AuxiliaryModules;
  /** Records of every completed epoch (and a final partial one after stop()). */
  readonly history: EpochRecord[] = [];
  /** Next epoch to run. */
  epoch = 0;
  /** Optimizer updates so far. */
  globalStep = 0;
  /** The early stopper of the current / last fit(). */
  earlyStopping: EarlyStopping | undefined;
  private readonly lossFn: LossFn;
  private readonly terms: NamedTerm<C>[];
  private readonly context: { make(input: StepInput): C } | undefined;
  private readonly clip: { maxNorm: number; normType: number } | undefined;
  private readonly hooks: Hooks | undefined;
  private readonly yieldEvery: number;
  private readonly collective: TrainerCollective | undefined;
  private stopReason: string | null = null;
  private partial: PartialEpoch | null = null;
  private pendingEarlyStopping: { meta: EarlyStoppingStateMeta; weights: Record<string, Tensor> | null } | null = null;
  private running = false;

  constructor(o: TrainerOptions<C>) {
    this.model = o.model;
    this.optimizer = o.optimizer;
    this.schedule = o.schedule;
    if (o.schedule && o.schedule.optimizer !== o.optimizer) throw new TypeError('Trainer: the schedule drives a different optimizer');
    const ls = o.labelSmoothing ?? 0;
    if (!(ls >= 0 && ls < 1)) throw new RangeError(`Trainer: labelSmoothing must be in [0, 1), got ${ls}`);
    if (o.loss && o.labelSmoothing !== undefined) throw new TypeError('Trainer: give either loss or labelSmoothing (the default loss uses it)');
    this.lossFn = o.loss ?? ((logits, y) => F.crossEntropy(logits, y, { labelSmoothing: ls }));
    this.terms = (o.extraLosses ?? []).map((t, i) => (typeof t === 'function' ? { name: `extra${i}`, fn: t } : t));
    if (new Set(this.terms.map((t) => t.name)).size !== this.terms.length) throw new TypeError('Trainer: extra loss terms need distinct names');
    const make = o.stepContext;
    this.context = make ? { make: (input) => make(input) } : undefined;
    this.auxiliary = auxiliaryByName(o.auxiliary ?? [], o.optimizer);
    this.callbacks = [...(o.callbacks ?? [])];
    if (o.gradClip !== undefined) {
      const c = typeof o.gradClip === 'number' ? { maxNorm: o.gradClip } : o.gradClip;
      if (!(c.maxNorm > 0)) throw new RangeError(`Trainer: gradClip must be > 0, got ${c.maxNorm}`);
      this.clip = { maxNorm: c.maxNorm, normType: c.normType ?? 2 };
    }
    this.hooks = o.hooks;
    this.yieldEvery = o.yieldEvery ?? 1;
    this.collective = o.collective;
    if (!(Number.isInteger(this.yieldEvery) && this.yieldEvery >= 1)) throw new RangeError(`Trainer: yieldEvery must be a positive integer`);
  }

  /** Asks fit() to stop after the current step, with a reason (stoppedBecause). fit's `signal` calls it with 'interrupted'; a callback may too, or return 'stop'. */
  stop(reason = 'stop requested'): void {
    this.stopReason = reason;
  }

  /** Why the last fit() stopped early ('early stopping', a callback's or stop()'s reason), or null. */
  get stoppedBecause(): string | null {
    return this.stopReason;
  }

  async fit(train: BatchSource, o: FitOptions): Promise<EpochRecord[]> {
    if (this.running) throw new Error('Trainer.fit: already running');
    if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) throw new RangeError(`Trainer.fit: epochs must be a non-negative integer, got ${o.epochs}`);
    const start = o.startEpoch ?? this.epoch;
    if (o.startEpoch !== undefined && o.startEpoch !== this.epoch) {
      this.partial = null; // an explicit restart point discards an interrupted epoch
      this.epoch = o.startEpoch;
    }
    this.running = true;
    this.stopReason = null;
    const onAbort = (): void => this.stop('interrupted');
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort);
    const records: EpochRecord[] = [];
    this.earlyStopping = o.earlyStopping === undefined ? undefined : o.earlyStopping instanceof EarlyStopping ? o.earlyStopping : new EarlyStopping(o.earlyStopping);
    if (this.pendingEarlyStopping) {
      if (this.earlyStopping) this.earlyStopping.loadState(this.pendingEarlyStopping.meta, this.pendingEarlyStopping.weights);
      if (this.pendingEarlyStopping.weights) for (const t of Object.values(this.pendingEarlyStopping.weights)) t.dispose();
      this.pendingEarlyStopping = null;
    }
    const wasTraining = this.model.training;
    try {
      for (const cb of this.callbacks) await cb.onTrainBegin?.(this);
      for (let epoch = start; epoch < o.epochs && this.stopReason === null; epoch++) {
        const record = await this.runEpoch(train, epoch, o);
        records.push(record);
        this.history.push(record);
        if (!record.completed) break;
        for (const cb of this.callbacks) if ((await cb.onEpochEnd?.(record, this)) === 'stop') this.stopReason ??= 'callback';
        if (this.earlyStopping && this.earlyStopping.update(record, this.model)) {
          this.stopReason ??= 'early stopping';
          break;
        }
      }
      for (const cb of this.callbacks) await cb.onTrainEnd?.(records, this);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      this.model.training = wasTraining;
      this.running = false;
    }
    return records;
  }

  private async runEpoch(train: BatchSource, epoch: number, o: FitOptions): Promise<EpochRecord> {
    const t0 = performance.now();
    const steps = train.length;
    // Resume an interrupted epoch where it stopped, or start fresh.
    const acc: PartialEpoch =
      this.partial && this.epoch === epoch
        ? { ...this.partial, extraSums: [...this.partial.extraSums], lrs: [...this.partial.lrs] }
        : { steps: 0, lossSum: 0, dataLossSum: 0, correct: 0, samples: 0, extraSums: this.terms.map(() => 0), seconds: 0, lrs: this.lrs() };
    this.partial = null;
    const skip = acc.steps;
    let index = 0;
    let interrupted = false;
    this.model.train();
    for await (const batch of train.epoch(epoch)) {
      if (index++ < skip) {
        batch.x.dispose();
        batch.y.dispose();
        continue;
      }
      let info: StepInfo;
      let stopAgreed: boolean | undefined;
      try {
        [info, stopAgreed] = await this.trainStep(batch, epoch, acc.steps, steps);
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
      acc.steps += 1;
      acc.lossSum += info.loss * info.batchSize;
      acc.dataLossSum += info.dataLoss * info.batchSize;
      acc.correct += info.correct;
      acc.samples += info.batchSize;
      this.terms.forEach((t, i) => (acc.extraSums[i]! += info.extra[t.name]! * info.batchSize));
      for (const cb of this.callbacks) if ((await cb.onStepEnd?.(info, this)) === 'stop') this.stopReason ??= 'callback';
      o.onProgress?.({ phase: 'train', epoch, epochs: o.epochs, step: acc.steps, steps, loss: acc.lossSum / acc.samples, accuracy: acc.correct / acc.samples, lr: info.lr });
      if (acc.steps % this.yieldEvery === 0) await yieldToEventLoop();
      // Across processes every participant stops at the step they agreed on; a local request made later goes with the next step.
      if (stopAgreed === true) this.stopReason ??= 'stopped by another process';
      if ((stopAgreed ?? this.stopReason !== null) && acc.steps < steps) {
        interrupted = true;
        break;
      }
    }
    acc.seconds += (performance.now() - t0) / 1000;
    const trainSummary: TrainSummary = {
      loss: acc.lossSum / acc.samples,
      dataLoss: acc.dataLossSum / acc.samples,
      accuracy: acc.correct / acc.samples,
      extra: Object.fromEntries(this.terms.map((t, i) => [t.name, acc.extraSums[i]! / acc.samples])),
      samples: acc.samples,
      steps: acc.steps,
    };
    if (interrupted) {
      this.partial = acc;
      return { epoch, train: trainSummary, lr: acc.lrs[0]!, lrs: acc.lrs, seconds: acc.seconds, completed: false };
    }
    let val: Metrics | undefined;
    if (o.validation) {
      const v0 = performance.now();
      const validation = o.validation;
      const run = (): Promise<Metrics> =>
        evaluate(this.model, validation, undefined, {
          loss: o.validationLoss,
          onProgress: o.onProgress ? (step, n, m) => o.onProgress!({ phase: 'val', epoch, epochs: o.epochs, step, steps: n, loss: m.loss, accuracy: m.accuracy, lr: acc.lrs[0]! }) : undefined,
        });
      val = this.collective ? await this.collective.evaluate(this.model, run) : await run();
      acc.seconds += (performance.now() - v0) / 1000;
    }
    this.schedule?.onEpochEnd();
    this.epoch = epoch + 1;
    return { epoch, train: trainSummary, ...(val ? { val } : {}), lr: acc.lrs[0]!, lrs: acc.lrs, seconds: acc.seconds, completed: true };
  }

  /**
   * One optimizer step on one batch, in one synchronous tidy scope; with a
   * collective, the update runs in a second scope after its afterBackward
   * (whose agreement to stop comes back with the step's info).
   */
  private async trainStep(batch: Batch, epoch: number, stepInEpoch: number, stepsInEpoch: number): Promise<[StepInfo, boolean | undefined]> {
    const n = batch.x.size(0);
    let stepContext: C | undefined;
    const sync = this.collective;
    const r = tidy(() => {
      try {
        this.optimizer.zeroGrad();
        const input: StepInput = { model: this.model, x: batch.x, y: batch.y, indices: batch.indices, step: this.globalStep, epoch, auxiliary: this.auxiliary };
        stepContext = this.context?.make(input);
        const logits = this.model.forward(batch.x, { training: true, hooks: this.hooks });
        const ctx: LossContext<C> = { ...input, logits, context: stepContext };
        const main = this.lossFn(logits, batch.y, ctx as LossContext);
        const extras = this.terms.map((t) => t.fn(ctx));
        let total = main;
        for (const e of extras) total = total.add(e);
        // One read-back: total, main, each extra term, and the correct count.
        const values = noGrad(() =>
          F.stack([total, main, ...extras, logits.argmax(1).eq(batch.y).sum()].map((t) => t.reshape([]).to('float64'))).toArray(),
        );
        const [totalV, mainV] = values as [number, number];
        const extraV = values.slice(2, 2 + extras.length);
        const correct = values[values.length - 1]!;
        const badTerm = extraV.findIndex((v) => !Number.isFinite(v));
        if (!Number.isFinite(mainV)) throw new NonFiniteLossError(epoch, stepInEpoch, this.globalStep, mainV, 'loss');
        if (badTerm >= 0) throw new NonFiniteLossError(epoch, stepInEpoch, this.globalStep, extraV[badTerm]!, this.terms[badTerm]!.name);
        if (!Number.isFinite(totalV)) throw new NonFiniteLossError(epoch, stepInEpoch, this.globalStep, totalV, 'loss');
        for (const cb of this.callbacks) cb.onBeforeBackward?.(total, ctx, this);
        total.backward();
        for (const cb of this.callbacks) cb.onAfterBackward?.(ctx, this);
        const norm = sync ? undefined : this.update(epoch, stepInEpoch);
        return { totalV, mainV, extraV, correct, norm };
      } finally {
        disposeContext(stepContext);
      }
    });
    let stopAgreed: boolean | undefined;
    if (sync) {
      stopAgreed = await sync.afterBackward(this.optimizer.paramGroups.flatMap((g) => g.params), n, this.stopReason !== null);
      r.norm = tidy(() => this.update(epoch, stepInEpoch));
    }
    this.globalStep += 1;
    this.schedule?.onStepEnd();
    const info: StepInfo = {
      epoch,
      stepInEpoch,
      stepsInEpoch,
      globalStep: this.globalStep,
      loss: r.totalV,
      dataLoss: r.mainV,
      batchSize: n,
      correct: r.correct,
      lr: this.optimizer.paramGroups[0]!.lr,
      extra: Object.fromEntries(this.terms.map((t, i) => [t.name, r.extraV[i]!])),
      ...(r.norm !== undefined ? { gradNorm: r.norm } : {}),
    };
    return [info, stopAgreed];
  }

  /** Clipping (returns the norm before it, when clipping) and the optimizer step. */
  private update(epoch: number, stepInEpoch: number): number | undefined {
    let norm: number | undefined;
    if (this.clip) {
      norm = clipGradNorm(this.optimizer.paramGroups.flatMap((g) => g.params), this.clip.maxNorm, this.clip.normType);
      if (!Number.isFinite(norm)) {
        this.optimizer.zeroGrad();
        throw new NonFiniteLossError(epoch, stepInEpoch, this.globalStep, norm, 'gradient norm');
      }
    }
    this.optimizer.step();
    return norm;
  }

  private lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Metrics of the model on `source` (eval mode, no gradients). */
  evaluate(source: BatchSource, classes?: number | readonly string[], loss?: LossFn): Promise<Metrics> {
    return evaluate(this.model, source, classes, { loss });
  }

  // ---- state ------------------------------------------------------------------------------

  /** A snapshot of everything needed to resume exactly (tensors are copies the caller owns). */
  state(): TrainerState {
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(tidy(() => this.model.stateDict()))) tensors[`model.${k}`] = t;
    for (const [name, m] of Object.entries(this.auxiliary)) for (const [k, t] of Object.entries(m.stateDict())) tensors[`auxiliary.${name}.${k}`] = t;
    const opt = this.optimizer.stateDict();
    noGrad(() => {
      for (const [k, t] of Object.entries(opt.tensors)) {
        tensors[`optimizer.${k}`] = t.clone();
        t.dispose();
      }
    });
    // Early stopping: a state loaded but not yet handed to a fit() wins over the last fit's stopper.
    const pending = this.pendingEarlyStopping;
    const best = pending ? (pending.weights ? noGrad(() => Object.fromEntries(Object.entries(pending.weights!).map(([k, t]) => [k, t.clone()]))) : null) : (this.earlyStopping?.bestWeightsCopy() ?? null);
    if (best) for (const [k, t] of Object.entries(best)) tensors[`earlyStopping.best.${k}`] = t;
    tensors.rng = getRngState();
    const meta: TrainerStateMeta = {
      format: 'slimnet.trainer-state',
      version: 1,
      epoch: this.epoch,
      globalStep: this.globalStep,
      partial: this.partial ? { ...this.partial, extraSums: [...this.partial.extraSums], lrs: [...this.partial.lrs] } : null,
      optimizer: { type: opt.type, groups: opt.groups },
      schedule: this.schedule ? this.schedule.state() : null,
      earlyStopping: pending ? { ...pending.meta } : (this.earlyStopping?.stateMeta() ?? null),
      history: structuredClone(this.history.filter((r) => r.completed)),
      // Only when there are any: a state without auxiliary modules stays exactly what it was before they existed.
      ...(Object.keys(this.auxiliary).length ? { auxiliary: Object.keys(this.auxiliary) } : {}),
    };
    return { meta, tensors };
  }

  /** Throws TrainerStateMismatchError (in words) when `s` cannot be loaded into this trainer. */
  private checkState(s: TrainerState): void {
    const m = s.meta;
    const bad = (what: string): never => {
      throw new TrainerStateMismatchError(what);
    };
    if (m?.format !== 'slimnet.trainer-state' || m.version !== 1) bad(`it is not a slimnet trainer state (format ${String(m?.format)}, version ${String(m?.version)})`);
    if (!s.tensors.rng) bad('it has no random-generator state (rng)');
    // The model: the same tensors with the same shapes.
    const own = new Map(this.model.namedTensors().map(([k, t]) => [k, t.shape] as const));
    const saved = new Map(Object.entries(s.tensors).filter(([k]) => k.startsWith('model.')).map(([k, t]) => [k.slice('model.'.length), t.shape] as const));
    const extra = [...saved.keys()].filter((k) => !own.has(k));
    const missing = [...own.keys()].filter((k) => !saved.has(k));
    if (extra.length || missing.length) {
      bad(`the model differs (another architecture?): ${extra.length ? `the state has ${someNames(extra)}, which this model lacks` : ''}${extra.length && missing.length ? '; ' : ''}${missing.length ? `this model has ${someNames(missing)}, which the state lacks` : ''}`);
    }
    for (const [k, shape] of saved) {
      const mine = own.get(k)!;
      if (shapeText(shape) !== shapeText(mine)) bad(`the model differs (another width or input size?): ${k} is ${shapeText(shape)} in the state and ${shapeText(mine)} here`);
    }
    // Auxiliary modules by name.
    const stateAux = m.auxiliary ?? [];
    const ownAux = Object.keys(this.auxiliary);
    if (stateAux.length !== ownAux.length || stateAux.some((a) => !(a in this.auxiliary))) {
      bad(`the state has auxiliary modules [${stateAux.join(', ')}], this trainer [${ownAux.join(', ')}]`);
    }
    // The optimizer: its kind, its parameter groups, the shapes of its buffers.
    const opt = this.optimizer;
    const kind = opt.constructor.name;
    if (m.optimizer?.type !== kind) bad(`the state was saved with the ${String(m.optimizer?.type)} optimizer, this training uses ${kind}`);
    const groups = m.optimizer.groups;
    if (!Array.isArray(groups) || groups.length !== opt.paramGroups.length) bad(`the ${kind} optimizer had ${Array.isArray(groups) ? groups.length : '?'} parameter groups in the state, ${opt.paramGroups.length} here (other weight-decay or per-layer settings?)`);
    const params = opt.paramGroups.flatMap((g, i) => {
      if (groups[i]!.params.length !== g.params.length) bad(`the ${kind} optimizer's group ${i} had ${groups[i]!.params.length} parameters in the state, ${g.params.length} here`);
      return g.params;
    });
    for (const [key, t] of Object.entries(s.tensors)) {
      if (!key.startsWith('optimizer.')) continue;
      const k = /^optimizer\.state\.(\d+)\.(.+)$/.exec(key);
      const p = k ? params[Number(k[1])] : undefined;
      if (!k || !p) bad(`the optimizer state holds '${key.slice('optimizer.'.length)}', which no parameter here has`);
      if (k![2] !== 'step' && shapeText(t.shape) !== shapeText(p!.shape)) bad(`the optimizer state '${key.slice('optimizer.'.length)}' is ${shapeText(t.shape)}, its parameter here is ${shapeText(p!.shape)}`);
    }
    // The learning-rate schedule.
    if ((m.schedule === null) !== (this.schedule === undefined)) {
      bad(m.schedule ? `the state has a learning-rate schedule (${m.schedule.spec.type}), this training has none` : `the state has no learning-rate schedule, this training has one (${this.schedule!.spec.type})`);
    }
    if (m.schedule && this.schedule) {
      if (!sameSpec(m.schedule.spec, this.schedule.spec)) bad(`the learning-rate schedule differs: ${JSON.stringify(m.schedule.spec)} in the state, ${JSON.stringify(this.schedule.spec)} here`);
      if (m.schedule.baseLrs.length !== opt.paramGroups.length) bad(`the schedule has ${m.schedule.baseLrs.length} base learning rates in the state, the optimizer ${opt.paramGroups.length} groups here`);
    }
  }

  /**
   * Restores a state from state() (same model graph, optimizer type and
   * groups, schedule spec). Values are copied; the caller keeps `s.tensors`.
   * Early-stopping state is applied to the early stopper of the next fit().
   */
  loadState(s: TrainerState): void {
    if (this.running) throw new Error('Trainer.loadState: fit() is running');
    const m = s.meta;
    // Every check comes first, so a state that does not fit changes nothing.
    this.checkState(s);
    const pick = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries(Object.entries(s.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
    const rng = s.tensors.rng!;
    const modelTensors = pick('model.');
    const ownAux = Object.keys(this.auxiliary);
    const auxTensors = ownAux.map((a) => [this.auxiliary[a]!, pick(`auxiliary.${a}.`)] as const);
    this.model.loadStateDict(modelTensors);
    for (const [mod, tensors] of auxTensors) mod.loadStateDict(tensors);
    this.optimizer.loadStateDict({ type: m.optimizer.type, groups: m.optimizer.groups as never, tensors: pick('optimizer.') });
    if (this.schedule && m.schedule) this.schedule.loadState(m.schedule);
    setRngState(rng);
    this.epoch = m.epoch;
    this.globalStep = m.globalStep;
    this.partial = m.partial ? { ...m.partial, extraSums: [...m.partial.extraSums], lrs: [...m.partial.lrs] } : null;
    this.history.length = 0;
    this.history.push(...structuredClone(m.history));
    if (this.pendingEarlyStopping?.weights) for (const t of Object.values(this.pendingEarlyStopping.weights)) t.dispose();
    this.pendingEarlyStopping = null;
    if (m.earlyStopping) {
      const best = pick('earlyStopping.best.');
      const weights = Object.keys(best).length ? noGrad(() => Object.fromEntries(Object.entries(best).map(([k, t]) => [k, t.clone()]))) : null;
      if (weights) for (const t of Object.values(weights)) keep(t);
      this.pendingEarlyStopping = { meta: { ...m.earlyStopping }, weights };
    }
  }
}

/**
 * A trainer state that does not fit the trainer it is loaded into (another
 * architecture or width, another optimizer or schedule): the message says in
 * words what differs. Resuming a run with a changed configuration is the
 * usual cause.
 */
export class TrainerStateMismatchError extends SlimnetError {
  constructor(what: string) {
    super(`the saved training state does not match this training setup: ${what}`);
    this.name = 'TrainerStateMismatchError';
  }
}

/** The same schedule spec, whatever the key order (as LrSchedule compares them). */
function sameSpec(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).filter(([, y]) => y !== undefined).sort(([p], [q]) => (p < q ? -1 : 1))) : x));
  return canon(a) === canon(b);
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** "a, b, c" with at most `n` names, then how many more. */
function someNames(names: readonly string[], n = 4): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

/** Auxiliary modules by name, each checked to be updated by the optimizer. */
function auxiliaryByName(modules: readonly AuxiliaryModule[], optimizer: Optimizer<BaseHyper>): AuxiliaryModules {
  const out: Record<string, AuxiliaryModule> = {};
  const optimized = new Set(optimizer.paramGroups.flatMap((g) => g.params));
  for (const m of modules) {
    if (m.name in out) throw new TypeError(`Trainer: two auxiliary modules are named '${m.name}'`);
    const missed = m.namedTensors().filter(([, t]) => t.requiresGrad && !optimized.has(t)).map(([k]) => k);
    if (missed.length) throw new TypeError(`Trainer: the optimizer does not update auxiliary module '${m.name}' (${missed.join(', ')}): give it the module's parameters()`);
    out[m.name] = m;
  }
  return Object.freeze(out);
}

/** Releases a step context that holds resources (a Capture, kept tensors). */
function disposeContext(c: unknown): void {
  if (c === null || typeof c !== 'object') return;
  const d = c as { dispose?: unknown; [Symbol.dispose]?: unknown };
  if (typeof d.dispose === 'function') (d.dispose as () => void).call(c);
  else if (typeof d[Symbol.dispose] === 'function') (d[Symbol.dispose] as () => void).call(c);
}

// ---- evaluation --------------------------------------------------------------------------

export interface EvaluateOptions {
  /** Loss per batch; default plain cross-entropy. */
  loss?: LossFn;
  hooks?: Hooks;
  /** After each batch: batches done, total, metrics so far. */
  onProgress?(step: number, steps: number, m: { loss: number; accuracy: number }): void;
}

/**
 * Classification metrics of `model` on `source` in eval mode without
 * gradients. `classes` (a count or names) defaults to the logits' width.
 * Disposes each batch's tensors.
 */
export async function evaluate(model: Model, source: BatchSource, classes?: number | readonly string[], o: EvaluateOptions = {}): Promise<Metrics> {
  const lossFn: LossFn = o.loss ?? ((logits, y) => F.crossEntropy(logits, y));
  let acc: MetricAccumulator | undefined = classes === undefined ? undefined : new MetricAccumulator(classes);
  let step = 0;
  for await (const batch of source.epoch(0)) {
    try {
      noGrad(() =>
        tidy(() => {
          const logits = model.forward(batch.x, { training: false, hooks: o.hooks });
          acc ??= new MetricAccumulator(logits.size(1));
          acc.update(logits, batch.y, lossFn(logits, batch.y).item());
        }),
      );
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
    step += 1;
    if (o.onProgress) {
      const r = acc!.result();
      o.onProgress(step, source.length, { loss: r.loss, accuracy: r.accuracy });
    }
    await yieldToEventLoop();
  }
  if (!acc) throw new RangeError('evaluate: the source yielded no batches and no class count was given');
  return acc.result();
}
