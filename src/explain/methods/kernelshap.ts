// KernelSHAP (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model
// Predictions"): Shapley values of the superpixels, estimated by a weighted
// linear regression over coalitions (masks) drawn with the Shapley kernel
// π(s) = (k − 1) / (C(k, s) · s · (k − s)). The coalition plan follows shap's
// KernelExplainer: coalition sizes whose every subset fits in the budget are
// enumerated completely (smallest and largest first, each subset with its
// complement), the rest are sampled by size with their complements and
// re-weighted to the weight left; the empty and full coalitions are evaluated
// and enforced exactly (Σφ = f(x) − f(all off): efficiency). With a budget of
// 2^k − 2 or more every coalition is enumerated and the values are the exact
// Shapley values.
//
// "All off" is every superpixel at 0 in normalised space, the training data's
// mean colour (see surrogate.ts): the background that f(x) − f(background)
// refers to. The map gives each pixel its superpixel's Shapley value, at the
// input resolution; one value per pixel, so no channel reduction.
import { tensor, tidy } from '../../tensor/index.js';
import { defineExplainer, type ExplainInput, type Explanation } from '../registry.js';
import { hashSeed, mulberry32 } from '../../util/rng.js';
import { maskScores, PERTURBATION_PARAMS, perturbOptions, segmentationOf, segmentMap, shapleyRegression } from './surrogate.js';
import type { Segmentation } from '../superpixels.js';

export interface Coalitions {
  /** [n, k] of 0/1, row-major; neither the empty nor the full coalition. */
  masks: Float32Array;
  /** Kernel weight of each row (the enumerated part sums to its sizes' Shapley-kernel mass; the sampled part to the rest). */
  weights: Float64Array;
  n: number;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Calls `fn` with every k-subset of 0..n-1 in lexicographic order. */
function forEachSubset(n: number, k: number, fn: (idx: Int32Array) => void): void {
  const idx = Int32Array.from({ length: k }, (_, i) => i);
  for (;;) {
    fn(idx);
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]!++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
  }
}

/**
 * The coalitions KernelSHAP evaluates for k features within `budget`
 * evaluations (capped at 2^k − 2), seeded. A port of the sampling in shap's
 * KernelExplainer.explain (shap/explainers/_kernel.py).
 */
