// Where a slimming run starts: the model every λ is trained from (fresh
// weights of a zoo architecture, or a checkpoint), the data (the checkpoint's
// own split unless the spec overrides it), and the resolved configuration
// that config.json records.
import { existsSync } from 'node:fs';
import { checkpointData, readProvenance, type Dataset, type ResolvedData } from '../data/index.js';
import { Model, loadCheckpoint, type Graph } from '../graph/index.js';
import { archNames, buildArch } from '../models/index.js';
import { hasBatchNorm } from '../prune/index.js';
import { UsageError } from '../util/errors.js';
import { checkTrainingMemory } from './train-memory.js';
import { checkImageSize, checkValidationSplit } from './train-spec.js';
import { SLIM_DEFAULTS, type SlimAugment, type SlimOptimizer, type SlimSettings } from './slim-spec.js';

/** The resolved configuration (config.json): every setting with its final value. */
export interface SlimConfig {
  dataset: string;
  root: string | null;
  /** Image folders: the size the images were resized to (absent for data of a fixed size). */
  imageSize?: number;
  arch: string;
  width: number | null;
  checkpoint: string | null;
  lambdas: number[];
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: SlimOptimizer;
  lr: number;
  momentum: number;
  weightDecay: number;
  augment: SlimAugment;
  threshold: number;
  pruneShare: number;
  pruneLambda: number;
  minChannels: number;
  /** Channel counts kept at multiples of this (1: any count). Runs configured before it existed read as 1. */
  roundTo?: number;
  finetuneEpochs: number;
  finetuneLr: number;
  fraction: number;
  validation: number;
  seed: number;
  latencyRuns: number;
}

export interface SlimStart {
  config: SlimConfig;
  data: ResolvedData;
  /** The model every λ starts from (owned by the caller). */
  model: Model;
  /** Metadata carried into every checkpoint written. */
  meta: Record<string, unknown>;
}

/** Zoo architectures with BatchNorm layers (for error messages). */
function batchNormArchs(): string[] {
  return archNames().filter((a) => {
    try {
      return hasBatchNorm(buildArch(a));
    } catch {
      return false;
    }
  });
}

function noBatchNorm(what: string): UsageError {
  return new UsageError(
    `${what} has no BatchNorm layers: network slimming ranks channels by their BatchNorm scale |γ| (architectures with BatchNorm: ${batchNormArchs().join(', ')}; for others use slimnet prune)`,
  );
}

function checkShapes(graph: Graph, ds: Dataset, what: string): void {
  const inputs = graph.inputs;
  if (inputs.length !== 1) throw new UsageError(`${what} has ${inputs.length} inputs; slimnet slim trains single-input classifiers`);
  const want = graph.shape(inputs[0]!.name);
  if (want.join() !== ds.sampleShape.join()) throw new UsageError(`${what} takes inputs [${want.join(', ')}], the data set has [${ds.sampleShape.join(', ')}]`);
  const classes = graph.shape(graph.outputs[0]!)[0];
  if (classes !== ds.classes.length) throw new UsageError(`${what} has ${classes} outputs, the data set has ${ds.classes.length} classes`);
}

/** Refuses a sparsity-training batch beyond the memory available (see train-memory.ts), before a model is trained. */
function checkMemory(graph: Graph, model: string, s: SlimSettings, data: ResolvedData): void {
  checkTrainingMemory({ model, graph, batch: Math.min(s.batchSize, data.train.length), batchSize: s.batchSize, optimizer: s.optimizer, momentum: s.momentum });
}

