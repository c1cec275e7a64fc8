// Composable image transforms on CHW Float32Array images, in plain JS.
// Each random transform draws from the per-sample RNG the loader gives it
// (seeded from (loader seed, epoch, sample index)), so an epoch is
// reproducible and identical whether batches are built in a worker or not.
// Every built-in transform has a plain-data `spec`, so the loader can rebuild
// it inside its worker thread; custom() transforms run on the main thread.
import { hashSeed } from '../util/rng.js';

export type ImageShape = [number, number, number];

export interface Image {
  /** CHW. */
  data: Float32Array;
  shape: ImageShape;
}

export interface TransformContext {
  /** Uniform [0, 1) numbers for this sample. */
  rand: () => number;
  /** The sample's index in the data set (when known). */
  index: number;
  epoch: number;
}

export type TransformSpec =
  | { kind: 'compose'; items: TransformSpec[] }
  | { kind: 'randomCrop'; size: [number, number]; padding: number }
  | { kind: 'horizontalFlip'; p: number }
  | { kind: 'rotation'; degrees: number }
  | { kind: 'colorJitter'; brightness: number; contrast: number; saturation: number }
  | { kind: 'randomResizedCrop'; size: [number, number]; scale: [number, number]; ratio: [number, number] }
  | { kind: 'resize'; size: [number, number] }
  | { kind: 'centerCrop'; size: [number, number] }
  | { kind: 'normalize'; mean: number[]; std: number[] }
  | { kind: 'gaussianNoise'; std: number; fraction: number; seed: number };

export interface Transform {
  readonly name: string;
  /** Plain data describing the transform; undefined for custom() transforms (not portable to a worker). */
  readonly spec: TransformSpec | undefined;
  apply(img: Image, ctx: TransformContext): Image;
  /** The output shape for an input shape. */
  outputShape(shape: ImageShape): ImageShape;
}

type Size = number | readonly [number, number];
const pair = (s: Size): [number, number] => (typeof s === 'number' ? [s, s] : [s[0], s[1]]);

function make(spec: TransformSpec, apply: Transform['apply'], outputShape: Transform['outputShape'] = (s) => s): Transform {
  return { name: spec.kind, spec, apply, outputShape };
}

/** A transform from a function; it runs on the main thread (the loader cannot ship it to a worker). */
export function custom(name: string, apply: Transform['apply'], outputShape: Transform['outputShape'] = (s) => s): Transform {
  return { name, spec: undefined, apply, outputShape };
}

/** Applies `ts` in order. */
export function compose(...ts: Transform[]): Transform {
  const portable = ts.every((t) => t.spec !== undefined);
  return {
    name: `compose(${ts.map((t) => t.name).join(', ')})`,
    spec: portable ? { kind: 'compose', items: ts.map((t) => t.spec!) } : undefined,
    apply: (img, ctx) => ts.reduce((x, t) => t.apply(x, ctx), img),
    outputShape: (s) => ts.reduce((x, t) => t.outputShape(x), s),
  };
}

// --- sampling helpers -----------------------------------------------------

/** Bilinear sample of the plane at `base` at (y, x) (pixel centres at integers); 0 outside. */
function bilinear(src: Float32Array, base: number, h: number, w: number, y: number, x: number): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const inY0 = y0 >= 0 && y0 < h;
  const inY1 = y0 + 1 >= 0 && y0 + 1 < h;
  const inX0 = x0 >= 0 && x0 < w;
  const inX1 = x0 + 1 >= 0 && x0 + 1 < w;
  const r0 = base + y0 * w;
  const r1 = r0 + w;
  const a = inY0 && inX0 ? src[r0 + x0]! : 0;
  const b = inY0 && inX1 && fx !== 0 ? src[r0 + x0 + 1]! : 0;
  const c = inY1 && inX0 && fy !== 0 ? src[r1 + x0]! : 0;
  const d = inY1 && inX1 && fx !== 0 && fy !== 0 ? src[r1 + x0 + 1]! : 0;
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

/** Source index pairs and weights for resampling `n` outputs from [start, start+len) of an axis of size `size`. */
function axisTable(start: number, len: number, n: number, size: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const f = new Float32Array(n);
  const scale = len / n;
  for (let j = 0; j < n; j++) {
    const p = Math.min(Math.max(start + (j + 0.5) * scale - 0.5, start), start + len - 1);
    const lo = Math.floor(p);
    i0[j] = lo;
    i1[j] = Math.min(lo + 1, size - 1);
    f[j] = p - lo;
  }
  return { i0, i1, f };
}

