// Per-kind ONNX export handlers. Each handler turns one slimnet node into one
// or more ONNX nodes through an OnnxNodeContext (export.ts implements it).
// Export is always eval mode: BatchNormalization uses the running
// statistics, dropout becomes Identity.
//
// Tensor layout: slimnet shapes are per sample; in ONNX every value carries
// the batch dimension first (dynamic, dim_param 'batch'), so per-sample axes
// are numbered from 1 — the numbering softmax and concat attributes already use.
import { GraphError, type GraphNode, type Shape } from '../../graph/ir.js';
import { PassRegistry, attrBool, attrNum, attrPair, attrInts } from '../../graph/registry.js';
import {
  concatAxis,
  conv2dGeometry,
  convTranspose2dGeometry,
  explicitPadding,
  poolGeometry,
  softmaxAxis,
  bnFeatures,
  linearGeometry,
  scaleFeatures,
  lrnParams,
  pad2dParams,
  channelShuffleGroups,
  channelSliceRange,
} from '../../graph/kinds/index.js';

/** An ONNX attribute value, typed explicitly (1 and 1.0 are the same JS number). */
export type OnnxAttr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string };

export const int = (value: number): OnnxAttr => ({ type: 'int', value });
export const float = (value: number): OnnxAttr => ({ type: 'float', value });
export const ints = (value: readonly number[]): OnnxAttr => ({ type: 'ints', value });
export const floats = (value: readonly number[]): OnnxAttr => ({ type: 'floats', value });

/** What a handler sees of the export in progress, for one slimnet node. */
export interface OnnxNodeContext {
  readonly node: GraphNode;
  /** Per-sample shapes of the node's inputs and output (no batch dimension). */
  readonly inputShapes: readonly Shape[];
  readonly outputShape: Shape;
  readonly opset: number;
  /** ONNX value name of input `i`. */
  input(i: number): string;
  /** ONNX value name the node's result must be written to. */
  readonly output: string;
  /** Whether the node has tensor `name` (e.g. an optional bias). */
  hasTensor(name: string): boolean;
  /** Initializer name of the node's tensor `name` (its slimnet key, `conv1.weight`); adds the initializer. */
  tensor(name: string): string;
  /** A new float32 initializer; returns its (unique) name. */
  constFloat(hint: string, values: readonly number[], dims: readonly number[]): string;
  /** A new int64 initializer; returns its (unique) name. */
  constInt64(hint: string, values: readonly number[], dims?: readonly number[]): string;
  /** A fresh, unused value name for an intermediate result. */
  temp(hint: string): string;
  /** Appends an ONNX node. */
  emit(opType: string, inputs: readonly string[], outputs: readonly string[], attrs?: Readonly<Record<string, OnnxAttr>>): void;
  /** Declares a graph input of the given per-sample shape (batch dimension added). */
  graphInput(name: string, shape: Shape): void;
}

export type OnnxHandler = (ctx: OnnxNodeContext) => void;

export const onnxHandlers = new PassRegistry<OnnxHandler>('ONNX export');

export class OnnxExportError extends GraphError {
  constructor(message: string, node?: string) {
    super(message, node);
    this.name = 'OnnxExportError';
  }
}

// ---- structure ------------------------------------------------------------------

onnxHandlers.register('input', (c) => c.graphInput(c.output, c.outputShape));

onnxHandlers.register('flatten', (c) => c.emit('Flatten', [c.input(0)], [c.output], { axis: int(1) }));

onnxHandlers.register('reshape', (c) => {
  // 0 copies the batch dimension from the input (allowzero = 0, the only
  // behaviour before opset 14), so the batch stays dynamic.
  const shape = [0, ...attrInts(c.node, 'shape')];
  c.emit('Reshape', [c.input(0), c.constInt64(`${c.node.name}.shape`, shape)], [c.output], c.opset >= 14 ? { allowzero: int(0) } : {});
});

