// Comparing what several models look at: base, pruned and distilled models
// can differ in architecture (and so in the resolution of their CAM layer)
// but take the same input. Per image and per method, two models' maps are
// brought to the input resolution (bilinear) and compared by their Spearman
// rank correlation and by the overlap (IoU) of their top pixels; the images
// where the models predict differently are listed (pruning's "forgotten"
// examples, Hooker et al. 2019), and everything is summarised per class.
//
// Conventions: Spearman ranks ties by their average rank (as scipy) and is 0
// when either map is constant (no ranking to agree with: an all-negative CAM
// zeroed). The top set of a map is its round(fraction · H·W) highest pixels
// (at least one), ties by pixel index as in the faithfulness curves.
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import { inputShape, type Model } from '../graph/index.js';
import { ExplainError } from './errors.js';
import { atInputSize, pixelOrder } from './faithfulness.js';

/** Average ranks (1-based) of `values`, ties sharing the mean of their positions. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const key = (i: number): number => (Number.isNaN(values[i]!) ? -Infinity : values[i]!); // NaN ranks lowest, as in pixelOrder
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && key(order[j + 1]!) === key(order[i]!)) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation (Pearson's of the average ranks); 0 when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new ExplainError(`spearman: ${a.length} values against ${b.length}`);
  return pearson(averageRanks(a), averageRanks(b));
}

function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return 0;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** IoU of the top `fraction` of pixels of two maps of the same size. */
export function topOverlap(a: ArrayLike<number>, b: ArrayLike<number>, fraction = 0.2): number {
  if (a.length !== b.length) throw new ExplainError(`topOverlap: ${a.length} values against ${b.length}`);
  if (!(fraction > 0 && fraction <= 1)) throw new ExplainError(`top fraction must be in (0, 1], got ${fraction}`);
  const k = Math.max(1, Math.round(fraction * a.length));
  const top = new Set(pixelOrder(Array.from(a)).slice(0, k));
  let inter = 0;
  for (const p of pixelOrder(Array.from(b)).slice(0, k)) if (top.has(p)) inter++;
  return inter / (2 * k - inter);
}

export interface MapAgreement {
  /** Per image, Spearman's correlation of the two maps at the input resolution. */
  spearman: number[];
  /** Per image, IoU of the two maps' top `fraction` pixels. */
  topIoU: number[];
}

