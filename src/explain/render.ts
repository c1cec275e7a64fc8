// Drawing explanations: the overlay grid of `slimnet explain` — rows are
// images, columns the input and then, method by method, one column per model
// — as a PNG. Pure functions of arrays up to the last step (sharp composes
// the cells and rasterises the labels).
//
// Conventions (they decide what a reader compares, so they are fixed):
// - A map is brought to the image's size by bilinear interpolation
//   (align_corners false, as F.interpolate and the faithfulness curves), then
//   every cell is enlarged by an integer factor with nearest neighbours, so
//   one image pixel stays one square.
// - ONE colour scale per method across models and images: values are divided
//   by the largest |value| of that method over every model and image. A
//   method whose maps are all >= 0 (CAMs, saliency) uses inferno over
//   [0, max]; a signed one (integrated gradients, LIME, SHAP) a diverging
//   blue–grey–red map over [−max, max], since a sequential map would hide the
//   sign. Each method's header carries its colour bar with the scale's ends.
// - The overlay is 0.5 · image + 0.5 · colour (alpha 0.5); the image in grey
//   (one channel) or colour (three), its values in [0, 1] (before
//   normalisation).
import sharp, { type OverlayOptions } from 'sharp';

export type ColorMapName = 'inferno' | 'jet' | 'coolwarm';
type Rgb = readonly [number, number, number];

// Samples of matplotlib's maps at equal steps of t (0..1), linearly interpolated between.
const STOPS: Record<ColorMapName, readonly Rgb[]> = {
  inferno: [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
  ],
  jet: [
    [0, 0, 128],
    [0, 0, 255],
    [0, 128, 255],
    [0, 255, 255],
    [128, 255, 128],
    [255, 255, 0],
    [255, 128, 0],
    [255, 0, 0],
    [128, 0, 0],
  ],
  coolwarm: [
    [59, 76, 192],
    [98, 130, 234],
    [141, 176, 254],
    [184, 208, 249],
    [221, 221, 221],
    [245, 196, 173],
    [244, 154, 123],
    [222, 96, 77],
    [180, 4, 38],
  ],
};

/** The colour of t in [0, 1] (clamped; NaN is the low end) under `name`. */
export function colormap(name: ColorMapName, t: number): [number, number, number] {
  const stops = STOPS[name];
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [Math.round(a[0] + f * (b[0] - a[0])), Math.round(a[1] + f * (b[1] - a[1])), Math.round(a[2] + f * (b[2] - a[2]))];
}