// Channel shuffle as PyTorch writes it: view [N, g, C/g, H, W], transpose(1, 2), view [N, C, H, W].
onnxHandlers.register('channel_shuffle', (c) => {
  const x = c.inputShapes[0]!;
  const g = channelShuffleGroups(c.node, x);
  const [ch, h, w] = x as [number, number, number];
  const v = c.temp(`${c.node.name}.grouped`);
  const t = c.temp(`${c.node.name}.transposed`);
  const az: Record<string, OnnxAttr> = c.opset >= 14 ? { allowzero: int(0) } : {};
  c.emit('Reshape', [c.input(0), c.constInt64(`${c.node.name}.shape5`, [0, g, ch / g, h, w])], [v], az);
  c.emit('Transpose', [v], [t], { perm: ints([0, 2, 1, 3, 4]) });
  c.emit('Reshape', [t, c.constInt64(`${c.node.name}.shape4`, [0, ch, h, w])], [c.output], az);
});
onnxHandlers.register('channel_slice', (c) => {
  const [s, e] = channelSliceRange(c.node, c.inputShapes[0]!);
  if (c.opset < 10) c.emit('Slice', [c.input(0)], [c.output], { starts: ints([s]), ends: ints([e]), axes: ints([1]) });
  else c.emit('Slice', [c.input(0), c.constInt64(`${c.node.name}.starts`, [s]), c.constInt64(`${c.node.name}.ends`, [e]), c.constInt64(`${c.node.name}.axes`, [1])], [c.output]);
});
onnxHandlers.register('lrn', (c) => {
  const p = lrnParams(c.node);
  c.emit('LRN', [c.input(0)], [c.output], { size: int(p.size), alpha: { type: 'float', value: p.alpha }, beta: { type: 'float', value: p.beta }, bias: { type: 'float', value: p.bias } });
});
onnxHandlers.register('pad2d', (c) => {
  const { pads: [t, l, b, r], value } = pad2dParams(c.node);
  const pads = [0, 0, t, l, 0, 0, b, r];
  const mode = { mode: { type: 'string', value: 'constant' } } as Record<string, OnnxAttr>;
  if (c.opset < 11) c.emit('Pad', [c.input(0)], [c.output], { ...mode, pads: ints(pads), value: { type: 'float', value } });
  else c.emit('Pad', [c.input(0), c.constInt64(`${c.node.name}.pads`, pads), c.constFloat(`${c.node.name}.value`, [value], [])], [c.output], mode);
});
onnxHandlers.register('identity', (c) => c.emit('Identity', [c.input(0)], [c.output]));
// Export is eval mode: dropout is the identity.
onnxHandlers.register('dropout', (c) => c.emit('Identity', [c.input(0)], [c.output]));

// ---- convolutions ---------------------------------------------------------------

onnxHandlers.register('conv2d', (c) => {
  const g = conv2dGeometry(c.node);
  let pads: number[];
  const sym = explicitPadding(g);
  if (sym) {
    pads = [sym[0], sym[1], sym[0], sym[1]];
  } else {
    // 'same' with an even effective kernel: as PyTorch, the odd pixel of padding goes at the end (bottom / right).
    const eh = g.dilation[0] * (g.kernel[0] - 1);
    const ew = g.dilation[1] * (g.kernel[1] - 1);
    pads = [Math.floor(eh / 2), Math.floor(ew / 2), eh - Math.floor(eh / 2), ew - Math.floor(ew / 2)];
  }
  const inputs = [c.input(0), c.tensor('weight')];
  if (c.hasTensor('bias')) inputs.push(c.tensor('bias'));
  c.emit('Conv', inputs, [c.output], {
    kernel_shape: ints(g.kernel),
    strides: ints(g.stride),
    pads: ints(pads),
    dilations: ints(g.dilation),
    group: int(g.groups),
  });
});

onnxHandlers.register('conv_transpose2d', (c) => {
  const g = convTranspose2dGeometry(c.node);
  const inputs = [c.input(0), c.tensor('weight')];
  if (c.hasTensor('bias')) inputs.push(c.tensor('bias'));
  c.emit('ConvTranspose', inputs, [c.output], {
    kernel_shape: ints(g.kernel),
    strides: ints(g.stride),
    pads: ints([g.padding[0], g.padding[1], g.padding[0], g.padding[1]]),
    output_padding: ints(g.outputPadding),
    dilations: ints(g.dilation),
    group: int(g.groups),
  });
});

// ---- normalisation and linear ---------------------------------------------------

// BatchNormalization normalises axis 1 of [N, C, ...]: covers [N, C, H, W], [N, F] and [N, C, L].
function batchNorm(c: OnnxNodeContext): void {
  bnFeatures(c.node);
  c.emit('BatchNormalization', [c.input(0), c.tensor('weight'), c.tensor('bias'), c.tensor('running_mean'), c.tensor('running_var')], [c.output], {
    epsilon: float(attrNum(c.node, 'eps', 1e-5)),
    momentum: float(1 - attrNum(c.node, 'momentum', 0.1)),
  });
}
onnxHandlers.register('batchnorm2d', batchNorm);
onnxHandlers.register('batchnorm1d', batchNorm);

onnxHandlers.register('channel_scale', (c) => {
  // α is stored [C]; against [N, C, ...] it must broadcast as [C, 1, ...].
  const features = scaleFeatures(c.node);
  const rank = c.inputShapes[0]!.length;
  let alpha = c.tensor('weight');
  if (rank > 1) {
    const shaped = c.temp(`${c.node.name}.weight_shaped`);
    c.emit('Reshape', [alpha, c.constInt64(`${c.node.name}.weight_shape`, [features, ...new Array<number>(rank - 1).fill(1)])], [shaped]);
    alpha = shaped;
  }
  c.emit('Mul', [c.input(0), alpha], [c.output]);
});

