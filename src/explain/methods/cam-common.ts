// What the CAM family shares: the target layer's activations A and the
// gradients dY/dA of each image's target logit, captured in one forward and
// one backward, and the last step every CAM takes — ReLU of a weighted sum of
// A's channels, at the layer's resolution, raw. An image whose weighted sum
// is nowhere positive (all-negative, or all-zero) gets a zero map and a
// warning instead of whatever a division by its zero max would give.
import { enableGrad, grad, noGrad, tidy, zerosLike, type Tensor } from '../../tensor/index.js';
import { Capture, HookSet } from '../../graph/index.js';
import { ExplainError } from '../errors.js';
import { targetLayer } from '../layer.js';
import { targetLogits } from '../targets.js';
import type { ExplainInput, Explanation } from '../registry.js';

/** The target layer's output [B, C, h, w] and, when asked, d(target logit)/d(output) of the same shape. */
export interface LayerCapture {
  layer: string;
  acts: Tensor;
  grads?: Tensor;
}

/** Checks the batch against its targets and the layer against the graph (ExplainError naming what is wrong). */
export function checkCamInput(input: ExplainInput): string {
  const { x, targets, model } = input;
  if (x.ndim !== 4) throw new ExplainError(`CAM methods need a batch of images [B, C, H, W], got [${x.shape.join(', ')}]`);
  if (targets.length !== x.size(0)) throw new ExplainError(`${x.size(0)} images but ${targets.length} targets: give one target per image`);
  return targetLayer(model.graph, input.layer);
}

/**
 * One forward (eval mode) with a capture on the target layer, then, for
 * `grads`, the gradient of the sum of the images' target logits w.r.t. its
 * output (each image's own gradient: in eval mode the images do not
 * interact). The gradient is taken with grad(), not backward(): the model's
 * parameters get no .grad from an explanation, so explaining never changes
 * what a later training step sees. The hooks are released before returning;
 * the caller owns the returned tensors (they are tracked by its scope).
 */
export function captureLayer(input: ExplainInput, opts: { grads: boolean }): LayerCapture {
  const layer = checkCamInput(input);
  const hooks = new HookSet();
  const cap = hooks.add(new Capture([layer]));
  try {
    return tidy(() => {
      const run = (): LayerCapture => {
        const logits = input.model.forward(input.x, { training: false, hooks });
        const a = cap.activation(layer);
        const shape = a.shape;
        if (shape.length !== 4) throw new ExplainError(`layer '${layer}' gave [${shape.join(', ')}], not a [B, C, h, w] map`);
        if (!opts.grads) return { layer, acts: a.detach() };
        if (!a.requiresGrad) throw new ExplainError(`layer '${layer}' of ${input.model.graph.name} does not take part in autograd (no gradient for a CAM)`);
        const [g] = grad([targetLogits(logits, input.targets).sum()], [a], { allowUnused: true });
        return { layer, acts: a.detach(), grads: g ?? zerosLike(a) };
      };
      return opts.grads ? enableGrad(run) : noGrad(run);
    });
  } finally {
    hooks.dispose();
  }
}

/** Σ_c w[b, c] · A[b, c] for channel weights [B, C]: the class activation map before its ReLU, [B, h, w]. */
export function weightedSum(weights: Tensor, acts: Tensor): Tensor {
  return weights.unsqueeze(2).unsqueeze(3).mul(acts).sum(1);
}

/**
 * ReLU of a pre-ReLU map [B, h, w] as float32, with non-finite values set to
 * zero; each image whose map is then all zero gets a warning that names the
 * method, the image and its target.
 */
export function finishCam(method: string, preRelu: Tensor, targets: readonly number[]): Explanation {
  const warnings: string[] = [];
  const maps = tidy(() => {
    const m = preRelu.to('float32');
    const finite = m.where(m.isfinite(), 0).relu();
    const max = finite.amax([1, 2]).toArray();
    max.forEach((v, b) => {
      if (!(v > 0)) warnings.push(`${method}: all-negative CAM for image ${b} (target ${targets[b]}): the map is zero`);
    });
    return finite;
  });
  return { maps, resolution: 'layer', warnings };
}
