// Occlusion (Zeiler & Fergus, "Visualizing and understanding convolutional
// networks", ECCV 2014; Captum's Occlusion): slide a square patch of the
// baseline value over the image (all channels at once), and credit each
// pixel with the drop of the target's logit, f_t(x) − f_t(x occluded),
// averaged over the windows that cover it. Windows start every `stride`
// pixels, plus one flush with the bottom / right edge where the stride does
// not reach it, so every pixel is covered. No gradient: forwards only, the
// occluded copies evaluated `internalBatch` at a time. The map is [B, H, W]
// (a window spans all channels, so there is no channel reduction).
import { noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { ExplainError } from '../errors.js';
import { defineExplainer } from '../registry.js';
import { checkAbort, chunks, pixelInput, targetScores } from './gradient-common.js';

export interface OcclusionOptions {
  /** Side of the square patch in pixels (default 4). */
  window?: number;
  /** Step between windows (default 2; at most window). */
  stride?: number;
  /** The patch's value in the normalised input space (default 0: the training mean). */
  baseline?: number;
  /** Occluded copies per forward (default 64). */
  internalBatch?: number;
  signal?: AbortSignal;
}

/** Window starts along one side: every `stride`, and one flush with the end. */
function starts(size: number, window: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + window <= size; s += stride) out.push(s);
  if (out[out.length - 1]! + window < size) out.push(size - window);
  return out;
}

/** Occlusion maps [B, H, W] float32. */
export function occlusion(model: Model, x: Tensor, targets: readonly number[], o: OcclusionOptions = {}): Tensor {
  const window = o.window ?? 4;
  const stride = o.stride ?? 2;
  const baseline = o.baseline ?? 0;
  const internalBatch = o.internalBatch ?? 64;
  const [b, , h, w] = x.shape as [number, number, number, number];
  if (window > h || window > w) throw new ExplainError(`occlusion.window ${window} is larger than the ${h}×${w} input`);
  if (stride > window) throw new ExplainError(`occlusion.stride ${stride} is larger than occlusion.window ${window}: some pixels would never be occluded`);
  const wins = starts(h, window, stride).flatMap((r) => starts(w, window, stride).map((c) => [r, c] as const));
  const p = wins.length;
  return tidy(() =>
    noGrad(() => {
      const xd = x.detach();
      const full = targetScores(model, xd, targets).toArray();
      const drops = new Float64Array(b * p);
      for (const [s, e] of chunks(b * p, internalBatch)) {
        checkAbort(o.signal);
        const m = e - s;
        const images: number[] = [];
        const mask = new Float32Array(m * h * w);
        for (let i = s; i < e; i++) {
          images.push(Math.floor(i / p));
          const [r0, c0] = wins[i % p]!;
          for (let r = r0; r < r0 + window; r++) mask.fill(1, (i - s) * h * w + r * w + c0, (i - s) * h * w + r * w + c0 + window);
        }
        const scores = tidy(() => {
          const mk = tensor(mask, [m, 1, h, w]);
          const occluded = xd.indexSelect(0, images).mul(mk.neg().add(1)).add(mk.mul(baseline));
          return targetScores(model, occluded, images.map((i) => targets[i]!));
        }).toArray();
        for (let i = s; i < e; i++) drops[i] = full[Math.floor(i / p)]! - scores[i - s]!;
      }
      // Each pixel: the mean drop of the windows covering it (accumulated in float64).
      const sum = new Float64Array(b * h * w);
      const count = new Float64Array(h * w);
      wins.forEach(([r0, c0]) => {
        for (let r = r0; r < r0 + window; r++) for (let c = c0; c < c0 + window; c++) count[r * w + c]! += 1;
      });
      for (let i = 0; i < b * p; i++) {
        const img = Math.floor(i / p);
        const [r0, c0] = wins[i % p]!;
        const d = drops[i]!;
        for (let r = r0; r < r0 + window; r++) for (let c = c0; c < c0 + window; c++) sum[img * h * w + r * w + c]! += d;
      }
      const out = new Float32Array(b * h * w);
      for (let i = 0; i < out.length; i++) out[i] = sum[i]! / count[i % (h * w)]!;
      return tensor(out, [b, h, w]);
    }),
  );
}

defineExplainer({
  name: 'occlusion',
  title: 'Occlusion',
  source: 'Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014',
  family: 'perturbation',
  usesLayer: false,
  needsBackground: false,
  params: {
    window: { default: 4, desc: 'side of the square occluding patch, in pixels', min: 1, integer: true },
    stride: { default: 2, desc: 'step between patches, in pixels (at most window)', min: 1, integer: true },
    baseline: { default: 0, desc: "the patch's value in the normalised input space (0 = the training mean)" },
    internalBatch: { default: 64, desc: 'occluded copies per forward (bounds memory)', min: 1, integer: true },
  },
  explain(input, p) {
    pixelInput('occlusion', input);
    const maps = occlusion(input.model, input.x, input.targets, { window: p.window!, stride: p.stride!, baseline: p.baseline!, internalBatch: p.internalBatch!, signal: input.signal });
    return { maps, resolution: 'input', warnings: [] };
  },
});