onnxHandlers.register('linear', (c) => {
  linearGeometry(c.node);
  const inputs = [c.input(0), c.tensor('weight')];
  if (c.hasTensor('bias')) inputs.push(c.tensor('bias'));
  // y = x · Wᵀ + b with W stored [out, in], as PyTorch.
  c.emit('Gemm', inputs, [c.output], { alpha: float(1), beta: float(1), transA: int(0), transB: int(1) });
});

// ---- activations ------------------------------------------------------------------

onnxHandlers.register('relu', (c) => c.emit('Relu', [c.input(0)], [c.output]));
onnxHandlers.register('relu6', (c) => {
  // Clip takes its bounds as (scalar) inputs from opset 11 on.
  c.emit('Clip', [c.input(0), c.constFloat(`${c.node.name}.min`, [0], []), c.constFloat(`${c.node.name}.max`, [6], [])], [c.output]);
});
onnxHandlers.register('leaky_relu', (c) => c.emit('LeakyRelu', [c.input(0)], [c.output], { alpha: float(attrNum(c.node, 'slope', 0.01)) }));
onnxHandlers.register('elu', (c) => c.emit('Elu', [c.input(0)], [c.output], { alpha: float(attrNum(c.node, 'alpha', 1)) }));
onnxHandlers.register('sigmoid', (c) => c.emit('Sigmoid', [c.input(0)], [c.output]));
onnxHandlers.register('tanh', (c) => c.emit('Tanh', [c.input(0)], [c.output]));
onnxHandlers.register('hardswish', (c) => {
  if (c.opset >= 14) {
    c.emit('HardSwish', [c.input(0)], [c.output]);
  } else {
    // x · HardSigmoid(x) with alpha 1/6, beta 1/2 is the same function.
    const hs = c.temp(`${c.node.name}.hardsigmoid`);
    c.emit('HardSigmoid', [c.input(0)], [hs], { alpha: float(1 / 6), beta: float(0.5) });
    c.emit('Mul', [c.input(0), hs], [c.output]);
  }
});
onnxHandlers.register('softmax', (c) => {
  if (c.opset < 13) throw new OnnxExportError(`softmax export needs opset 13 or higher (single-axis semantics), got ${c.opset}`, c.node.name);
  c.emit(attrBool(c.node, 'log', false) ? 'LogSoftmax' : 'Softmax', [c.input(0)], [c.output], { axis: int(softmaxAxis(c.node, c.inputShapes[0]!.length)) });
});

// ---- pooling ------------------------------------------------------------------------

/**
 * Window pooling. Ceil mode is written as floor mode with extra padding at
 * the end, which reproduces PyTorch exactly (including its rule that the last
 * window must start inside the input or the left padding) on any runtime,
 * instead of relying on each runtime's reading of ONNX's ceil_mode.
 */
function windowPool(c: OnnxNodeContext, op: 'MaxPool' | 'AveragePool'): void {
  const g = poolGeometry(c.node);
  const countIncludePad = op === 'AveragePool' && attrBool(c.node, 'countIncludePad', true);
  const inShape = c.inputShapes[0]!;
  const out = c.outputShape;
  // End padding so that floor((n + begin + end - k) / s) + 1 equals slimnet's output size.
  const endPad = (i: 0 | 1): number => {
    const n = inShape[i + 1]!;
    const needed = (out[i + 1]! - 1) * g.stride[i] + g.dilation[i] * (g.kernel[i] - 1) + 1 - n - g.padding[i];
    return Math.max(g.padding[i], needed);
  };
  const end: [number, number] = [endPad(0), endPad(1)];
  const extra = end[0] > g.padding[0] || end[1] > g.padding[1];
  const attrs: Record<string, OnnxAttr> = { kernel_shape: ints(g.kernel), strides: ints(g.stride), ceil_mode: int(0) };
  if (g.dilation[0] !== 1 || g.dilation[1] !== 1) attrs.dilations = ints(g.dilation);
  if (op === 'AveragePool' && countIncludePad && extra) {
    // PyTorch counts the declared padding in the divisor but not the ceil-mode overhang:
    // pad explicitly with zeros, then average only over the (padded) input.
    const padded = c.temp(`${c.node.name}.padded`);
    const pads = c.constInt64(`${c.node.name}.pads`, [0, 0, g.padding[0], g.padding[1], 0, 0, g.padding[0], g.padding[1]]);
    c.emit('Pad', [c.input(0), pads], [padded], { mode: { type: 'string', value: 'constant' } });
    c.emit('AveragePool', [padded], [c.output], { ...attrs, pads: ints([0, 0, end[0] - g.padding[0], end[1] - g.padding[1]]), count_include_pad: int(0) });
    return;
  }
  attrs.pads = ints([g.padding[0], g.padding[1], end[0], end[1]]);
  if (op === 'AveragePool') attrs.count_include_pad = int(countIncludePad ? 1 : 0);
  c.emit(op, [c.input(0)], [c.output], attrs);
}
onnxHandlers.register('maxpool2d', (c) => windowPool(c, 'MaxPool'));
onnxHandlers.register('avgpool2d', (c) => windowPool(c, 'AveragePool'));