/**
 * Bilinear resize of the region [top, top+ch) x [left, left+cw) of `img` to
 * [oh, ow], half-pixel centres (torch interpolate, align_corners=false, no
 * antialias), edges clamped.
 */
function resizeRegion(img: Image, top: number, left: number, ch: number, cw: number, oh: number, ow: number): Image {
  const [c, h, w] = img.shape;
  const out = new Float32Array(c * oh * ow);
  const ys = axisTable(top, ch, oh, h);
  const xs = axisTable(left, cw, ow, w);
  const src = img.data;
  for (let k = 0; k < c; k++) {
    const base = k * h * w;
    for (let i = 0; i < oh; i++) {
      const r0 = base + ys.i0[i]! * w;
      const r1 = base + ys.i1[i]! * w;
      const fy = ys.f[i]!;
      const o = (k * oh + i) * ow;
      for (let j = 0; j < ow; j++) {
        const x0 = xs.i0[j]!;
        const x1 = xs.i1[j]!;
        const fx = xs.f[j]!;
        const t = src[r0 + x0]! + (src[r0 + x1]! - src[r0 + x0]!) * fx;
        const b = src[r1 + x0]! + (src[r1 + x1]! - src[r1 + x0]!) * fx;
        out[o + j] = t + (b - t) * fy;
      }
    }
  }
  return { data: out, shape: [c, oh, ow] };
}

function crop(img: Image, top: number, left: number, oh: number, ow: number): Image {
  const [c, h, w] = img.shape;
  const out = new Float32Array(c * oh * ow);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < oh; i++) {
      const y = top + i;
      if (y < 0 || y >= h) continue;
      for (let j = 0; j < ow; j++) {
        const x = left + j;
        if (x >= 0 && x < w) out[(k * oh + i) * ow + j] = img.data[(k * h + y) * w + x]!;
      }
    }
  }
  return { data: out, shape: [c, oh, ow] };
}

// --- transforms -----------------------------------------------------------

/** Zero-pads by `padding` on every side, then takes a random `size` crop. */
export function randomCrop(size: Size, padding = 0): Transform {
  const [oh, ow] = pair(size);
  return make(
    { kind: 'randomCrop', size: [oh, ow], padding },
    (img, ctx) => {
      const [, h, w] = img.shape;
      const maxTop = h + 2 * padding - oh;
      const maxLeft = w + 2 * padding - ow;
      if (maxTop < 0 || maxLeft < 0) throw new RangeError(`randomCrop: crop ${oh}x${ow} is larger than the padded image ${h + 2 * padding}x${w + 2 * padding}`);
      const top = Math.floor(ctx.rand() * (maxTop + 1)) - padding;
      const left = Math.floor(ctx.rand() * (maxLeft + 1)) - padding;
      return crop(img, top, left, oh, ow);
    },
    ([c]) => [c, oh, ow],
  );
}

/** The centre `size` crop. */
export function centerCrop(size: Size): Transform {
  const [oh, ow] = pair(size);
  return make(
    { kind: 'centerCrop', size: [oh, ow] },
    (img) => crop(img, Math.round((img.shape[1] - oh) / 2), Math.round((img.shape[2] - ow) / 2), oh, ow),
    ([c]) => [c, oh, ow],
  );
}

/** Mirrors left-right with probability p. */
export function horizontalFlip(p = 0.5): Transform {
  return make({ kind: 'horizontalFlip', p }, (img, ctx) => {
    if (!(ctx.rand() < p)) return img;
    const [c, h, w] = img.shape;
    const out = new Float32Array(img.data.length);
    for (let r = 0; r < c * h; r++) {
      const o = r * w;
      for (let x = 0; x < w; x++) out[o + x] = img.data[o + w - 1 - x]!;
    }
    return { data: out, shape: img.shape };
  });
}

