// LIME (Ribeiro, Singh & Guestrin 2016, "Why Should I Trust You?"), as its
// LimeImageExplainer does it, on superpixels sized for small images (see
// superpixels.ts): `samples` random on/off masks over the superpixels (the
// first one all on, the others each segment on with probability ½, seeded),
// off segments set to 0 in normalised space (the data's mean colour, see
// surrogate.ts), the target's score for every perturbed image (evaluated in
// batches), each sample weighted by LIME's exponential kernel
// √exp(−d² / width²) on its cosine distance d to the unperturbed image, and a
// weighted ridge regression (scikit-learn's Ridge(alpha=1) with intercept, as
// LIME fits) solved on the engine. The map gives each pixel its superpixel's
// coefficient, at the input resolution; one value per pixel, so no channel
// reduction.
//
// The kernel width: LimeImageExplainer's default is 0.25 on the cosine
// distance, which lies in [0, 1] whatever the number of segments (the
// 0.75·√features rule is LimeTabularExplainer's, for Euclidean distances).
import { tensor, tidy } from '../../tensor/index.js';
import { defineExplainer, type ExplainInput, type Explanation } from '../registry.js';
import { hashSeed, mulberry32 } from '../../util/rng.js';
import { maskScores, PERTURBATION_PARAMS, perturbOptions, segmentationOf, segmentMap, weightedRidge } from './surrogate.js';
import type { Segmentation } from '../superpixels.js';
import { ExplainError } from '../errors.js';

/** `n` LIME masks over k segments, row-major [n, k]: the first all on, then each entry on with probability ½. */
export function limeMasks(k: number, n: number, seed: number): Float32Array {
  const rand = mulberry32(hashSeed(seed, k, 0x11e));
  const masks = new Float32Array(n * k);
  masks.fill(1, 0, Math.min(n, 1) * k);
  for (let i = k; i < n * k; i++) masks[i] = rand() < 0.5 ? 0 : 1;
  return masks;
}

/** LIME's sample weights: √exp(−d²/width²), d the cosine distance of each mask to the all-on one (1 for the all-off mask). */
export function limeWeights(masks: Float32Array, k: number, width: number): Float64Array {
  const n = masks.length / k;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let on = 0;
    for (let j = 0; j < k; j++) on += masks[i * k + j]!;
    const d = 1 - Math.sqrt(on / k); // cos(z, 1) = |z| / (√|z| · √k) for a 0/1 vector z
    w[i] = Math.sqrt(Math.exp(-(d * d) / (width * width)));
  }
  return w;
}

export interface LimeResult {
  seg: Segmentation;
  /** The surrogate's coefficient of each superpixel. */
  coef: Float64Array;
  intercept: number;
}

/** The LIME surrogate of each image of input.x for its target. */
export function limeValues(input: ExplainInput, params: Readonly<Record<string, number>>): LimeResult[] {
  const o = perturbOptions('lime', params, input.signal);
  if (!(params.kernelWidth! > 0)) throw new ExplainError(`lime.kernelWidth must be > 0, got ${params.kernelWidth}`);
  const out: LimeResult[] = [];
  for (let b = 0; b < input.x.size(0); b++) {
    const seg = segmentationOf(input.x, b, o);
    const k = seg.count;
    const masks = limeMasks(k, params.samples!, hashSeed(input.seed, b));
    const scores = tidy(() => maskScores(input.model, input.x.select(0, b), seg, masks, input.targets[b]!, o));
    const fit = weightedRidge(Float64Array.from(masks), scores, limeWeights(masks, k, params.kernelWidth!), k, params.alpha!);
    out.push({ seg, coef: fit.coef, intercept: fit.intercept });
  }
  return out;
}

defineExplainer({
  name: 'lime',
  title: 'LIME',
  source: 'Ribeiro, Singh & Guestrin, "Why Should I Trust You?": Explaining the Predictions of Any Classifier, KDD 2016',
  family: 'perturbation',
  usesLayer: false,
  needsBackground: false,
  params: {
    samples: { default: 1000, min: 2, integer: true, desc: "perturbed images per image (LIME's num_samples)" },
    kernelWidth: { default: 0.25, desc: "width of the exponential kernel on the cosine distance (LimeImageExplainer's default)" },
    alpha: { default: 1, min: 0, desc: "ridge penalty of the surrogate (LIME's Ridge(alpha=1))" },
    ...PERTURBATION_PARAMS,
  },
  explain(input, params): Explanation {
    const [bsz, , h, w] = input.x.shape as [number, number, number, number];
    const maps = new Float32Array(bsz * h * w);
    limeValues(input, params).forEach((r, b) => maps.set(segmentMap(r.coef, r.seg), b * h * w));
    return { maps: tensor(maps, [bsz, h, w]), resolution: 'input', warnings: [] };
  },
});
