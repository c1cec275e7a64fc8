// Integrated gradients (Sundararajan, Taly & Yan, ICML 2017): the gradient of
// the target's logit averaged along the straight path from a baseline x' to
// the input x, times (x − x'). Its attributions are complete: they sum to
// f_t(x) − f_t(x'). The path integral uses Gauss–Legendre quadrature on
// [0, 1] with `steps` nodes (Captum's default rule), and the B × steps path
// points are evaluated `internalBatch` at a time, so memory is bounded by
// internalBatch whatever the step count (Captum's internal_batch_size).
// The baseline is a constant in the model's normalised input space: 0 (the
// default) is the training data's mean colour, not black.
import { full, noGrad, tensor, tidy, zeros, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { ExplainError } from '../errors.js';
import { defineExplainer } from '../registry.js';
import { accumulate, checkAbort, chunks, inputGradients, pixelInput, sumChannels, targetScores } from './gradient-common.js';

/**
 * Gauss–Legendre nodes and weights on [0, 1] (n points, exact for
 * polynomials of degree 2n − 1): the roots of P_n by Newton's method from
 * the usual cosine guesses, mapped from [−1, 1]. Nodes ascending; the
 * weights sum to 1.
 */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`gaussLegendre: n must be a positive integer, got ${n}`);
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      // P_n(z) by the three-term recurrence, and its derivative.
      let p1 = 1;
      let p2 = 0;
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
      }
      dp = (n * (z * p1 - p2)) / (z * z - 1);
      const dz = p1 / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-15) break;
    }
    const w = 2 / ((1 - z * z) * dp * dp);
    // ±z on [−1, 1] → (1 ∓ z) / 2 on [0, 1], weight w / 2.
    nodes[i] = (1 - z) / 2;
    nodes[n - 1 - i] = (1 + z) / 2;
    weights[i] = w / 2;
    weights[n - 1 - i] = w / 2;
  }
  return { nodes, weights };
}

export interface IntegratedGradientsOptions {
  /** Quadrature nodes on the path (default 50). */
  steps?: number;
  /** Path points per forward/backward (default 64). */
  internalBatch?: number;
  /** The baseline: a constant (default 0, in the normalised input space) or a tensor [B, C, H, W] / [C, H, W]. */
  baseline?: number | Tensor;
  signal?: AbortSignal;
}

/**
 * Per-channel integrated gradients [B, C, H, W] float32 of each image's
 * target logit: (x − x') ⊙ Σ_k w_k ∇f_t(x' + α_k (x − x')). Path points are
 * ordered step-major (all images at α_1, then α_2, …) and cut into chunks of
 * `internalBatch`; the weighted gradients accumulate in float64, so the
 * result does not depend on the chunk size beyond float32 rounding of each
 * gradient.
 */
export function integratedGradients(model: Model, x: Tensor, targets: readonly number[], o: IntegratedGradientsOptions = {}): Tensor {
  const steps = o.steps ?? 50;
  const internalBatch = o.internalBatch ?? 64;
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const { nodes, weights } = gaussLegendre(steps);
  return tidy(() => {
    const base = noGrad(() => baselineTensor(o.baseline ?? 0, x));
    const diff = noGrad(() => x.detach().sub(base));
    let acc = zeros([b, c * h * w], { dtype: 'float64' });
    for (const [s, e] of chunks(b * steps, internalBatch)) {
      checkAbort(o.signal);
      const images: number[] = [];
      const alphas = new Float32Array(e - s);
      const ws: number[] = [];
      for (let i = s; i < e; i++) {
        const k = Math.floor(i / b);
        images.push(i % b);
        alphas[i - s] = nodes[k]!;
        ws.push(weights[k]!);
      }
      acc = tidy(() => {
        const points = noGrad(() => base.indexSelect(0, images).add(diff.indexSelect(0, images).mul(tensor(alphas, [e - s, 1, 1, 1]))));
        const g = inputGradients(model, points, images.map((i) => targets[i]!));
        return accumulate(acc, images, ws, g);
      });
    }
    return noGrad(() => acc.reshape([b, c, h, w]).mul(diff.double()).float());
  });
}

/** The baseline as a [B, C, H, W] tensor like x. */
function baselineTensor(baseline: number | Tensor, x: Tensor): Tensor {
  if (typeof baseline === 'number') return full(x.shape, baseline);
  const s = baseline.shape;
  const xs = x.shape;
  if (s.length === 3 && s.every((d, i) => d === xs[i + 1])) return baseline.detach().unsqueeze(0).expand(...xs).contiguous();
  if (s.length === 4 && s.every((d, i) => d === xs[i])) return baseline.detach().float();
  throw new ExplainError(`integrated gradients: baseline [${s.join(', ')}] does not match input [${xs.join(', ')}]`);
}

/** Completeness gap above which a map comes with a warning (Captum's convergence delta, relative). */
const COMPLETENESS_TOLERANCE = 0.01;

defineExplainer({
  name: 'ig',
  title: 'Integrated gradients',
  source: 'Sundararajan, Taly & Yan, Axiomatic Attribution for Deep Networks, ICML 2017',
  family: 'gradient',
  usesLayer: false,
  needsBackground: false,
  params: {
    steps: { default: 50, desc: 'Gauss–Legendre nodes on the path from the baseline to the input', min: 1, integer: true },
    internalBatch: { default: 64, desc: 'path points per forward/backward (bounds memory)', min: 1, integer: true },
    baseline: { default: 0, desc: 'constant baseline in the normalised input space (0 = the training mean)' },
  },
  explain(input, p) {
    const [b] = pixelInput('ig', input);
    const { model, x, targets } = input;
    return tidy(() => {
      const attr = integratedGradients(model, x, targets, { steps: p.steps!, internalBatch: p.internalBatch!, baseline: p.baseline!, signal: input.signal });
      const maps = sumChannels(attr);
      // Completeness check (two forwards): Σ attributions should be f_t(x) − f_t(x').
      const fx = targetScores(model, x, targets).toArray();
      const fb = targetScores(model, noGrad(() => full(x.shape, p.baseline!)), targets).toArray();
      const sums = noGrad(() => maps.sum([1, 2])).toArray();
      const warnings: string[] = [];
      const bad = sums.map((sm, i) => ({ i, gap: Math.abs(sm - (fx[i]! - fb[i]!)), delta: Math.abs(fx[i]! - fb[i]!) })).filter((r) => r.gap > COMPLETENESS_TOLERANCE * Math.max(r.delta, 1e-3));
      if (bad.length > 0) {
        const worst = bad.reduce((a, r) => (r.gap > a.gap ? r : a));
        warnings.push(`ig: the attributions of ${bad.length} of ${b} images miss f(x) − f(baseline) by more than ${COMPLETENESS_TOLERANCE * 100} % (worst: image ${worst.i}, gap ${worst.gap.toPrecision(3)} of ${worst.delta.toPrecision(3)}); raise steps (now ${p.steps})`);
      }
      return { maps, resolution: 'input' as const, warnings };
    });
  },
});
