// The one number formatter of tables, logs and reports. Percentages are
// numbers (so tables right-align them), ratios carry '×', differences a sign.

/** 0.91234 -> 91.23 (a number); NaN / null -> ''. */
export function pct(x: number | null | undefined, digits = 2): number | string {
  return x === null || x === undefined || Number.isNaN(x) ? '' : +(x * 100).toFixed(digits);
}

/** 0.72 -> '72.00' (fixed decimals, for columns printed as text and right-aligned); NaN / null -> ''. */
export function pctText(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || Number.isNaN(x) ? '' : (x * 100).toFixed(digits);
}

/** A plain number rounded to `digits` decimals; NaN / null -> ''. */
export function fmt(x: number | null | undefined, digits = 4): number | string {
  return x === null || x === undefined || Number.isNaN(x) ? '' : +x.toFixed(digits);
}

/** A reduction or speed-up factor: 3.2 -> '3.20×', 17.25 -> '17.3×'. */
export function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 1 : 2)}×` : '?';
}

/** Milliseconds: 0.0423 -> '0.042 ms', 12.34 -> '12.3 ms'. */
export function ms(x: number): string {
  return `${x.toFixed(x >= 10 ? 1 : 3)} ms`;
}

/** A difference of two fractions in percentage points with its sign: +0.20 pp, −0.15 pp. */
export function pp(after: number, before: number, digits = 2): string {
  const d = (after - before) * 100;
  const s = Math.abs(d).toFixed(digits);
  return `${d > 0 && Number(s) !== 0 ? '+' : d < 0 && Number(s) !== 0 ? '−' : ''}${s} pp`;
}

/** 3274634 -> '3,274,634'. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** '1 epoch', '2 epochs'. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** '2025-01-02T03:04:05.678Z' -> '2025-01-02 03:04' */
export function shortDate(iso: string | undefined | null): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** Seconds as '42s' or '3m07s'. */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
