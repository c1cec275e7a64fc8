// The pruning pass of every node kind, registered in one place like the ONNX
// handlers: how a node's output channels relate to its inputs' channels
// (propagation), and how the node shrinks once some channels are gone
// (slicing). Channels are tracked as "atoms": an atom is one channel of one
// source layer (a conv filter, a linear neuron). A node's layout lists, for
// each position of its output's first per-sample dimension, the atom it
// carries. Residual adds unite atoms (they must go together), concat
// concatenates layouts, flatten repeats each channel's atom over its spatial
// block, and anything whose channels cannot be removed pins them.
import { PassRegistry, channelSliceRange, conv2dGeometry, convTranspose2dGeometry, concatAxis, hasTrait, kindsWith, linearGeometry, softmaxAxis, type Attrs, type GraphNode, type Shape } from '../graph/index.js';
import type { Tensor } from '../tensor/index.js';

/** Atom ids, one per position of a node output's channel (first per-sample) dimension. */
export type Layout = Int32Array;

export interface PropagateContext {
  readonly node: GraphNode;
  readonly inputShapes: readonly Shape[];
  readonly outputShape: Shape;
  /** Layout of input i. */
  input(i: number): Layout;
  /** n new atoms owned by this node (a source of prunable channels). */
  fresh(n: number): Layout;
  /** Marks these atoms (and everything united with them) as never removable. */
  pin(layout: Layout): void;
  /** Position-wise: a[i] and b[i] must be removed together. */
  unite(a: Layout, b: Layout): void;
}

export interface SliceContext {
  readonly node: GraphNode;
  /** Kept positions of the node's output channel dimension (ascending). */
  readonly keepOut: readonly number[];
  /** Kept positions of each input's channel dimension. */
  readonly keepIn: readonly (readonly number[])[];
  readonly outChannels: number;
  readonly inChannels: readonly number[];
  /** Parameters and buffers of the node, by short name. */
  readonly tensors: Readonly<Record<string, Tensor>>;
}

export interface SliceResult {
  attrs: Attrs;
  /** New tensors by short name (owned by the caller). */
  tensors: Record<string, Tensor>;
}

export interface ChannelRule {
  propagate(ctx: PropagateContext): Layout;
  /** Absent for kinds without tensors or channel-count attributes: they are unchanged. */
  slice?(ctx: SliceContext): SliceResult;
  /**
   * For criteria: whether the node's weights have one slice per output
   * channel (conv filters, linear rows), and where (weight dim 0 or 1).
   */
  filterDim?: 0 | 1;
}

export const channelRules = new PassRegistry<ChannelRule>('pruning');

// ---- helpers --------------------------------------------------------------------

const passthrough = (c: PropagateContext): Layout => c.input(0);

/** Each atom repeated `times` times in a row (flatten's spatial blocks, depthwise multipliers). */
export function repeatEach(layout: Layout, times: number): Layout {
  if (times === 1) return layout;
  const out = new Int32Array(layout.length * times);
  for (let i = 0; i < layout.length; i++) out.fill(layout[i]!, i * times, (i + 1) * times);
  return out;
}

function pinned(c: PropagateContext, n: number): Layout {
  const l = c.fresh(n);
  c.pin(l);
  return l;
}

const isIdentity = (keep: readonly number[], n: number): boolean => keep.length === n;

function select(t: Tensor, dim: number, keep: readonly number[], n: number): Tensor {
  return isIdentity(keep, n) ? t.clone() : t.indexSelect(dim, keep);
}

/** Slices dims 0 and 1 of a weight, keeping intermediates off the caller's hands. */
function select2(t: Tensor, k0: readonly number[], n0: number, k1: readonly number[] | null, n1: number): Tensor {
  const a = select(t, 0, k0, n0);
  if (!k1 || isIdentity(k1, n1)) return a;
  const b = a.indexSelect(1, k1);
  a.dispose();
  return b;
}