onnxHandlers.register('global_avgpool', (c) => {
  // slimnet's global average pool outputs [C]; ONNX's keeps [C, 1, 1].
  const pooled = c.temp(`${c.node.name}.pooled`);
  c.emit('GlobalAveragePool', [c.input(0)], [pooled]);
  c.emit('Flatten', [pooled], [c.output], { axis: int(1) });
});

/** PyTorch's adaptive average pooling along one axis as an [out, n] averaging matrix. */
function adaptiveMatrix(n: number, out: number): number[] {
  const m = new Array<number>(out * n).fill(0);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    for (let j = start; j < end; j++) m[i * n + j] = 1 / (end - start);
  }
  return m;
}

onnxHandlers.register('adaptive_avgpool', (c) => {
  const [oh, ow] = attrPair(c.node, 'output');
  const [, h, w] = c.inputShapes[0]! as [number, number, number];
  if (oh === 1 && ow === 1) {
    c.emit('GlobalAveragePool', [c.input(0)], [c.output]);
  } else if (oh === h && ow === w) {
    c.emit('Identity', [c.input(0)], [c.output]);
  } else if (h % oh === 0 && w % ow === 0) {
    const k = [h / oh, w / ow];
    c.emit('AveragePool', [c.input(0)], [c.output], { kernel_shape: ints(k), strides: ints(k), pads: ints([0, 0, 0, 0]), ceil_mode: int(0), count_include_pad: int(0) });
  } else {
    // Uneven (possibly overlapping) windows: adaptive pooling is linear and
    // separable, so it is exactly P_h · X · P_wᵀ with constant averaging matrices.
    const pw = adaptiveMatrix(w, ow);
    const pwT = new Array<number>(w * ow);
    for (let i = 0; i < ow; i++) for (let j = 0; j < w; j++) pwT[j * ow + i] = pw[i * w + j]!;
    const rows = c.temp(`${c.node.name}.cols_pooled`);
    c.emit('MatMul', [c.input(0), c.constFloat(`${c.node.name}.pool_w`, pwT, [w, ow])], [rows]);
    c.emit('MatMul', [c.constFloat(`${c.node.name}.pool_h`, adaptiveMatrix(h, oh), [oh, h]), rows], [c.output]);
  }
});

// ---- merging ------------------------------------------------------------------------

onnxHandlers.register('add', (c) => {
  const ins = c.node.inputs.map((_, i) => c.input(i));
  if (ins.length === 2) c.emit('Add', ins, [c.output]);
  else c.emit('Sum', ins, [c.output]);
});

for (const [kind, op] of [['mul', 'Mul'], ['sub', 'Sub'], ['div', 'Div']] as const) onnxHandlers.register(kind, (c) => {
  // slimnet broadcasts per-sample shapes right-aligned; with the batch axis in
  // front, a lower-rank operand needs unit axes after the batch to line up.
  const [a, b] = c.inputShapes as [Shape, Shape];
  const rank = Math.max(a.length, b.length);
  const aligned = [0, 1].map((i) => {
    const s = i === 0 ? a : b;
    if (s.length === rank) return c.input(i);
    const axes = Array.from({ length: rank - s.length }, (_, j) => j + 1);
    const name = c.temp(`${c.node.name}.in${i}_aligned`);
    c.emit('Unsqueeze', [c.input(i), c.constInt64(`${c.node.name}.in${i}_axes`, axes)], [name]);
    return name;
  });
  c.emit(op, aligned, [c.output]);
});

onnxHandlers.register('blend', (c) => {
  // y = α·a + (1 − α)·b; α is a [1] initializer, broadcast over [N, C, ...].
  const n = c.node.name;
  const alpha = c.tensor('alpha');
  const beta = c.temp(`${n}.one_minus_alpha`);
  c.emit('Sub', [c.constFloat(`${n}.one`, [1], [1]), alpha], [beta]);
  const x = c.temp(`${n}.a_scaled`);
  const y = c.temp(`${n}.b_scaled`);
  c.emit('Mul', [c.input(0), alpha], [x]);
  c.emit('Mul', [c.input(1), beta], [y]);
  c.emit('Add', [x, y], [c.output]);
});

onnxHandlers.register('concat', (c) => c.emit('Concat', c.node.inputs.map((_, i) => c.input(i)), [c.output], { axis: int(concatAxis(c.node, c.inputShapes[0]!.length)) }));
