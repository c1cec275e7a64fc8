// The registry of node kinds. A kind defines, in one place, what every core
// pass needs: attribute checks, shape inference, parameters and buffers with
// their initialisation, forward execution and cost. Passes that live above
// the graph layer (ONNX export, pruning dependencies) attach their per-kind
// handlers through PassRegistry, so adding a kind means filling in each pass
// the same way, and a test checks that none is missing.
//
// Each kind also declares its traits: what it *is*, for passes that treat a
// family of kinds alike (every BatchNorm, every activation) without testing
// kind names (`startsWith('batchnorm')`, hand lists of activations). A new
// kind with the right traits joins those passes by itself.
import type { Tensor } from '../tensor/index.js';
import { GraphError, type Attrs, type GraphNode, type Shape } from './ir.js';

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** U(-b, b) with b = gain / sqrt(fanIn) (PyTorch's default for conv and linear). */
  | { kind: 'uniform_fan_in'; fanIn: number; gain?: number }
  /** N(0, sqrt(2 / fan)) (He et al.), fan taken from fan-out or fan-in. */
  | { kind: 'kaiming_normal'; fan: number }
  | { kind: 'normal'; std: number };

export interface TensorSpec {
  shape: Shape;
  init: Init;
  dtype?: 'float32' | 'int64';
}

export interface ParamSpecs {
  /** Trainable tensors (`weight`, `bias`). */
  params: Record<string, TensorSpec>;
  /** State that is saved but not trained (BatchNorm running statistics). */
  buffers: Record<string, TensorSpec>;
}

export interface ForwardContext {
  training: boolean;
}

export interface Cost {
  /** Multiply-accumulates per sample. */
  macs: number;
}

/**
 * What a node kind is, for passes that handle families of kinds. A kind has
 * one or more; each has one meaning:
 *
 * - `input`: a graph input, fed by the executor, never run.
 * - `conv`: a convolution (conv2d, conv_transpose2d): mixes input channels
 *   (within its groups) into new output channels; its weight holds one
 *   filter per output channel.
 * - `linear`: a fully connected layer: mixes every input feature into new
 *   output features.
 * - `norm`: per-channel normalisation with a learned affine scale and shift
 *   (γ = `weight`, β = `bias`; BatchNorm). What network slimming and the
 *   `bn` criterion read, and what weight decay may skip.
 * - `scale`: a learned per-channel multiplier and nothing else
 *   (channel_scale; TransTailor's α).
 * - `activation`: an elementwise nonlinearity (relu, sigmoid, ...). Softmax
 *   is not one: it mixes the values along its axis.
 * - `distribution`: turns scores into a probability distribution along an
 *   axis (softmax; with `log`, its logarithm: log-softmax).
 * - `pooling`: spatial pooling, channel by channel (max / average, global,
 *   adaptive).
 * - `merge`: joins several inputs into one (add, mul, concat).
 * - `reshape`: changes the per-sample layout without computing (flatten,
 *   reshape, channel_shuffle): channel positions move.
 * - `select`: keeps a part of its input and drops the rest (channel_slice).
 * - `crosschannel`: each value is normalised by its neighbours across
 *   channels (lrn): channels are coupled, no weights.
 * - `elementwise`: output element i depends only on element i of each input
 *   (activations, identity, dropout, add, mul).
 * - `channelwise`: one input, same channel count, and output channel c
 *   depends only on input channel c (activations, pooling, norm, scale,
 *   identity, dropout): channels pass through it one for one.
 * - `stochastic`: behaves randomly in train mode (dropout).
 */
export type KindTrait =
  | 'input'
  | 'conv'
  | 'linear'
  | 'norm'
  | 'scale'
  | 'activation'
  | 'distribution'
  | 'pooling'
  | 'merge'
  | 'reshape'
  | 'select'
  | 'crosschannel'
  | 'elementwise'
  | 'channelwise'
  | 'stochastic';

export const KIND_TRAITS: readonly KindTrait[] = [
  'input',
  'conv',
  'linear',
  'norm',
  'scale',
  'activation',
  'distribution',
  'pooling',
  'merge',
  'reshape',
  'select',
  'crosschannel',
  'elementwise',
  'channelwise',
  'stochastic',
];

export interface KindDef {
  readonly kind: string;
  /** What the kind is (at least one); see KindTrait. */
  readonly traits: readonly KindTrait[];
  /** Number of inputs: a fixed count, or [min, max]. */
  readonly arity: number | readonly [number, number];
  /** Throws GraphError naming the node when an attribute is missing or invalid. */
  validate(node: GraphNode): void;
  /** Output shape per sample; throws GraphError on incompatible inputs. */
  inferShape(node: GraphNode, inputs: readonly Shape[]): Shape;
  /** Parameter and buffer shapes (nodes without weights return none). */
  tensors(node: GraphNode, inputs: readonly Shape[]): ParamSpecs;
  /** Runs the node. `t` holds its parameters and buffers by short name. */
  forward(node: GraphNode, inputs: readonly Tensor[], t: Readonly<Record<string, Tensor>>, ctx: ForwardContext): Tensor;
  /** Cost per sample. */
  cost(node: GraphNode, inputs: readonly Shape[], output: Shape): Cost;
}

const kinds = new Map<string, KindDef>();

export function defineKind(def: KindDef): KindDef {
  if (kinds.has(def.kind)) throw new Error(`node kind '${def.kind}' is defined twice`);
  if (def.traits.length === 0) throw new Error(`node kind '${def.kind}' declares no traits`);
  const unknown = def.traits.filter((t) => !KIND_TRAITS.includes(t));
  if (unknown.length) throw new Error(`node kind '${def.kind}' declares unknown traits ${unknown.join(', ')} (known: ${KIND_TRAITS.join(', ')})`);
  kinds.set(def.kind, def);
  return def;
}

export function kindOf(node: GraphNode): KindDef {
  const k = kinds.get(node.kind);
  if (!k) throw new GraphError(`unknown kind '${node.kind}' (known: ${[...kinds.keys()].join(', ')})`, node.name);
  return k;
}

export function allKinds(): string[] {
  return [...kinds.keys()];
}

/**
 * Whether a node (or a kind, by name) has every one of `traits`. An unknown
 * kind has none (it fails elsewhere, naming the node).
 */
export function hasTrait(nodeOrKind: GraphNode | string, ...traits: KindTrait[]): boolean {
  const def = kinds.get(typeof nodeOrKind === 'string' ? nodeOrKind : nodeOrKind.kind);
  return !!def && traits.every((t) => def.traits.includes(t));
}

/** Registered kinds with every one of `traits`, in registration order. */
export function kindsWith(...traits: KindTrait[]): string[] {
  return allKinds().filter((k) => hasTrait(k, ...traits));
}

export const NO_TENSORS: ParamSpecs = Object.freeze({ params: {}, buffers: {} }) as ParamSpecs;

/** Per-kind handlers of one pass that lives outside the graph layer. */
export class PassRegistry<H> {
  private readonly handlers = new Map<string, H>();
  constructor(readonly pass: string) {}
  register(kind: string, handler: H): void {
    if (this.handlers.has(kind)) throw new Error(`${this.pass}: kind '${kind}' registered twice`);
    this.handlers.set(kind, handler);
  }
  get(node: GraphNode): H {
    const h = this.handlers.get(node.kind);
    if (!h) throw new GraphError(`${this.pass} does not support kind '${node.kind}'`, node.name);
    return h;
  }
  has(kind: string): boolean {
    return this.handlers.has(kind);
  }
  /** Kinds the graph layer defines that this pass has no handler for. */
  missing(): string[] {
    return allKinds().filter((k) => !this.handlers.has(k));
  }
}

// ---- attribute readers shared by the kind definitions -------------------------

export function attrInt(node: GraphNode, key: string, opts: { min?: number; default?: number } = {}): number {
  const v = node.attrs[key] ?? opts.default;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new GraphError(`attribute '${key}' must be an integer, got ${JSON.stringify(v)}`, node.name);
  if (opts.min !== undefined && v < opts.min) throw new GraphError(`attribute '${key}' must be >= ${opts.min}, got ${v}`, node.name);
  return v;
}

export function attrNum(node: GraphNode, key: string, dflt?: number): number {
  const v = node.attrs[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new GraphError(`attribute '${key}' must be a number, got ${JSON.stringify(v)}`, node.name);
  return v;
}

export function attrBool(node: GraphNode, key: string, dflt?: boolean): boolean {
  const v = node.attrs[key] ?? dflt;
  if (typeof v !== 'boolean') throw new GraphError(`attribute '${key}' must be a boolean, got ${JSON.stringify(v)}`, node.name);
  return v;
}

/** A [h, w] pair attribute (a single number is accepted for both). */
export function attrPair(node: GraphNode, key: string, dflt?: number, min?: number): [number, number] {
  const v = node.attrs[key] ?? dflt;
  let out: [number, number] | null = null;
  if (typeof v === 'number' && Number.isInteger(v)) out = [v, v];
  else if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x))) out = [v[0] as number, v[1] as number];
  if (!out) throw new GraphError(`attribute '${key}' must be an integer or [h, w], got ${JSON.stringify(v)}`, node.name);
  if (min !== undefined && (out[0] < min || out[1] < min)) throw new GraphError(`attribute '${key}' must be >= ${min}, got ${JSON.stringify(v)}`, node.name);
  return out;
}

export function attrInts(node: GraphNode, key: string): number[] {
  const v = node.attrs[key];
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new GraphError(`attribute '${key}' must be an array of integers, got ${JSON.stringify(v)}`, node.name);
  return [...(v as number[])];
}

export function expectRank(node: GraphNode, shape: Shape, rank: number, what = 'input'): void {
  if (shape.length !== rank) {
    throw new GraphError(`${what} must have ${rank} dimensions per sample (${rank === 3 ? '[C, H, W]' : rank === 1 ? '[features]' : `rank ${rank}`}), got [${shape.join(', ')}]`, node.name);
  }
}

export function numel(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export type { Attrs };
