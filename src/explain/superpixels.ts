// Superpixels for the perturbation methods (LIME, KernelSHAP): the features
// they switch on and off. LIME's default segmentation (quickshift, kernel 4,
// max_dist 200) is tuned for ImageNet-sized photos and returns one or two
// segments on a 28x28 digit, which is why LIME is "useless on small images";
// here the segment count follows the image size instead (about one segment
// per 4x4 pixels, see defaultSegments).
//
// Two segmentations, both deterministic (no random draw anywhere):
// - 'slic' (the default from 16x16 up): SLIC-like k-means on position and
//   intensity/colour (Achanta et al. 2012), so segments follow edges — a
//   digit's strokes, an object's outline — which is what makes switching a
//   segment off mean "remove this part". Connectivity is enforced as in
//   scikit-image (small fragments join a neighbour), so a segment is one blob.
// - 'grid' (the default below 16x16, where k-means has too few pixels per
//   segment to follow anything): equal rectangular cells, rows x cols close to
//   the requested count.
//
// The segmentation runs on the CPU in plain arrays: it is a few k-means
// passes over at most a few thousand pixels per image, not engine work.

export type SegmentMethod = 'slic' | 'grid';

export interface SuperpixelOptions {
  /** Requested number of segments; default defaultSegments(h, w). The result may differ a little (SLIC) or be rounded to rows x cols (grid). */
  segments?: number;
  /** 'slic' or 'grid'; default defaultMethod(h, w). */
  method?: SegmentMethod;
  /**
   * SLIC's balance of space against colour: the squared distance is
   * |Δcolour|² + compactness² · (|Δposition| / S)², colours rescaled to
   * [0, 1] per image and S the grid step (√(h·w / segments)). Larger is
   * squarer (→ the grid), smaller follows edges more closely. Default 0.3.
   */
  compactness?: number;
  /** k-means passes; default 10 (scikit-image's max_num_iter). */
  iterations?: number;
}

export interface Segmentation {
  /** Segment index of every pixel, row-major [h * w], values 0..count-1, every one used. */
  labels: Int32Array;
  count: number;
  h: number;
  w: number;
}

/** Below this side length the grid is the default: k-means needs pixels to work with. */
export const SLIC_MIN_SIDE = 16;
export const DEFAULT_COMPACTNESS = 0.3;

/** About one segment per 4x4 pixels, between 4 and 100: 49 on 28x28 digits, 64 on 32x32, 100 (LIME's order of magnitude) from 40x40 up. */
export function defaultSegments(h: number, w: number): number {
  return Math.max(4, Math.min(100, Math.round((h * w) / 16)));
}

export function defaultMethod(h: number, w: number): SegmentMethod {
  return Math.min(h, w) < SLIC_MIN_SIDE ? 'grid' : 'slic';
}

/** rows x cols close to `segments` with cells as square as the image allows. */
function gridShape(h: number, w: number, segments: number): [number, number] {
  const rows = Math.max(1, Math.min(h, Math.round(Math.sqrt((segments * h) / w))));
  const cols = Math.max(1, Math.min(w, Math.round(segments / rows)));
  return [rows, cols];
}

/** Equal rectangular cells, numbered row by row. */
export function gridSegments(h: number, w: number, segments: number): Segmentation {
  const [rows, cols] = gridShape(h, w, segments);
  const labels = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    const r = Math.floor((y * rows) / h);
    for (let x = 0; x < w; x++) labels[y * w + x] = r * cols + Math.floor((x * cols) / w);
  }
  return { labels, count: rows * cols, h, w };
}

/**
 * SLIC-like superpixels of one image, float32 [c, h, w] row-major (any
 * normalisation: colours are rescaled to [0, 1] per image first).
 */