/** Per image agreement of two batches of maps [B, h, w] and [B, h', w'], both brought to [H, W] (the input's). */
export function mapAgreement(a: Tensor, b: Tensor, size: readonly [number, number], opts: { topFraction?: number } = {}): MapAgreement {
  if (a.ndim !== 3 || b.ndim !== 3 || a.size(0) !== b.size(0)) throw new ExplainError(`maps to compare must be [B, h, w] with the same B, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  const [h, w] = size;
  const px = h * w;
  const [da, db] = tidy(() => noGrad(() => [atInputSize(a, h, w).data<'float32'>(), atInputSize(b, h, w).data<'float32'>()]));
  const out: MapAgreement = { spearman: [], topIoU: [] };
  for (let i = 0; i < a.size(0); i++) {
    const ma = da.subarray(i * px, (i + 1) * px);
    const mb = db.subarray(i * px, (i + 1) * px);
    out.spearman.push(spearman(ma, mb));
    out.topIoU.push(topOverlap(ma, mb, opts.topFraction));
  }
  return out;
}

/** A model under a name (base, pruned, a student). */
export interface NamedModel {
  name: string;
  model: Model;
}

/** Refuses models that do not take the same input (the first one names the reference). */
export function checkSameInput(models: readonly NamedModel[]): number[] {
  if (models.length === 0) throw new ExplainError('nothing to compare: no model given');
  const ref = inputShape(models[0]!.model);
  for (const m of models.slice(1)) {
    const s = inputShape(m.model);
    if (s.join() !== ref.join()) throw new ExplainError(`models with different input shapes cannot be compared: ${models[0]!.name} takes [${ref.join(', ')}], ${m.name} takes [${s.join(', ')}]`);
  }
  return [...ref];
}

/** Predicted class per image (eval mode, no gradient). */
export function predictions(model: Model, x: Tensor): number[] {
  return tidy(() => noGrad(() => model.forward(x, { training: false }).argmax(1).toArray()));
}

export interface Disagreement {
  /** Index of the image in the compared batch. */
  image: number;
  /** True label, when labels were given. */
  label?: number;
  /** Predicted class per model name. */
  predictions: Record<string, number>;
}

export interface PairComparison {
  method: string;
  /** The two models compared (a before b in the models' order). */
  a: string;
  b: string;
  spearman: number[];
  topIoU: number[];
  meanSpearman: number;
  meanTopIoU: number;
}

export interface ClassSummary {
  /** Class (the true label, or the first model's prediction without labels). */
  cls: number;
  /** Images of that class in the batch. */
  images: number;
  /** Per pair 'a|b' and method: mean Spearman and top IoU over the class's images. */
  pairs: { method: string; a: string; b: string; meanSpearman: number; meanTopIoU: number }[];
  /** Fraction of the class's images on which every model predicts the same class. */
  agreement: number;
  /** Per model name, accuracy on the class's images (only with labels). */
  accuracy?: Record<string, number>;
}

export interface ComparisonInput {
  /** Models in order: the first is the reference (e.g. the base model). */
  models: readonly NamedModel[];
  /** The compared images [B, C, H, W], normalised as the models expect. */
  x: Tensor;
  /** True labels (optional): the per-class summary then groups by them and reports accuracy. */
  labels?: readonly number[];
  /** maps[method][model name] = [B, h, w] raw maps of that model for the batch. */
  maps: Readonly<Record<string, Readonly<Record<string, Tensor>>>>;
  /** Fraction of pixels in the top sets; default 0.2. */
  topFraction?: number;
}

export interface ComparisonReport {
  /** Model names in order. */
  models: string[];
  /** Predicted class per model name, per image. */
  predictions: Record<string, number[]>;
  /** Images on which the models do not all predict the same class, in image order. */
  disagreements: Disagreement[];
  /** Every pair of models (i < j) for every method, per image. */
  pairs: PairComparison[];
  /** Per class, in increasing class order. */
  perClass: ClassSummary[];
  topFraction: number;
}

/** Predictions, disagreements, map agreement per pair and method, and the per-class summary. */
export function compareModels(input: ComparisonInput): ComparisonReport {
  const shape = checkSameInput(input.models);
  const { x, labels } = input;
  if (x.ndim !== 4 || x.shape.slice(1).join() !== shape.join()) throw new ExplainError(`images [${x.shape.join(', ')}] do not match the models' input [${shape.join(', ')}]`);
  const n = x.size(0);
  if (labels && labels.length !== n) throw new ExplainError(`${n} images but ${labels.length} labels`);
  const names = input.models.map((m) => m.name);
  if (new Set(names).size !== names.length) throw new ExplainError(`model names must differ, got ${names.join(', ')}`);
  const topFraction = input.topFraction ?? 0.2;
  const size: [number, number] = [x.size(2), x.size(3)];

  const preds: Record<string, number[]> = {};
  for (const m of input.models) preds[m.name] = predictions(m.model, x);
  const agree = Array.from({ length: n }, (_, i) => names.every((k) => preds[k]![i] === preds[names[0]!]![i]));
  const disagreements: Disagreement[] = [];
  for (let i = 0; i < n; i++) {
    if (agree[i]) continue;
    disagreements.push({ image: i, ...(labels ? { label: labels[i]! } : {}), predictions: Object.fromEntries(names.map((k) => [k, preds[k]![i]!])) });
  }

  const pairs: PairComparison[] = [];
  for (const [method, byModel] of Object.entries(input.maps)) {
    for (const k of names) if (!byModel[k]) throw new ExplainError(`no ${method} maps for model '${k}'`);
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const ag = mapAgreement(byModel[names[i]!]!, byModel[names[j]!]!, size, { topFraction });
        pairs.push({ method, a: names[i]!, b: names[j]!, ...ag, meanSpearman: mean(ag.spearman), meanTopIoU: mean(ag.topIoU) });
      }
    }
  }

  const classOf = labels ?? preds[names[0]!]!;
  const perClass: ClassSummary[] = [...new Set(classOf)]
    .sort((a, b) => a - b)
    .map((cls) => {
      const idx = classOf.flatMap((c, i) => (c === cls ? [i] : []));
      const pick = (v: readonly number[]): number => mean(idx.map((i) => v[i]!));
      return {
        cls,
        images: idx.length,
        pairs: pairs.map((p) => ({ method: p.method, a: p.a, b: p.b, meanSpearman: pick(p.spearman), meanTopIoU: pick(p.topIoU) })),
        agreement: idx.filter((i) => agree[i]).length / idx.length,
        ...(labels ? { accuracy: Object.fromEntries(names.map((k) => [k, idx.filter((i) => preds[k]![i] === labels[i]).length / idx.length])) } : {}),
      };
    });

  return { models: names, predictions: preds, disagreements, pairs, perClass, topFraction };
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length;
}
