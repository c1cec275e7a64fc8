// Recovery, the part of a pruning step after the removal: what the pruned
// model goes through before it is measured against the floor. One registry,
// like the criteria; a pruning method (methods.ts) names its recovery, and a
// new one (a distillation recovery that retrains against a teacher) joins by
// defineRecovery() without touching the loop.
//   none           nothing (greedy pruning)
//   retrain        the whole network, retrainIters iterations of Adam
//   layer-retrain  only the layers that just lost channels (and their norms)
//   fine-tune      the whole network for fineTuneEpochs passes over the
//                  training data (with fineTunePatience: early stopping on
//                  the balanced accuracy), kept only if the floor's split
//                  does not get worse
// Every one trains with Adam at lr through buildOptimizer, per layer family
// at lrByKind's rates where given.
import { hasTrait, type Model } from '../graph/index.js';
import type { Tensor } from '../tensor/index.js';
import { EarlyStopping, Trainer, buildOptimizer, evaluate, fineTune, paramGroupsFor, type BaseHyper, type BatchSource, type BatchStream, type Metrics, type Optimizer, type OptimizerSpec, type ParamGroupInit, type TrainerOptions } from '../train/index.js';
import { PruneError } from './dependency.js';
import type { PruneData, PruneHooks, PruneOptions } from './protocol.js';

export interface RecoveryContext {
  /** The pruned model, recovered in place. */
  model: Model;
  /** The loop's training batches, shared with scoring: their order is part of the result. */
  stream: BatchStream;
  data: PruneData;
  /** The step (1-based) and the groups that just lost channels. */
  step: number;
  groups: readonly string[];
  options: PruneOptions;
  /** onRetrain (progress per iteration) and signal (stop early). */
  hooks: PruneHooks;
  /** The model prune() was given: unpruned and never modified (recoveries that distill learn from it). */
  base?: Model;
}

export interface Recovery {
  readonly name: string;
  readonly description: string;
  /** Whether it trains `retrainIters` iterations per step (prune() then requires a positive count). */
  readonly iterations: boolean;
  /** Checks the options the recovery reads (called by validateRecovery, before the first step). */
  validate?(o: PruneOptions): void;
  recover(ctx: RecoveryContext): Promise<void>;
}

const recoveries = new Map<string, Recovery>();

export function defineRecovery(r: Recovery): void {
  if (recoveries.has(r.name)) throw new Error(`recovery '${r.name}' defined twice`);
  recoveries.set(r.name, r);
}

export function recovery(name: string): Recovery {
  const r = recoveries.get(name);
  if (!r) throw new PruneError(`unknown recovery '${name}' (available: ${recoveryNames().join(', ')})`);
  return r;
}

export function recoveryNames(): string[] {
  return [...recoveries.keys()];
}

/** Checks the retraining options for a method named `method` that recovers with `r`. */
export function validateRecovery(o: PruneOptions, r: Recovery): void {
  const iters = o.retrainIters ?? 0;
  if (r.iterations && !(Number.isInteger(iters) && iters >= 1)) throw new PruneError(`protocol '${o.protocol}' retrains: retrainIters must be a positive integer, got ${o.retrainIters}`);
  const checks = o.retrainChecks ?? 1;
  if (!(Number.isInteger(checks) && checks >= 1 && checks <= Math.max(1, iters))) throw new PruneError(`retrainChecks must be an integer from 1 to retrainIters (${iters}), got ${o.retrainChecks}`);
  const epochs = o.fineTuneEpochs ?? 1;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new PruneError(`fineTuneEpochs must be a positive integer, got ${o.fineTuneEpochs}`);
  const patience = o.fineTunePatience;
  if (patience !== undefined && !(Number.isInteger(patience) && patience >= 1)) throw new PruneError(`fineTunePatience must be a positive integer (epochs), got ${patience}`);
  for (const [k, v] of Object.entries(o.lrByKind ?? {})) {
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new PruneError(`lrByKind: the learning rate of '${k}' must be a number >= 0, got ${v}`);
  }
  r.validate?.(o);
}

/**
 * The parameters of the layers named by `groups` (a group's name joins its
 * source layers with '+'): their convs / linears and the norms on their
 * channels.
 */
export function layerParameters(model: Model, groups: readonly string[]): Tensor[] {
  const touched = new Set(groups.flatMap((g) => g.split('+')));
  const nodes = new Set<string>();
  for (const n of model.graph.nodes) {
    if (touched.has(n.name) || (hasTrait(n, 'norm') && touched.has(n.inputs[0]!))) nodes.add(n.name);
  }
  return model
    .namedParameters()
    .filter(([k]) => nodes.has(k.slice(0, k.lastIndexOf('.'))))
    .map(([, t]) => t);
}