export function slicSegments(image: Float32Array, shape: readonly [number, number, number], segments: number, compactness = DEFAULT_COMPACTNESS, iterations = 10): Segmentation {
  const [c, h, w] = shape;
  const n = h * w;
  if (image.length !== c * n) throw new RangeError(`slicSegments: ${image.length} values for an image of [${shape.join(', ')}]`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of image) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? 1 / (hi - lo) : 0; // a constant image: colour plays no part, the grid remains
  const col = new Float64Array(c * n);
  for (let i = 0; i < c * n; i++) col[i] = (image[i]! - lo) * scale;

  // Centres start on the grid's cell centres.
  const [rows, cols] = gridShape(h, w, segments);
  const k = rows * cols;
  const step = Math.sqrt(n / k);
  const cy = new Float64Array(k);
  const cx = new Float64Array(k);
  const cc = new Float64Array(k * c);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const j = r * cols + q;
      cy[j] = ((r + 0.5) * h) / rows - 0.5;
      cx[j] = ((q + 0.5) * w) / cols - 0.5;
      const p = Math.min(h - 1, Math.round(cy[j]!)) * w + Math.min(w - 1, Math.round(cx[j]!));
      for (let ch = 0; ch < c; ch++) cc[j * c + ch] = col[ch * n + p]!;
    }
  }
  const m2 = (compactness * compactness) / (step * step);
  const reach = 2 * step; // SLIC searches 2S around each centre
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * (3 + c));
  for (let it = 0; it < iterations; it++) {
    let changed = it === 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        let best = -1;
        let bestD = Infinity;
        for (let j = 0; j < k; j++) {
          const dy = y - cy[j]!;
          const dx = x - cx[j]!;
          if (Math.abs(dy) > reach || Math.abs(dx) > reach) continue;
          let d = m2 * (dy * dy + dx * dx);
          for (let ch = 0; ch < c; ch++) {
            const e = col[ch * n + p]! - cc[j * c + ch]!;
            d += e * e;
          }
          if (d < bestD) {
            bestD = d;
            best = j;
          }
        }
        if (best < 0) best = nearestCentre(y, x, cy, cx); // a centre that drifted away: fall back to space only
        if (assign[p] !== best) changed = true;
        assign[p] = best;
      }
    }
    if (!changed) break;
    sums.fill(0);
    for (let p = 0; p < n; p++) {
      const j = assign[p]!;
      const o = j * (3 + c);
      sums[o] = sums[o]! + 1;
      sums[o + 1] = sums[o + 1]! + Math.floor(p / w);
      sums[o + 2] = sums[o + 2]! + (p % w);
      for (let ch = 0; ch < c; ch++) sums[o + 3 + ch] = sums[o + 3 + ch]! + col[ch * n + p]!;
    }
    for (let j = 0; j < k; j++) {
      const o = j * (3 + c);
      const cnt = sums[o]!;
      if (cnt === 0) continue; // an empty cluster keeps its centre
      cy[j] = sums[o + 1]! / cnt;
      cx[j] = sums[o + 2]! / cnt;
      for (let ch = 0; ch < c; ch++) cc[j * c + ch] = sums[o + 3 + ch]! / cnt;
    }
  }
  return enforceConnectivity(assign, h, w, Math.max(1, Math.floor((0.5 * n) / k)));
}

function nearestCentre(y: number, x: number, cy: Float64Array, cx: Float64Array): number {
  let best = 0;
  let bestD = Infinity;
  for (let j = 0; j < cy.length; j++) {
    const d = (y - cy[j]!) ** 2 + (x - cx[j]!) ** 2;
    if (d < bestD) {
      bestD = d;
      best = j;
    }
  }
  return best;
}

/**
 * Relabels `assign` into 4-connected segments numbered in scan order; a
 * component smaller than `minSize` joins the segment next to its first pixel
 * (above or to the left, already numbered), as scikit-image's SLIC does.
 */
function enforceConnectivity(assign: Int32Array, h: number, w: number, minSize: number): Segmentation {
  const n = h * w;
  const labels = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (labels[start] !== -1) continue;
    const y0 = Math.floor(start / w);
    const x0 = start % w;
    const adjacent = x0 > 0 ? labels[start - 1]! : y0 > 0 ? labels[start - w]! : -1;
    const own = assign[start]!;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    labels[start] = count;
    while (head < tail) {
      const p = queue[head++]!;
      const y = Math.floor(p / w);
      const x = p % w;
      const next = [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1];
      for (const q of next) {
        if (q < 0 || labels[q] !== -1 || assign[q] !== own) continue;
        labels[q] = count;
        queue[tail++] = q;
      }
    }
    if (tail < minSize && adjacent >= 0) {
      for (let i = 0; i < tail; i++) labels[queue[i]!] = adjacent;
    } else count++;
  }
  return { labels, count, h, w };
}

/** The segmentation of one image [c, h, w] with the options' defaults filled in. */
export function segmentImage(image: Float32Array, shape: readonly [number, number, number], o: SuperpixelOptions = {}): Segmentation {
  const [, h, w] = shape;
  const segments = Math.max(1, Math.min(h * w, Math.round(o.segments ?? defaultSegments(h, w))));
  const method = o.method ?? defaultMethod(h, w);
  if (method === 'grid') return gridSegments(h, w, segments);
  return slicSegments(image, shape, segments, o.compactness ?? DEFAULT_COMPACTNESS, o.iterations ?? 10);
}
