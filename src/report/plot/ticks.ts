// Axis ticks at "nice" values (1, 2 or 5 times a power of ten) and their labels.

const MANTISSAS = [1, 2, 5] as const;

/** m × 10^e built so that it prints as the decimal it stands for (0.6, not 0.6000000000000001). */
function decimal(m: number, e: number): number {
  const v = e >= 0 ? m * 10 ** e : m / 10 ** -e;
  return v === 0 ? 0 : v; // no -0: it would print as "-0"
}

/** Quotient rounding that forgives float noise: 0.3 / 0.1 is 2.9999999999999996, and that is 3. */
function snapFloor(q: number): number {
  return Math.floor(q + 1e-9 * Math.max(1, Math.abs(q)));
}
function snapCeil(q: number): number {
  return Math.ceil(q - 1e-9 * Math.max(1, Math.abs(q)));
}

function checkArgs(fn: string, min: number, max: number, maxTicks: number): void {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`${fn}: min and max must be finite, got ${min}, ${max}`);
  if (min > max) throw new RangeError(`${fn}: min ${min} > max ${max}`);
  // Two ticks cannot span an interval that straddles a tick at zero (-step, 0, step needs three).
  if (!Number.isInteger(maxTicks) || maxTicks < 3) throw new RangeError(`${fn}: maxTicks must be an integer >= 3, got ${maxTicks}`);
}

export interface TickOptions {
  /**
   * Ticks on whole numbers only (a step of at least 1): for counted things
   * such as epochs, steps or channels, where 0.5 of an epoch is not a value.
   */
  readonly integer?: boolean;
}

/**
 * Evenly spaced ticks at multiples of the smallest nice step (1, 2 or 5 × 10^k) such
 * that the ticks span [min, max] (first <= min, last >= max) and there are at most
 * `maxTicks` of them. The first and last tick make a good axis domain: the data fills it
 * and both ends are labelled. A zero-width interval is widened by 10% (or ±1 around 0;
 * ±1 always with `integer`).
 *
 *   niceTicks(0, 1, 6)        → [0, 0.2, 0.4, 0.6, 0.8, 1]
 *   niceTicks(0.93, 0.995, 6) → [0.92, 0.94, 0.96, 0.98, 1]
 *   niceTicks(0, 3, 8, { integer: true }) → [0, 1, 2, 3]
 */
export function niceTicks(min: number, max: number, maxTicks: number, o: TickOptions = {}): number[] {
  checkArgs('niceTicks', min, max, maxTicks);
  if (min === max) {
    const pad = min === 0 || o.integer ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  // maxTicks ticks have maxTicks - 1 gaps, so no step below this can work: start the search there.
  let e = Math.floor(Math.log10((max - min) / (maxTicks - 1)));
  // Whole-number ticks: no step below 1.
  if (o.integer) e = Math.max(e, 0);
  for (;;) {
    for (const m of MANTISSAS) {
      const step = decimal(m, e);
      const lo = snapFloor(min / step);
      const hi = snapCeil(max / step);
      if (hi > lo && hi - lo + 1 <= maxTicks) return Array.from({ length: hi - lo + 1 }, (_, i) => decimal((lo + i) * m, e));
    }
    e++;
  }
}

/**
 * Ticks for a log axis over [min, max] (both > 0), spanning it like niceTicks does: the
 * 1-2-5 sequence (1, 2, 5, 10, 20, ...) when it fits in `maxTicks`, else powers of ten,
 * every k-th decade when even those are too many.
 *
 *   logTicks(1, 30, 8)     → [1, 2, 5, 10, 20, 50]
 *   logTicks(1e-5, 1, 8)   → [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1]
 */
export function logTicks(min: number, max: number, maxTicks: number): number[] {
  checkArgs('logTicks', min, max, maxTicks);
  if (min <= 0) throw new RangeError(`logTicks: min must be > 0, got ${min}`);
  if (min === max) {
    min /= 2;
    max *= 2;
  }
  const eLo = snapFloor(Math.log10(min));
  const eHi = Math.max(snapCeil(Math.log10(max)), eLo + 1);
  const seq: number[] = [];
  for (let e = eLo; e <= eHi; e++) for (const m of MANTISSAS) seq.push(decimal(m, e));
  // The tightest stretch of the 1-2-5 sequence around [min, max].
  let first = 0;
  while (first + 1 < seq.length && (seq[first + 1] as number) <= min * (1 + 1e-12)) first++;
  let last = seq.length - 1;
  while (last - 1 > first && (seq[last - 1] as number) >= max * (1 - 1e-12)) last--;
  if (last - first + 1 <= maxTicks) return seq.slice(first, last + 1);
  // Too many: whole decades only, every k-th, still spanning.
  const decades = eHi - eLo;
  const k = Math.ceil(decades / (maxTicks - 1));
  const out: number[] = [];
  for (let e = eLo; e < eHi + k; e += k) {
    out.push(decimal(1, e));
    if (e >= eHi) break;
  }
  return out;
}

/**
 * A tick label: as many decimals as the step needs (0.92, not 0.9200000001; 0.2, 0.4, not
 * 0.20, 0.40), and exponent notation for very large or very small magnitudes (1e-5, 2.5e+6).
 */
export function formatTick(v: number, step: number): string {
  const a = Math.abs(v);
  const stepExp = Math.floor(Math.log10(Math.abs(step)) + 1e-9);
  // Zero takes its neighbours' decimals (0.0 next to 0.5), but stays '0' next to 1e-5 or 2e+6.
  if (a === 0) return Math.abs(step) < 1e-4 || Math.abs(step) >= 1e6 ? '0' : (0).toFixed(Math.max(0, -stepExp));
  if (a >= 1e6 || a < 1e-4) {
    const digits = Math.max(0, Math.min(15, Math.floor(Math.log10(a) + 1e-9) - stepExp));
    return v.toExponential(digits).replace(/\.?0+e/, 'e');
  }
  return v.toFixed(Math.max(0, Math.min(15, -stepExp)));
}

/** Whether every value is a whole number (then an axis can tick on whole numbers only). */
export function allIntegers(values: Iterable<number>): boolean {
  let any = false;
  for (const v of values) {
    if (!Number.isInteger(v)) return false;
    any = true;
  }
  return any;
}

/** Labels for a set of evenly spaced (linear) ticks. */
export function formatLinearTicks(ticks: readonly number[]): string[] {
  const step = ticks.length >= 2 ? Math.abs((ticks[1] as number) - (ticks[0] as number)) : Math.abs(ticks[0] ?? 1) || 1;
  return ticks.map((t) => formatTick(t, step));
}

/** Labels for log ticks: each has one significant digit, so its own magnitude is its step. */
export function formatLogTicks(ticks: readonly number[]): string[] {
  return ticks.map((t) => formatTick(t, t));
}