/**
 * Adam at `lr` over `params` of `model` (all of them by default), at
 * lrByKind's rate per layer family where given; `extra` (auxiliary modules)
 * at lr. Without lrByKind: one group of the tensors, as `new Adam(params,
 * { lr })` builds it.
 */
export function recoveryOptimizer(model: Model, o: { lr: number; lrByKind?: Readonly<Record<string, number>> | undefined }, params?: readonly Tensor[], extra: readonly Tensor[] = []): Optimizer<BaseHyper> {
  const spec: OptimizerSpec = { type: 'adam', lr: o.lr, ...(o.lrByKind ? { lrByKind: o.lrByKind } : {}) };
  if (!o.lrByKind) return buildOptimizer(params ?? model.parameters(), spec, extra);
  if (!params) return buildOptimizer(model, spec, extra);
  // The model's groups, cut down to the tensors given (layer-retrain trains only some layers).
  const wanted = new Set(params);
  const groups: ParamGroupInit<BaseHyper>[] = paramGroupsFor(model, { lrByKind: o.lrByKind })
    .map((g) => ({ ...g, params: g.params.filter((t) => wanted.has(t)) }))
    .filter((g) => g.params.length > 0);
  const grouped = groups.reduce((n, g) => n + g.params.length, 0);
  if (grouped !== wanted.size) throw new PruneError(`recoveryOptimizer: ${wanted.size - grouped} of the ${wanted.size} tensors to train are not parameters of '${model.graph.name}'`);
  return buildOptimizer(groups, spec, extra);
}

/**
 * What a recovery may change in retrainIterations' trainer (a distillation
 * recovery: its loss terms, the teacher's step context, feature hooks,
 * adapters); the auxiliary modules' parameters join the optimizer's.
 */
export type RetrainSetup<C> = Pick<TrainerOptions<C>, 'loss' | 'extraLosses' | 'stepContext' | 'hooks' | 'auxiliary'>;

/**
 * `iters` iterations of Adam on `params` of `ctx.model` from the stream. With
 * retrainChecks > 1, the iterations run in that many chunks with an
 * evaluation on the floor's split after each, and the best one's weights are
 * put back (Adam's last iterate is one noisy sample of where training went).
 */
export async function retrainIterations<C = unknown>(ctx: RecoveryContext, params: Tensor[], setup: RetrainSetup<C> = {}): Promise<void> {
  const { model, stream, options: o, hooks, step } = ctx;
  const iters = o.retrainIters!;
  const checks = o.retrainChecks ?? 1;
  let done = 0;
  const aux = (setup.auxiliary ?? []).flatMap((m) => m.parameters());
  const trainer = new Trainer<C>({
    ...setup,
    model,
    optimizer: recoveryOptimizer(model, { lr: o.lr ?? 1e-4, lrByKind: o.lrByKind }, params, aux),
    callbacks: [
      {
        onStepEnd: (info) => {
          hooks.onRetrain?.(step, ++done, iters, info.loss);
          return hooks.signal?.aborted ? 'stop' : undefined;
        },
      },
    ],
  });
  if (checks === 1) {
    await trainer.fit(stream.take(iters), { epochs: 1 });
  } else {
    // The last chunk takes the remainder, so exactly `iters` iterations run.
    const chunk = Math.floor(iters / checks);
    const best = new EarlyStopping({ monitor: 'val.accuracy', mode: 'max', patience: checks + 1, restoreBest: true });
    try {
      for (let c = 0; c < checks && !hooks.signal?.aborted; c++) {
        await trainer.fit(stream.take(c === checks - 1 ? iters - chunk * c : chunk), { epochs: c + 1, validation: ctx.data.eval, earlyStopping: best });
      }
      best.restore(model);
    } finally {
      best.dispose();
    }
  }
  trainer.optimizer.dispose();
  // Gradients of the frozen layers were computed too (layer-retrain): drop them all.
  for (const p of model.parameters()) p.grad = null;
}

export interface FineTuneOptions {
  /** Epochs (with patience: at most this many). */
  epochs: number;
  /** Adam learning rate. */
  lr: number;
  /** Learning rate per layer family or kind over lr (OptimizerSpec.lrByKind). */
  lrByKind?: Readonly<Record<string, number>>;
  /**
   * Early stopping on the balanced accuracy of `evalSource`: stop after this
   * many epochs without a better one and keep the best epoch's weights
   * (src/train/fine-tune.ts). Absent: every epoch runs, the last weights.
   */
  patience?: number;
  classes: number;
  /** Stops after the current step; the check still runs, on the weights reached. */
  signal?: AbortSignal;
  /** After each training step: epoch (0-based), step within it, its length, the loss. */
  onStep?(epoch: number, step: number, steps: number, loss: number): void;
}

