// Point markers: the shapes that mark each measured point of a line series
// (an epoch, a pruning step), scatter-only series and single highlighted
// points (the kept model). Shapes differ, not only colours, so series that
// overlap (two λ with the same accuracy) and prints in grey stay apart.
import { el, num } from './svg.js';

export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle' | 'triangle-down' | 'star' | 'cross';

export const MARKER_SHAPES: readonly MarkerShape[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross', 'star'];

/** Default marker radius in px (half the width of the shape's box). */
export const MARKER_SIZE = 3.5;

/** The i-th series' default shape: one per series, cycling. */
export function shapeOf(i: number): MarkerShape {
  return MARKER_SHAPES[i % MARKER_SHAPES.length] as MarkerShape;
}

export interface MarkerStyle {
  readonly shape: MarkerShape;
  readonly colour: string;
  /** Radius in px. */
  readonly size?: number;
  /** White inside, coloured outline (e.g. a step that was not kept). */
  readonly hollow?: boolean;
}

function polygon(cx: number, cy: number, pts: readonly (readonly [number, number])[]): string {
  return pts.map(([x, y]) => `${num(cx + x)},${num(cy + y)}`).join(' ');
}

/** One marker centred on (cx, cy), in pixels. */
export function marker(cx: number, cy: number, m: MarkerStyle): string {
  const r = m.size ?? MARKER_SIZE;
  // A hollow marker is white inside so the line under it does not show through.
  const paint = { fill: m.hollow ? '#ffffff' : m.colour, stroke: m.colour, 'stroke-width': m.hollow ? 1.6 : 1 };
  switch (m.shape) {
    case 'circle':
      return el('circle', { cx, cy, r, ...paint });
    case 'square': {
      const s = r * 0.9;
      return el('rect', { x: cx - s, y: cy - s, width: 2 * s, height: 2 * s, ...paint });
    }
    case 'diamond': {
      const s = r * 1.25;
      return el('polygon', { points: polygon(cx, cy, [[0, -s], [s, 0], [0, s], [-s, 0]]), ...paint });
    }
    case 'triangle':
    case 'triangle-down': {
      const s = r * 1.2;
      const d = m.shape === 'triangle' ? 1 : -1;
      return el('polygon', { points: polygon(cx, cy, [[0, -s * d], [s, s * 0.8 * d], [-s, s * 0.8 * d]]), ...paint });
    }
    case 'star': {
      const pts: [number, number][] = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (k * Math.PI) / 5;
        const rr = k % 2 === 0 ? r * 1.5 : r * 0.62;
        pts.push([rr * Math.cos(a), rr * Math.sin(a)]);
      }
      return el('polygon', { points: polygon(cx, cy, pts), ...paint, 'stroke-linejoin': 'round' });
    }
    case 'cross': {
      // Two strokes: a cross has no inside, so hollow or not it is drawn the same.
      const s = r;
      return el('path', { d: `M${num(cx - s)},${num(cy - s)} L${num(cx + s)},${num(cy + s)} M${num(cx - s)},${num(cy + s)} L${num(cx + s)},${num(cy - s)}`, stroke: m.colour, 'stroke-width': 2, fill: 'none' });
    }
  }
}