/** Bilinear resize of a [h, w] map to [H, W], align_corners false (PyTorch's F.interpolate). */
export function bilinearResize(map: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  if (h === outH && w === outW) {
    for (let i = 0; i < out.length; i++) out[i] = map[i]!;
    return out;
  }
  const src = (d: number, inN: number, outN: number): [number, number, number] => {
    const s = Math.max(0, ((d + 0.5) * inN) / outN - 0.5);
    const i0 = Math.min(inN - 1, Math.floor(s));
    const i1 = Math.min(inN - 1, i0 + 1);
    return [i0, i1, s - i0];
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = src(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = src(x, w, outW);
      const top = map[y0 * w + x0]! * (1 - fx) + map[y0 * w + x1]! * fx;
      const bottom = map[y1 * w + x0]! * (1 - fx) + map[y1 * w + x1]! * fx;
      out[y * outW + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** How one method's maps are coloured: its map and the value at each end of the bar. */
export interface ColorScale {
  map: ColorMapName;
  /** Value at t = 0 and t = 1 (−max and max for signed methods, 0 and max otherwise). */
  min: number;
  max: number;
}

/** The scale shared by every map of one method: inferno over [0, max|v|] when no value is negative, else coolwarm over [−max|v|, max|v|]. */
export function colorScale(maps: readonly ArrayLike<number>[]): ColorScale {
  let maxAbs = 0;
  let negative = false;
  for (const m of maps) {
    for (let i = 0; i < m.length; i++) {
      const v = m[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < 0) negative = true;
      if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
    }
  }
  // An all-zero method (e.g. every CAM all-negative and zeroed) still gets a scale.
  const max = maxAbs > 0 ? maxAbs : 1;
  return negative ? { map: 'coolwarm', min: -max, max } : { map: 'inferno', min: 0, max };
}

/** An image: CHW values in [0, 1] (C = 1 or 3). */
export interface ImageArray {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Raw RGB pixels. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The image alone as RGB, enlarged `scale` times. */
export function imageCell(img: ImageArray, scale = 1): RgbImage {
  return cell(img, null, scale);
}

/** The map [mh, mw] over the image: bilinear to the image size, coloured under `scale`, alpha 0.5, enlarged `zoom` times. */
export function overlayCell(img: ImageArray, map: ArrayLike<number>, mh: number, mw: number, colors: ColorScale, zoom = 1): RgbImage {
  const up = bilinearResize(map, mh, mw, img.height, img.width);
  return cell(img, (i) => colormap(colors.map, (up[i]! - colors.min) / (colors.max - colors.min)), zoom);
}

function cell(img: ImageArray, color: ((pixel: number) => Rgb) | null, zoom: number): RgbImage {
  const { channels: c, height: h, width: w, data } = img;
  const W = w * zoom;
  const out = new Uint8Array(W * h * zoom * 3);
  const px = h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const v = (ch: number): number => Math.min(1, Math.max(0, data[(c === 3 ? ch : 0) * px + p]!)) * 255;
      let rgb: Rgb = [v(0), v(1), v(2)];
      if (color) {
        const k = color(p);
        rgb = [0.5 * rgb[0] + 0.5 * k[0], 0.5 * rgb[1] + 0.5 * k[1], 0.5 * rgb[2] + 0.5 * k[2]];
      }
      for (let dy = 0; dy < zoom; dy++) {
        for (let dx = 0; dx < zoom; dx++) {
          const o = ((y * zoom + dy) * W + x * zoom + dx) * 3;
          out[o] = Math.round(rgb[0]);
          out[o + 1] = Math.round(rgb[1]);
          out[o + 2] = Math.round(rgb[2]);
        }
      }
    }
  }
  return { data: out, width: W, height: h * zoom };
}

/** One method's block of columns in the grid. */
export interface GridMethod {
  /** Header (the method's name). */
  name: string;
  scale: ColorScale;
  /** One column per model: its label and, per row, the raw map [h, w] with its size. */
  columns: { model: string; maps: readonly ArrayLike<number>[]; height: number; width: number }[];
}

export interface GridSpec {
  /** One image per row. */
  images: readonly ImageArray[];
  /** A label per row (e.g. '#12 label 3'). */
  rowLabels: readonly string[];
  /** Per row, per model label: a caption under each model's cells (e.g. 'target 3, pred 5'); optional. */
  captions?: readonly Readonly<Record<string, string>>[];
  methods: readonly GridMethod[];
  /** Title line at the top. */
  title?: string;
}

/** Layout constants (pixels). */
const GAP = 6;
const LABEL_W = 96;
const TITLE_H = 22;
const HEAD_H = 18; // method name
const BAR_H = 10;
const BAR_TEXT_H = 14;
const MODEL_H = 16;
const CAPTION_H = 13;

/** Integer enlargement so that a cell is about 84 px or more on its long side. */
export function cellZoom(height: number, width: number): number {
  return Math.max(1, Math.ceil(84 / Math.max(height, width)));
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short text of a scale end: 3 significant digits. */
export function scaleText(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(+v.toPrecision(3));
}

/** The overlay grid as PNG bytes. */
export async function renderGrid(g: GridSpec): Promise<Buffer> {
  if (g.images.length === 0) throw new RangeError('renderGrid: no image');
  const first = g.images[0]!;
  const zoom = cellZoom(first.height, first.width);
  const cw = first.width * zoom;
  const ch = first.height * zoom;
  const captions = g.captions !== undefined;
  const rowH = ch + (captions ? CAPTION_H : 0) + GAP;
  const headerTop = g.title ? TITLE_H : 4;
  const gridTop = headerTop + HEAD_H + BAR_H + BAR_TEXT_H + MODEL_H;
  const nCols = 1 + g.methods.reduce((a, m) => a + m.columns.length, 0);
  const methodGap = GAP * 2;
  const width = LABEL_W + nCols * (cw + GAP) + g.methods.length * methodGap + GAP;
  const height = gridTop + g.images.length * rowH + GAP;

  const composites: OverlayOptions[] = [];
  const svg: string[] = [];
  const text = (x: number, y: number, s: string, opts: { size?: number; anchor?: 'start' | 'middle' | 'end'; bold?: boolean } = {}): void => {
    svg.push(`<text x="${x}" y="${y}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${opts.size ?? 11}" text-anchor="${opts.anchor ?? 'start'}"${opts.bold ? ' font-weight="bold"' : ''} fill="#222">${esc(s)}</text>`);
  };
  const place = (img: RgbImage, left: number, top: number): void => {
    composites.push({ input: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), raw: { width: img.width, height: img.height, channels: 3 }, left, top });
  };
  if (g.title) text(GAP, 15, g.title, { size: 12, bold: true });

  // Column 0: the input images.
  let x = LABEL_W;
  text(x + cw / 2, gridTop - 4, 'input', { anchor: 'middle' });
  g.images.forEach((img, r) => place(imageCell(img, zoom), x, gridTop + r * rowH));
  x += cw + GAP;

  let gradients = 0;
  for (const m of g.methods) {
    x += methodGap;
    const blockW = m.columns.length * (cw + GAP) - GAP;
    text(x + blockW / 2, headerTop + 13, m.name, { anchor: 'middle', bold: true });
    // The colour bar: the method's map from its min to its max, with both ends (and 0 for signed maps) written under it.
    const id = `cb${gradients++}`;
    const stops = Array.from({ length: 11 }, (_, i) => {
      const [r, gg, b] = colormap(m.scale.map, i / 10);
      return `<stop offset="${i * 10}%" stop-color="rgb(${r},${gg},${b})"/>`;
    }).join('');
    const barTop = headerTop + HEAD_H;
    svg.push(`<defs><linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>`);
    svg.push(`<rect x="${x}" y="${barTop}" width="${blockW}" height="${BAR_H}" fill="url(#${id})" stroke="#888" stroke-width="0.5"/>`);
    text(x, barTop + BAR_H + 11, scaleText(m.scale.min), { size: 9 });
    if (m.scale.min < 0) text(x + blockW / 2, barTop + BAR_H + 11, '0', { size: 9, anchor: 'middle' });
    text(x + blockW, barTop + BAR_H + 11, scaleText(m.scale.max), { size: 9, anchor: 'end' });
    for (const col of m.columns) {
      text(x + cw / 2, gridTop - 4, col.model, { anchor: 'middle' });
      g.images.forEach((img, r) => {
        place(overlayCell(img, col.maps[r]!, col.height, col.width, m.scale, zoom), x, gridTop + r * rowH);
        const cap = g.captions?.[r]?.[col.model];
        if (cap) text(x + cw / 2, gridTop + r * rowH + ch + 10, cap, { size: 9, anchor: 'middle' });
      });
      x += cw + GAP;
    }
  }
  g.rowLabels.forEach((label, r) => {
    const top = gridTop + r * rowH + ch / 2;
    label.split('\n').forEach((line, k) => text(GAP, top + k * 13, line, { size: 10 }));
  });
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg.join('')}</svg>`;
  composites.push({ input: Buffer.from(overlay, 'utf8'), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(composites)
    .png()
    .toBuffer();
}