/** Loads the data and the starting model; `s` has passed checkSlimSpec. */
export function resolveSlimStart(s: SlimSettings): SlimStart {
  const lr = s.lr ?? (s.optimizer === 'sgd' ? 0.1 : 1e-3);
  const common = {
    lambdas: [...s.lambdas],
    epochs: s.epochs,
    batchSize: s.batchSize,
    evalBatchSize: s.evalBatchSize,
    optimizer: s.optimizer,
    lr,
    momentum: s.momentum,
    weightDecay: s.weightDecay,
    augment: s.augment,
    threshold: s.threshold,
    pruneShare: s.pruneShare,
    pruneLambda: s.pruneLambda ?? Math.max(...s.lambdas),
    minChannels: s.minChannels,
    roundTo: s.roundTo,
    finetuneEpochs: s.finetuneEpochs,
    finetuneLr: s.finetuneLr ?? lr / 10,
    latencyRuns: s.latencyRuns,
  };
  if (s.imageSize !== undefined && !(Number.isInteger(s.imageSize) && s.imageSize >= 1 && s.imageSize <= 4096)) throw new UsageError(`--image-size must be a whole number of pixels from 1 to 4096, got ${s.imageSize}`);
  if (s.checkpoint !== undefined) {
    if (s.imageSize !== undefined) throw new UsageError(`--image-size does not apply with --checkpoint: images are resized to the checkpoint's input`);
    if (!existsSync(s.checkpoint)) throw new UsageError(`no checkpoint at ${s.checkpoint}`);
    const { model, meta } = loadCheckpoint(s.checkpoint);
    try {
      const where = `checkpoint ${s.checkpoint}`;
      const p = readProvenance(meta, where);
      const arch = p.arch ?? model.graph.name;
      if (!hasBatchNorm(model.graph)) throw noBatchNorm(`the checkpoint's model '${arch}'`);
      const sameData = s.dataset === undefined || s.dataset === p.dataset;
      // The resolved split, written to config.json and to every checkpoint of the run.
      // A checkpoint that does not record its split may have trained on every image: no validation split then.
      const validation = s.validation ?? (sameData ? (p.validation ?? 0) : 0.1);
      const fraction = s.fraction ?? (sameData ? p.fraction : undefined) ?? 1;
      // An image folder is resized to what the model takes (its recorded imageSize; older checkpoints do not record it).
      const input = model.graph.shape(model.graph.inputs[0]!.name);
      const imageSize = (s.dataset ?? p.dataset) === 'folder' && input.length === 3 ? ([input[1]!, input[2]!] as const) : undefined;
      const data = checkpointData(meta, { dataset: s.dataset, root: s.root, validation, fraction, seed: s.seed, imageSize }, where);
      checkShapes(model.graph, data.train, `the checkpoint's model '${arch}'`);
      checkValidationSplit(validation, { validation: data.validation?.length ?? 0, classes: data.classes.length });
      checkMemory(model.graph, arch, s, data);
      const width = p.width ?? null;
      const root = s.root ?? (sameData && typeof p.root === 'string' ? p.root : null);
      const config: SlimConfig = { dataset: data.dataset, root, arch, width, checkpoint: s.checkpoint, ...common, fraction, validation, seed: data.seed };
      const imageMeta = imageSize ? { imageSize: imageSize[0] === imageSize[1] ? imageSize[0] : [...imageSize] } : {};
      return { config, data, model, meta: { dataset: data.dataset, root, ...imageMeta, arch, width, classes: [...data.classes], normalize: data.norm, seed: data.seed, validation, fraction, slimmedFrom: s.checkpoint } };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const arch = s.arch ?? SLIM_DEFAULTS.arch;
  if (!archNames().includes(arch)) throw new UsageError(`unknown architecture '${arch}' (available: ${archNames().join(', ')})`);
  if (!hasBatchNorm(buildArch(arch))) throw noBatchNorm(`architecture '${arch}'`);
  const dataset = s.dataset ?? SLIM_DEFAULTS.dataset;
  const validation = s.validation ?? SLIM_DEFAULTS.validation;
  const fraction = s.fraction ?? SLIM_DEFAULTS.fraction;
  const seed = s.seed ?? SLIM_DEFAULTS.seed;
  const width = s.width ?? SLIM_DEFAULTS.width;
  const folder = dataset === 'folder';
  const data = checkpointData({ dataset }, { root: s.root, validation, fraction, seed, ...(folder && s.imageSize !== undefined ? { imageSize: s.imageSize } : {}) }, 'the command line');
  const [ch, h, w] = data.train.sampleShape;
  if (s.imageSize !== undefined) checkImageSize({ dataset: data.dataset, imageSize: s.imageSize }, data.train.sampleShape);
  if (h !== w) throw new UsageError(`${arch} needs square images, the data set has ${h}x${w}`);
  checkValidationSplit(validation, { validation: data.validation?.length ?? 0, classes: data.classes.length });
  const graph = buildArch(arch, { inChannels: ch, classes: data.classes.length, imageSize: h, widthMultiplier: width });
  checkMemory(graph, `${arch}${width !== 1 ? ` (width ${width})` : ''}`, s, data);
  const model = Model.create(graph, { seed });
  const config: SlimConfig = { dataset, root: s.root ?? null, ...(folder ? { imageSize: h } : {}), arch, width, checkpoint: null, ...common, fraction, validation, seed };
  // An image folder records the size it was resized to, so later commands rebuild the same data.
  const imageMeta = folder ? { imageSize: h } : {};
  return { config, data, model, meta: { dataset, root: s.root ?? null, ...imageMeta, arch, width, classes: [...data.classes], normalize: data.norm, seed, validation, fraction } };
}