/** Rotates by an angle uniform in [-degrees, degrees] about the centre, bilinear, zero fill. */
export function rotation(degrees: number): Transform {
  return make({ kind: 'rotation', degrees }, (img, ctx) => {
    const angle = ((ctx.rand() * 2 - 1) * degrees * Math.PI) / 180;
    if (angle === 0) return img;
    const [c, h, w] = img.shape;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const cy = (h - 1) / 2;
    const cx = (w - 1) / 2;
    const out = new Float32Array(img.data.length);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        // Inverse map: output pixel -> source position.
        const dy = i - cy;
        const dx = j - cx;
        const sx = cos * dx + sin * dy + cx;
        const sy = -sin * dx + cos * dy + cy;
        for (let k = 0; k < c; k++) out[(k * h + i) * w + j] = bilinear(img.data, k * h * w, h, w, sy, sx);
      }
    }
    return { data: out, shape: img.shape };
  });
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Random brightness, contrast and saturation (torchvision's ColorJitter
 * factors: uniform in [max(0, 1-x), 1+x]), applied in that order, clamped to [0, 1].
 * Saturation is a no-op on 1-channel images.
 */
export function colorJitter(brightness = 0, contrast = 0, saturation = 0): Transform {
  const factor = (x: number, r: () => number): number => (x > 0 ? Math.max(0, 1 - x) + r() * (1 + x - Math.max(0, 1 - x)) : 1);
  return make({ kind: 'colorJitter', brightness, contrast, saturation }, (img, ctx) => {
    const [c, h, w] = img.shape;
    const plane = h * w;
    const b = factor(brightness, ctx.rand);
    const ct = factor(contrast, ctx.rand);
    const s = factor(saturation, ctx.rand);
    const d = Float32Array.from(img.data, (v) => clamp01(v * b));
    const grey = (p: number): number => (c === 3 ? 0.299 * d[p]! + 0.587 * d[plane + p]! + 0.114 * d[2 * plane + p]! : d[p]!);
    if (ct !== 1) {
      let mean = 0;
      for (let p = 0; p < plane; p++) mean += grey(p);
      mean /= plane;
      for (let i = 0; i < d.length; i++) d[i] = clamp01(d[i]! * ct + mean * (1 - ct));
    }
    if (s !== 1 && c === 3) {
      for (let p = 0; p < plane; p++) {
        const g = grey(p);
        for (let k = 0; k < 3; k++) d[k * plane + p] = clamp01(d[k * plane + p]! * s + g * (1 - s));
      }
    }
    return { data: d, shape: img.shape };
  });
}

/** torchvision's RandomResizedCrop: a random area fraction in `scale` and aspect ratio in `ratio`, resized to `size`. */
export function randomResizedCrop(size: Size, scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3]): Transform {
  const [oh, ow] = pair(size);
  return make(
    { kind: 'randomResizedCrop', size: [oh, ow], scale: [scale[0], scale[1]], ratio: [ratio[0], ratio[1]] },
    (img, ctx) => {
      const [, h, w] = img.shape;
      const area = h * w;
      const logR = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = area * (scale[0] + ctx.rand() * (scale[1] - scale[0]));
        const ar = Math.exp(logR[0] + ctx.rand() * (logR[1] - logR[0]));
        const cw = Math.round(Math.sqrt(target * ar));
        const ch = Math.round(Math.sqrt(target / ar));
        if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
          const top = Math.floor(ctx.rand() * (h - ch + 1));
          const left = Math.floor(ctx.rand() * (w - cw + 1));
          return resizeRegion(img, top, left, ch, cw, oh, ow);
        }
      }
      // Fallback: the centre crop with the ratio clamped into range.
      const inRatio = w / h;
      let cw = w;
      let ch = h;
      if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
      else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
      return resizeRegion(img, Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw, oh, ow);
    },
    ([c]) => [c, oh, ow],
  );
}

/** Bilinear resize to `size` (half-pixel centres, like torch interpolate with align_corners=false). */
export function resize(size: Size): Transform {
  const [oh, ow] = pair(size);
  return make(
    { kind: 'resize', size: [oh, ow] },
    (img) => (img.shape[1] === oh && img.shape[2] === ow ? img : resizeRegion(img, 0, 0, img.shape[1], img.shape[2], oh, ow)),
    ([c]) => [c, oh, ow],
  );
}

/** Per-channel mean/std of common data sets (pixel values in [0, 1]). */
export const NORMALIZE_PRESETS = {
  mnist: { mean: [0.1307], std: [0.3081] },
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
} as const satisfies Record<string, { mean: readonly number[]; std: readonly number[] }>;
export type NormalizePreset = keyof typeof NORMALIZE_PRESETS;

