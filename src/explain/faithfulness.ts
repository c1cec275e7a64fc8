// Faithfulness of an attribution map: the deletion and insertion curves of
// RISE (Petsiuk et al., 2018). Pixels are ordered by attribution, most
// important first; deletion removes them in `steps` equal steps (sets them to
// a baseline) and insertion reveals them on the baseline, tracking the
// target's softmax probability. A faithful map makes the probability fall
// fast under deletion (low AUC) and rise fast under insertion (high AUC).
//
// Conventions (they decide the numbers, so they are fixed and documented):
// - A map at a layer's resolution is first brought to the input's by bilinear
//   interpolation (align_corners false, as F.interpolate and PyTorch).
// - A pixel is a location: all its channels are removed / revealed together.
// - Order: descending attribution; ties keep pixel order (row-major index,
//   a stable sort), so a constant map removes pixels top-left first. NaN
//   attributions rank last.
// - Step k of `steps` touches the first round(k · H·W / steps) pixels; the
//   curve has steps + 1 points, from 0 to all pixels.
// - Baselines: 'zero' is 0 in the normalised input space (the dataset's mean
//   colour); 'blur' is the image under a Gaussian blur (σ = max(1, min(H, W)
//   / 44.8): RISE's 5 px at 224, truncated at 2σ, normalised at the borders
//   so the edges are not darkened). Default as in RISE: deletion to 'zero',
//   insertion from 'blur'.
// - AUC: the trapezoid rule over the fraction of pixels in [0, 1].
// The perturbed images of all images of a batch go through the model in
// chunks of about `batchSize`, under noGrad and tidy: nothing outlives a call.
import { F, noGrad, tensor, tidy, zerosLike, onesLike, type Tensor } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import { ExplainError } from './errors.js';
import { targetProbs } from './targets.js';

export type CurveMode = 'deletion' | 'insertion';
export type PerturbBaseline = 'zero' | 'blur';

export interface CurveOptions {
  /** Number of equal steps from no pixel to all pixels; default min(28, H·W). */
  steps?: number;
  /** What removed / not yet revealed pixels become; default 'zero' for deletion, 'blur' for insertion (RISE). */
  baseline?: PerturbBaseline;
  /** σ of the 'blur' baseline in pixels; default max(1, min(H, W) / 44.8). */
  blurSigma?: number;
  /** Perturbed images per forward pass (at least one step of the whole batch); default 64. */
  batchSize?: number;
  /** Checked between forward passes (throws the signal's reason). */
  signal?: AbortSignal;
}

export interface CurveResult {
  mode: CurveMode;
  baseline: PerturbBaseline;
  steps: number;
  /** Fraction of pixels removed (deletion) or revealed (insertion) at each point: steps + 1 values from 0 to 1. */
  fractions: number[];
  /** Per image, the target's softmax probability at each point (steps + 1 values). */
  curves: number[][];
  /** Per image, the area under its curve (trapezoid rule over `fractions`). */
  auc: number[];
}

export interface FaithfulnessResult {
  deletion: CurveResult;
  insertion: CurveResult;
}

/** Deletion and insertion of the same maps, each with its RISE default baseline unless `baseline` is given. */
export function deletionInsertion(model: Model, x: Tensor, targets: readonly number[], maps: Tensor, opts: CurveOptions = {}): FaithfulnessResult {
  return { deletion: perturbationCurve(model, x, targets, maps, 'deletion', opts), insertion: perturbationCurve(model, x, targets, maps, 'insertion', opts) };
}

