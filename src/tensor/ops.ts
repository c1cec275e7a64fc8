// Functional neural-network ops (the torch.nn.functional of slimnet). Each is
// a typed front for one ATen schema, called through dispatch.ts.
import { op } from './dispatch.js';
import { Tensor, wrap, wrapList } from './tensor.js';
import type { NativeValue } from './native.js';

export type Pair = number | readonly [number, number];
export type Reduction = 'none' | 'mean' | 'sum';

const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function pair(v: Pair | undefined, dflt: number): number[] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function opt(t: Tensor | null | undefined): NativeValue {
  return t ? t.handle : null;
}

// ---- convolution and linear ---------------------------------------------------

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  /** Zero padding per side, or 'same' / 'valid' as in PyTorch. */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution. input [N, Cin, H, W], weight [Cout, Cin/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, o: Conv2dOptions = {}): Tensor {
  const common = [pair(o.dilation, 1), o.groups ?? 1] as const;
  if (typeof o.padding === 'string') {
    return wrap(op('aten::conv2d.padding').call(input.handle, weight.handle, opt(o.bias), pair(o.stride, 1), o.padding, ...common));
  }
  return wrap(op('aten::conv2d').call(input.handle, weight.handle, opt(o.bias), pair(o.stride, 1), pair(o.padding, 0), ...common));
}

export interface ConvTranspose2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/** Transposed 2-D convolution. weight [Cin, Cout/groups, kH, kW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, o: ConvTranspose2dOptions = {}): Tensor {
  return wrap(
    op('aten::conv_transpose2d.input').call(
      input.handle,
      weight.handle,
      opt(o.bias),
      pair(o.stride, 1),
      pair(o.padding, 0),
      pair(o.outputPadding, 0),
      o.groups ?? 1,
      pair(o.dilation, 1),
    ),
  );
}

/** y = x Wᵀ + b. weight [out, in]. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(op('aten::linear').call(input.handle, weight.handle, opt(bias)));
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}

// ---- normalisation --------------------------------------------------------------

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Train mode normalises with batch statistics and updates the running ones in place. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over dim 1 (works for [N, C], [N, C, L] and [N, C, H, W]). */
export function batchNorm(input: Tensor, o: BatchNormOptions = {}): Tensor {
  return wrap(
    op('aten::batch_norm').call(
      input.handle,
      opt(o.weight),
      opt(o.bias),
      opt(o.runningMean),
      opt(o.runningVar),
      o.training ?? false,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
      true,
    ),
  );
}

// ---- pooling -----------------------------------------------------------------------

export interface Pool2dOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernel: Pair, o: Pool2dOptions & { dilation?: Pair } = {}): Tensor {
  return wrap(
    op('aten::max_pool2d').call(input.handle, pair(kernel, 0), pair(o.stride ?? kernel, 0), pair(o.padding, 0), pair(o.dilation, 1), o.ceilMode ?? false),
  );
}

