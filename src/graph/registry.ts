// The registry of node kinds. A kind defines, in one place, what every core
// pass needs: attribute checks, shape inference, parameters and buffers with
// their initialisation, forward execution and cost. Passes that live above
// the graph layer (ONNX export, pruning dependencies) attach their per-kind
// handlers through PassRegistry, so adding a kind means filling in each pass
// the same way, and a test checks that none is missing.
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

export interface KindDef {
  readonly kind: string;
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
