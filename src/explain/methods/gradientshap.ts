// GradientSHAP / expected gradients (Erion et al. 2021, "Improving
// performance of deep learning models with axiomatic attribution priors and
// expected gradients"; Lundberg & Lee's GradientExplainer; Captum's
// GradientShap): integrated gradients with the baseline drawn from the
// training data and the path point drawn at random. Each of `samples` draws
// per image picks a background image x' uniformly, α ~ U(0, 1), optionally
// adds Gaussian noise (σ `stdevs`, absolute, in the normalised input space)
// to the input, and contributes (x − x') ⊙ ∇f_t(x' + α (x − x')); the
// attributions are the mean of the draws. In expectation they sum to
// f_t(x) − E[f_t(x')] over the background (exactly, draw by draw, for a
// model linear in its input). Signed per-channel attributions are summed
// over channels.
import { noGrad, tensor, tidy, zeros, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { hashSeed } from '../../util/rng.js';
import { ExplainError } from '../errors.js';
import { defineExplainer } from '../registry.js';
import { accumulate, checkAbort, chunks, Draws, inputGradients, pixelInput, sumChannels } from './gradient-common.js';

export interface GradientShapOptions {
  /** Reference images [N, C, H, W] (the training data). */
  background: Tensor;
  /** Draws per image (default 50). */
  samples?: number;
  /** σ of the Gaussian noise added to the input per draw (default 0: none). */
  stdevs?: number;
  /** Draws per forward/backward (default 64). */
  internalBatch?: number;
  seed: number;
  signal?: AbortSignal;
}

/** Per-channel GradientSHAP attributions [B, C, H, W] float32. */
export function gradientShap(model: Model, x: Tensor, targets: readonly number[], o: GradientShapOptions): Tensor {
  const samples = o.samples ?? 50;
  const stdevs = o.stdevs ?? 0;
  const internalBatch = o.internalBatch ?? 64;
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const bs = o.background.shape;
  if (bs.length !== 4 || bs[1] !== c || bs[2] !== h || bs[3] !== w || bs[0]! < 1) {
    throw new ExplainError(`gradientshap: background [${bs.join(', ')}] does not match the input images [${c}, ${h}, ${w}]`);
  }
  const n = bs[0]!;
  const per = c * h * w;
  const draws = new Draws(hashSeed(o.seed, 0x6253));
  return tidy(() => {
    const xd = x.detach();
    const bg = o.background.detach().float();
    let acc = zeros([b, per], { dtype: 'float64' });
    for (const [s, e] of chunks(b * samples, internalBatch)) {
      checkAbort(o.signal);
      const m = e - s;
      const images: number[] = [];
      const refs: number[] = [];
      const alphas = new Float32Array(m);
      const noise = stdevs > 0 ? new Float32Array(m * per) : null;
      // Draw order per point (reference, α, noise) in sample-major order: the chunk size does not change the draws.
      for (let i = s; i < e; i++) {
        images.push(i % b);
        refs.push(Math.min(n - 1, Math.floor(draws.uniform() * n)));
        alphas[i - s] = draws.uniform();
        if (noise) {
          const z = draws.normals(per);
          for (let j = 0; j < per; j++) noise[(i - s) * per + j] = stdevs * z[j]!;
        }
      }
      acc = tidy(() => {
        const { points, delta } = noGrad(() => {
          let xi = xd.indexSelect(0, images);
          if (noise) xi = xi.add(tensor(noise, [m, c, h, w]));
          const ref = bg.indexSelect(0, refs);
          const dl = xi.sub(ref);
          return { points: ref.add(dl.mul(tensor(alphas, [m, 1, 1, 1]))), delta: dl };
        });
        const g = inputGradients(model, points, images.map((i) => targets[i]!));
        return accumulate(acc, images, new Array<number>(m).fill(1 / samples), noGrad(() => g.mul(delta)));
      });
    }
    return noGrad(() => acc.reshape([b, c, h, w]).float());
  });
}

defineExplainer({
  name: 'gradientshap',
  title: 'GradientSHAP (expected gradients)',
  source: 'Erion et al., Nature Machine Intelligence 2021; Lundberg & Lee, NeurIPS 2017 (GradientExplainer)',
  family: 'gradient',
  usesLayer: false,
  needsBackground: true,
  params: {
    samples: { default: 50, desc: 'random (background image, path point) draws per image', min: 1, integer: true },
    stdevs: { default: 0, desc: 'σ of Gaussian noise added to the input per draw (normalised input space)', min: 0 },
    internalBatch: { default: 64, desc: 'draws per forward/backward (bounds memory)', min: 1, integer: true },
  },
  explain(input, p) {
    pixelInput('gradientshap', input);
    if (!input.background) throw new ExplainError('gradientshap needs background images from the training data (ExplainInput.background), none were given');
    const background = input.background;
    const maps = tidy(() => sumChannels(gradientShap(input.model, input.x, input.targets, { background, samples: p.samples!, stdevs: p.stdevs!, internalBatch: p.internalBatch!, seed: input.seed, signal: input.signal })));
    return { maps, resolution: 'input', warnings: [] };
  },
});