export function avgPool2d(input: Tensor, kernel: Pair, o: Pool2dOptions & { countIncludePad?: boolean } = {}): Tensor {
  return wrap(
    op('aten::avg_pool2d').call(input.handle, pair(kernel, 0), pair(o.stride ?? kernel, 0), pair(o.padding, 0), o.ceilMode ?? false, o.countIncludePad ?? true, null),
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return wrap(op('aten::adaptive_avg_pool2d').call(input.handle, pair(outputSize, 1)));
}

export function adaptiveMaxPool2d(input: Tensor, outputSize: Pair): Tensor {
  const [values, indices] = wrapList(op('aten::adaptive_max_pool2d').call(input.handle, pair(outputSize, 1)));
  indices!.dispose();
  return values!;
}

/** Mean over the spatial dimensions: [N, C, H, W] -> [N, C]. */
export function globalAvgPool(input: Tensor): Tensor {
  return input.mean([2, 3]);
}

// ---- activations -----------------------------------------------------------------

export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function relu6(x: Tensor): Tensor {
  return wrap(op('aten::hardtanh').call(x.handle, 0, 6));
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return wrap(op('aten::leaky_relu').call(x.handle, negativeSlope));
}
export function elu(x: Tensor, alpha = 1): Tensor {
  return wrap(op('aten::elu').call(x.handle, alpha));
}
export function gelu(x: Tensor): Tensor {
  return wrap(op('aten::gelu').call(x.handle));
}
export function silu(x: Tensor): Tensor {
  return wrap(op('aten::silu').call(x.handle));
}
export function hardswish(x: Tensor): Tensor {
  return wrap(op('aten::hardswish').call(x.handle));
}
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

// ---- regularisation and resampling ---------------------------------------------------

/** Zeroes elements with probability p and scales the rest by 1/(1-p) when training. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return wrap(op('aten::dropout').call(x.handle, p, training));
}

export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number | readonly [number, number];
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}

/** Resizes [N, C, H, W] to `size` or by `scaleFactor`. */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  const size = o.size === undefined ? null : pair(o.size, 0);
  const scale = o.scaleFactor === undefined ? null : typeof o.scaleFactor === 'number' ? [o.scaleFactor, o.scaleFactor] : [...o.scaleFactor];
  if ((o.mode ?? 'nearest') === 'nearest') return wrap(op('aten::upsample_nearest2d.vec').call(x.handle, size, scale));
  return wrap(op('aten::upsample_bilinear2d.vec').call(x.handle, size, o.alignCorners ?? false, scale));
}

/** Pads the last dimensions: [left, right, top, bottom, ...] as in PyTorch. */
export function pad(x: Tensor, padding: readonly number[], value = 0): Tensor {
  return wrap(op('aten::constant_pad_nd').call(x.handle, [...padding], value));
}

// ---- joining ----------------------------------------------------------------------------

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(op('aten::cat').call(tensors.map((t) => t.handle), dim));
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(op('aten::stack').call(tensors.map((t) => t.handle), dim));
}

// ---- losses ---------------------------------------------------------------------------------

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}

/** Cross-entropy of logits [N, C] against class indices [N] (int64), with optional label smoothing. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return wrap(
    op('aten::cross_entropy_loss').call(logits.handle, target.handle, opt(o.weight), REDUCTION[o.reduction ?? 'mean'], o.ignoreIndex ?? -100, o.labelSmoothing ?? 0),
  );
}

export function nllLoss(logProbs: Tensor, target: Tensor, o: { weight?: Tensor | null; reduction?: Reduction; ignoreIndex?: number } = {}): Tensor {
  return wrap(op('aten::nll_loss').call(logProbs.handle, target.handle, opt(o.weight), REDUCTION[o.reduction ?? 'mean'], o.ignoreIndex ?? -100));
}

/**
 * KL(target ‖ input) with `input` given as log-probabilities, as
 * torch.nn.functional.kl_div. 'batchmean' divides the sum by the batch size
 * (the mathematically correct KL per sample, used by distillation).
 */
export function klDiv(input: Tensor, target: Tensor, o: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  const r = o.reduction ?? 'mean';
  if (r === 'batchmean') {
    const summed = wrap(op('aten::kl_div').call(input.handle, target.handle, REDUCTION.sum, o.logTarget ?? false));
    try {
      return summed.div(input.size(0));
    } finally {
      summed.dispose();
    }
  }
  return wrap(op('aten::kl_div').call(input.handle, target.handle, REDUCTION[r], o.logTarget ?? false));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(op('aten::mse_loss').call(input.handle, target.handle, REDUCTION[reduction]));
}

export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(op('aten::l1_loss').call(input.handle, target.handle, REDUCTION[reduction]));
}

export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(op('aten::binary_cross_entropy_with_logits').call(input.handle, target.handle, null, null, REDUCTION[reduction]));
}

/** One-hot encoding of int64 class indices. */
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  return wrap(op('aten::one_hot').call(indices.handle, numClasses));
}
