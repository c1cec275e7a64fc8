// What LIME and KernelSHAP share: superpixels as the features, masks over
// them turned into perturbed images and scored by the model in batches on the
// engine, and the two weighted least-squares solves (LIME's ridge surrogate,
// KernelSHAP's efficiency-constrained regression), also on the engine
// (aten::linalg_lstsq in float64).
//
// Masking: a segment that is off is set to 0 in the model's normalised input
// space, i.e. to the training data's mean colour. Not LIME's per-segment mean
// colour nor the image's own mean: one reference shared by every image and
// every model, so that the maps of a base model and its pruned or distilled
// versions answer the same question, and so that KernelSHAP's "all off"
// coalition is the data's expectation, SHAP's background.
import { callOp, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { ExplainError } from '../errors.js';
import { targetLogits, targetProbs } from '../targets.js';
import type { ExplainParam } from '../registry.js';
import { segmentImage, type Segmentation } from '../superpixels.js';

/** Parameters both perturbation methods take. */
export const PERTURBATION_PARAMS: Readonly<Record<string, ExplainParam>> = {
  segments: { default: 0, min: 0, integer: true, desc: 'superpixels per image; 0 = about one per 4x4 pixels (49 on 28x28, 64 on 32x32, at most 100)' },
  compactness: { default: 0.3, min: 0, desc: "SLIC's weight of position against colour (colours in [0, 1]); larger is squarer" },
  grid: { default: 0, min: 0, integer: true, desc: '1 = plain grid cells instead of SLIC superpixels (the grid is used anyway below 16x16 pixels)' },
  batch: { default: 128, min: 1, integer: true, desc: 'perturbed images per forward pass' },
  logit: { default: 0, min: 0, integer: true, desc: "0 = explain the target's softmax probability (as LIME and the deletion curves do), 1 = its logit" },
};

export interface PerturbOptions {
  segments: number;
  compactness: number;
  grid: boolean;
  batch: number;
  logit: boolean;
  signal?: AbortSignal;
}

export function perturbOptions(method: string, p: Readonly<Record<string, number>>, signal?: AbortSignal): PerturbOptions {
  for (const k of ['grid', 'logit']) if (p[k] !== 0 && p[k] !== 1) throw new ExplainError(`${method}.${k} must be 0 or 1, got ${p[k]}`);
  return { segments: p.segments!, compactness: p.compactness!, grid: p.grid === 1, batch: p.batch!, logit: p.logit === 1, signal };
}

/** The superpixels of image `b` of x [B, C, H, W]. */
export function segmentationOf(x: Tensor, b: number, o: PerturbOptions): Segmentation {
  const [, c, h, w] = x.shape as [number, number, number, number];
  const image = Float32Array.from(tidy(() => x.select(0, b).contiguous().toArray()));
  return segmentImage(image, [c, h, w], { segments: o.segments || undefined, compactness: o.compactness, method: o.grid ? 'grid' : undefined });
}

/**
 * The model's score of `target` on image [C, H, W] with each mask applied:
 * masks is row-major [n, count] of 0/1, one row per perturbed image; a
 * segment whose entry is 0 is set to 0 (the normalised data mean).
 */
export function maskScores(model: Model, image: Tensor, seg: Segmentation, masks: Float32Array, target: number, o: PerturbOptions): Float64Array {
  const k = seg.count;
  const n = masks.length / k;
  if (!Number.isInteger(n)) throw new RangeError(`maskScores: ${masks.length} mask values are not rows of ${k}`);
  const scores = new Float64Array(n);
  tidy(() => {
    const labels = tensor(BigInt64Array.from(seg.labels, (l) => BigInt(l)), [seg.labels.length]);
    const x = image.unsqueeze(0);
    for (let s = 0; s < n; s += o.batch) {
      o.signal?.throwIfAborted();
      const m = Math.min(o.batch, n - s);
      const chunk = tidy(() =>
        noGrad(() => {
          const z = tensor(masks.subarray(s * k, (s + m) * k), [m, k]);
          const pixels = z.indexSelect(1, labels).reshape([m, 1, seg.h, seg.w]);
          const logits = model.forward(x.mul(pixels), { training: false });
          const t = new Array<number>(m).fill(target);
          return (o.logit ? targetLogits(logits, t) : targetProbs(logits, t)).toArray();
        }),
      );
      scores.set(chunk, s);
    }
  });
  return scores;
}

/** Each pixel gets its segment's value: [h * w]. */
export function segmentMap(values: ArrayLike<number>, seg: Segmentation): Float32Array {
  return Float32Array.from(seg.labels, (l) => values[l]!);
}

/** x as an [n, k] float64 tensor. */
function matrix(data: Float64Array, n: number, k: number): Tensor {
  return tensor(data, [n, k], { dtype: 'float64' });
}

/** Least squares min |A s - b|² on the engine (A [n, k], b [n]); rank-deficient systems get the minimum-norm-like solution of LAPACK's gelsy. */
function lstsq(a: Tensor, b: Tensor): Float64Array {
  return tidy(() => {
    const [solution] = callOp('aten::linalg_lstsq', a, b.unsqueeze(1), null, null) as Tensor[];
    return Float64Array.from(solution!.reshape([-1]).toArray());
  });
}

export interface RidgeFit {
  coef: Float64Array;
  intercept: number;
}

/**
 * Weighted ridge regression with an unpenalised intercept — scikit-learn's
 * Ridge(alpha).fit(X, y, sample_weight=w), what LIME fits: minimises
 * Σ w_i (y_i − b − x_i·β)² + alpha |β|². Solved as one least-squares problem
 * (rows √w_i [x_i, 1] and √alpha · e_j) on the engine in float64.
 */
export function weightedRidge(x: Float64Array, y: ArrayLike<number>, w: ArrayLike<number>, k: number, alpha: number): RidgeFit {
  const n = y.length;
  if (x.length !== n * k || w.length !== n) throw new RangeError(`weightedRidge: X has ${x.length} values, y ${n}, w ${w.length}, k ${k}`);
  const rows = n + k;
  const a = new Float64Array(rows * (k + 1));
  const b = new Float64Array(rows);
  for (let i = 0; i < n; i++) {
    const s = Math.sqrt(w[i]!);
    for (let j = 0; j < k; j++) a[i * (k + 1) + j] = s * x[i * k + j]!;
    a[i * (k + 1) + k] = s;
    b[i] = s * y[i]!;
  }
  const r = Math.sqrt(alpha);
  for (let j = 0; j < k; j++) a[(n + j) * (k + 1) + j] = r;
  const sol = tidy(() => lstsq(matrix(a, rows, k + 1), tensor(b, [rows], { dtype: 'float64' })));
  return { coef: sol.subarray(0, k), intercept: sol[k]! };
}

/**
 * KernelSHAP's regression (shap's KernelExplainer.solve without L1 feature
 * selection): minimises Σ w_i (y_i − f0 − z_i·φ)² subject to Σφ = fx − f0,
 * the constraint enforced exactly by eliminating the last feature, so
 * efficiency holds up to float64 rounding. z is [n, k] of 0/1.
 */
export function shapleyRegression(z: Float64Array, y: ArrayLike<number>, w: ArrayLike<number>, k: number, fx: number, f0: number): Float64Array {
  const n = y.length;
  if (z.length !== n * k || w.length !== n) throw new RangeError(`shapleyRegression: Z has ${z.length} values, y ${n}, w ${w.length}, k ${k}`);
  const total = fx - f0;
  const phi = new Float64Array(k);
  if (k === 1 || n === 0) {
    // One feature takes everything; with no coalition evaluated an even split is the only efficient guess.
    phi.fill(total / k);
    return phi;
  }
  const a = new Float64Array(n * (k - 1));
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sqrt(w[i]!);
    const last = z[i * k + k - 1]!;
    for (let j = 0; j < k - 1; j++) a[i * (k - 1) + j] = s * (z[i * k + j]! - last);
    b[i] = s * (y[i]! - f0 - last * total);
  }
  const sol = tidy(() => lstsq(matrix(a, n, k - 1), tensor(b, [n], { dtype: 'float64' })));
  let sum = 0;
  for (let j = 0; j < k - 1; j++) {
    phi[j] = sol[j]!;
    sum += sol[j]!;
  }
  phi[k - 1] = total - sum;
  return phi;
}
