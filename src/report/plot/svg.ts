// Small helpers for writing SVG as text: escaping, elements, number formatting, colours.

/**
 * Text safe inside XML content and attribute values. Characters XML 1.0 forbids
 * (C0 controls other than tab/newline/CR) are dropped: librsvg refuses the whole
 * document otherwise, and a stray control byte in a series name should not cost a figure.
 */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Coordinates rounded to 0.01 px: finer is invisible and only bloats the file. */
export function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(Object.is(r, -0) ? 0 : r);
}

export type Attrs = Readonly<Record<string, string | number | undefined>>;

function attrText(attrs: Attrs): string {
  let out = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    out += ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`;
  }
  return out;
}

/** An element; `children` is already-built SVG (not escaped), omitted for a self-closing tag. */
export function el(name: string, attrs: Attrs, children?: string): string {
  return children === undefined ? `<${name}${attrText(attrs)}/>` : `<${name}${attrText(attrs)}>${children}</${name}>`;
}

/** A text element; `content` is plain text and gets escaped. */
export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el('text', { x, y, ...attrs }, escapeXml(content));
}

/** A polyline through the given pixel points. */
export function polyline(points: readonly (readonly [number, number])[], attrs: Attrs): string {
  return el('polyline', { points: points.map(([x, y]) => `${num(x)},${num(y)}`).join(' '), fill: 'none', ...attrs });
}

/**
 * Ten colours that stay distinguishable from each other (the Tableau 10 set, also
 * matplotlib's default cycle, so figures look familiar next to PyTorch ones).
 */
export const PALETTE: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/** Colour of the i-th series; past ten the palette repeats. */
export function colourOf(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/**
 * Rough rendered width of a string. We cannot measure text without a font engine, and
 * sans-serif here resolves to DejaVu Sans, whose average advance is about 0.6 em.
 */
export function textWidth(s: string, fontSize: number): number {
  return [...s].length * fontSize * 0.6;
}

/**
 * `s` shortened in the middle so that it fits in about `maxPx` at `fontSize`:
 * layer names differ at both ends ('layer3.0.conv1' vs 'layer3.2.conv1'), so
 * both ends stay.
 */
export function truncateMiddle(s: string, maxPx: number, fontSize: number): string {
  const chars = [...s];
  const fit = Math.max(1, Math.floor(maxPx / (fontSize * 0.6) + 1e-9));
  if (chars.length <= fit) return s;
  const keep = Math.max(1, fit - 1);
  const head = Math.ceil(keep / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (keep - head)).join('')}`;
}

/** `s` shortened with an ellipsis so that it fits in about `maxPx` at `fontSize`. */
export function truncate(s: string, maxPx: number, fontSize: number): string {
  const chars = [...s];
  // The epsilon keeps 6 × 7.2 from counting as more than 43.2.
  const fit = Math.max(1, Math.floor(maxPx / (fontSize * 0.6) + 1e-9));
  return chars.length <= fit ? s : `${chars.slice(0, Math.max(1, fit - 1)).join('')}…`;
}
