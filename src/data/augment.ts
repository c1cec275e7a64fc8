// Gaussian noise on a share of the training images (seed 001: "gaussian
// noise was randomly applied to half of the training data"). It runs after
// normalisation, so `std` is in the units the network sees (a std of 0.1 on
// inputs normalised to unit variance), independent of the data set's pixel
// statistics; nothing is clamped. Each image is chosen afresh in every epoch
// with probability `share`, from the loader's per-sample RNG like the other
// augmentations, so a run (and a resumed one) draws the same noise.
import { compose, custom, type Image, type Transform, type TransformContext } from './transforms.js';

/** Noise on a share of the training images, in normalised-input units. */
export interface NoiseSpec {
  /** Probability that an image gets noise, in [0, 1]. */
  share: number;
  /** Standard deviation of the noise (> 0), in normalised-input units. */
  std: number;
}

/** The problem with a noise spec, or null; `flags` name its fields in the messages. */
export function noiseProblem(n: NoiseSpec, flags: { share: string; std: string } = { share: 'share', std: 'std' }): string | null {
  if (!(n.share >= 0 && n.share <= 1)) return `${flags.share} must be in [0, 1], got ${n.share}`;
  if (!(n.std > 0 && Number.isFinite(n.std))) return `${flags.std} must be a number > 0, got ${n.std}`;
  return null;
}

/**
 * Adds N(0, std²) to every value of the image with probability `share`. The
 * first draw decides; the noise takes the draws after it (Box-Muller, two
 * normals per pair of uniforms), so a clean image is returned as it came.
 */
export function addNoise(img: Image, ctx: TransformContext, n: NoiseSpec): Image {
  if (!(ctx.rand() < n.share)) return img;
  const src = img.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - ctx.rand(); // (0, 1]: log(u) is finite
    const v = ctx.rand();
    const r = Math.sqrt(-2 * Math.log(u)) * n.std;
    out[i] = src[i]! + r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = src[i + 1]! + r * Math.sin(2 * Math.PI * v);
  }
  return { data: out, shape: img.shape };
}

/**
 * The noise step as a transform. It has no portable spec (transforms.ts's
 * TransformSpec has no kind for it), so a loader using it builds its batches
 * on the main thread; the per-sample RNG is the worker's, so the pixels are
 * the same either way.
 */
export function noiseShare(n: NoiseSpec): Transform {
  const problem = noiseProblem(n);
  if (problem) throw new RangeError(`noiseShare: ${problem}`);
  const spec = { share: n.share, std: n.std };
  return custom(`noiseShare(${spec.share}, ${spec.std})`, (img, ctx) => addNoise(img, ctx, spec));
}

/** A training transform followed by the noise step (after its normalisation); `noise` null or share 0: the transform unchanged. */
export function withNoise(t: Transform, noise: NoiseSpec | null): Transform {
  return noise === null || noise.share === 0 ? t : compose(t, noiseShare(noise));
}