// ---- structure ------------------------------------------------------------------

channelRules.register('input', { propagate: (c) => pinned(c, c.outputShape[0]!) });
channelRules.register('flatten', {
  // Feature f of the flattened map belongs to channel floor(f / (H·W)).
  propagate: (c) => repeatEach(c.input(0), c.inputShapes[0]!.slice(1).reduce((a, b) => a * b, 1)),
});
channelRules.register('reshape', {
  // An arbitrary reshape mixes channels with other dimensions: nothing through it is removable.
  propagate(c) {
    c.pin(c.input(0));
    return pinned(c, c.outputShape[0]!);
  },
});

channelRules.register('channel_shuffle', {
  // Pinned, input and output. The shuffle interleaves channels by a fixed
  // formula (out j = in (j mod g)·C/g + ⌊j/g⌋): after removing an arbitrary
  // set of channels the kept ones are in general no longer a g-group shuffle
  // of a smaller tensor (nor is C' divisible by g), so no smaller
  // channel_shuffle node computes the same function. The convs inside the
  // branches around it stay prunable.
  propagate(c) {
    c.pin(c.input(0));
    return pinned(c, c.outputShape[0]!);
  },
});
channelRules.register('lrn', {
  // Pinned: every channel is normalised by its neighbours' squares, so
  // removing one changes the others' outputs (and the window positions).
  propagate(c) {
    c.pin(c.input(0));
    return c.input(0);
  },
});
channelRules.register('channel_slice', {
  // The input's channels are pinned: removing any of them would move the
  // channels the [start, end) range selects, and the offset bookkeeping
  // (re-deriving start / end from the kept positions) is not implemented.
  // The output carries the selected (pinned) atoms.
  propagate(c) {
    const x = c.input(0);
    c.pin(x);
    return x.slice(...channelSliceRange(c.node, c.inputShapes[0]!));
  },
});

// ---- convolutions and linear layers ---------------------------------------------

channelRules.register('conv2d', {
  filterDim: 0,
  propagate(c) {
    const g = conv2dGeometry(c.node);
    if (g.groups === 1) return c.fresh(g.outChannels);
    // Depthwise (with a channel multiplier): output channel j reads input channel floor(j / m) only.
    if (g.groups === g.inChannels) return repeatEach(c.input(0), g.outChannels / g.inChannels);
    // Other grouped convs would need whole groups removed together: left intact.
    c.pin(c.input(0));
    return pinned(c, g.outChannels);
  },
  slice(c) {
    const g = conv2dGeometry(c.node);
    const w = c.tensors.weight!;
    const out: Record<string, Tensor> = {};
    let attrs: Attrs;
    if (g.groups === 1) {
      out.weight = select2(w, c.keepOut, g.outChannels, c.keepIn[0]!, g.inChannels);
      attrs = { ...c.node.attrs, inChannels: c.keepIn[0]!.length, outChannels: c.keepOut.length };
    } else {
      // Depthwise: weight is [out, 1, kh, kw]; the group count follows the kept inputs.
      out.weight = select(w, 0, c.keepOut, g.outChannels);
      const inC = c.keepIn[0]!.length;
      attrs = { ...c.node.attrs, inChannels: inC, outChannels: c.keepOut.length, groups: inC };
    }
    if (c.tensors.bias) out.bias = select(c.tensors.bias, 0, c.keepOut, g.outChannels);
    return { attrs, tensors: out };
  },
});

channelRules.register('conv_transpose2d', {
  filterDim: 1,
  propagate(c) {
    const g = convTranspose2dGeometry(c.node);
    if (g.groups === 1) return c.fresh(g.outChannels);
    c.pin(c.input(0));
    return pinned(c, g.outChannels);
  },
  slice(c) {
    const g = convTranspose2dGeometry(c.node);
    // Weight is [in, out/groups, kh, kw].
    const weight = select2(c.tensors.weight!, c.keepIn[0]!, g.inChannels, c.keepOut, g.outChannels);
    const out: Record<string, Tensor> = { weight };
    if (c.tensors.bias) out.bias = select(c.tensors.bias, 0, c.keepOut, g.outChannels);
    return { attrs: { ...c.node.attrs, inChannels: c.keepIn[0]!.length, outChannels: c.keepOut.length }, tensors: out };
  },
});

