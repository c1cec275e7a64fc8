// The explanation methods, one registry (like the pruning criteria and the
// distillation losses). A method maps a batch of images, one target class per
// image, to one raw attribution map per image: CAM methods at the target
// layer's resolution, pixel methods at the input's, before any normalisation
// or colour mapping (what maps.safetensors stores; overlays upsample and
// normalise later). Hooks a method installs are released inside the call.
import type { Tensor } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import { ExplainError } from './errors.js';

export interface ExplainInput {
  model: Model;
  /** float32 [B, C, H, W], normalised as the model expects. */
  x: Tensor;
  /** One target class per image. */
  targets: readonly number[];
  /** The CAM target layer (resolved: targetLayer()); pixel methods ignore it. */
  layer: string;
  /** Reference inputs [N, C, H, W] from the training data (GradientSHAP / expected gradients); optional for others. */
  background?: Tensor;
  /** Seed of every random draw (LIME, KernelSHAP, SmoothGrad, GradientSHAP, Score-CAM sampling). */
  seed: number;
  /** Stop between chunks of work. */
  signal?: AbortSignal;
}

export interface Explanation {
  /** float32 [B, h, w]: [B, H', W'] at the layer for CAMs, [B, H, W] at the input for pixel methods (summed over channels). */
  maps: Tensor;
  resolution: 'layer' | 'input';
  /** What the caller should know (e.g. an all-negative CAM set to zero), one line each. */
  warnings: string[];
}

export interface ExplainParam {
  default: number;
  desc: string;
  min?: number;
  integer?: boolean;
}

export interface Explainer {
  /** CLI name: gradcam, gradcampp, layercam, scorecam, saliency, gradxinput, ig, smoothgrad, occlusion, lime, kernelshap, gradientshap. */
  name: string;
  title: string;
  /** Citation. */
  source: string;
  family: 'cam' | 'gradient' | 'perturbation';
  /** Whether it reads the target layer (CAM methods). */
  usesLayer: boolean;
  /** Whether it needs ExplainInput.background. */
  needsBackground: boolean;
  params: Readonly<Record<string, ExplainParam>>;
  explain(input: ExplainInput, params: Readonly<Record<string, number>>): Explanation | Promise<Explanation>;
}

const EXPLAINERS = new Map<string, Explainer>();

export function defineExplainer(e: Explainer): void {
  if (EXPLAINERS.has(e.name)) throw new Error(`explainer '${e.name}' is defined twice`);
  EXPLAINERS.set(e.name, e);
}

export function explainer(name: string): Explainer {
  const e = EXPLAINERS.get(name);
  if (!e) throw new ExplainError(`unknown explanation method '${name}' (available: ${explainerNames().join(', ')})`);
  return e;
}

export function explainerNames(): string[] {
  return [...EXPLAINERS.keys()];
}

/** A method's parameters: defaults overridden by `given`; unknown names and bad values name the method and parameter. */
export function resolveExplainParams(e: Explainer, given: Readonly<Record<string, number>> = {}): Record<string, number> {
  for (const k of Object.keys(given)) if (!(k in e.params)) throw new ExplainError(`method '${e.name}' has no parameter '${k}' (it has ${Object.keys(e.params).join(', ') || 'none'})`);
  const out: Record<string, number> = {};
  for (const [k, p] of Object.entries(e.params)) {
    const v = given[k] ?? p.default;
    if (!Number.isFinite(v) || (p.integer && !Number.isInteger(v)) || (p.min !== undefined && v < p.min)) {
      throw new ExplainError(`${e.name}.${k} must be ${p.integer ? 'an integer' : 'a number'}${p.min !== undefined ? ` >= ${p.min}` : ''}, got ${v}`);
    }
    out[k] = v;
  }
  return out;
}
