// What the gradient and perturbation methods share: the checks of a pixel
// method's input, the gradient of each image's target logit with respect to
// its input, the channel reductions that turn per-channel attributions into
// one [B, H, W] map, chunked evaluation (so a method's memory is bounded by
// its `internalBatch`, not by samples × images), and seeded noise drawn in
// JavaScript (mulberry32) so a map depends on ExplainInput.seed only, never
// on libtorch's global generator that training also uses.
import { enableGrad, grad, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { mulberry32 } from '../../util/rng.js';
import { ExplainError } from '../errors.js';
import type { ExplainInput } from '../registry.js';
import { targetLogits } from '../targets.js';

/** Checks a pixel method's input: x is [B, C, H, W] float32 with one target per image; returns [B, C, H, W]. */
export function pixelInput(method: string, input: ExplainInput): [number, number, number, number] {
  const s = input.x.shape;
  if (s.length !== 4) throw new ExplainError(`${method} explains images [B, C, H, W], got input [${s.join(', ')}]`);
  if (input.x.dtype !== 'float32') throw new ExplainError(`${method} needs a float32 input, got ${input.x.dtype}`);
  if (input.targets.length !== s[0]) throw new ExplainError(`${method}: ${s[0]} images but ${input.targets.length} targets (one target per image)`);
  return [s[0]!, s[1]!, s[2]!, s[3]!];
}

/**
 * d(target logit of image i)/d(image i) for every image of `x` [n, C, H, W]:
 * one backward of the sum of the target logits, which is exact per image
 * because in evaluation mode no image's output depends on another image.
 * Gradients of the parameters are neither computed into .grad nor kept.
 */
export function inputGradients(model: Model, x: Tensor, targets: readonly number[]): Tensor {
  return tidy(() =>
    enableGrad(() => {
      const leaf = x.detach().requiresGrad_();
      const y = targetLogits(model.forward(leaf, { training: false }), targets).sum();
      return grad([y], [leaf])[0]!;
    }),
  );
}

/** Each image's target logit [n] (no gradient). */
export function targetScores(model: Model, x: Tensor, targets: readonly number[]): Tensor {
  return tidy(() => noGrad(() => targetLogits(model.forward(x, { training: false }), targets)));
}

/** Signed per-channel attributions [B, C, H, W] → [B, H, W] by their sum over channels (so completeness holds on the map's sum). */
export function sumChannels(a: Tensor): Tensor {
  return tidy(() => a.sum(1).float());
}

/** Per-channel magnitudes [B, C, H, W] → [B, H, W] by their maximum over channels (Simonyan et al.'s display of |∂y/∂x|). */
export function maxChannels(a: Tensor): Tensor {
  return tidy(() => a.amax(1).float());
}

/** [start, end) ranges of at most `size` items covering 0..total. */
export function chunks(total: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += size) out.push([s, Math.min(total, s + size)]);
  return out;
}

/** Stops between chunks when the caller's signal was aborted (the signal's reason is thrown). */
export function checkAbort(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/**
 * The matrix [B, n] (float64) that sums the rows of a chunk into their
 * images: row j of the chunk belongs to image images[j] with weight
 * weights[j]. acc[B, D] += M @ rows[n, D] in float64 keeps the sum of a
 * method's chunks independent of how they were cut (to ~1e-15).
 */
export function scatterMatrix(batch: number, images: readonly number[], weights: readonly number[]): Tensor {
  const m = new Float64Array(batch * images.length);
  images.forEach((b, j) => {
    m[b * images.length + j] = weights[j]!;
  });
  return tensor(m, [batch, images.length]);
}

/** acc [B, D] float64 plus scatterMatrix(images, weights) @ rows [n, ...] (the old accumulator is disposed). */
export function accumulate(acc: Tensor, images: readonly number[], weights: readonly number[], rows: Tensor): Tensor {
  const next = tidy(() => noGrad(() => acc.add(scatterMatrix(acc.size(0), images, weights).matmul(rows.double().flatten(1)))));
  acc.dispose();
  return next;
}

/** A seeded stream of uniform [0, 1) and standard normal draws. */
export class Draws {
  private readonly rand: () => number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  uniform(): number {
    return this.rand();
  }
  /** Box–Muller, both values used. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.rand()));
    const t = 2 * Math.PI * this.rand();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }
}