channelRules.register('linear', {
  filterDim: 0,
  propagate: (c) => c.fresh(linearGeometry(c.node).outFeatures),
  slice(c) {
    const g = linearGeometry(c.node);
    const out: Record<string, Tensor> = { weight: select2(c.tensors.weight!, c.keepOut, g.outFeatures, c.keepIn[0]!, g.inFeatures) };
    if (c.tensors.bias) out.bias = select(c.tensors.bias, 0, c.keepOut, g.outFeatures);
    return { attrs: { ...c.node.attrs, inFeatures: c.keepIn[0]!.length, outFeatures: c.keepOut.length }, tensors: out };
  },
});

// ---- channelwise kinds: normalisation, scales, activations, pooling, identity ------

/** Norm and scale kinds: every tensor has one entry per channel, counted by attrs.features. */
const perChannel: ChannelRule = {
  propagate: passthrough,
  slice(c) {
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(c.tensors)) tensors[k] = select(t, 0, c.keepOut, c.outChannels);
    return { attrs: { ...c.node.attrs, features: c.keepOut.length }, tensors };
  },
};

// A channelwise kind passes channels through one for one (the trait's
// definition); those with per-channel tensors (norm, scale) also shrink them.
for (const k of kindsWith('channelwise')) {
  channelRules.register(k, hasTrait(k, 'norm') || hasTrait(k, 'scale') ? perChannel : { propagate: passthrough });
}

channelRules.register('softmax', {
  propagate(c) {
    // Softmax across channels couples them all: removing one changes the others.
    if (softmaxAxis(c.node, c.inputShapes[0]!.length) === 1) c.pin(c.input(0));
    return c.input(0);
  },
});

// ---- joins ----------------------------------------------------------------------

// add and blend (α·a + (1 − α)·b): equal shapes, channel i of every input feeds channel i.
for (const k of ['add', 'blend']) channelRules.register(k, {
  propagate(c) {
    const first = c.input(0);
    for (let i = 1; i < c.node.inputs.length; i++) c.unite(first, c.input(i));
    return first;
  },
});

// mul, sub and div: elementwise with broadcasting.
for (const k of ['mul', 'sub', 'div']) channelRules.register(k, {
  propagate(c) {
    // Inputs of the output's rank and channel count line up channel for channel
    // (e.g. a [C,1,1] gate times a [C,H,W] map); anything broadcast across
    // channels cannot lose channels independently.
    const rank = c.outputShape.length;
    const aligned: Layout[] = [];
    for (let i = 0; i < c.node.inputs.length; i++) {
      const s = c.inputShapes[i]!;
      if (s.length === rank && s[0] === c.outputShape[0]) aligned.push(c.input(i));
      else c.pin(c.input(i));
    }
    if (aligned.length === 0) return pinned(c, c.outputShape[0]!);
    for (const l of aligned.slice(1)) c.unite(aligned[0]!, l);
    if (aligned.length < c.node.inputs.length) c.pin(aligned[0]!);
    return aligned[0]!;
  },
});

channelRules.register('concat', {
  propagate(c) {
    const inputs = c.node.inputs.map((_, i) => c.input(i));
    if (concatAxis(c.node, c.inputShapes[0]!.length) !== 1) {
      for (const l of inputs.slice(1)) c.unite(inputs[0]!, l);
      return inputs[0]!;
    }
    const out = new Int32Array(inputs.reduce((a, l) => a + l.length, 0));
    let off = 0;
    for (const l of inputs) {
      out.set(l, off);
      off += l.length;
    }
    return out;
  },
});