export interface FineTuneResult {
  /** Metrics on the evaluation split before and after the fine-tuning. */
  before: Metrics;
  after: Metrics;
  /** Whether the fine-tuned weights were kept (accuracy not lower); otherwise the weights from before are back. */
  kept: boolean;
  /** Epochs run (fewer than asked after early stopping or an abort). */
  epochs: number;
  /** With patience: the 1-based epoch whose weights `after` measured. */
  bestEpoch?: number;
}

/**
 * Fine-tunes `model` in place for `epochs` epochs of `train` (epoch indices
 * 0, 1, ...) with Adam (with `patience`: early stopping on the balanced
 * accuracy of `evalSource`, best epoch restored), and keeps the result only
 * if the accuracy on `evalSource` does not fall: the model before it met the
 * floor, and a few epochs of Adam on a small network near its limit can
 * overshoot. Early stopping picks by balanced accuracy, but the keep rule
 * stays the floor's measure, the accuracy.
 */
export async function fineTuneIfNotWorse(model: Model, train: BatchSource, evalSource: BatchSource, o: FineTuneOptions): Promise<FineTuneResult> {
  model.eval();
  const before = await evaluate(model, evalSource, o.classes);
  const saved = model.stateDict();
  try {
    let epochs = 0;
    let bestEpoch: number | undefined;
    if (o.patience !== undefined) {
      const r = await fineTune(model, train, evalSource, {
        epochs: o.epochs,
        patience: o.patience,
        optimizer: { type: 'adam', lr: o.lr, ...(o.lrByKind ? { lrByKind: o.lrByKind } : {}) },
        monitor: 'val.balancedAccuracy',
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onStep ? { onStep: (i) => o.onStep!(i.epoch, i.stepInEpoch, i.stepsInEpoch, i.loss) } : {}),
      });
      epochs = r.epochs;
      bestEpoch = r.bestEpoch;
    } else {
      const trainer = new Trainer({
        model,
        optimizer: recoveryOptimizer(model, o),
        callbacks: o.onStep ? [{ onStepEnd: (i) => o.onStep!(i.epoch, i.stepInEpoch, i.stepsInEpoch, i.loss) }] : [],
      });
      for (; epochs < o.epochs && !o.signal?.aborted; epochs++) await trainer.fit(train, { epochs: epochs + 1, ...(o.signal ? { signal: o.signal } : {}) });
      trainer.optimizer.dispose();
    }
    model.eval();
    const after = await evaluate(model, evalSource, o.classes);
    const kept = after.accuracy >= before.accuracy;
    if (!kept) model.loadStateDict(saved);
    for (const p of model.parameters()) p.grad = null;
    return { before, after, kept, epochs, ...(bestEpoch !== undefined ? { bestEpoch } : {}) };
  } finally {
    for (const t of Object.values(saved)) t.dispose();
  }
}

defineRecovery({
  name: 'none',
  description: 'no recovery: the pruned model is measured as it is (greedy pruning)',
  iterations: false,
  recover: async () => {},
});

defineRecovery({
  name: 'retrain',
  description: 'retrain the whole network for retrainIters iterations of Adam (lr, default 1e-4)',
  iterations: true,
  recover: (ctx) => retrainIterations(ctx, ctx.model.parameters()),
});

defineRecovery({
  name: 'layer-retrain',
  description: 'retrain only the layers that just lost channels (their norms too) for retrainIters iterations',
  iterations: true,
  recover(ctx) {
    const params = layerParameters(ctx.model, ctx.groups);
    if (params.length === 0) throw new PruneError(`layer-retrain: no parameters found for ${ctx.groups.join(', ')}`);
    return retrainIterations(ctx, params);
  },
});

defineRecovery({
  name: 'fine-tune',
  description: 'fine-tune the whole network for fineTuneEpochs passes over the training data (Adam, lr, lrByKind; with fineTunePatience: early stopping on the balanced accuracy, best epoch kept), kept only if the evaluation accuracy does not fall',
  iterations: false,
  async recover(ctx) {
    const epochs = ctx.options.fineTuneEpochs ?? 1;
    const steps = ctx.data.train.length;
    let done = 0;
    await fineTuneIfNotWorse(ctx.model, ctx.stream.take(steps), ctx.data.eval, {
      epochs,
      lr: ctx.options.lr ?? 1e-4,
      ...(ctx.options.lrByKind ? { lrByKind: ctx.options.lrByKind } : {}),
      ...(ctx.options.fineTunePatience !== undefined ? { patience: ctx.options.fineTunePatience } : {}),
      classes: ctx.data.classes,
      ...(ctx.hooks.signal ? { signal: ctx.hooks.signal } : {}),
      onStep: (_e, _s, _n, loss) => ctx.hooks.onRetrain?.(ctx.step, ++done, epochs * steps, loss),
    });
  },
});