/** (x - mean[c]) / std[c]; a preset name or explicit per-channel (or single) values. */
export function normalize(mean: NormalizePreset | readonly number[], std?: readonly number[]): Transform {
  let m: number[];
  let s: number[];
  if (typeof mean === 'string') {
    const p = NORMALIZE_PRESETS[mean];
    if (!p) throw new RangeError(`normalize: unknown preset '${mean}' (known: ${Object.keys(NORMALIZE_PRESETS).join(', ')})`);
    m = [...p.mean];
    s = [...p.std];
  } else {
    if (!std) throw new TypeError('normalize: std is required with explicit means');
    m = [...mean];
    s = [...std];
  }
  if (s.some((v) => !(v > 0))) throw new RangeError(`normalize: std must be > 0, got [${s.join(', ')}]`);
  return make({ kind: 'normalize', mean: m, std: s }, (img) => {
    const [c, h, w] = img.shape;
    if (m.length !== 1 && m.length !== c) throw new RangeError(`normalize: ${m.length} means for a ${c}-channel image`);
    const plane = h * w;
    const out = new Float32Array(img.data.length);
    for (let k = 0; k < c; k++) {
      const mk = m[m.length === 1 ? 0 : k]!;
      const sk = s[s.length === 1 ? 0 : k]!;
      for (let p = k * plane; p < (k + 1) * plane; p++) out[p] = (img.data[p]! - mk) / sk;
    }
    return { data: out, shape: img.shape };
  });
}

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Whether sample `index` is one of the noisy ones: a Weyl sequence
 * frac(offset + index * golden ratio) < fraction, with the offset from `seed`.
 * It is equidistributed with low discrepancy, so among any N consecutive
 * indices the count is fraction * N within a few samples, and the chosen set
 * is fixed by (seed, fraction) -- the same images are noisy in every epoch.
 */
export function isNoisy(index: number, fraction: number, seed: number): boolean {
  const offset = hashSeed(seed, 0x6e6f6973) / 4294967296;
  const v = offset + index * GOLDEN;
  return v - Math.floor(v) < fraction;
}

/**
 * Adds N(0, std^2) noise (clamped to [0, 1]) to a chosen `fraction` of the
 * images (see isNoisy; seed default 1, "seed 001"). Apply before normalize.
 */
export function gaussianNoise(std: number, fraction = 1, seed = 1): Transform {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`gaussianNoise: fraction must be in [0, 1], got ${fraction}`);
  return make({ kind: 'gaussianNoise', std, fraction, seed }, (img, ctx) => {
    const chosen = Number.isInteger(ctx.index) && ctx.index >= 0 ? isNoisy(ctx.index, fraction, seed) : ctx.rand() < fraction;
    if (!chosen || std === 0) return img;
    const out = new Float32Array(img.data.length);
    for (let i = 0; i < out.length; i += 2) {
      // Box-Muller: two normals per pair of uniforms.
      const u = 1 - ctx.rand();
      const v = ctx.rand();
      const r = Math.sqrt(-2 * Math.log(u)) * std;
      out[i] = clamp01(img.data[i]! + r * Math.cos(2 * Math.PI * v));
      if (i + 1 < out.length) out[i + 1] = clamp01(img.data[i + 1]! + r * Math.sin(2 * Math.PI * v));
    }
    return { data: out, shape: img.shape };
  });
}

/** Rebuilds a transform from its spec (used inside the loader's worker). */
export function transformFromSpec(spec: TransformSpec): Transform {
  switch (spec.kind) {
    case 'compose':
      return compose(...spec.items.map(transformFromSpec));
    case 'randomCrop':
      return randomCrop(spec.size, spec.padding);
    case 'horizontalFlip':
      return horizontalFlip(spec.p);
    case 'rotation':
      return rotation(spec.degrees);
    case 'colorJitter':
      return colorJitter(spec.brightness, spec.contrast, spec.saturation);
    case 'randomResizedCrop':
      return randomResizedCrop(spec.size, spec.scale, spec.ratio);
    case 'resize':
      return resize(spec.size);
    case 'centerCrop':
      return centerCrop(spec.size);
    case 'normalize':
      return normalize(spec.mean, spec.std);
    case 'gaussianNoise':
      return gaussianNoise(spec.std, spec.fraction, spec.seed);
  }
}
