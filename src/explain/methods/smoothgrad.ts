// SmoothGrad (Smilkov et al. 2017) over saliency: the per-channel gradient
// magnitudes |∂y_t/∂x| averaged over `samples` copies of the input with
// Gaussian noise added, then reduced by their maximum over channels like
// saliency (Captum's NoiseTunnel over Saliency, then the same display). The
// noise's σ is a fraction of each image's value range (max − min), as in the
// paper (10–20 % works best there); draws come from ExplainInput.seed, so the
// same seed gives the same map. samples = 1 with sigma = 0 is saliency.
import { noGrad, tensor, tidy, zeros, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { defineExplainer } from '../registry.js';
import { accumulate, checkAbort, chunks, Draws, inputGradients, maxChannels, pixelInput } from './gradient-common.js';
import { hashSeed } from '../../util/rng.js';

export interface SmoothGradOptions {
  /** Noisy copies per image (default 50). */
  samples?: number;
  /** Noise σ as a fraction of each image's value range (default 0.15). */
  sigma?: number;
  /** Noisy copies per forward/backward (default 64). */
  internalBatch?: number;
  seed: number;
  signal?: AbortSignal;
}

/** SmoothGrad maps [B, H, W] float32: max over channels of the mean over noisy copies of |∂(target logit)/∂x|. */
export function smoothGrad(model: Model, x: Tensor, targets: readonly number[], o: SmoothGradOptions): Tensor {
  const samples = o.samples ?? 50;
  const sigma = o.sigma ?? 0.15;
  const internalBatch = o.internalBatch ?? 64;
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const per = c * h * w;
  // One stream for the whole call, consumed in sample-major order, so the chunk size does not change the draws.
  const draws = new Draws(hashSeed(o.seed, 0x5300));
  return tidy(() => {
    const xd = x.detach();
    const sigmas = noGrad(() => xd.amax([1, 2, 3]).sub(xd.amin([1, 2, 3])).mul(sigma)).toArray();
    let acc = zeros([b, per], { dtype: 'float64' });
    for (const [s, e] of chunks(b * samples, internalBatch)) {
      checkAbort(o.signal);
      const images: number[] = [];
      const noise = new Float32Array((e - s) * per);
      for (let i = s; i < e; i++) {
        const img = i % b;
        images.push(img);
        const z = draws.normals(per);
        const sd = sigmas[img]!;
        for (let j = 0; j < per; j++) noise[(i - s) * per + j] = sd * z[j]!;
      }
      acc = tidy(() => {
        const noisy = noGrad(() => xd.indexSelect(0, images).add(tensor(noise, [e - s, c, h, w])));
        const g = inputGradients(model, noisy, images.map((i) => targets[i]!));
        return accumulate(acc, images, new Array<number>(e - s).fill(1 / samples), noGrad(() => g.abs()));
      });
    }
    return maxChannels(acc.reshape([b, c, h, w]));
  });
}

defineExplainer({
  name: 'smoothgrad',
  title: 'SmoothGrad (over saliency)',
  source: 'Smilkov et al., SmoothGrad: removing noise by adding noise, 2017',
  family: 'gradient',
  usesLayer: false,
  needsBackground: false,
  params: {
    samples: { default: 50, desc: 'noisy copies per image', min: 1, integer: true },
    sigma: { default: 0.15, desc: "noise σ as a fraction of each image's value range", min: 0 },
    internalBatch: { default: 64, desc: 'noisy copies per forward/backward (bounds memory)', min: 1, integer: true },
  },
  explain(input, p) {
    pixelInput('smoothgrad', input);
    const maps = smoothGrad(input.model, input.x, input.targets, { samples: p.samples!, sigma: p.sigma!, internalBatch: p.internalBatch!, seed: input.seed, signal: input.signal });
    return { maps, resolution: 'input', warnings: [] };
  },
});