/** One RISE curve per image: `maps` [B, h, w] (any resolution) ranks the pixels of `x` [B, C, H, W]. */
export function perturbationCurve(model: Model, x: Tensor, targets: readonly number[], maps: Tensor, mode: CurveMode, opts: CurveOptions = {}): CurveResult {
  if (x.ndim !== 4) throw new ExplainError(`faithfulness needs images [B, C, H, W], got [${x.shape.join(', ')}]`);
  const [b, c, h, w] = x.shape as [number, number, number, number];
  if (maps.ndim !== 3 || maps.size(0) !== b) throw new ExplainError(`faithfulness needs one map per image [${b}, h, w], got [${maps.shape.join(', ')}]`);
  if (targets.length !== b) throw new ExplainError(`faithfulness needs one target per image (${b} images, ${targets.length} targets)`);
  const pixels = h * w;
  const steps = opts.steps ?? Math.min(28, pixels);
  if (!Number.isInteger(steps) || steps < 1) throw new ExplainError(`faithfulness steps must be an integer >= 1, got ${steps}`);
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ExplainError(`faithfulness batchSize must be an integer >= 1, got ${batchSize}`);
  const baseline = opts.baseline ?? (mode === 'deletion' ? 'zero' : 'blur');
  const sigma = opts.blurSigma ?? Math.max(1, Math.min(h, w) / 44.8);
  if (!(sigma > 0)) throw new ExplainError(`faithfulness blurSigma must be > 0, got ${sigma}`);

  const counts = Array.from({ length: steps + 1 }, (_, k) => Math.round((k * pixels) / steps));
  const fractions = counts.map((n) => n / pixels);
  const probs: number[][] = Array.from({ length: b }, () => []);
  const perChunk = Math.max(1, Math.floor(batchSize / b));

  tidy(() =>
    noGrad(() => {
      const ranks = tensor(pixelRanks(atInputSize(maps, h, w).data<'float32'>(), b, pixels), [b, 1, h, w]);
      const base = baseline === 'zero' ? zerosLike(x) : gaussianBlur(x, sigma);
      for (let s = 0; s <= steps; s += perChunk) {
        opts.signal?.throwIfAborted();
        tidy(() => {
          const ks = counts.slice(s, Math.min(steps + 1, s + perChunk));
          // [S·B, 1, H, W]: pixel touched at step k when its rank < count(k).
          const touched = F.cat(ks.map((n) => ranks.lt(n)));
          const xs = x.expand(ks.length, b, c, h, w).reshape([ks.length * b, c, h, w]);
          const bs = base.expand(ks.length, b, c, h, w).reshape([ks.length * b, c, h, w]);
          const perturbed = mode === 'deletion' ? bs.where(touched, xs) : xs.where(touched, bs);
          const ts = ks.flatMap(() => targets);
          const p = targetProbs(model.forward(perturbed, { training: false }), ts).toArray();
          for (let i = 0; i < p.length; i++) probs[i % b]!.push(p[i]!);
        });
      }
    }),
  );
  return { mode, baseline, steps, fractions, curves: probs, auc: probs.map((p) => trapezoid(fractions, p)) };
}

/** Maps [B, h, w] at [B, H, W]: bilinear (align_corners false) when the resolution differs. */
export function atInputSize(maps: Tensor, h: number, w: number): Tensor {
  if (maps.size(1) === h && maps.size(2) === w) return maps.to('float32');
  return tidy(() => F.interpolate(maps.to('float32').unsqueeze(1), { size: [h, w], mode: 'bilinear', alignCorners: false }).squeeze(1));
}

/**
 * Rank of every pixel of each image (0 = most important): descending value,
 * ties by pixel index, NaN last. `values` holds `b` images of `pixels` each.
 */
export function pixelRanks(values: ArrayLike<number>, b: number, pixels: number): Float32Array {
  const ranks = new Float32Array(b * pixels);
  for (let i = 0; i < b; i++) {
    const off = i * pixels;
    const order = pixelOrder(Array.from({ length: pixels }, (_, j) => values[off + j]!));
    order.forEach((p, r) => (ranks[off + p] = r));
  }
  return ranks;
}

/** Pixel indices by descending value; ties keep index order (Array.prototype.sort is stable); NaN last. */
export function pixelOrder(values: readonly number[]): number[] {
  const key = (v: number): number => (Number.isNaN(v) ? -Infinity : v);
  return values.map((_, i) => i).sort((a, c) => key(values[c]!) - key(values[a]!) || a - c);
}

/** Area under (xs, ys) by the trapezoid rule. */
export function trapezoid(xs: readonly number[], ys: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((xs[i]! - xs[i - 1]!) * (ys[i]! + ys[i - 1]!)) / 2;
  return area;
}

/**
 * x [B, C, H, W] under a Gaussian blur of `sigma` pixels (separable, radius
 * ceil(2σ), each channel alone). Normalised convolution: the zero-padded blur
 * divided by the blur of ones, so border pixels average only real pixels.
 */
export function gaussianBlur(x: Tensor, sigma: number): Tensor {
  return tidy(() => {
    const c = x.size(1);
    const r = Math.ceil(2 * sigma);
    const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
    const sum = k.reduce((a, v) => a + v, 0);
    const kernel = Float32Array.from(k, (v) => v / sum);
    const kh = tensor(kernel, [1, 1, 2 * r + 1, 1]).expand(c, 1, 2 * r + 1, 1).contiguous();
    const kw = tensor(kernel, [1, 1, 1, 2 * r + 1]).expand(c, 1, 1, 2 * r + 1).contiguous();
    const blur = (t: Tensor): Tensor => F.conv2d(F.conv2d(t, kh, { padding: [r, 0], groups: c }), kw, { padding: [0, r], groups: c });
    const ones = onesLike(x.index([0, 1]));
    return blur(x).div(blur(ones));
  });
}