export function kernelShapCoalitions(k: number, budget: number, seed: number): Coalitions {
  const cap = k < 31 ? 2 ** k - 2 : Infinity;
  const total = Math.max(0, Math.min(budget, cap));
  const rows: Float32Array[] = [];
  const weights: number[] = [];
  const add = (mask: Float32Array, w: number): void => {
    rows.push(mask);
    weights.push(w);
  };
  const sizes = Math.ceil((k - 1) / 2);
  const paired = Math.floor((k - 1) / 2);
  const weight = Array.from({ length: sizes }, (_, i) => ((k - 1) / ((i + 1) * (k - i - 1))) * (i < paired ? 2 : 1));
  const norm = weight.reduce((a, b) => a + b, 0);
  for (let i = 0; i < sizes; i++) weight[i]! /= norm;

  // Whole coalition sizes while the budget covers them.
  let full = 0;
  let left = total;
  const remaining = [...weight];
  for (let s = 1; s <= sizes; s++) {
    const count = binomial(k, s) * (s <= paired ? 2 : 1);
    if ((left * remaining[s - 1]!) / count < 1 - 1e-8) break;
    full++;
    left -= count;
    const r = remaining[s - 1]!;
    if (r < 1) for (let i = 0; i < sizes; i++) remaining[i]! /= 1 - r;
    const w = weight[s - 1]! / binomial(k, s) / (s <= paired ? 2 : 1);
    forEachSubset(k, s, (idx) => {
      const m = new Float32Array(k);
      for (const j of idx) m[j] = 1;
      add(m, w);
      if (s <= paired) add(m.map((v) => 1 - v), w);
    });
  }
  const fixed = rows.length;

  // The other sizes: sampled (size by its kernel mass, then a random subset), each with its complement.
  if (full < sizes && left > 0) {
    const rand = mulberry32(hashSeed(seed, k, 0x5a4b));
    const probs = weight.map((w, i) => (i < paired ? w / 2 : w)).slice(full);
    const psum = probs.reduce((a, b) => a + b, 0);
    const used = new Map<string, number>();
    const order = Int32Array.from({ length: k }, (_, i) => i);
    for (let draws = 0; left > 0 && draws < 4 * total; draws++) {
      let u = rand() * psum;
      let pick = 0;
      while (pick < probs.length - 1 && u >= probs[pick]!) u -= probs[pick++]!;
      const size = pick + full + 1;
      for (let i = 0; i < size; i++) {
        const j = i + Math.floor(rand() * (k - i));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      const m = new Float32Array(k);
      for (let i = 0; i < size; i++) m[order[i]!] = 1;
      const key = m.join('');
      const seen = used.get(key);
      if (seen === undefined) {
        used.set(key, rows.length);
        add(m, 1);
        left--;
        if (left > 0 && size <= paired) {
          add(m.map((v) => 1 - v), 1);
          left--;
        }
      } else {
        weights[seen]!++;
        if (size <= paired && seen + 1 < rows.length && rows[seen + 1]!.every((v, i) => v === 1 - m[i]!)) weights[seen + 1]!++;
      }
    }
    const mass = weight.slice(full).reduce((a, b) => a + b, 0);
    let sampled = 0;
    for (let i = fixed; i < weights.length; i++) sampled += weights[i]!;
    for (let i = fixed; i < weights.length; i++) weights[i] = (weights[i]! * mass) / sampled;
  }
  const masks = new Float32Array(rows.length * k);
  rows.forEach((r, i) => masks.set(r, i * k));
  return { masks, weights: Float64Array.from(weights), n: rows.length };
}

export interface ShapleyResult {
  seg: Segmentation;
  /** Shapley value of each superpixel. */
  values: Float64Array;
  /** The score on the image, and with every superpixel off: Σ values = fx − f0. */
  fx: number;
  f0: number;
}

/** KernelSHAP values of the superpixels of each image of input.x for its target. */
export function kernelShapValues(input: ExplainInput, params: Readonly<Record<string, number>>): ShapleyResult[] {
  const o = perturbOptions('kernelshap', params, input.signal);
  const out: ShapleyResult[] = [];
  for (let b = 0; b < input.x.size(0); b++) {
    const seg = segmentationOf(input.x, b, o);
    const k = seg.count;
    const plan = kernelShapCoalitions(k, params.samples!, hashSeed(input.seed, b));
    // The full and the empty coalition first, then the plan, in one stream of batches.
    const masks = new Float32Array((plan.n + 2) * k);
    masks.fill(1, 0, k);
    masks.set(plan.masks, 2 * k);
    const scores = tidy(() => maskScores(input.model, input.x.select(0, b), seg, masks, input.targets[b]!, o));
    const fx = scores[0]!;
    const f0 = scores[1]!;
    const values = shapleyRegression(Float64Array.from(plan.masks), scores.subarray(2), plan.weights, k, fx, f0);
    out.push({ seg, values, fx, f0 });
  }
  return out;
}

defineExplainer({
  name: 'kernelshap',
  title: 'KernelSHAP',
  source: 'Lundberg & Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017',
  family: 'perturbation',
  usesLayer: false,
  needsBackground: false,
  params: {
    samples: { default: 2048, min: 1, integer: true, desc: "coalitions evaluated per image (shap's default is 2k + 2048; capped at 2^k − 2, where the values are exact)" },
    ...PERTURBATION_PARAMS,
  },
  explain(input, params): Explanation {
    const [bsz, , h, w] = input.x.shape as [number, number, number, number];
    const maps = new Float32Array(bsz * h * w);
    kernelShapValues(input, params).forEach((r, b) => maps.set(segmentMap(r.values, r.seg), b * h * w));
    return { maps: tensor(maps, [bsz, h, w]), resolution: 'input', warnings: [] };
  },
});
